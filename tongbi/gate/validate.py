"""Validation: each suite's datasets read from DuckDB (read-only, in parts where that is exact,
memory capped) and validated with Great Expectations' pandas datasource in an ephemeral
context; a failing check's rows are traced back to their documents and quotes.

GX 1.x SQL datasources return no rows over duckdb-engine (GX issues #10738, #11579), so the gate
reads every dataframe from DuckDB itself and validates pandas dataframes.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import threading
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from .gx_lean import lean_validation
from .results import CheckResult, GateResult
from .suites import MAIN_DATASET, DatasetSpec, ExpectationSpec, SuiteFileError, SuiteSpec, load_suites

if TYPE_CHECKING:  # pragma: no cover - typing only
    from great_expectations.data_context.data_context.abstract_data_context import AbstractDataContext
    from great_expectations.expectations.expectation import Expectation

_GX_SEVERITY = {"error": "critical", "warning": "warning"}
SAMPLE_ROWS = 5            # failing rows kept per check
EVIDENCE_MENTIONS = 3      # mentions kept per failing fact row

# row column -> fct_metric_mentions column, used to trace a fact row back to its mentions
_EVIDENCE_MATCH: tuple[tuple[str, str], ...] = (
    ("metric_code", "metric_code"),
    ("region_code", "region_code"),
    ("industry_code", "industry_code"),
    ("year", "period_year"),
    ("period_end_month", "period_end_month"),
)


# ----------------------------------------------------------------------------------------- GX


def _import_gx() -> Any:
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    import great_expectations as gx  # noqa: PLC0415 - slow import, only when validating

    return gx


def preload() -> threading.Thread:
    """Import Great Expectations in a thread (about 5 s), so that a run imports it while dbt
    builds in its own process instead of after; the gate's own import then finds it loaded (or
    waits on Python's import lock for the thread to finish it)."""
    thread = threading.Thread(target=_import_gx, name="gx-import", daemon=True)
    thread.start()
    return thread


def _build_expectation(spec: ExpectationSpec, suite: SuiteSpec) -> Expectation:
    from great_expectations.expectations.expectation_configuration import (  # noqa: PLC0415
        ExpectationConfiguration,
    )

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            config = ExpectationConfiguration(
                type=spec.type,
                kwargs=dict(spec.kwargs),
                meta=dict(spec.meta),
                severity=_GX_SEVERITY[spec.severity],  # type: ignore[arg-type]
            )
            return config.to_domain_obj()
    except Exception as exc:  # GX raises many kinds (pydantic, lookup, ...): name the file
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SuiteFileError(suite.path, f"expectation {spec.check!r} ({spec.type}): {message}",
                             spec.line) from exc


def check_suites(suites_dir: Path) -> list[SuiteSpec]:
    """Parse the suites and build every expectation with GX: raises SuiteFileError on the first bad one."""
    suites = load_suites(suites_dir)
    _import_gx()
    for suite in suites:
        for spec in suite.expectations:
            _build_expectation(spec, suite)
    return suites


def _new_context(gx: Any, docs_dir: Path | None) -> AbstractDataContext:
    from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: PLC0415

    context: AbstractDataContext = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    if docs_dir is not None:
        context.add_data_docs_site(
            site_name="tongbi_quality",
            site_config={
                "class_name": "SiteBuilder",
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir.resolve()),
                },
            },
        )
    return context


# --------------------------------------------------------------------------------- conversion


