"""What `tongbi run` reports: the printed summary after publishing, and the JSON run summary
`runs/<run id>/summary.json` that every run writes, whatever its outcome.

The JSON summary (one object, UTF-8, written atomically):

* ``run_id``, ``status`` (``running`` while the run lives, then ``published`` or ``failed``;
  ``interrupted`` when a later run found it died), ``exit_code``, ``error`` ({type, message});
* ``started_at``, ``ended_at`` (UTC, ISO 8601), ``duration_s``, ``pid``, ``stage`` (the last
  stage started: where a failed or interrupted run stopped);
* ``inputs``: the paths and ``--year``; ``warehouse``: the published and staging paths and
  whether this run published; ``recovery``: the interrupted run it found and the files it removed;
* ``documents``: loaded, rejected, statistics, and each reject with path, line and reason;
* ``stages``: seconds per stage; ``lock_wait_s``: seconds spent waiting for the warehouse's
  lock and for the project's build lock (other runs); ``tables``: rows per table of the warehouse it built;
* ``gate``: passed, counts, timings, the Data Docs index, and ``failed_checks``: every failing
  check (errors first) with its offending rows — document id, quote and keys;
* ``quarantine``: ``documents`` (how many are kept out of the marts by this publish, carried ones
  included), ``share``, ``max_share``, ``strict``, ``rebuilds``, ``doc_ids``, ``new_doc_ids``,
  ``carried_doc_ids`` and one row per document and broken rule (tongbi/run/quarantine.py);
* ``mode``: ``full`` (extracted what changed, built, audited), ``incremental`` (the slices the
  changed documents touch rebuilt in a copy of the published file and audited there:
  tongbi/run/incremental.py; ``build`` says why a run was or was not incremental),
  ``unchanged`` (the inputs equal those of the published build: no rebuild); ``documents`` also counts the documents ``added``,
  ``changed``, ``removed`` and ``unchanged`` against the published warehouse, and how many were
  ``extracted`` or ``reused`` from the extraction cache; ``fingerprints``: this run's input
  fingerprint and the run that built the published data.

Every run also appends one line to ``runs/history.jsonl`` (tongbi/run/history.py, `history_row`): the row it has, or
would have had, in the warehouse's ``run_history`` table (`RUN_HISTORY_COLUMNS`).

With ``--log-format json`` (`EventLog`) stderr carries one JSON object per line: ``run_start``,
``stage_start`` / ``stage_end``, ``reject``, ``documents``, ``unchanged``, ``gate``, ``publish``,
``recovery``, ``quarantine`` (one per document and broken rule, as it is quarantined),
``message`` (any other line a library or tongbi printed), and last ``run_end`` with the status,
exit code, error, ``quarantined`` (documents kept out of the marts: 0 for a clean publish), rows
per table and the path of the JSON summary.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

import duckdb


def format_rows(columns: list[str], rows: list[tuple[object, ...]]) -> str:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]

    def width(s: str) -> int:  # CJK characters take two terminal columns
        return sum(2 if "\u2e80" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" else 1 for ch in s)

    widths = [max(width(c), *(width(r[i]) for r in cells)) if cells else width(c) for i, c in enumerate(columns)]
    line = lambda vals: "  ".join(v + " " * (w - width(v)) for v, w in zip(vals, widths)).rstrip()
    return "\n".join([line(columns), line(["-" * w for w in widths])] + [line(r) for r in cells])


def table_counts(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int]]:
    tables = con.execute(
        "select table_schema, table_name, table_type from information_schema.tables "
        "where table_schema not in ('information_schema', 'pg_catalog') order by table_schema, table_name"
    ).fetchall()
    out = []
    for schema, name, kind in tables:
        if kind != "BASE TABLE":
            continue
        n = con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]
        out.append((schema, name, n))
    return out


def print_summary(warehouse: Path, gate: object, stages: dict[str, float], n_docs: int, n_rejected: int,
                  n_mentions: int, example_sql: str, docs_dir: Path | None,
                  documents: dict[str, Any] | None = None) -> None:
    from tongbi.gate import format_gate_table

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        counts = table_counts(con)
        cur = con.execute(example_sql)
        cols = [d[0] for d in cur.description]
        rows = cur.fetchall()
    finally:
        con.close()
    print(f"\ntongbi: {n_docs} documents ({n_rejected} rejected), {n_mentions} statistics")
    if documents and "added" in documents:
        print("documents since the last build: " + ", ".join(
            f"{documents[k]} {k}" for k in ("added", "changed", "removed", "unchanged"))
            + f"; {documents['extracted']} extracted, {documents['reused']} from the cache")
    print("stages: " + ", ".join(f"{k} {v:.1f}s" for k, v in stages.items()))
    print("\nTables")
    print(format_rows(["schema", "table", "rows"], counts))
    print("\nQuality gate")
    print(format_gate_table(gate))
    if docs_dir is not None and (docs_dir / "index.html").exists():
        print(f"Data Docs: {docs_dir / 'index.html'}")
    print(f"\nPublished warehouse: {warehouse}")
    print("\nExample query:\n" + example_sql + "\n")
    print(format_rows(cols, rows))


def print_quarantine(rows: list[dict[str, Any]], n_documents: int) -> None:
    """The documents kept out of the marts by this publish, each with its broken rule and quote."""
    docs = sorted({str(r["doc_id"]) for r in rows})
    if not docs:
        print("\nQuarantine: no document quarantined")
        return
    print(f"\nQuarantine: {len(docs)} of {n_documents} documents kept out of the marts "
          "(table quarantine; they publish again when their bytes change)")
    for r in sorted(rows, key=lambda r: (str(r["doc_id"]), str(r["suite"]), str(r["rule"]))):
        other = f" vs {r['other_doc_id']}" if r.get("other_doc_id") else ""
        print(f"  {r['doc_id']}: {r['suite']}.{r['rule']} ({r['policy']}{other}) 「{r.get('quote') or ''}」"
              + f" (run {r['run_id']})")


# ------------------------------------------------------------------------------ JSON run summary


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write atomically: a reader (or a run killed half-way) never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class RunSummary:
    """The JSON summary of one run, filled in stage by stage (see the module docstring)."""

    def __init__(self, run_id: str, run_dir: Path, *, warehouse: Path, staging: Path,
                 paths: list[Path], year: int | None, docs_dir: Path | None) -> None:
        self.run_id = run_id
        self.path = run_dir / "summary.json"
        self.owns_staging = False  # set once the run holds the warehouse lock
        self._t0 = _now()
        self.data: dict[str, Any] = {
            "run_id": run_id,
            "status": "running",
            "exit_code": None,
            "error": None,
            "started_at": self._t0.isoformat(),
            "ended_at": None,
            "duration_s": None,
            "pid": os.getpid(),
            "stage": None,
            "inputs": {"paths": [str(p) for p in paths], "year": year},
            "warehouse": {"path": str(warehouse), "staging_path": str(staging), "published": False,
                          "staging_kept": False, "notes": []},
            "recovery": {"interrupted_run": None, "removed": []},
            "documents": None,
            "stages": {},
            "lock_wait_s": {"warehouse": None, "build": None},
            "tables": None,
            "gate": None,
            "logs": {"run_dir": str(run_dir), "dbt_build": str(run_dir / "dbt_build.log"),
                     "data_docs": str(docs_dir / "index.html") if docs_dir is not None else None},
        }

    def write(self) -> None:
        write_json(self.path, self.data)

    # -- stages

    def interrupted(self, holder: dict[str, Any], runs_dir: Path) -> dict[str, Any] | None:
        """Record the run that died holding the warehouse lock, and mark its own summary;
        returns that summary, now marked, when there was one to mark."""
        self.data["recovery"]["interrupted_run"] = holder
        previous = holder.get("run_id")
        if not isinstance(previous, str) or not previous or "/" in previous or previous.startswith("."):
            return None
        path = runs_dir / previous / "summary.json"
        old = read_json(path)
        if old is not None and old.get("status") == "running":
            old["status"] = "interrupted"
            old["error"] = {"type": "Interrupted",
                            "message": f"the run died before it finished; found by run {self.run_id}"}
            old["ended_at"] = old.get("ended_at") or _now().isoformat()
            write_json(path, old)
            return old
        return None

    def stage(self, name: str) -> None:
        """A stage starts: say so on disk, so that a run that dies tells where it died."""
        self.data["stage"] = name
        self.write()

    def recovered(self, removed: list[str]) -> None:
        self.data["recovery"]["removed"].extend(removed)

    def documents(self, result: Any) -> None:
        self.data["documents"] = {
            "loaded": result.n_documents if hasattr(result, "n_documents") else len(result.documents),
            "rejected": len(result.rejected),
            "statistics": result.n_mentions,
            "rejects": [{"path": r["path"], "line": r["line"], "reason": r["reason"]} for r in result.rejected],
        }

    def incremental(self, changes: Any, cache: Any, fingerprint: str, previous: Any, unchanged: bool,
                    build_fp: str | None = None) -> None:
        """What changed since the build of the published warehouse (tongbi/run/state.py)."""
        self.data["documents"].update(changes.counts(), extracted=len(cache.misses), reused=len(cache.hits),
                                      added_ids=changes.added, changed_ids=changes.changed,
                                      removed_ids=changes.removed)
        self.data["mode"] = "unchanged" if unchanged else "full"
        self.data["fingerprints"] = {"input": fingerprint, "published_input": previous.input_fingerprint,
                                     "published_built_by": previous.built_by, "build": build_fp,
                                     "published_build": previous.build_fingerprint}
        if unchanged:  # the published build's verdict and tables hold for the same inputs
            self.data["tables"] = dict(previous.table_rows)
            self.data["gate"] = {"passed": previous.gate.get("gate_passed"), "carried_from": previous.built_by,
                                 "counts": {"checks": previous.gate.get("gate_checks"),
                                            "failed_error": previous.gate.get("gate_failed_error"),
                                            "failed_warning": previous.gate.get("gate_failed_warning")},
                                 "failed_checks": []}

    def gate(self, gate: Any) -> None:
        from tongbi.gate import gate_summary_json

        full = gate_summary_json(gate)
        failed = [c for c in full["checks"] if not c["success"]]
        failed.sort(key=lambda c: c["severity"] != "error")
        self.data["gate"] = {
            "passed": full["passed"],
            "checked_at": full["checked_at"],
            "counts": full["counts"],
            "timings": full["timings"],
            "docs_index": full["docs_index"],
            "notes": full["notes"],
            "failed_checks": failed,
        }

    def tables(self, db: Path) -> None:
        try:
            con = duckdb.connect(str(db), read_only=True)
        except duckdb.Error as exc:
            self.data["tables"] = {"error": " ".join(str(exc).split())}
            return
        try:
            self.data["tables"] = {(name if schema == "main" else f"{schema}.{name}"): n
                                   for schema, name, n in table_counts(con)}
        finally:
            con.close()

    # -- endings

    def _end(self, status: str, exit_code: int) -> None:
        end = _now()
        self.data.update(status=status, exit_code=exit_code, ended_at=end.isoformat(),
                         duration_s=round((end - self._t0).total_seconds(), 3))

    def publishing(self, unchanged: bool = False) -> None:
        """About to publish: the status the run's row in run_history records."""
        self._end("unchanged" if unchanged else "published", 0)
        self.data["warehouse"]["published"] = True

    def published(self, warehouse: Path, notes: list[str]) -> None:
        self.data["warehouse"].update(published=True, notes=list(notes))
        self._end("published", 0)

    def unchanged(self, published: bool, notes: list[str] | None = None) -> None:
        self.data["warehouse"].update(published=published, notes=list(notes or []))
        self._end("unchanged", 0)

    def failed(self, exc: BaseException, staging: Path) -> None:
        from tongbi.errors import TongbiError

        if isinstance(exc, TongbiError):
            code = exc.exit_code
        elif isinstance(exc, KeyboardInterrupt):
            code = 130
        elif isinstance(exc, SystemExit):
            code = exc.code if isinstance(exc.code, int) else 1
        else:
            code = 1
        self.data["error"] = {"type": type(exc).__name__, "message": str(exc)}
        if self.owns_staging:  # else the staging file, if any, is another live run's
            self.data["warehouse"]["staging_kept"] = staging.exists()
            if self.data["tables"] is None and staging.exists():
                self.tables(staging)
        self._end("failed", code)


