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

A dataset with no rows in the scope, neither now nor (for the checks that failed before) in the
published file, is not validated again: every row it has is one the previous audit judged and
the build did not touch, so each check's verdict is carried over as audited. A document removed
or changed so that its slices lose rows the previous audit counted as failing still validates
(the count must drop).

What the gate needs of the published file (its audit, and each previously failing check's count
in the scope: `audit_baseline`) depends only on that file and the scope, both known before dbt
starts, so a run computes it in a thread while dbt builds (`BaselineThread`).
"""
from __future__ import annotations

import json
import re
import threading
import time
import warnings
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb

from .results import CheckResult, GateResult
from .suites import DatasetSpec, SuiteSpec, load_suites
from .validate import (GATE_DUCKDB_MEMORY, SAMPLE_ROWS, _build_expectation, _chain, _chunk_plan, _import_gx,
                       _LazyEvidence, _new_context, _read_dataset, _validate_dataset, short_text)

# the note a carried verdict's observed text ends with (replaced, not repeated, when carried again)
_CARRIED = re.compile(r" \(carried over from run [^()]*\)$")

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


def _passed(prev: dict[str, Any]) -> bool:
    return bool(prev["success"]) and prev["unexpected_count"] == 0


@dataclass
class Baseline:
    """What an incremental audit needs of the published file: its audit_results by (suite,
    check), and for each check that failed there, its unexpected count in the scope (a dataset
    whose scope could not be read there counts 0)."""

    prev: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    old_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    seconds: float = 0.0


def _gx_session(gx: Any) -> tuple[Any, Any]:
    context = _new_context(gx, None)
    batch = (context.data_sources.add_pandas("tongbi_warehouse").add_dataframe_asset(name="warehouse")
             .add_batch_definition_whole_dataframe("whole_dataframe"))
    return context, batch


def audit_baseline(previous: Path | None, suites_dir: Path, scope: Scope) -> Baseline:
    """The published file's audit, and the counts in the scope of the checks that failed there
    (validated without failing rows or evidence: only the count is merged)."""
    t0 = time.perf_counter()
    if previous is None:
        return Baseline()
    prev = previous_audit(previous)
    failed = {k for k, p in prev.items() if not _passed(p)}
    counts: dict[tuple[str, str], int] = {}
    if failed:
        suites = load_suites(Path(suites_dir))
        gx = _import_gx()
        con = _connect(previous)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                context, batch = _gx_session(gx)
                for suite in suites:
                    for name, dataset in suite.datasets.items():
                        specs = [s for s in suite.expectations if s.dataset == name and (suite.name, s.check) in failed]
                        if not specs:
                            continue
                        built = {(suite.name, s.check): _build_expectation(s, suite) for s in specs}
                        try:
                            kind, year = scope_of(dataset, _columns(con, dataset.sql))
                            if kind == "whole":
                                continue
                            frames = _read_dataset(con, _scoped_sql(dataset.sql, kind, year, scope), _chunk_plan(specs))
                            first = next(frames)
                            if first.empty:
                                counts.update({(suite.name, s.check): 0 for s in specs})
                                continue
                            found = _validate_dataset(gx, context, batch, suite, dataset, specs, _chain(first, frames),
                                                      built, _LazyEvidence(con, suite, []), store=False, rows=False)
                        except duckdb.Error:
                            continue
                        counts.update({(suite.name, r.expectation): r.unexpected_count for r in found})
        finally:
            con.close()
    return Baseline(prev=prev, old_counts=counts, seconds=round(time.perf_counter() - t0, 3))


class BaselineThread:
    """`audit_baseline` (and the Great Expectations import) in a thread, started while dbt
    builds; `result()` waits for it and raises what it raised."""

    def __init__(self, previous: Path | None, suites_dir: Path, scope: Scope) -> None:
        self._args = (previous, suites_dir, scope)
        self._result: Baseline | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="gate-baseline", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            _import_gx()
            self._result = audit_baseline(*self._args)
        except BaseException as exc:  # noqa: BLE001 - handed to the gate, which raises it
            self._error = exc

    def result(self) -> Baseline:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


def _merge(new: CheckResult, prev: dict[str, Any] | None, old_n: int, kind: str,
           scope: Scope, slices: set[tuple[Any, Any]]) -> CheckResult:
    """The check's verdict over the whole dataset from its scope's new result and the previous
    audit (module docstring); `old_n`: its unexpected rows in the scope of the published file."""
    if prev is None:   # not audited before: the scope is all that is known
        return replace(new, observed=f"{new.observed} (the rebuilt {kind} only: no previous audit)")
    if _passed(prev):
        return replace(new, observed=f"{new.observed} (in the rebuilt {kind}; the rest passed in run {prev['run_id']})")
    count = max(0, prev["unexpected_count"] - old_n) + new.unexpected_count
    kept = [r for r in prev["failing_rows"] if not _in_scope(r, kind, slices, set(scope.docs))]
    rows = (new.failing_rows + kept)[:SAMPLE_ROWS]
    success = new.success and count == 0
    return replace(new, success=success, unexpected_count=count, failing_rows=[] if success else rows,
                   observed=f"{count} rows unexpected: {new.unexpected_count} in the rebuilt {kind}, "
                            f"{count - new.unexpected_count} elsewhere as audited by run {prev['run_id']}")


def _carried(suite: SuiteSpec, dataset: DatasetSpec, specs: list[Any], base: Baseline,
             kind: str) -> list[CheckResult] | None:
    """The previous audit's verdicts of a dataset with no rows in the scope, or None when they
    cannot be carried (a check not audited before, or one whose failing rows were in the scope)."""
    out: list[CheckResult] = []
    for spec in specs:
        prev = base.prev.get((suite.name, spec.check))
        if prev is None or (not _passed(prev) and base.old_counts.get((suite.name, spec.check), 1) != 0):
            return None
        observed = _CARRIED.sub("", str(prev["observed"] or ""))
        out.append(CheckResult(
            suite=suite.name, dataset=dataset.name, expectation=spec.check, expectation_type=spec.type,
            columns=spec.columns, severity=spec.severity, success=bool(prev["success"]),
            observed=f"{observed} (carried over from run {prev['run_id']}: no rows in the rebuilt {kind})",
            unexpected_count=int(prev["unexpected_count"]), failing_rows=list(prev["failing_rows"]),
            description=spec.description))
    return out


def _has_metric(con: Any, suite: SuiteSpec) -> bool:
    try:
        return suite.evidence_sql is not None and "metric_code" in _columns(con, suite.evidence_sql)
    except duckdb.Error:
        return False


def _slice_evidence(con: Any, suite: SuiteSpec, scope: Scope, notes: list[str]) -> _LazyEvidence | None:
    """The suite's evidence mentions that a failing row of a dataset validated by slice can be
    traced to: its row is in one of the scope's slices and matches mentions of its own metric
    and year (validate._EVIDENCE_MATCH), or, where its metric (year) is null, of its year
    (metric) in any metric (year). None when the evidence query has no metric_code and
    period_year to filter on, or a slice has neither: then all of it is read."""
    slices = {tuple(s) for s in scope.slices}
    if suite.evidence_sql is None or (None, None) in slices:
        return None
    try:
        columns = _columns(con, suite.evidence_sql)
    except duckdb.Error:
        return None
    if "metric_code" not in columns or "period_year" not in columns:
        return None
    pairs = ", ".join(f"({_literal(m)}, {_literal(y)})" for m, y in sorted(slices, key=repr)) or "(NULL, NULL)"
    where = [f"(e.metric_code, e.period_year) IN (SELECT (m, y) FROM (VALUES {pairs}) AS s(m, y))"]
    if any_year := sorted({str(m) for m, y in slices if y is None}):
        where.append(f"e.metric_code IN ({', '.join(map(_literal, any_year))})")
    if any_metric := sorted({y for m, y in slices if m is None}):
        where.append(f"e.period_year IN ({', '.join(map(_literal, any_metric))})")
    # a filter keeps the order of the evidence query's ORDER BY (DuckDB preserves the order of
    # its input through filters), which decides the mentions a failing row keeps
    return _LazyEvidence(con, suite, notes,
                         sql=f"SELECT e.* FROM ({suite.evidence_sql}) AS e WHERE " + " OR ".join(where))


@dataclass
class _Read:
    """A dataset of a suite with its rows in the scope, read ahead (`frames`; None for a dataset
    validated whole, which is read in parts when it is validated), or the error reading it."""

    suite: SuiteSpec
    name: str
    dataset: DatasetSpec
    specs: list[Any]
    kind: str = "whole"
    frames: list[Any] | None = None
    error: duckdb.Error | None = None


def _prefetched(con: Any, suites: list[SuiteSpec], scope: Scope, ahead: int = 2) -> Iterator[_Read]:
    """The suites' datasets in order, each read in a thread (its own cursor) while the one
    before is validated: DuckDB runs the queries without the GIL that GX's validation holds.
    At most `ahead` datasets are held read ahead; the scope's rows of a dataset are few."""
    todo = [_Read(suite, name, dataset, [s for s in suite.expectations if s.dataset == name])
            for suite in suites for name, dataset in suite.datasets.items()]
    todo = [t for t in todo if t.specs]

    def read(task: _Read) -> _Read:
        cur = con.cursor()
        try:
            kind, year = scope_of(task.dataset, _columns(cur, task.dataset.sql))
            task.kind = kind
            if kind != "whole":
                task.frames = list(_read_dataset(cur, _scoped_sql(task.dataset.sql, kind, year, scope),
                                                 _chunk_plan(task.specs)))
        except duckdb.Error as exc:
            task.error = exc
        finally:
            cur.close()
        return task

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gate-read") as pool:
        pending: deque[Future[_Read]] = deque()
        for task in todo:
            pending.append(pool.submit(read, task))
            if len(pending) > ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def run_scoped_gate(db_path: Path, suites_dir: Path, scope: Scope, previous: Path | None,
                    baseline: Baseline | BaselineThread | None = None) -> GateResult:
    """Validate `db_path` on the scope of an incremental build and merge with the previous
    audit read from `previous` (the published file the build was copied from; `baseline`: what
    is needed of it, when already read)."""
    t0 = time.perf_counter()
    suites = load_suites(Path(suites_dir))
    gx = _import_gx()
    built = {(s.name, e.check): _build_expectation(e, s) for s in suites for e in s.expectations}
    if isinstance(baseline, BaselineThread):
        base = baseline.result()
    else:
        base = baseline if baseline is not None else audit_baseline(previous, suites_dir, scope)
    t_base = time.perf_counter()
    slices = {tuple(s) for s in scope.slices}
    results: list[CheckResult] = []
    notes: list[str] = []
    scopes: dict[str, int] = {"slices": 0, "documents": 0, "whole": 0, "carried": 0}
    con = _connect(db_path)
    reads = _prefetched(con, suites, scope)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            context, batch = _gx_session(gx)
            evidence: dict[str, tuple[_LazyEvidence, _LazyEvidence]] = {}
            for read in reads:
                suite, name, dataset, specs = read.suite, read.name, read.dataset, read.specs
                if suite.name not in evidence:
                    whole = _LazyEvidence(con, suite, notes, by_metric=_has_metric(con, suite))
                    evidence[suite.name] = (whole, _slice_evidence(con, suite, scope, notes) or whole)
                try:
                    if read.error is not None:
                        raise read.error
                    kind = read.kind
                    frames = iter(read.frames) if read.frames is not None else _read_dataset(
                        con, dataset.sql, _chunk_plan(specs))
                    first = next(frames)
                    carried = _carried(suite, dataset, specs, base, kind) if first.empty and kind != "whole" else None
                    if carried is not None:
                        results.extend(carried)
                        scopes["carried"] += 1
                        continue
                    found = _validate_dataset(gx, context, batch, suite, dataset, specs, _chain(first, frames), built,
                                              evidence[suite.name][1 if kind == "slices" else 0], store=False)
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
                for r in found:
                    key = (suite.name, r.expectation)
                    results.append(_merge(r, base.prev.get(key), base.old_counts.get(key, 0), kind, scope, slices))
    finally:
        reads.close()   # waits for a read under way: its cursor belongs to `con`
        con.close()
    notes.append(f"incremental audit: {len(scope.slices)} slices and {len(scope.docs)} documents validated "
                 f"again ({scopes['slices']} datasets by slice, {scopes['documents']} by document, "
                 f"{scopes['whole']} whole, {scopes['carried']} with no rows in them carried over); "
                 f"the rest from the previous audit")
    total = round(time.perf_counter() - t0, 3)
    return GateResult(results=results, db_path=str(db_path), notes=notes,
                      timings={"total_s": total, "baseline_s": base.seconds, "baseline_wait_s": round(t_base - t0, 3)})
