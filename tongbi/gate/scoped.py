"""The gate of an incremental run: what changed is validated again, the rest is read from the
previous audit.

An incremental build (tongbi/run/incremental.py) recomputes the rows of a set of slices (one
metric in one year) and loads the rows of the documents it was given. Each dataset of a suite is
validated on one of three scopes (the suite's or query's ``"scope"``, else by its columns):

* ``slices`` — a dataset with ``metric_code`` and ``year`` (or ``period_year``): its rows in the
  rebuilt slices. The rules that span rows (restatements, additivity, shares, year-on-year) are
  queries whose rows each fall in one slice and read only rows of that slice, the year before
  or the whole's metric, which the rebuilt slices already include;
* ``documents`` — the rows of the touched documents (the raw seed rows, which change for them
  only);
* ``whole`` — every row (a rule over a series' latest quarter, a dataset without those columns).

A check validated on a scope is merged with the previous audit (the `audit_results` of the
published warehouse, which passed its gate): when it passed there, its rows outside the scope
did too, and the scope's verdict is the whole's; when it failed there (a warning), the scope of
the published file is validated again as well, and the count is the previous count minus the
scope's old count plus its new one. The previous failing rows outside the scope are kept.
"""
from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb

from .results import CheckResult, GateResult
from .suites import DatasetSpec, SuiteSpec, load_suites
from .validate import (GATE_DUCKDB_MEMORY, SAMPLE_ROWS, _build_expectation, _chain, _chunk_plan, _import_gx,
                       _LazyEvidence, _new_context, _read_dataset, _validate_dataset, short_text)

_YEAR_COLUMNS = ("year", "period_year")


@dataclass(frozen=True)
class Scope:
    """What an incremental build rebuilt: the touched documents and the output slices."""

    docs: list[str] = field(default_factory=list)
    slices: list[tuple[Any, Any]] = field(default_factory=list)   # (metric_code, year)


def _columns(con: Any, sql: str) -> list[str]:
    return [d[0] for d in con.execute(f"SELECT * FROM ({sql}) AS d LIMIT 0").description]


def scope_of(dataset: DatasetSpec, columns: list[str]) -> tuple[str, str | None]:
    """The dataset's scope and, for slices, its year column."""
    year = next((c for c in _YEAR_COLUMNS if c in columns), None)
    if dataset.scope == "slices" or (not dataset.scope and "metric_code" in columns and year):
        return "slices", year
    if dataset.scope == "documents" or (not dataset.scope and "doc_id" in columns):
        return "documents", None
    return "whole", None


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _scoped_sql(sql: str, kind: str, year: str | None, scope: Scope) -> str:
    """The dataset's rows in the scope. The scope is written into the SQL: the file is open
    read-only (no table can be created in it, nor an in-memory database attached), and the
    gate's cursors are connections of their own (no temp tables shared)."""
    if kind == "slices":
        values = ", ".join(f"({_literal(m)}, {_literal(y)})" for m, y in scope.slices) or "(NULL, NULL)"
        return (f"SELECT d.* FROM ({sql}) AS d WHERE (d.metric_code, d.{year}) IN "
                f"(SELECT (m, y) FROM (VALUES {values}) AS s(m, y))" + ("" if scope.slices else " AND FALSE"))
    if kind == "documents":
        docs = ", ".join(_literal(d) for d in scope.docs)
        return f"SELECT d.* FROM ({sql}) AS d WHERE " + (f"d.doc_id IN ({docs})" if docs else "FALSE")
    return sql


def _connect(db: Path) -> Any:
    con = duckdb.connect(str(db), read_only=True)
    con.execute(f"SET memory_limit = '{GATE_DUCKDB_MEMORY}'")
    return con


