"""The quality gate: Great Expectations suites run against the DuckDB warehouse.

Each `expectations/*.json` file is one suite for one layer. It names the table (``"table"``) or the
SQL (``"sql"``) whose result it validates, optional extra named ``"queries"`` for rules that span
rows (北疆 + 南疆 = 全区, shares summing to 100, ...), and its expectations in Great Expectations'
own configuration form (``type``, ``kwargs``, ``meta``). Every expectation's ``meta`` carries

* ``check``: a short name, unique in the suite, used in reports and in ``audit_results``;
* ``severity``: ``error`` (a failure blocks publishing) or ``warning`` (reported only);
* ``query`` (optional): the named query it validates instead of the suite's table;
* ``description`` and ``evidence_measures`` (optional): what the rule means, and which measures
  of ``fct_metric_mentions`` explain a failing fact row.

SQL may be a string or a list of lines, and may use ``{{name}}`` placeholders filled from the
suite's ``"params"`` (a list becomes ``('a', 'b')``, a string a quoted literal). A suite whose
rows carry no quote may give ``"evidence": {"sql": ...}``, a query over fct_metric_mentions: a
failing row is traced back to the mentions with the same keys (metric, region, industry, year,
end month) from the documents in its ``source_doc_ids``, and reports their doc_id and quote.

GX 1.x SQL datasources return no rows over duckdb-engine (GX issues #10738, #11579), so the gate
reads every dataframe from DuckDB itself (read-only, then closes the file) and validates the
pandas dataframes with GX's pandas datasource in an ephemeral context.

Usage::

    python -m loaders.quality warehouse.duckdb expectations --docs reports/data_docs --audit RUN_ID
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import re
import sys
import time
import unicodedata
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover - typing only
    from great_expectations.data_context.data_context.abstract_data_context import AbstractDataContext
    from great_expectations.expectations.expectation import Expectation

__all__ = [
    "CheckResult",
    "GateResult",
    "SuiteFileError",
    "SuiteSpec",
    "DatasetSpec",
    "ExpectationSpec",
    "SEVERITIES",
    "load_suite",
    "load_suites",
    "check_suites",
    "run_gate",
    "write_audit_results",
    "format_gate_table",
    "gate_summary_json",
    "main",
]

SEVERITIES: tuple[str, ...] = ("error", "warning")
_GX_SEVERITY = {"error": "critical", "warning": "warning"}
SAMPLE_ROWS = 5            # failing rows kept per check
EVIDENCE_MENTIONS = 3      # mentions kept per failing fact row
_MAIN = "main"             # dataset name of a suite's own table/sql

_SUITE_KEYS = {"name", "layer", "description", "table", "sql", "key_columns", "params",
               "evidence", "queries", "expectations"}
_QUERY_KEYS = {"description", "sql", "table", "key_columns"}
_EXPECTATION_KEYS = {"type", "kwargs", "meta", "notes"}
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")
_CHECK_NAME = re.compile(r"[a-z0-9_]+")

# row column -> fct_metric_mentions column, used to trace a fact row back to its mentions
_EVIDENCE_MATCH: tuple[tuple[str, str], ...] = (
    ("metric_code", "metric_code"),
    ("region_code", "region_code"),
    ("industry_code", "industry_code"),
    ("year", "period_year"),
    ("period_end_month", "period_end_month"),
)


class SuiteFileError(ValueError):
    """A suite file that cannot be parsed or does not describe a valid suite."""

    def __init__(self, path: Path, message: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")


# --------------------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class DatasetSpec:
    """A dataframe the gate reads from DuckDB: the suite's table/sql or one of its queries."""

    name: str
    sql: str
    description: str = ""
    key_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExpectationSpec:
    """One expectation of a suite file, as written (kwargs and meta untouched)."""

    check: str
    type: str
    kwargs: dict[str, Any]
    meta: dict[str, Any]
    severity: str
    dataset: str
    description: str
    evidence_measures: tuple[str, ...]
    line: int | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        cols: list[str] = []
        for key in ("column", "column_A", "column_B"):
            value = self.kwargs.get(key)
            if isinstance(value, str):
                cols.append(value)
        for key in ("column_list",):
            value = self.kwargs.get(key)
            if isinstance(value, list):
                cols.extend(str(v) for v in value)
        return tuple(cols)


