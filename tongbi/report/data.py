"""The report's data: the warehouse's marts read into memory (read-only; the connection is
closed before anything is drawn).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from tongbi.errors import TongbiError

Row = dict[str, Any]

REQUIRED_TABLES = ("fct_metric_mentions", "fct_observations", "fct_region_month_ytd",
                   "fct_region_quarter", "dim_metric", "dim_region", "dim_industry")
QUERIES: dict[str, str] = {
    "fct_metric_mentions": "select * from fct_metric_mentions order by published nulls first, doc_id, mention_seq",
    "fct_observations": "select * from fct_observations",
    "fct_region_month_ytd": "select * from fct_region_month_ytd order by year, end_month",
    "fct_region_quarter": "select * from fct_region_quarter order by year, quarter",
    "dim_metric": "select * from dim_metric",
    "dim_region": "select * from dim_region",
    "dim_industry": "select * from dim_industry",
    "documents": "select * from documents order by published nulls first, doc_id",
    "audit_results": ("select * from audit_results where run_id = (select run_id from audit_results "
                      "order by checked_at desc limit 1) order by success, severity, suite, expectation"),
    "conflicts": "select * from conflicts order by metric_code, region_code, period_year, period_end_month, measure",
    "unresolved_names": "select * from unresolved_names order by n_mentions desc, raw_name",
    "rejected_documents": "select * from rejected_documents",
    "quarantine": "select * from quarantine order by doc_id, suite, rule",
}


class ReportError(TongbiError):
    """The report cannot be written: no warehouse, or one without the marts."""


# ---------------------------------------------------------------- reading the warehouse


@dataclass(frozen=True)
class Warehouse:
    path: Path
    tables: Mapping[str, list[Row]]

    def rows(self, name: str) -> list[Row]:
        return self.tables.get(name, [])

    def has(self, name: str) -> bool:
        return name in self.tables


def read_warehouse(path: Path) -> Warehouse:
    """Every table the report needs, read into memory; the connection is closed on return."""
    import duckdb

    if not path.is_file():
        raise ReportError(f"no warehouse at {path}: build one with `tongbi run`")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise ReportError(f"cannot open {path} read-only: {exc}") from exc
    try:
        present = {r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'main'").fetchall()}
        missing = [t for t in REQUIRED_TABLES if t not in present]
        if missing:
            raise ReportError(f"{path} lacks {', '.join(missing)}: is it a tongbi warehouse?")
        tables: dict[str, list[Row]] = {}
        for name, sql in QUERIES.items():
            if name in present:
                cur = con.execute(sql)
                columns = [d[0] for d in cur.description]
                tables[name] = [dict(zip(columns, r)) for r in cur.fetchall()]
    finally:
        con.close()
    return Warehouse(path, tables)
