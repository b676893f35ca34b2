"""The gate's suites: `expectations/*.json` read and checked into specs (`SuiteSpec`), their SQL
rendered from `{{name}}` placeholders; a file that is not a valid suite raises `SuiteFileError`
with its path and line. The suite format is described in tongbi/gate/__init__.py.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SEVERITIES: tuple[str, ...] = ("error", "warning")
MAIN_DATASET = "main"             # dataset name of a suite's own table/sql

_SUITE_KEYS = {"name", "layer", "description", "table", "sql", "key_columns", "params", "scope",
               "evidence", "queries", "expectations"}
_QUERY_KEYS = {"description", "sql", "table", "key_columns", "scope"}
# what an incremental run validates again of a dataset (tongbi/gate/scoped.py): the rows of the
# slices it rebuilt, the rows of the documents it loaded, or all of it; "" decides by its columns
SCOPES = ("", "slices", "documents", "whole")
_EXPECTATION_KEYS = {"type", "kwargs", "meta", "notes"}
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")
_CHECK_NAME = re.compile(r"[a-z0-9_]+")


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
    scope: str = ""


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
        return self.name if dataset == MAIN_DATASET else f"{self.name}.{dataset}"


# ------------------------------------------------------------------------------ suite loading


def _scope(obj: Mapping[str, Any], path: Path, where: str, text: str) -> str:
    value = obj.get("scope", "")
    if value not in SCOPES:
        raise SuiteFileError(path, f"{where}: 'scope' must be one of {[s for s in SCOPES if s]}",
                             _line_of(text, f'"scope": {json.dumps(value)}'))
    return str(value)


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
        MAIN_DATASET: DatasetSpec(
            name=MAIN_DATASET,
            sql=_dataset_sql(doc, params, path, "suite"),
            description=str(doc.get("description", "")),
            key_columns=_str_tuple(doc.get("key_columns"), path, "key_columns"),
            scope=_scope(doc, path, "suite", text),
        )
    }
    queries = doc.get("queries", {})
    if not isinstance(queries, dict):
        raise SuiteFileError(path, "'queries' must be an object of named queries")
    for qname, qobj in queries.items():
        where = f"query {qname!r}"
        if not _CHECK_NAME.fullmatch(qname) or qname == MAIN_DATASET:
            raise SuiteFileError(path, f"{where}: query names are lower_snake_case and not {MAIN_DATASET!r}",
                                 _line_of(text, f'"{qname}"'))
        if not isinstance(qobj, dict) or set(qobj) - _QUERY_KEYS:
            raise SuiteFileError(path, f"{where}: expected an object with keys {sorted(_QUERY_KEYS)}",
                                 _line_of(text, f'"{qname}"'))
        datasets[qname] = DatasetSpec(
            name=qname,
            sql=_dataset_sql(qobj, params, path, where),
            description=str(qobj.get("description", "")),
            key_columns=_str_tuple(qobj.get("key_columns"), path, f"{where} key_columns"),
            scope=_scope(qobj, path, where, text),
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
        dataset = meta.get("query", MAIN_DATASET)
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