@dataclass(frozen=True)
class SuiteSpec:
    """A parsed suite file."""

    name: str
    path: Path
    layer: str
    description: str
    datasets: dict[str, DatasetSpec]
    expectations: tuple[ExpectationSpec, ...]
    evidence_sql: str | None = None

    def gx_name(self, dataset: str) -> str:
        return self.name if dataset == _MAIN else f"{self.name}.{dataset}"


# ------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one expectation (or of reading one dataset) in one gate run."""

    suite: str
    expectation: str                 # the check name (meta.check)
    columns: tuple[str, ...]
    severity: str                    # error | warning
    success: bool
    observed: str                    # short human-readable text
    unexpected_count: int
    failing_rows: list[dict[str, Any]] = field(default_factory=list)
    expectation_type: str = ""
    dataset: str = _MAIN
    element_count: int | None = None
    description: str = ""

    @property
    def blocking(self) -> bool:
        """A failed error-severity check: it blocks publishing."""
        return not self.success and self.severity == "error"

    def as_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "dataset": self.dataset,
            "expectation": self.expectation,
            "expectation_type": self.expectation_type,
            "columns": list(self.columns),
            "severity": self.severity,
            "success": self.success,
            "observed": self.observed,
            "unexpected_count": self.unexpected_count,
            "element_count": self.element_count,
            "description": self.description,
            "failing_rows": self.failing_rows,
        }


