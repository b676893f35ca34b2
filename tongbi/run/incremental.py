"""Incremental builds: a run that adds, changes or removes a few documents recomputes only the
statistics those documents touch, in a copy of the published warehouse.

When (`plan`): a published warehouse exists, its data was built by this build fingerprint
(models, macros, expectation suites, vocabulary seeds, extractor and gate code, tool versions:
`state.build_fingerprint`, recorded in `run_history.build_fingerprint`), the quarantine policy
is the same, and the run is not `--force`. Anything else is a full build.

How (`prepare`): the published version file is copied to the staging file (write-audit-publish
as before: the copy is built, audited and renamed; the published file is only read). In the
copy, the loader seed tables take the new seed files' rows of the touched documents (raw_metrics
and document_texts: delete and insert those documents' rows, read with the same COPY the seed
materialization uses; documents and rejected_documents, a row a file: replaced whole). The
slices (metric, year) of the touched documents' old and new mentions, with the slices that
derive from them, go to the schema `tongbi_incr` (macros/incremental.sql says which), and
`dbt run` rebuilds the models downstream of the mentions: the incremental ones recompute those
slices (delete+insert; fct_quarter every series of their metrics), the small tables
(dim_quarter, unresolved_names) are rebuilt whole. `finish` drops `tongbi_incr` before the
gate, so the published file holds the same tables as a full build's.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:  # pragma: no cover - typing only
    from tongbi.gate.scoped import Scope

# the models an incremental run builds: everything downstream of the mentions, except views
# (a view's definition is unchanged when the build fingerprint is)
DBT_SELECT = ("int_mentions__enriched+",)
DBT_EXCLUDE = ("config.materialized:view",)
SCHEMA = "tongbi_incr"
# seeds with one row per mention / per document that change only for the touched documents
_BY_DOC = ("raw_metrics", "document_texts")
# small seeds replaced whole
_WHOLE = ("documents", "rejected_documents")


@dataclass
class Plan:
    """Whether this run builds incrementally, and why (not)."""

    incremental: bool
    reason: str
    docs: list[str] = field(default_factory=list)   # added, changed and removed doc_ids


def plan(*, force: bool, previous: Any, base_fp: str, changes: Any, published_file: Path | None) -> Plan:
    """Incremental when the published build was made by the same code, models, vocabulary and
    quarantine policy (`base_fp`, the module docstring); the reason is recorded in the run
    summary either way."""
    docs = sorted(set(changes.added) | set(changes.changed) | set(changes.removed))
    if force:
        return Plan(False, "--force: full rebuild and full audit")
    if not previous.exists or published_file is None or not published_file.is_file():
        return Plan(False, "no published warehouse")
    if not previous.build_fingerprint:
        return Plan(False, "the published warehouse records no build fingerprint")
    if previous.build_fingerprint != base_fp:
        return Plan(False, "models, vocabulary, expectations, code or the quarantine policy changed "
                           "since the published build")
    if not docs:
        return Plan(False, "no document changed")
    return Plan(True, f"{len(docs)} documents added, changed or removed", docs)


def _read_seed(con: Any, table: str, csv: Path) -> str:
    """SQL reading `csv` as the seed materialization's COPY into `table` does (macros/
    native_csv_seed.sql: the table's column types, a header, comma-separated, no sniffing), so
    the rows are those a full build loads; unlike COPY into a scratch table, it writes nothing
    into the file for the rows a filter drops."""
    cols = con.execute("select column_name, data_type from information_schema.columns where table_catalog = "
                       "current_database() and table_schema = 'main' and table_name = ? order by ordinal_position",
                       [table]).fetchall()
    spec = ", ".join("'" + c.replace("'", "''") + "': '" + t + "'" for c, t in cols)
    literal = "'" + str(csv).replace("'", "''") + "'"
    return f"read_csv({literal}, header = true, delim = ',', auto_detect = false, columns = {{{spec}}})"


def _slices(con: Any, sql: str, params: list[Any] | None = None) -> set[tuple[Any, Any]]:
    return {(r[0], r[1]) for r in con.execute(sql, params or []).fetchall()}


def prepare(published_file: Path, staging: Path, seeds_dir: Path, docs: Iterable[str],
            excluded: set[str]) -> tuple[dict[str, int], list[tuple[Any, Any]]]:
    """Copy the published file to `staging` and apply the touched documents' seed rows and
    slices (module docstring). `excluded`: quarantined documents, whose rows stay out of
    raw_metrics as in a full build. Returns counts for the run summary, and the output slices
    (those `finish` reads back: known before dbt runs, so the gate can start on the published
    file meanwhile)."""
    import duckdb

    shutil.copyfile(published_file, staging)
    docs = sorted(set(docs))
    con = duckdb.connect(str(staging))
    try:
        con.execute("begin")
        con.execute(f"create schema {SCHEMA}")
        con.execute(f"create table {SCHEMA}.docs (doc_id varchar)")
        con.executemany(f"insert into {SCHEMA}.docs values (?)", [[d] for d in docs])
        in_docs = f"doc_id in (select doc_id from {SCHEMA}.docs)"
        # the slices of the touched documents' mentions as the published build has them
        old = _slices(con, f"select distinct metric_code, period_year from main.int_mentions__enriched "
                           f"where {in_docs}")
        for table in _BY_DOC:
            source = _read_seed(con, table, seeds_dir / f"{table}.csv")
            con.execute(f"delete from main.{table} where {in_docs}")
            keep = " and doc_id not in (select unnest(?::varchar[]))" if table == "raw_metrics" else ""
            con.execute(f"insert into main.{table} select * from {source} where {in_docs}{keep}",
                        [sorted(excluded)] if keep else [])
        for table in _WHOLE:
            source = _read_seed(con, table, seeds_dir / f"{table}.csv")
            con.execute(f"delete from main.{table}")
            con.execute(f"insert into main.{table} select * from {source}")
        # ... and as this run's seeds give them (stg_bulletins__raw_metrics cleans metric_code so)
        new = _slices(con, f"select distinct nullif(trim(cast(metric_code as varchar)), ''), period_year "
                           f"from main.raw_metrics where {in_docs}")
        touched = old | new
        wholes = {str(m): str(w) for m, w in con.execute(
            "select metric_code, industry_whole_metric_code from main.int_metrics__share_wholes "
            "where industry_whole_metric_code <> metric_code").fetchall()}
        parts_of: dict[str, set[str]] = {}
        for part, whole in wholes.items():
            parts_of.setdefault(whole, set()).add(part)
        output = set(touched)
        for metric, year in touched:
            if year is not None:
                output.add((metric, year + 1))            # its year-on-year rate reads this year
            for part in parts_of.get(metric, ()):          # a share of this metric's whole
                output.add((part, year))
        inputs = set(output)
        for metric, year in output:
            if year is not None:
                inputs.add((metric, year - 1))
            if metric in wholes:
                inputs.add((wholes[metric], year))
        for name, rows in (("output", output), ("input", inputs)):
            con.execute(f"create table {SCHEMA}.{name} (metric_code varchar, period_year bigint)")
            if rows:
                con.executemany(f"insert into {SCHEMA}.{name} values (?, ?)", sorted(rows, key=repr))
        con.execute("commit")
    finally:
        con.close()
    counts = {"documents": len(docs), "touched_slices": len(touched), "output_slices": len(output),
              "input_slices": len(inputs)}
    return counts, sorted(output, key=repr)


def finish(staging: Path, docs: Iterable[str]) -> Scope:
    """Drop the run's slice tables (the published file holds what a full build's holds) and
    return what the gate validates again: the touched documents and the output slices."""
    import duckdb

    from tongbi.gate.scoped import Scope

    con = duckdb.connect(str(staging))
    try:
        out = [(r[0], r[1]) for r in con.execute(f"select metric_code, period_year from {SCHEMA}.output").fetchall()]
        con.execute(f"drop schema if exists {SCHEMA} cascade")
        con.execute("checkpoint")
    finally:
        con.close()
    return Scope(docs=sorted(set(docs)), slices=out)