# ----------------------------------------------------------------------------- JSON event log


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


class EventLog:
    """--log-format json: one JSON object per line on stderr; text format: nothing (the
    human-readable progress is printed by the pipeline itself)."""

    def __init__(self, fmt: str, run_id: str) -> None:
        self.json = fmt == "json"
        self.run_id = run_id

    def event(self, name: str, **fields: Any) -> None:
        if not self.json:
            return
        record = {"ts": _now().isoformat(timespec="milliseconds"), "run_id": self.run_id, "event": name}
        record.update(fields)
        stream = sys.stderr
        stream.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        stream.flush()

    def gate(self, gate: dict[str, Any] | None) -> None:
        if not gate:
            return
        failed = [{k: c.get(k) for k in ("suite", "expectation", "severity", "unexpected_count", "observed")}
                  | {"failing_rows": (c.get("failing_rows") or [])[:5]}
                  for c in gate.get("failed_checks", [])]
        self.event("gate", passed=gate.get("passed"), counts=gate.get("counts"), failed_checks=failed,
                   docs_index=gate.get("docs_index"))

    def run_end(self, data: dict[str, Any], summary_path: Path) -> None:
        self.event("run_end", status=data.get("status"), exit_code=data.get("exit_code"),
                   error=data.get("error"), mode=data.get("mode"), duration_s=data.get("duration_s"),
                   documents={k: v for k, v in (data.get("documents") or {}).items()
                              if k not in ("rejects", "added_ids", "changed_ids", "removed_ids")},
                   tables=data.get("tables"), stages=data.get("stages"),
                   warehouse=(data.get("warehouse") or {}).get("path"),
                   published=(data.get("warehouse") or {}).get("published"),
                   quarantined=(data.get("quarantine") or {}).get("documents"),
                   quarantined_doc_ids=(data.get("quarantine") or {}).get("doc_ids"), summary=str(summary_path))


