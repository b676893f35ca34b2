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
* ``mode``: ``full`` (extracted what changed, built, audited), ``unchanged`` (the inputs equal
  those of the published build: no rebuild); ``documents`` also counts the documents ``added``,
  ``changed``, ``removed`` and ``unchanged`` against the published warehouse, and how many were
  ``extracted`` or ``reused`` from the extraction cache; ``fingerprints``: this run's input
  fingerprint and the run that built the published data.

Every run also appends one line to ``runs/history.jsonl`` (`history_row`): the row it has, or
would have had, in the warehouse's ``run_history`` table (`RUN_HISTORY_COLUMNS`).

With ``--log-format json`` (`EventLog`) stderr carries one JSON object per line: ``run_start``,
``stage_start`` / ``stage_end``, ``reject``, ``documents``, ``unchanged``, ``gate``, ``publish``,
``recovery``, ``message`` (any other line a library or tongbi printed), and last ``run_end``
with the status, exit code, error, rows per table and the path of the JSON summary.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import socket
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
    from .quality import format_gate_table

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

    def incremental(self, changes: Any, cache: Any, fingerprint: str, previous: Any, unchanged: bool) -> None:
        """What changed since the build of the published warehouse (loaders/manifest.py)."""
        self.data["documents"].update(changes.counts(), extracted=len(cache.misses), reused=len(cache.hits),
                                      added_ids=changes.added, changed_ids=changes.changed,
                                      removed_ids=changes.removed)
        self.data["mode"] = "unchanged" if unchanged else "full"
        self.data["fingerprints"] = {"input": fingerprint, "published_input": previous.input_fingerprint,
                                     "published_built_by": previous.built_by}
        if unchanged:  # the published build's verdict and tables hold for the same inputs
            self.data["tables"] = dict(previous.table_rows)
            self.data["gate"] = {"passed": previous.gate.get("gate_passed"), "carried_from": previous.built_by,
                                 "counts": {"checks": previous.gate.get("gate_checks"),
                                            "failed_error": previous.gate.get("gate_failed_error"),
                                            "failed_warning": previous.gate.get("gate_failed_warning")},
                                 "failed_checks": []}

    def gate(self, gate: Any) -> None:
        from .quality import gate_summary_json

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
        from .errors import TongbiError

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


# ---------------------------------------------------------------------------------- run history

# (column, DuckDB type, comment): the `run_history` table of the published warehouse
RUN_HISTORY_COLUMNS: list[tuple[str, str, str]] = [
    ("run_id", "VARCHAR", "The run (UTC start time); its files are in runs/<run_id>/ beside the warehouse."),
    ("status", "VARCHAR", "published (built and published), unchanged (inputs equal to the published "
                          "build's: no rebuild), failed, interrupted (killed; found by a later run)."),
    ("mode", "VARCHAR", "full (extraction of what changed, dbt build, gate) or unchanged (no rebuild)."),
    ("exit_code", "INTEGER", "Exit code of tongbi run (0 published or unchanged; 2 no documents; 3 dbt "
                             "build; 4 quality gate; 5 another run in progress; 6 warehouse open for writing)."),
    ("error_type", "VARCHAR", "The error class of a failed run."),
    ("error", "VARCHAR", "Its one-line reason."),
    ("started_at", "TIMESTAMP", "Start, UTC."),
    ("ended_at", "TIMESTAMP", "End, UTC (for a published run: the moment before its publish)."),
    ("duration_s", "DOUBLE", "Seconds from start to end."),
    ("last_stage", "VARCHAR", "The last stage the run started (extract, load seeds, dbt build, expectations, publish)."),
    ("documents_loaded", "INTEGER", "Documents read and extracted (from the cache or afresh)."),
    ("documents_added", "INTEGER", "Documents not in the published warehouse before this run."),
    ("documents_changed", "INTEGER", "Documents whose bytes differ from the published version: their rows were replaced."),
    ("documents_removed", "INTEGER", "Documents of the published warehouse no longer given: their rows were retired."),
    ("documents_unchanged", "INTEGER", "Documents identical to the published version."),
    ("documents_rejected", "INTEGER", "Files refused (see rejected_documents)."),
    ("documents_extracted", "INTEGER", "Documents extracted by this run (cache misses)."),
    ("documents_reused", "INTEGER", "Documents whose rows came from the extraction cache."),
    ("statistics", "BIGINT", "Statistic mentions extracted (rows of raw_metrics)."),
    ("table_rows", "VARCHAR", "Rows per table of the warehouse the run built, as a JSON object."),
    ("gate_passed", "BOOLEAN", "Whether the quality gate passed (carried from the build for an unchanged run)."),
    ("gate_checks", "INTEGER", "Checks the gate ran."),
    ("gate_failed_error", "INTEGER", "Checks of severity error that failed."),
    ("gate_failed_warning", "INTEGER", "Checks of severity warning that failed."),
    ("input_fingerprint", "VARCHAR", "sha256 of everything the build depends on: seeds, models, "
                                     "expectations, code and tool versions (equal fingerprints, equal data)."),
    ("data_built_by", "VARCHAR", "The run whose build holds the data this run published or found."),
    ("host", "VARCHAR", "Host the run ran on."),
    ("pid", "INTEGER", "Its process id."),
    ("warehouse", "VARCHAR", "The published warehouse file the run was for."),
]
_TS_COLUMNS = {"started_at", "ended_at"}


