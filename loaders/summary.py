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
  check (errors first) with its offending rows — document id, quote and keys.
"""
from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

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
                  n_mentions: int, example_sql: str, docs_dir: Path | None) -> None:
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

    def interrupted(self, holder: dict[str, Any], runs_dir: Path) -> None:
        """Record the run that died holding the warehouse lock, and mark its own summary."""
        self.data["recovery"]["interrupted_run"] = holder
        previous = holder.get("run_id")
        if not isinstance(previous, str) or not previous or "/" in previous or previous.startswith("."):
            return
        path = runs_dir / previous / "summary.json"
        old = read_json(path)
        if old is not None and old.get("status") == "running":
            old["status"] = "interrupted"
            old["error"] = {"type": "Interrupted",
                            "message": f"the run died before it finished; found by run {self.run_id}"}
            write_json(path, old)

    def stage(self, name: str) -> None:
        """A stage starts: say so on disk, so that a run that dies tells where it died."""
        self.data["stage"] = name
        self.write()

    def recovered(self, removed: list[str]) -> None:
        self.data["recovery"]["removed"].extend(removed)

    def documents(self, result: Any) -> None:
        self.data["documents"] = {
            "loaded": len(result.documents),
            "rejected": len(result.rejected),
            "statistics": len(result.mentions),
            "rejects": [{"path": r["path"], "line": r["line"], "reason": r["reason"]} for r in result.rejected],
        }

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

    def published(self, warehouse: Path, notes: list[str]) -> None:
        self.data["warehouse"].update(published=True, notes=list(notes))
        self._end("published", 0)

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