class JsonLines(io.TextIOBase):
    """A stderr for --log-format json: JSON lines pass through, any other line becomes a
    ``message`` event, so a log collector reads nothing but JSON objects."""

    def __init__(self, target: TextIO, run_id: str | None = None) -> None:
        self.target = target
        self.run_id = run_id
        self._buf = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._buf += text
        while "\n" in self._buf:
            line, self._buf = self._buf.split("\n", 1)
            self._emit(line)
        return len(text)

    def _emit(self, line: str) -> None:
        stripped = line.strip()
        if not stripped:
            return
        if stripped.startswith("{"):
            try:
                json.loads(stripped)
                self.target.write(stripped + "\n")
                return
            except ValueError:
                pass
        record = {"ts": _now().isoformat(timespec="milliseconds"), "event": "message",
                  "level": "error" if stripped.startswith("tongbi:") else "info", "message": stripped}
        if self.run_id:
            record["run_id"] = self.run_id
        self.target.write(json.dumps(record, ensure_ascii=False) + "\n")

    def flush(self) -> None:
        if self._buf.endswith("\r"):
            self._buf = self._buf.rstrip("\r")
        self.target.flush()

    def close_line(self) -> None:
        if self._buf:
            self._emit(self._buf)
            self._buf = ""
        self.target.flush()