def _ts(value: Any) -> dt.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        t = value
    else:
        try:
            t = dt.datetime.fromisoformat(str(value))
        except ValueError:
            return None
    if t.tzinfo is not None:
        t = t.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return t


def history_row(data: dict[str, Any]) -> dict[str, Any]:
    """A run's row of `run_history`, from its JSON summary (`RunSummary.data`)."""
    docs = data.get("documents") or {}
    gate = data.get("gate") or {}
    counts = gate.get("counts") or {}
    error = data.get("error") or {}
    tables = data.get("tables") if isinstance(data.get("tables"), dict) else None
    fps = data.get("fingerprints") or {}
    status = data.get("status")
    mode = data.get("mode")
    built_by = (data.get("run_id") if status == "published" and mode == "full"
                else fps.get("published_built_by"))
    row = {
        "run_id": data.get("run_id"), "status": status, "mode": mode,
        "exit_code": data.get("exit_code"), "error_type": error.get("type"), "error": error.get("message"),
        "started_at": _ts(data.get("started_at")), "ended_at": _ts(data.get("ended_at")),
        "duration_s": data.get("duration_s"), "last_stage": data.get("stage"),
        "documents_loaded": docs.get("loaded"), "documents_added": docs.get("added"),
        "documents_changed": docs.get("changed"), "documents_removed": docs.get("removed"),
        "documents_unchanged": docs.get("unchanged"), "documents_rejected": docs.get("rejected"),
        "documents_extracted": docs.get("extracted"), "documents_reused": docs.get("reused"),
        "statistics": docs.get("statistics"),
        "table_rows": json.dumps(tables, sort_keys=True) if tables else None,
        "gate_passed": gate.get("passed"), "gate_checks": counts.get("checks", counts.get("total")),
        "gate_failed_error": counts.get("failed_error"), "gate_failed_warning": counts.get("failed_warning"),
        "input_fingerprint": fps.get("input"), "data_built_by": built_by,
        "host": data.get("host") or socket.gethostname(), "pid": data.get("pid"),
        "warehouse": (data.get("warehouse") or {}).get("path"),
    }
    return row


def append_history(path: Path, row: dict[str, Any]) -> None:
    """Append one line to runs/history.jsonl (O_APPEND: concurrent runs never interleave a line)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(row, ensure_ascii=False, default=str, sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_history(path: Path) -> list[dict[str, Any]]:
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return rows
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a line cut by a crash: skipped
        if isinstance(row, dict) and row.get("run_id"):
            rows.append(row)
    return rows


def pending_history(path: Path, warehouse: Path, known: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs of this warehouse recorded in runs/history.jsonl but not yet in its run_history
    (failed, interrupted, skipped-as-unchanged or busy runs since the last publish); the last
    line of a run wins (an interrupted run's line comes after nothing else of it)."""
    seen = {str(r.get("run_id")) for r in known}
    pending: dict[str, dict[str, Any]] = {}
    for row in read_history(path):
        if row.get("warehouse") == str(warehouse) and str(row["run_id"]) not in seen:
            pending[str(row["run_id"])] = row
    return sorted(pending.values(), key=lambda r: (str(r.get("started_at") or ""), str(r["run_id"])))


def write_run_history(db: Path, rows: list[dict[str, Any]]) -> None:
    """(Re)create `run_history` in the DuckDB file `db` with these rows, with column comments."""
    names = [c for c, _, _ in RUN_HISTORY_COLUMNS]
    ddl = ", ".join(f"{c} {t}" for c, t, _ in RUN_HISTORY_COLUMNS)
    by_id: dict[str, dict[str, Any]] = {}
    for r in rows:
        by_id[str(r.get("run_id"))] = r
    values = []
    for r in by_id.values():
        out = []
        for c in names:
            v = r.get(c)
            out.append(_ts(v) if c in _TS_COLUMNS else v)
        values.append(tuple(out))
    values.sort(key=lambda v: (v[names.index("started_at")] or dt.datetime.min, str(v[0])))
    con = duckdb.connect(str(db))
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute(f"CREATE OR REPLACE TABLE main.run_history ({ddl})")
        if values:
            con.executemany(f"INSERT INTO main.run_history VALUES ({', '.join('?' for _ in names)})", values)
        con.execute("COMMENT ON TABLE main.run_history IS 'One row per tongbi run of this warehouse, "
                    "accumulated across publishes: failed and interrupted runs too (runs/history.jsonl).'")
        for c, _, comment in RUN_HISTORY_COLUMNS:
            con.execute(f"COMMENT ON COLUMN main.run_history.{c} IS '{comment.replace(chr(39), chr(39) * 2)}'")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.close()


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
                   published=(data.get("warehouse") or {}).get("published"), summary=str(summary_path))


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
