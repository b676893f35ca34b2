"""The run history: one line per run in `runs/history.jsonl` (appended whatever the run's
outcome), and the `run_history` table of the published warehouse that accumulates them across
publishes (`RUN_HISTORY_COLUMNS`).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import socket
from pathlib import Path
from typing import Any

import duckdb


def history_path(warehouse: Path) -> Path:
    return warehouse.parent / "runs" / "history.jsonl"


# (column, DuckDB type, comment): the `run_history` table of the published warehouse
RUN_HISTORY_COLUMNS: list[tuple[str, str, str]] = [
    ("run_id", "VARCHAR", "The run (UTC start time); its files are in runs/<run_id>/ beside the warehouse."),
    ("status", "VARCHAR", "published (built and published), unchanged (inputs equal to the published "
                          "build's: no rebuild), failed, interrupted (killed; found by a later run)."),
    ("mode", "VARCHAR", "full (extraction of what changed, dbt build, gate), incremental (the slices the "
                        "changed documents touch rebuilt in a copy of the published file, audited there) "
                        "or unchanged (no rebuild)."),
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
    ("documents_quarantined", "INTEGER", "Documents kept out of the marts by a broken error-level rule "
                                         "(see quarantine); 0 for a clean publish."),
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
    ("build_fingerprint", "VARCHAR", "sha256 of what the build depends on besides the documents (models, "
                                     "vocabulary, code, tool versions, quarantine policy): a later run "
                                     "with the same one may build incrementally on this run's data."),
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
    built_by = (data.get("run_id") if status == "published" and mode in ("full", "incremental")
                else fps.get("published_built_by"))
    row = {
        "run_id": data.get("run_id"), "status": status, "mode": mode,
        "exit_code": data.get("exit_code"), "error_type": error.get("type"), "error": error.get("message"),
        "started_at": _ts(data.get("started_at")), "ended_at": _ts(data.get("ended_at")),
        "duration_s": data.get("duration_s"), "last_stage": data.get("stage"),
        "documents_loaded": docs.get("loaded"), "documents_added": docs.get("added"),
        "documents_changed": docs.get("changed"), "documents_removed": docs.get("removed"),
        "documents_unchanged": docs.get("unchanged"), "documents_rejected": docs.get("rejected"), "documents_quarantined": (data.get("quarantine") or {}).get("documents"),
        "documents_extracted": docs.get("extracted"), "documents_reused": docs.get("reused"),
        "statistics": docs.get("statistics"),
        "table_rows": json.dumps(tables, sort_keys=True) if tables else None,
        "gate_passed": gate.get("passed"), "gate_checks": counts.get("checks", counts.get("total")),
        "gate_failed_error": counts.get("failed_error"), "gate_failed_warning": counts.get("failed_warning"),
        "input_fingerprint": fps.get("input"), "build_fingerprint": fps.get("build"), "data_built_by": built_by,
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
        replace_documented_table(con, "run_history", RUN_HISTORY_COLUMNS, values,
                                 "One row per tongbi run of this warehouse, accumulated across publishes: "
                                 "failed and interrupted runs too (runs/history.jsonl).")
    finally:
        con.close()


def replace_documented_table(con: duckdb.DuckDBPyConnection, name: str,
                             columns: tuple[tuple[str, str, str], ...] | list[tuple[str, str, str]],
                             values: list[tuple[Any, ...]], comment: str) -> None:
    """(Re)create `main.<name>` from (column, type, comment) triples and rows, with its comments,
    in one transaction: readers of the file see the old table or the new one."""
    quote = lambda text: text.replace("'", "''")  # noqa: E731
    ddl = ", ".join(f"{c} {t}" for c, t, _ in columns)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"CREATE OR REPLACE TABLE main.{name} ({ddl})")
        if values:
            con.executemany(f"INSERT INTO main.{name} VALUES ({', '.join('?' for _ in columns)})", values)
        con.execute(f"COMMENT ON TABLE main.{name} IS '{quote(comment)}'")
        for c, _, text in columns:
            con.execute(f"COMMENT ON COLUMN main.{name}.{c} IS '{quote(text)}'")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