def _jsonable(value: Any) -> Any:
    """A JSON-serialisable copy of a dataframe cell."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)) and getattr(value, "ndim", 0) > 0:
        return [_jsonable(v) for v in value.tolist()]
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def short_text(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(_jsonable(value), ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _doc_ids(value: Any) -> list[str]:
    value = _jsonable(value)
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value if v is not None]
    return [v for v in re.split(r"[,;|\s]+", str(value).strip("[]{}")) if v]


def _exception_message(result: Any) -> str | None:
    info = getattr(result, "exception_info", None)
    if not isinstance(info, dict):
        return None
    candidates = [info] + [v for v in info.values() if isinstance(v, dict)]
    for c in candidates:
        if c.get("raised_exception"):
            msg = str(c.get("exception_message") or "exception").strip()
            return msg.splitlines()[0] if msg else "exception"
    return None


def _observed(expectation_type: str, result: Mapping[str, Any], success: bool) -> tuple[str, int]:
    """Short observed text and unexpected count of one GX expectation result."""
    details = result.get("details")
    if isinstance(details, dict) and isinstance(details.get("mismatched"), dict):
        missing = list(details["mismatched"].get("missing") or [])
        if missing:
            return f"missing columns: {', '.join(map(str, missing))}", len(missing)
    if "unexpected_count" in result and result.get("unexpected_count") is not None:
        n = int(result["unexpected_count"])
        total = result.get("element_count")
        text = f"{n} of {total} rows unexpected" if total is not None else f"{n} rows unexpected"
        if n:
            sample = [short_text(v, 40) for v in (result.get("partial_unexpected_list") or [])[:3]]
            if sample:
                text += ", e.g. " + "; ".join(sample)
        return text, n
    if "observed_value" in result:
        value = result["observed_value"]
        if success and expectation_type == "expect_table_columns_to_match_set" and isinstance(value, list):
            return f"{len(value)} columns, the expected ones present", 0
        return f"observed {short_text(value, 80)}", 0 if success else 1
    return ("ok" if success else "failed"), 0 if success else 1


def _condition_columns(condition: Any) -> list[str]:
    """Columns a serialised GX row condition ({"type": ..., "column": {"name": ...}}) refers to."""
    if isinstance(condition, dict):
        found: list[str] = []
        column = condition.get("column")
        if isinstance(column, dict) and isinstance(column.get("name"), str):
            found.append(column["name"])
        for sub in condition.get("conditions") or []:
            found.extend(_condition_columns(sub))
        return found
    return []


def _sample_columns(spec: ExpectationSpec, dataset: DatasetSpec, frame: pd.DataFrame) -> list[str]:
    if dataset.name != MAIN_DATASET:   # a query: its columns are all explanatory
        return list(frame.columns)
    wanted: list[str] = ["doc_id", "quote", *dataset.key_columns, *spec.columns]
    wanted.extend(_condition_columns(spec.kwargs.get("row_condition")))
    if "source_doc_ids" in frame.columns and "quote" not in frame.columns:
        wanted.append("source_doc_ids")
    out: list[str] = []
    for col in wanted:
        if col in frame.columns and col not in out:
            out.append(col)
    return out


def _evidence_for(row: Mapping[str, Any], spec: ExpectationSpec, mentions: pd.DataFrame) -> list[dict[str, Any]]:
    """Mentions of fct_metric_mentions that a failing fact row comes from."""
    base = mentions
    for row_col, mention_col in _EVIDENCE_MATCH:
        value = row.get(row_col)
        if value is None or mention_col not in base.columns:
            continue
        base = base[base[mention_col] == value]
        if base.empty:
            return []
    docs = _doc_ids(row.get("source_doc_ids"))
    measures = list(spec.evidence_measures)
    attempts: list[tuple[list[str], list[str]]] = [(docs, measures), (docs, []), ([], measures), ([], [])]
    for doc_filter, measure_filter in attempts:
        found = base
        if doc_filter and "doc_id" in found.columns:
            found = found[found["doc_id"].isin(doc_filter)]
        if measure_filter and "measure" in found.columns:
            found = found[found["measure"].isin(measure_filter)]
        if not found.empty:
            cols = [c for c in ("doc_id", "quote", "measure", "metric_code", "region_code", "industry_code")
                    if c in found.columns]
            return [{c: _jsonable(r[c]) for c in cols}
                    for r in found.head(EVIDENCE_MENTIONS).to_dict("records")]
    return []


def _failing_rows(
    spec: ExpectationSpec,
    dataset: DatasetSpec,
    frame: pd.DataFrame,
    result: Mapping[str, Any],
    mentions_source: _LazyEvidence | pd.DataFrame | None,
) -> list[dict[str, Any]]:
    indices = result.get("partial_unexpected_index_list") or result.get("unexpected_index_list") or []
    labels: list[Any] = []
    for idx in indices:
        if isinstance(idx, dict):  # GX gives dicts when unexpected_index_column_names are set
            continue
        if idx in frame.index and idx not in labels:
            labels.append(idx)
        if len(labels) >= SAMPLE_ROWS:
            break
    if not labels:
        return []
    columns = _sample_columns(spec, dataset, frame)
    rows: list[dict[str, Any]] = []
    for label in labels:
        row = {c: _jsonable(frame.at[label, c]) for c in columns}
        mentions = mentions_source.for_row(row) if isinstance(mentions_source, _LazyEvidence) else mentions_source
        if mentions is not None and not ("doc_id" in row and "quote" in row):
            evidence = _evidence_for(row, spec, mentions)
            if evidence:
                row = {"doc_id": evidence[0].get("doc_id"), "quote": evidence[0].get("quote"),
                       **row, "evidence": evidence}
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------- gate


def _plain_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """Nullable integer/float/boolean columns as numpy ones (NaN or None for nulls).

    DuckDB hands integer columns with nulls to pandas as `Int64` (pd.NA); several GX
    expectations evaluate `pd.NA` in a boolean context and raise instead of flagging the row.
    """
    for col in frame.columns:
        dtype = frame[col].dtype
        if not isinstance(dtype, pd.api.extensions.ExtensionDtype) or dtype.kind not in "iufb":
            continue
        has_na = bool(frame[col].isna().any())
        if dtype.kind == "b":
            frame[col] = frame[col].astype(object).where(frame[col].notna(), None) if has_na else frame[col].astype(bool)
        else:
            frame[col] = frame[col].astype("float64") if has_na or dtype.kind == "f" else frame[col].astype(dtype.numpy_dtype)
    return frame


GATE_DUCKDB_MEMORY = os.environ.get("TONGBI_GATE_DUCKDB_MEMORY", "256MB")
CHUNK_ROWS = 50_000   # a dataset larger than this is validated in parts where that is exact
# expectations that judge each row on its own (no `mostly`): validated part by part, the failing
# rows and counts add up to what one validation of the whole dataset gives
_ROW_WISE = frozenset({
    "expect_column_values_to_not_be_null", "expect_column_values_to_be_null",
    "expect_column_values_to_be_between", "expect_column_values_to_be_in_set",
    "expect_column_values_to_not_be_in_set", "expect_column_pair_values_a_to_be_greater_than_b",
    "expect_column_pair_values_to_be_equal", "expect_column_values_to_match_regex",
    "expect_column_value_lengths_to_be_between", "expect_column_to_exist",
    "expect_table_columns_to_match_set", "expect_table_columns_to_match_ordered_list",
})
_PARTITION_COLUMN = "doc_id"


def _chunk_plan(specs: Sequence[ExpectationSpec]) -> str | None:
    """How a large dataset may be validated in parts with the same verdicts: "rows" (any parts:
    every check is row-wise), "doc_id" (parts that never split a document: the only other checks
    are uniqueness of column sets that include doc_id), None (only whole)."""
    plan = "rows"
    for spec in specs:
        if "mostly" in spec.kwargs:
            return None
        if spec.type in _ROW_WISE:
            continue
        if spec.type == "expect_compound_columns_to_be_unique" and _PARTITION_COLUMN in spec.columns:
            plan = "doc_id"
            continue
        return None
    return plan


def _read_dataset(con: Any, sql: str, plan: str | None) -> Iterator[pd.DataFrame]:
    """The dataset as one dataframe, as before, when it is small or cannot be split; else in
    parts of about CHUNK_ROWS rows (streamed from one query, or one query per doc_id
    partition), so that memory does not grow with the warehouse."""
    if plan is None:
        yield _plain_dtypes(con.execute(sql).df())
        return
    vectors = max(1, CHUNK_ROWS // 2048)
    cur = con.cursor()   # its own result stream: other queries (evidence) may run meanwhile
    try:
        cur.execute(sql)
        first = cur.fetch_df_chunk(vectors_per_chunk=vectors)
        second = cur.fetch_df_chunk(vectors_per_chunk=vectors)
        if second.empty:
            yield _plain_dtypes(first)
            return
        if plan == "rows":
            yield _plain_dtypes(first)
            del first
            while not second.empty:
                yield _plain_dtypes(second)
                second = cur.fetch_df_chunk(vectors_per_chunk=vectors)
            return
        del first, second
        total = int(cur.execute(f"SELECT count(*) FROM ({sql}) AS d").fetchone()[0])
        parts = max(1, -(-total // CHUNK_ROWS))
        for i in range(parts):
            yield _plain_dtypes(cur.execute(
                f"SELECT * FROM ({sql}) AS d WHERE hash(d.{_PARTITION_COLUMN}) % {parts} = {i}").df())
    finally:
        cur.close()


class _LazyEvidence:
    """A suite's evidence mentions, read only when a failing row needs them; `sql`: a query
    that gives the part of them some failing rows can match (an incremental audit's slices).
    With `by_metric` (the query has a metric_code column), a failing row with a metric reads
    only that metric's mentions, in the query's order: the part of them `_evidence_for` can
    match (an incremental audit validating a few datasets whole, for which reading all
    mentions took longer than validating them)."""

    def __init__(self, con: Any, suite: SuiteSpec, notes: list[str], sql: str | None = None,
                 by_metric: bool = False) -> None:
        self.con, self.suite, self.notes = con, suite, notes
        self.sql = sql if sql is not None else suite.evidence_sql
        self.by_metric = by_metric
        self.frame: pd.DataFrame | None = None
        self.read = False
        self._metrics: dict[str, pd.DataFrame] = {}

    def get(self) -> pd.DataFrame | None:
        if not self.read and self.sql is not None:
            self.read = True
            try:
                self.frame = self.con.execute(self.sql).df()
            except duckdb.Error as exc:
                self.notes.append(f"{self.suite.name}: evidence query failed, failing rows keep their keys only "
                                  f"({short_text(str(exc), 120)})")
        return self.frame

    def for_row(self, row: Mapping[str, Any]) -> pd.DataFrame | None:
        metric = row.get("metric_code")
        if not self.by_metric or self.read or self.sql is None or not isinstance(metric, str):
            return self.get()
        if metric not in self._metrics:
            try:   # a filter keeps the order of the query's ORDER BY
                self._metrics[metric] = self.con.execute(
                    f"SELECT e.* FROM ({self.sql}) AS e WHERE e.metric_code = ?", [metric]).df()
            except duckdb.Error:
                return self.get()
        return self._metrics[metric]


def run_gate(db_path: Path, suites_dir: Path, docs_dir: Path | None = None, *, scope: Any = None,
             previous: Path | None = None, baseline: Any = None) -> GateResult:
    """Validate the warehouse at `db_path` with every suite in `suites_dir`.

    Reads each suite's dataframes from the DuckDB file opened read-only (then closes it),
    validates them with GX's pandas datasource in an ephemeral context and, when `docs_dir` is
    given, builds GX Data Docs there (`docs_dir/index.html`). A dataset that cannot be read (a
    missing table, a failing query) is reported as a failed error-severity check
    `table_readable` (or `<query>_readable`). Raises SuiteFileError for a bad suite file, FileNotFoundError for a
    missing database.

    With `scope` (an incremental build's `scoped.Scope`), only what the build rebuilt is
    validated and the rest is read from the previous audit in `previous` (tongbi/gate/scoped.py;
    `baseline`: what it needs of `previous`, when already read: `scoped.BaselineThread`); no Data
    Docs are built (the site keeps the last full audit).
    """
    if scope is not None:
        from .scoped import run_scoped_gate  # noqa: PLC0415 - imports this module

        return run_scoped_gate(Path(db_path), Path(suites_dir), scope, previous, baseline)
    t0 = time.perf_counter()
    db_path, suites_dir = Path(db_path), Path(suites_dir)
    checked_at = dt.datetime.now(dt.timezone.utc)
    if not db_path.is_file():
        raise FileNotFoundError(f"no DuckDB file at {db_path}")
    suites = load_suites(suites_dir)
    t_parse = time.perf_counter()
    gx = _import_gx()
    built: dict[tuple[str, str], Expectation] = {
        (suite.name, spec.check): _build_expectation(spec, suite)
        for suite in suites for spec in suite.expectations
    }
    t_load = time.perf_counter()

    t_read = t_load
    notes: list[str] = []
    read_s = 0.0
    results: list[CheckResult] = []
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        # DuckDB's own memory for the gate's queries (sorts and joins of the pair checks spill
        # to disk beyond it): the dataframes handed to GX are the gate's memory
        con.execute(f"SET memory_limit = '{GATE_DUCKDB_MEMORY}'")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            context = _new_context(gx, docs_dir)
            # one asset and batch definition: each validation passes its own dataframe
            batch_definition = (
                context.data_sources.add_pandas("tongbi_warehouse")
                .add_dataframe_asset(name="warehouse")
                .add_batch_definition_whole_dataframe("whole_dataframe")
            )
            for suite in suites:
                evidence = _LazyEvidence(con, suite, notes)
                for ds_name, dataset in suite.datasets.items():
                    specs = [s for s in suite.expectations if s.dataset == ds_name]
                    if not specs:
                        continue
                    t0_read = time.perf_counter()
                    frames = _read_dataset(con, dataset.sql, _chunk_plan(specs))
                    try:
                        first = next(frames)
                    except duckdb.Error as exc:
                        results.append(CheckResult(
                            suite=suite.name, dataset=ds_name,
                            expectation="table_readable" if ds_name == MAIN_DATASET else f"{ds_name}_readable",
                            columns=(), severity="error", success=False,
                            observed=short_text(f"cannot read: {' '.join(str(exc).split())}", 160), unexpected_count=0,
                            expectation_type="read_dataset",
                            description=f"the dataset can be read from the warehouse ({len(specs)} checks not run)",
                        ))
                        continue
                    finally:
                        read_s += time.perf_counter() - t0_read
                    results.extend(_validate_dataset(
                        gx, context, batch_definition, suite, dataset, specs, _chain(first, frames), built,
                        evidence, store=docs_dir is not None,
                    ))
            t_validate = time.perf_counter()
            docs_index: Path | None = None
            if docs_dir is not None:
                docs_dir.mkdir(parents=True, exist_ok=True)
                context.build_data_docs(site_names=["tongbi_quality"])
                from .offline import make_offline  # noqa: PLC0415
                notes.extend(make_offline(docs_dir))  # GX's pages load their assets from CDNs
                docs_index = docs_dir / "index.html"
    finally:
        con.close()
    t_docs = time.perf_counter()
    return GateResult(
        results=results,
        db_path=str(db_path),
        checked_at=checked_at,
        timings={
            "load_suites_s": round(t_parse - t0, 3),
            "import_gx_s": round(t_load - t_parse, 3),  # GX import (first run in a process) + expectations
            "read_duckdb_s": round(read_s, 3),   # the first part of each dataset (the others are read while validating)
            "validate_s": round(t_validate - t_read - read_s, 3),
            "data_docs_s": round(t_docs - t_validate, 3),
            "total_s": round(t_docs - t0, 3),
        },
        docs_index=docs_index,
        notes=notes,
    )


def _chain(first: pd.DataFrame, rest: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    yield first
    del first
    yield from rest


@dataclass
class _Merged:
    """One check's results over the parts of a dataset, added up."""

    success: bool = True
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    failing_rows: list[dict[str, Any]] = field(default_factory=list)
    parts: int = 0

    def add(self, success: bool, result: dict[str, Any], error: str | None) -> None:
        self.parts += 1
        self.success = self.success and success and error is None
        if error is not None and self.error is None:
            self.error = error
        if self.parts == 1:
            self.result = dict(result)
            return
        merged = self.result
        for key in ("element_count", "unexpected_count", "missing_count"):
            if result.get(key) is not None:
                merged[key] = int(merged.get(key) or 0) + int(result[key])
        partial = list(merged.get("partial_unexpected_list") or [])
        if len(partial) < 20:
            merged["partial_unexpected_list"] = partial + list(result.get("partial_unexpected_list") or [])[:20 - len(partial)]
        if not success and (merged.get("details") is None or self.success):
            for key in ("details", "observed_value"):
                if key in result:
                    merged[key] = result[key]


def _validate_dataset(
    gx: Any,
    context: AbstractDataContext,
    batch_definition: Any,
    suite: SuiteSpec,
    dataset: DatasetSpec,
    specs: Sequence[ExpectationSpec],
    frames: Iterable[pd.DataFrame],
    built: Mapping[tuple[str, str], Expectation],
    evidence: _LazyEvidence,
    *,
    store: bool,
    rows: bool = True,
) -> list[CheckResult]:
    """Validate a dataset with the expectations bound to it: one dataframe, or its parts one
    after the other (large datasets, `_read_dataset`), each check's results added up.

    With `store` (Data Docs wanted) the suite and a validation definition are added to the
    context so that the results are kept for the docs (one validation result per part);
    otherwise each batch is validated directly, which skips GX's stores (about half of GX's
    time here). Without `rows`, only the verdicts and counts: no failing rows, no evidence (an
    incremental audit's count of the published file's rows in its scope).
    """
    gx_name = suite.gx_name(dataset.name)
    gx_suite = gx.ExpectationSuite(
        name=gx_name,
        expectations=[built[(suite.name, s.check)] for s in specs],
        meta={"layer": suite.layer, "dataset": dataset.name, "sql": dataset.sql,
              "description": dataset.description or suite.description},
    )
    result_format = {"result_format": "SUMMARY", "partial_unexpected_count": 20}
    validation = None
    if store:
        gx_suite = context.suites.add(gx_suite)
        validation = context.validation_definitions.add(
            gx.ValidationDefinition(name=gx_name, data=batch_definition, suite=gx_suite)
        )
    by_check = {s.check: s for s in specs}
    merged: dict[str, _Merged] = {}
    for frame in frames:
        with lean_validation(fingerprint=store):
            if validation is not None:
                outcome = validation.run(batch_parameters={"dataframe": frame}, result_format=result_format)
            else:
                batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
                outcome = batch.validate(gx_suite, result_format=result_format)
        for res in outcome.results:
            config = res.expectation_config
            check = (config.meta or {}).get("check") if config is not None else None
            spec = by_check.get(check) if isinstance(check, str) else None
            if spec is None:  # pragma: no cover - every expectation carries its check name
                continue
            result = dict(res.result or {})
            error = _exception_message(res)
            acc = merged.setdefault(spec.check, _Merged())
            acc.add(bool(res.success), result, error)
            if rows and error is None and not res.success and len(acc.failing_rows) < SAMPLE_ROWS:
                rows = _failing_rows(spec, dataset, frame, result, evidence)
                acc.failing_rows.extend(rows[:SAMPLE_ROWS - len(acc.failing_rows)])
        del frame, outcome
    out: list[CheckResult] = []
    for spec in specs:
        acc = merged.get(spec.check)
        if acc is None:  # pragma: no cover - every expectation has a result
            continue
        if acc.error is not None:
            observed, unexpected = short_text(f"exception: {acc.error}", 160), 0
        else:
            observed, unexpected = _observed(spec.type, acc.result, acc.success)
        out.append(CheckResult(
            suite=suite.name,
            dataset=dataset.name,
            expectation=spec.check,
            expectation_type=spec.type,
            columns=spec.columns,
            severity=spec.severity,
            success=acc.success,
            observed=observed,
            unexpected_count=unexpected,
            element_count=acc.result.get("element_count"),
            description=spec.description,
            failing_rows=[] if acc.success else acc.failing_rows,
        ))
    return out