@dataclass
class GateResult:
    """All check results of one gate run."""

    results: list[CheckResult]
    db_path: str = ""
    checked_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    timings: dict[str, float] = field(default_factory=dict)
    docs_index: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when no error-severity check failed."""
        return not any(r.blocking for r in self.results)

    @property
    def counts(self) -> dict[str, int]:
        failed = [r for r in self.results if not r.success]
        return {
            "checks": len(self.results),
            "passed": len(self.results) - len(failed),
            "failed": len(failed),
            "failed_error": sum(1 for r in failed if r.severity == "error"),
            "failed_warning": sum(1 for r in failed if r.severity == "warning"),
        }

    def get(self, suite: str, expectation: str) -> CheckResult:
        """The result of one check, by suite and check name."""
        for r in self.results:
            if r.suite == suite and r.expectation == expectation:
                return r
        raise KeyError(f"{suite}.{expectation}")

    def failures(self, severity: str | None = None) -> list[CheckResult]:
        return [r for r in self.results
                if not r.success and (severity is None or r.severity == severity)]


# ------------------------------------------------------------------------------ suite loading


def _line_of(text: str, needle: str) -> int | None:
    pos = text.find(needle)
    return None if pos < 0 else text.count("\n", 0, pos) + 1


def _sql_literal(value: Any, path: Path, name: str) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, list):
        if not value:
            raise SuiteFileError(path, f"param {name!r} is an empty list")
        return "(" + ", ".join(_sql_literal(v, path, name) for v in value) + ")"
    raise SuiteFileError(path, f"param {name!r} has an unsupported type {type(value).__name__}")


def _render_sql(raw: Any, params: Mapping[str, Any], path: Path, where: str) -> str:
    if isinstance(raw, list) and all(isinstance(x, str) for x in raw):
        text = "\n".join(raw)
    elif isinstance(raw, str):
        text = raw
    else:
        raise SuiteFileError(path, f"{where}: sql must be a string or a list of strings")

    def substitute(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in params:
            raise SuiteFileError(path, f"{where}: unknown placeholder {{{{{name}}}}} (not in params)")
        return _sql_literal(params[name], path, name)

    text = _PLACEHOLDER.sub(substitute, text).strip()
    if not text:
        raise SuiteFileError(path, f"{where}: empty sql")
    return text


def _dataset_sql(obj: Mapping[str, Any], params: Mapping[str, Any], path: Path, where: str) -> str:
    has_table, has_sql = "table" in obj, "sql" in obj
    if has_table == has_sql:
        raise SuiteFileError(path, f"{where}: give exactly one of 'table' or 'sql'")
    if has_table:
        table = obj["table"]
        if not isinstance(table, str) or not _IDENT.fullmatch(table):
            raise SuiteFileError(path, f"{where}: 'table' must be a table name, got {table!r}")
        return f"SELECT * FROM {table}"
    return _render_sql(obj["sql"], params, path, where)


def _str_tuple(value: Any, path: Path, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SuiteFileError(path, f"{where}: expected a list of strings")
    return tuple(value)


def load_suite(path: Path) -> SuiteSpec:
    """Parse and check one suite file (structure only; GX builds its expectations in run_gate).

    Raises SuiteFileError naming the file (and the line, where json or the check name gives one).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteFileError(path, f"cannot read suite file: {exc}") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SuiteFileError(path, f"invalid JSON: {exc.msg} (column {exc.colno})", exc.lineno) from exc
    if not isinstance(doc, dict):
        raise SuiteFileError(path, "a suite file must hold a JSON object")
    unknown = set(doc) - _SUITE_KEYS
    if unknown:
        raise SuiteFileError(path, f"unknown top-level keys: {sorted(unknown)}")
    name = doc.get("name")
    if not isinstance(name, str) or not _CHECK_NAME.fullmatch(name):
        raise SuiteFileError(path, "'name' must be a lower_snake_case string")
    params = doc.get("params", {})
    if not isinstance(params, dict):
        raise SuiteFileError(path, "'params' must be an object")

    datasets: dict[str, DatasetSpec] = {
        _MAIN: DatasetSpec(
            name=_MAIN,
            sql=_dataset_sql(doc, params, path, "suite"),
            description=str(doc.get("description", "")),
            key_columns=_str_tuple(doc.get("key_columns"), path, "key_columns"),
        )
    }
    queries = doc.get("queries", {})
    if not isinstance(queries, dict):
        raise SuiteFileError(path, "'queries' must be an object of named queries")
    for qname, qobj in queries.items():
        where = f"query {qname!r}"
        if not _CHECK_NAME.fullmatch(qname) or qname == _MAIN:
            raise SuiteFileError(path, f"{where}: query names are lower_snake_case and not {_MAIN!r}",
                                 _line_of(text, f'"{qname}"'))
        if not isinstance(qobj, dict) or set(qobj) - _QUERY_KEYS:
            raise SuiteFileError(path, f"{where}: expected an object with keys {sorted(_QUERY_KEYS)}",
                                 _line_of(text, f'"{qname}"'))
        datasets[qname] = DatasetSpec(
            name=qname,
            sql=_dataset_sql(qobj, params, path, where),
            description=str(qobj.get("description", "")),
            key_columns=_str_tuple(qobj.get("key_columns"), path, f"{where} key_columns"),
        )

    evidence_sql: str | None = None
    evidence = doc.get("evidence")
    if evidence is not None:
        if not isinstance(evidence, dict) or "sql" not in evidence:
            raise SuiteFileError(path, "'evidence' must be an object with 'sql'")
        evidence_sql = _render_sql(evidence["sql"], params, path, "evidence")

    raw_expectations = doc.get("expectations")
    if not isinstance(raw_expectations, list) or not raw_expectations:
        raise SuiteFileError(path, "'expectations' must be a non-empty list")
    specs: list[ExpectationSpec] = []
    seen: set[str] = set()
    for i, exp in enumerate(raw_expectations):
        where = f"expectation #{i + 1}"
        if not isinstance(exp, dict):
            raise SuiteFileError(path, f"{where}: expected an object")
        meta = exp.get("meta")
        check = meta.get("check") if isinstance(meta, dict) else None
        line = _line_of(text, f'"check": "{check}"') if isinstance(check, str) else None
        if isinstance(check, str):
            where = f"{where} ({check})"
        if set(exp) - _EXPECTATION_KEYS:
            raise SuiteFileError(path, f"{where}: unknown keys {sorted(set(exp) - _EXPECTATION_KEYS)}", line)
        if not isinstance(exp.get("type"), str) or not exp["type"].startswith("expect_"):
            raise SuiteFileError(path, f"{where}: 'type' must name a GX expectation", line)
        if not isinstance(exp.get("kwargs"), dict):
            raise SuiteFileError(path, f"{where}: 'kwargs' must be an object", line)
        if not isinstance(meta, dict):
            raise SuiteFileError(path, f"{where}: 'meta' with 'check' and 'severity' is required", line)
        if not isinstance(check, str) or not _CHECK_NAME.fullmatch(check):
            raise SuiteFileError(path, f"{where}: meta.check must be a lower_snake_case name", line)
        if check in seen:
            raise SuiteFileError(path, f"{where}: duplicate check name {check!r}", line)
        seen.add(check)
        severity = meta.get("severity")
        if severity not in SEVERITIES:
            raise SuiteFileError(path, f"{where}: meta.severity must be one of {SEVERITIES}, got {severity!r}", line)
        dataset = meta.get("query", _MAIN)
        if dataset not in datasets:
            raise SuiteFileError(path, f"{where}: meta.query {dataset!r} is not one of the suite's queries", line)
        specs.append(ExpectationSpec(
            check=check,
            type=exp["type"],
            kwargs=dict(exp["kwargs"]),
            meta=dict(meta),
            severity=severity,
            dataset=dataset,
            description=str(meta.get("description", "")),
            evidence_measures=_str_tuple(meta.get("evidence_measures"), path, f"{where} evidence_measures"),
            line=line,
        ))
    return SuiteSpec(
        name=name,
        path=path,
        layer=str(doc.get("layer", "")),
        description=str(doc.get("description", "")),
        datasets=datasets,
        expectations=tuple(specs),
        evidence_sql=evidence_sql,
    )


