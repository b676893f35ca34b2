"""The gate's outputs: the `audit_results` table written into the warehouse, the table printed
for people, and the JSON summary.
"""
from __future__ import annotations

import datetime as dt
import json
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import duckdb

from .results import GateResult
from .validate import SAMPLE_ROWS, short_text


# ------------------------------------------------------------------------------------- outputs


_AUDIT_DDL = """
CREATE OR REPLACE TABLE audit_results (
    run_id           VARCHAR   NOT NULL,
    checked_at       TIMESTAMP NOT NULL,  -- UTC
    suite            VARCHAR   NOT NULL,
    expectation      VARCHAR   NOT NULL,
    severity         VARCHAR   NOT NULL,
    success          BOOLEAN   NOT NULL,
    unexpected_count BIGINT    NOT NULL,
    observed         VARCHAR,
    sample_json      VARCHAR              -- JSON list of failing rows (doc_id, quote, keys)
)
"""


def write_audit_results(db_path: Path, result: GateResult, run_id: str) -> None:
    """Replace the `audit_results` table of the DuckDB file with this run's check results."""
    checked_at = result.checked_at.astimezone(dt.timezone.utc).replace(tzinfo=None)
    rows = [
        (run_id, checked_at, r.suite, r.expectation, r.severity, r.success, int(r.unexpected_count),
         r.observed, json.dumps(r.failing_rows, ensure_ascii=False))
        for r in result.results
    ]
    con = duckdb.connect(str(db_path))
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute(_AUDIT_DDL)
        if rows:
            con.executemany("INSERT INTO audit_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.close()


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _fit(text: str, width: int) -> str:
    """Cut (with …) and pad `text` to `width` terminal cells; CJK characters take two."""
    text = " ".join(str(text).split())
    if _width(text) > width:
        out, used = "", 0
        for ch in text:
            w = _width(ch)
            if used + w > width - 1:
                break
            out, used = out + ch, used + w
        text = out + "…"
    return text + " " * (width - _width(text))


_PROVENANCE = ("doc_id", "quote", "other_doc_id", "other_quote", "evidence")


def _row_summary(row: Mapping[str, Any], skip: Iterable[str] = _PROVENANCE) -> str:
    skipped = set(skip)
    parts = [f"{k}={short_text(v, 24)}" for k, v in row.items() if k not in skipped and v is not None]
    return " ".join(parts)


def _row_line(row: Mapping[str, Any]) -> str:
    """One offending row: where it was read (document and quote), then its keys and values.

    A row that compares two mentions (``other_doc_id``/``other_quote``) shows both quotes.
    """
    where: list[str] = []
    for prefix in ("", "other_"):
        doc, quote = row.get(prefix + "doc_id"), row.get(prefix + "quote")
        if doc is None and quote is None:
            continue
        if prefix:
            where.append("vs")
        if doc is not None:
            where.append(f"doc_id={doc}")
        if quote is not None:
            where.append(f"「{short_text(quote, 50)}」")
    rest = _row_summary(row)
    if rest:
        where.append(rest)
    return " ".join(where)


def format_gate_table(result: GateResult, rows_per_check: int = SAMPLE_ROWS) -> str:
    """A fixed-width terminal table: one line per check; a failing check adds its offending rows
    (up to `rows_per_check`, each with its document id and quote) and how many more there are."""
    cols = (("STATUS", 6), ("SEV", 7), ("SUITE", 22), ("CHECK", 34), ("COLUMNS", 22), ("BAD", 6), ("OBSERVED", 60))
    header = " ".join(_fit(name, w) for name, w in cols).rstrip()
    lines = [header, "-" * _width(header)]
    for r in result.results:
        status = "ok" if r.success else ("FAIL" if r.severity == "error" else "WARN")
        cells = (status, r.severity, r.suite, r.expectation, ",".join(r.columns) or "-",
                 str(r.unexpected_count), r.observed)
        lines.append(" ".join(_fit(c, w) for c, (_, w) in zip(cells, cols)).rstrip())
        if not r.success and r.failing_rows:
            shown = r.failing_rows[:max(1, rows_per_check)]
            for row in shown:
                lines.append("       ↳ " + _fit(_row_line(row), 150).rstrip())
            more = max(r.unexpected_count, len(r.failing_rows)) - len(shown)
            if more > 0:
                lines.append(f"       ↳ … and {more} more (audit_results.sample_json, the run's summary.json)")
    c = result.counts
    verdict = "PASSED" if result.passed else "FAILED"
    lines.append("-" * _width(header))
    lines.append(f"quality gate {verdict}: {c['checks']} checks, {c['passed']} passed, "
                 f"{c['failed_error']} errors, {c['failed_warning']} warnings"
                 + (f" ({result.timings['total_s']:.1f}s)" if "total_s" in result.timings else ""))
    for note in result.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def gate_summary_json(result: GateResult) -> dict[str, Any]:
    """A JSON-serialisable summary of a gate run (verdict, counts, timings, every check)."""
    return {
        "passed": result.passed,
        "checked_at": result.checked_at.isoformat(),
        "db_path": result.db_path,
        "counts": result.counts,
        "timings": dict(result.timings),
        "docs_index": str(result.docs_index) if result.docs_index is not None else None,
        "notes": list(result.notes),
        "failed": [f"{r.suite}.{r.expectation}" for r in result.results if not r.success],
        "checks": [r.as_dict() for r in result.results],
    }
