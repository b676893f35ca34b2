"""`tongbi export --parquet DIR`: the published warehouse's marts (and the `bi` views) as
Parquet files, for tools that read files rather than databases (Spark, pandas, Power BI's
Parquet connector, object storage behind a lakehouse).

Layout: `DIR/main/<table>.parquet` for the marts (fct_*, dim_*, conflicts, unresolved_names,
audit_results, run_history, quarantine) and `DIR/bi/<view>.parquet` for the BI views, plus
`DIR/_export.json` naming the warehouse, its last run and the files with their row counts.

The warehouse is opened read-only, in one connection: every file comes from the same version,
even if a run publishes meanwhile. The files are written into `DIR.tmp-<pid>` and that folder
replaces DIR at the end (DIR is moved aside and removed), so DIR holds one complete export.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from tongbi.errors import TongbiError

MART_PREFIXES = ("fct_", "dim_")
# the tables served beside the marts (the PostgreSQL copy serves the same ones)
MART_TABLES = ("conflicts", "unresolved_names", "audit_results", "run_history", "quarantine")
BI_SCHEMA = "bi"


class ExportError(TongbiError):
    exit_code = 1


@dataclass
class ExportedFile:
    schema: str
    name: str
    rows: int
    path: Path

    @property
    def relation(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass
class ExportResult:
    warehouse: Path
    out_dir: Path
    run_id: str | None = None
    files: list[ExportedFile] = field(default_factory=list)


def is_mart(name: str) -> bool:
    return name.startswith(MART_PREFIXES) or name in MART_TABLES


def relations(con: duckdb.DuckDBPyConnection, schemas: list[str]) -> list[tuple[str, str]]:
    rows = con.execute("""
        select table_schema, table_name from information_schema.tables
        where table_catalog = current_database() order by table_schema, table_name""").fetchall()
    out = []
    for schema, name in rows:
        if schema not in schemas:
            continue
        if schema == "main" and not is_mart(name):
            continue
        out.append((schema, name))
    return out


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def export_parquet(warehouse: Path, out_dir: Path, schemas: list[str] | None = None) -> ExportResult:
    warehouse = warehouse.resolve()
    if not warehouse.exists():
        raise ExportError(f"no warehouse at {warehouse} (tongbi run builds it)")
    out_dir = out_dir.resolve()
    result = ExportResult(warehouse, out_dir)
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        raise ExportError(f"cannot open {warehouse} read-only: {' '.join(str(exc).split())}") from None
    tmp = out_dir.with_name(f"{out_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        wanted = schemas or ["main", BI_SCHEMA]
        found = relations(con, wanted)
        if not found:
            raise ExportError(f"{warehouse} has no marts to export in schemas {', '.join(wanted)}")
        if any(n == "run_history" for s, n in found if s == "main"):
            last = con.execute("select run_id from main.run_history where status in ('published', 'unchanged') "
                               "order by started_at desc, run_id desc limit 1").fetchone()
            result.run_id = last[0] if last else None
        for schema, name in found:
            folder = tmp / schema
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{name}.parquet"
            con.execute(f"COPY (select * from {_quote(schema)}.{_quote(name)}) TO '{str(path).replace(chr(39), chr(39) * 2)}' "
                        "(FORMAT parquet, COMPRESSION zstd)")
            rows = con.execute(f"select count(*) from {_quote(schema)}.{_quote(name)}").fetchone()[0]
            result.files.append(ExportedFile(schema, name, int(rows), out_dir / schema / f"{name}.parquet"))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        con.close()
    manifest = {
        "warehouse": str(warehouse),
        "run_id": result.run_id,
        "exported_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "files": [{"schema": f.schema, "name": f.name, "rows": f.rows,
                   "path": str(f.path.relative_to(out_dir))} for f in result.files],
    }
    (tmp / "_export.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    old = out_dir.with_name(f"{out_dir.name}.old-{os.getpid()}")
    if out_dir.exists():
        os.replace(out_dir, old)
    os.replace(tmp, out_dir)
    shutil.rmtree(old, ignore_errors=True)
    return result