def load_suites(suites_dir: Path) -> list[SuiteSpec]:
    """Parse every `*.json` suite file of a folder, in name order."""
    suites_dir = Path(suites_dir)
    paths = sorted(suites_dir.glob("*.json"))
    if not paths:
        raise FileNotFoundError(f"no suite files (*.json) in {suites_dir}")
    suites = [load_suite(p) for p in paths]
    names: dict[str, Path] = {}
    for s in suites:
        if s.name in names:
            raise SuiteFileError(s.path, f"suite name {s.name!r} is also used by {names[s.name]}")
        names[s.name] = s.path
    return suites


# ----------------------------------------------------------------------------------------- GX


def _import_gx() -> Any:
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    import great_expectations as gx  # noqa: PLC0415 - slow import, only when validating

    return gx


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


def _short(value: Any, limit: int = 60) -> str:
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
            sample = [_short(v, 40) for v in (result.get("partial_unexpected_list") or [])[:3]]
            if sample:
                text += ", e.g. " + "; ".join(sample)
        return text, n
    if "observed_value" in result:
        value = result["observed_value"]
        if success and expectation_type == "expect_table_columns_to_match_set" and isinstance(value, list):
            return f"{len(value)} columns, the expected ones present", 0
        return f"observed {_short(value, 80)}", 0 if success else 1
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
    if dataset.name != _MAIN:   # a query: its columns are all explanatory
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
        mentions = mentions_source.get() if isinstance(mentions_source, _LazyEvidence) else mentions_source
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
    """A suite's evidence mentions, read only when a failing row needs them."""

    def __init__(self, con: Any, suite: SuiteSpec, notes: list[str]) -> None:
        self.con, self.suite, self.notes = con, suite, notes
        self.frame: pd.DataFrame | None = None
        self.read = False

    def get(self) -> pd.DataFrame | None:
        if not self.read and self.suite.evidence_sql is not None:
            self.read = True
            try:
                self.frame = self.con.execute(self.suite.evidence_sql).df()
            except duckdb.Error as exc:
                self.notes.append(f"{self.suite.name}: evidence query failed, failing rows keep their keys only "
                                  f"({_short(str(exc), 120)})")
        return self.frame