def previous_audit(db: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """The published warehouse's audit_results by (suite, check); empty when it has none."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("SELECT suite, expectation, success, unexpected_count, observed, sample_json, run_id "
                           "FROM audit_results").fetchall()
    except duckdb.Error:
        return {}
    finally:
        con.close()
    return {(r[0], r[1]): {"success": bool(r[2]), "unexpected_count": int(r[3] or 0), "observed": r[4],
                           "failing_rows": json.loads(r[5] or "[]"), "run_id": r[6]} for r in rows}


def _in_scope(row: dict[str, Any], kind: str, scope_slices: set[tuple[Any, Any]], docs: set[str]) -> bool:
    if kind == "documents":
        return row.get("doc_id") in docs
    year = next((row[c] for c in _YEAR_COLUMNS if c in row), None)
    return (row.get("metric_code"), year) in scope_slices


def _merge(new: CheckResult, prev: dict[str, Any] | None, old_scope: CheckResult | None, kind: str,
           scope: Scope, slices: set[tuple[Any, Any]]) -> CheckResult:
    """The check's verdict over the whole dataset from its scope's new result and the previous
    audit (module docstring)."""
    if prev is None:   # not audited before: the scope is all that is known
        return replace(new, observed=f"{new.observed} (the rebuilt {kind} only: no previous audit)")
    if prev["success"] and prev["unexpected_count"] == 0:
        return replace(new, observed=f"{new.observed} (in the rebuilt {kind}; the rest passed in run {prev['run_id']})")
    old_n = old_scope.unexpected_count if old_scope is not None else 0
    count = max(0, prev["unexpected_count"] - old_n) + new.unexpected_count
    kept = [r for r in prev["failing_rows"] if not _in_scope(r, kind, slices, set(scope.docs))]
    rows = (new.failing_rows + kept)[:SAMPLE_ROWS]
    success = new.success and count == 0
    return replace(new, success=success, unexpected_count=count, failing_rows=[] if success else rows,
                   observed=f"{count} rows unexpected: {new.unexpected_count} in the rebuilt {kind}, "
                            f"{count - new.unexpected_count} elsewhere as audited by run {prev['run_id']}")


def run_scoped_gate(db_path: Path, suites_dir: Path, scope: Scope, previous: Path | None) -> GateResult:
    """Validate `db_path` on the scope of an incremental build and merge with the previous
    audit read from `previous` (the published file the build was copied from)."""
    t0 = time.perf_counter()
    suites = load_suites(Path(suites_dir))
    gx = _import_gx()
    built = {(s.name, e.check): _build_expectation(e, s) for s in suites for e in s.expectations}
    prev = previous_audit(previous) if previous is not None else {}
    slices = {tuple(s) for s in scope.slices}
    results: list[CheckResult] = []
    notes: list[str] = []
    scopes: dict[str, int] = {"slices": 0, "documents": 0, "whole": 0}
    con = _connect(db_path)
    old = _connect(previous) if previous is not None else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            context = _new_context(gx, None)
            batch = (context.data_sources.add_pandas("tongbi_warehouse").add_dataframe_asset(name="warehouse")
                     .add_batch_definition_whole_dataframe("whole_dataframe"))

            def validate(c: Any, suite: SuiteSpec, dataset: DatasetSpec, specs: list[Any], sql: str,
                         evidence: _LazyEvidence) -> list[CheckResult]:
                frames = _read_dataset(c, sql, _chunk_plan(specs))
                return _validate_dataset(gx, context, batch, suite, dataset, specs, _chain(next(frames), frames),
                                         built, evidence, store=False)

            for suite in suites:
                evidence = _LazyEvidence(con, suite, notes)
                for name, dataset in suite.datasets.items():
                    specs = [s for s in suite.expectations if s.dataset == name]
                    if not specs:
                        continue
                    try:
                        kind, year = scope_of(dataset, _columns(con, dataset.sql))
                        sql = _scoped_sql(dataset.sql, kind, year, scope)
                        found = validate(con, suite, dataset, specs, sql, evidence)
                    except duckdb.Error as exc:
                        results.append(CheckResult(
                            suite=suite.name, dataset=name, columns=(), severity="error", success=False,
                            expectation="table_readable" if name == "main" else f"{name}_readable",
                            observed=short_text(f"cannot read: {' '.join(str(exc).split())}", 160),
                            unexpected_count=0, expectation_type="read_dataset",
                            description=f"the dataset can be read from the warehouse ({len(specs)} checks not run)"))
                        continue
                    scopes[kind] += 1
                    if kind == "whole":
                        results.extend(found)
                        continue
                    failed_before = [s for s in specs if (p := prev.get((suite.name, s.check))) is not None
                                     and not (p["success"] and p["unexpected_count"] == 0)]
                    old_results: dict[str, CheckResult] = {}
                    if failed_before and old is not None:
                        old_evidence = _LazyEvidence(old, suite, [])
                        old_results = {r.expectation: r for r in
                                       validate(old, suite, dataset, failed_before, sql, old_evidence)}
                    for r in found:
                        results.append(_merge(r, prev.get((suite.name, r.expectation)),
                                              old_results.get(r.expectation), kind, scope, slices))
    finally:
        con.close()
        if old is not None:
            old.close()
    notes.append(f"incremental audit: {len(scope.slices)} slices and {len(scope.docs)} documents validated "
                 f"again ({scopes['slices']} datasets by slice, {scopes['documents']} by document, "
                 f"{scopes['whole']} whole); the rest from the previous audit")
    total = round(time.perf_counter() - t0, 3)
    return GateResult(results=results, db_path=str(db_path), timings={"total_s": total}, notes=notes)