def run_gate(db_path: Path, suites_dir: Path, docs_dir: Path | None = None) -> GateResult:
    """Validate the warehouse at `db_path` with every suite in `suites_dir`.

    Reads each suite's dataframes from the DuckDB file opened read-only (then closes it),
    validates them with GX's pandas datasource in an ephemeral context and, when `docs_dir` is
    given, builds GX Data Docs there (`docs_dir/index.html`). A dataset that cannot be read (a
    missing table, a failing query) is reported as a failed error-severity check
    `table_readable` (or `<query>_readable`). Raises SuiteFileError for a bad suite file, FileNotFoundError for a
    missing database.
    """
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
                            expectation="table_readable" if ds_name == _MAIN else f"{ds_name}_readable",
                            columns=(), severity="error", success=False,
                            observed=_short(f"cannot read: {' '.join(str(exc).split())}", 160), unexpected_count=0,
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
                from loaders.data_docs_offline import make_offline  # noqa: PLC0415
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
) -> list[CheckResult]:
    """Validate a dataset with the expectations bound to it: one dataframe, or its parts one
    after the other (large datasets, `_read_dataset`), each check's results added up.

    With `store` (Data Docs wanted) the suite and a validation definition are added to the
    context so that the results are kept for the docs (one validation result per part);
    otherwise each batch is validated directly, which skips GX's stores (about half of GX's
    time here).
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
            if error is None and not res.success and len(acc.failing_rows) < SAMPLE_ROWS:
                rows = _failing_rows(spec, dataset, frame, result, evidence)
                acc.failing_rows.extend(rows[:SAMPLE_ROWS - len(acc.failing_rows)])
        del frame, outcome
    out: list[CheckResult] = []
    for spec in specs:
        acc = merged.get(spec.check)
        if acc is None:  # pragma: no cover - every expectation has a result
            continue
        if acc.error is not None:
            observed, unexpected = _short(f"exception: {acc.error}", 160), 0
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
    parts = [f"{k}={_short(v, 24)}" for k, v in row.items() if k not in skipped and v is not None]
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
            where.append(f"「{_short(quote, 50)}」")
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the gate from the command line; exit 1 when an error-severity check failed."""
    parser = argparse.ArgumentParser(prog="python -m loaders.quality", description=main.__doc__)
    parser.add_argument("db_path", type=Path, help="the DuckDB warehouse file")
    parser.add_argument("suites_dir", type=Path, nargs="?", default=Path("expectations"))
    parser.add_argument("--docs", type=Path, default=None, help="build GX Data Docs into this folder")
    parser.add_argument("--audit", metavar="RUN_ID", default=None, help="write audit_results with this run id")
    parser.add_argument("--json", type=Path, default=None, help="write the JSON run summary to this file")
    args = parser.parse_args(argv)
    try:
        result = run_gate(args.db_path, args.suites_dir, args.docs)
    except (SuiteFileError, FileNotFoundError) as exc:
        print(f"quality gate: {exc}", file=sys.stderr)
        return 2
    print(format_gate_table(result))
    if args.audit:
        write_audit_results(args.db_path, result, args.audit)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(gate_summary_json(result), ensure_ascii=False, indent=2), encoding="utf-8")
    return 0 if result.passed else 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
