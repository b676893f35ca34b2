"""The quality gate (tongbi/gate/ + expectations/*.json) on small warehouses built here.

A good warehouse passes every check; each broken copy must fail with the rule that names the
breakage, and only where the rule is a warning does the gate still pass.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tongbi.gate import (
    GateResult,
    SuiteFileError,
    check_suites,
    format_gate_table,
    gate_summary_json,
    load_suite,
    load_suites,
    run_gate,
    write_audit_results,
)
from loaders.schema import MEASURES, PERIOD_KINDS, RAW_METRICS_SCHEMA

PROJECT = Path(__file__).resolve().parent.parent
SUITES = PROJECT / "expectations"
SEEDS = PROJECT / "seeds"
YI = 100_000_000  # 亿

# ------------------------------------------------------------------------ a small warehouse

_DUCK_TYPES = {"String": "VARCHAR", "Int64": "BIGINT", "Float64": "DOUBLE", "Date": "DATE"}
RAW_COLUMNS: list[tuple[str, str]] = [(name, _DUCK_TYPES[str(dtype)]) for name, dtype in RAW_METRICS_SCHEMA.items()]

_FACT_HEAD = [("metric_code", "VARCHAR"), ("metric_name_zh", "VARCHAR"),
              ("region_code", "VARCHAR"), ("region_name_zh", "VARCHAR")]
_FACT_TAIL = [
    ("year", "INTEGER"), ("quarter", "INTEGER"), ("period_end_month", "INTEGER"), ("quarter_end_date", "DATE"),
    ("ytd_value", "DOUBLE"), ("quarter_value", "DOUBLE"), ("unit", "VARCHAR"),
    ("yoy_pct_reported", "DOUBLE"), ("implied_prior_year_ytd_value", "DOUBLE"), ("prior_year_ytd_value", "DOUBLE"),
    ("yoy_pct_computed", "DOUBLE"), ("yoy_gap_pp", "DOUBLE"), ("yoy_gap_flag", "BOOLEAN"),
    ("quarter_yoy_pct", "DOUBLE"), ("share_pct_reported", "DOUBLE"), ("share_pct_computed", "DOUBLE"),
    ("share_gap_pp", "DOUBLE"), ("is_derived", "BOOLEAN"), ("n_mentions", "INTEGER"),
    ("source_doc_ids", "VARCHAR"),  # dbt writes sorted doc_ids joined by commas
]
REGION_COLUMNS = _FACT_HEAD + _FACT_TAIL
INDUSTRY_COLUMNS = _FACT_HEAD + [("industry_code", "VARCHAR"), ("industry_name_zh", "VARCHAR")] + _FACT_TAIL

REGION_NAMES = {"650000": "新疆维吾尔自治区", "XJN": "北疆地区", "XJS": "南疆地区", "650100": "乌鲁木齐市",
                "650102": "天山区", "110000": "北京市", "620000": "甘肃省", "620100": "兰州市"}

# dim_region and dim_region_partition as dbt builds them (int_regions__hierarchy) for the regions
# above: the gate reads every parent, ancestor, grouping and partition from them
DIM_REGION_COLUMNS = [("region_code", "VARCHAR"), ("name_zh", "VARCHAR"), ("region_level", "VARCHAR"),
                      ("parent_code", "VARCHAR"), ("province_code", "VARCHAR"), ("province_name_zh", "VARCHAR"),
                      ("ancestor_codes", "VARCHAR"), ("is_grouping", "BOOLEAN"), ("grouping_codes", "VARCHAR"),
                      ("partition_whole_code", "VARCHAR"), ("is_corps_tree", "BOOLEAN"),
                      ("share_parent_code", "VARCHAR")]
_DIM_REGION = [  # code, level, parent, province, ancestors, groupings, partition whole
    ("100000", "country", None, None, None, None, None),
    ("650000", "province", "100000", "650000", "100000", None, None),
    ("XJN", "grouping", "650000", "650000", "650000,100000", None, "650000"),
    ("XJS", "grouping", "650000", "650000", "650000,100000", None, "650000"),
    ("650100", "prefecture", "650000", "650000", "650000,100000", "XJN", None),
    ("650102", "county", "650100", "650000", "650100,650000,100000", "XJN", None),
    ("110000", "province", "100000", "110000", "100000", None, None),
    ("620000", "province", "100000", "620000", "100000", None, None),
    ("620100", "prefecture", "620000", "620000", "620000,100000", None, None),
]
DIM_REGION = [
    {"region_code": code, "name_zh": REGION_NAMES.get(code, "中华人民共和国"), "region_level": level,
     "parent_code": parent, "province_code": province,
     "province_name_zh": REGION_NAMES[province] if province else None, "ancestor_codes": ancestors,
     "is_grouping": level == "grouping", "grouping_codes": groupings, "partition_whole_code": whole,
     "is_corps_tree": False, "share_parent_code": parent}
    for code, level, parent, province, ancestors, groupings, whole in _DIM_REGION
]
DIM_REGION_PARTITION_COLUMNS = [("whole_code", "VARCHAR"), ("partition_kind", "VARCHAR"),
                                ("part_code", "VARCHAR"), ("n_parts", "BIGINT")]
DIM_REGION_PARTITION = [
    {"whole_code": "650000", "partition_kind": "groupings", "part_code": "XJN", "n_parts": 2},
    {"whole_code": "650000", "partition_kind": "groupings", "part_code": "XJS", "n_parts": 2},
    # 北疆's seven prefectures: only 乌鲁木齐 has figures here, so the set is never summed
    {"whole_code": "XJN", "partition_kind": "members", "part_code": "650100", "n_parts": 7},
]
INDUSTRY_NAMES = {"PRIMARY": "第一产业", "SECONDARY": "第二产业", "TERTIARY": "第三产业", "INDUSTRY": "工业"}
METRIC_NAMES = {"gdp": "地区生产总值", "value_added": "增加值", "investment_projects": "落实执行招商引资项目数",
                "retail_sales": "社会消费品零售总额", "disposable_income": "居民人均可支配收入",
                "fixed_asset_investment": "固定资产投资", "tourism_revenue": "旅游总收入", "exports": "出口额",
                "imports": "进口额", "signed_projects": "签约项目数", "foreign_trade": "外贸进出口总额"}
MONTH_END = {3: dt.date(1, 3, 31), 6: dt.date(1, 6, 30), 9: dt.date(1, 9, 30), 12: dt.date(1, 12, 31)}


def _fact(metric: str, region: str, year: int, quarter: int, ytd: float | None, *, unit: str = "CNY",
          yoy: float | None = None, share: float | None = None, industry: str | None = None) -> dict[str, Any]:
    month = quarter * 3
    row: dict[str, Any] = {
        "metric_code": metric, "metric_name_zh": METRIC_NAMES[metric],
        "region_code": region, "region_name_zh": REGION_NAMES[region],
        "year": year, "quarter": quarter, "period_end_month": month,
        "quarter_end_date": MONTH_END[month].replace(year=year),
        "ytd_value": ytd, "quarter_value": ytd if quarter == 1 else None, "unit": unit,
        "yoy_pct_reported": yoy,
        "implied_prior_year_ytd_value": None if yoy is None or ytd is None else round(ytd / (1 + yoy / 100), 6),
        "prior_year_ytd_value": None, "yoy_pct_computed": None, "yoy_gap_pp": None, "yoy_gap_flag": None,
        "quarter_yoy_pct": None, "share_pct_reported": share, "share_pct_computed": None, "share_gap_pp": None,
        "is_derived": False, "n_mentions": 1 + (yoy is not None) + (share is not None),
        "source_doc_ids": f"xj-{year}q{quarter}",
    }
    if industry is not None:
        row["industry_code"], row["industry_name_zh"] = industry, INDUSTRY_NAMES[industry]
    return row


def _good_region_facts() -> list[dict[str, Any]]:
    f = _fact
    return [
        # GDP, 2024 Q3 against 2023 Q3: 北疆 + 南疆 = 全区; shares of 全区; yoy agrees with the levels
        f("gdp", "650000", 2024, 3, 1400.00 * YI, yoy=7.7),
        # 60.1 % against 60 % from the levels, and 60.1 + 40.0 = 100.1: both at their tolerance
        f("gdp", "XJN", 2024, 3, 840.00 * YI, yoy=7.7, share=60.1),
        f("gdp", "XJS", 2024, 3, 560.00 * YI, yoy=7.7, share=40.0),
        f("gdp", "650100", 2024, 3, 350.00 * YI, yoy=7.7, share=25.0),      # a prefecture, share of 全区
        f("gdp", "650102", 2024, 3, 100.00 * YI, share=28.6),               # a county, share of 乌鲁木齐
        f("gdp", "650000", 2023, 3, 1300.00 * YI),
        f("gdp", "XJN", 2023, 3, 780.00 * YI),
        f("gdp", "XJS", 2023, 3, 520.00 * YI),
        f("gdp", "650100", 2023, 3, 325.00 * YI),
        # another province: larger than 全区, but not part of it
        f("gdp", "110000", 2024, 3, 36000.00 * YI),
        # a count: relative tolerance only (0.1 % of 1200 = 1.2 projects, 700 + 501 is within it)
        f("investment_projects", "650000", 2024, 2, 1200, unit="count"),
        f("investment_projects", "XJN", 2024, 2, 700, unit="count"),
        f("investment_projects", "XJS", 2024, 2, 501, unit="count"),
        # small CNY figures: 6.00 + 4.01 = 10.01 亿 vs 9.99 亿 holds only with 0.01 亿 per part
        f("retail_sales", "650000", 2024, 1, 9.99 * YI),
        f("retail_sales", "XJN", 2024, 1, 6.00 * YI),
        f("retail_sales", "XJS", 2024, 1, 4.01 * YI),
        # per-capita income is not additive: a part above the whole is fine
        f("disposable_income", "650000", 2024, 3, 30000),
        f("disposable_income", "XJN", 2024, 3, 35000),
        f("disposable_income", "XJS", 2024, 3, 25000),
    ]


def _good_industry_facts() -> list[dict[str, Any]]:
    f = _fact
    return [
        # value added by sector against the region's GDP: 140 + 560 + 700 = 1400
        f("value_added", "650000", 2024, 3, 140.00 * YI, yoy=7.7, share=10.0, industry="PRIMARY"),
        f("value_added", "650000", 2024, 3, 560.00 * YI, yoy=7.7, share=40.0, industry="SECONDARY"),
        f("value_added", "650000", 2024, 3, 700.00 * YI, yoy=7.7, share=50.0, industry="TERTIARY"),
        f("value_added", "650000", 2023, 3, 130.00 * YI, industry="PRIMARY"),
        f("value_added", "650000", 2023, 3, 520.00 * YI, industry="SECONDARY"),
        f("value_added", "650000", 2023, 3, 650.00 * YI, industry="TERTIARY"),
        f("value_added", "650000", 2024, 3, 400.00 * YI, industry="INDUSTRY"),
        f("value_added", "XJN", 2024, 3, 420.00 * YI, share=50.0, industry="TERTIARY"),
    ]


def _mentions(facts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The mentions behind the facts: one level, and the yoy and share each fact reports."""
    seq: dict[str, int] = {}
    offset: dict[str, int] = {}
    rows: list[dict[str, Any]] = []

    def add(fact: dict[str, Any], measure: str, value: float, unit: str, value_raw: str, unit_raw: str,
            text: str) -> None:
        doc = fact["source_doc_ids"]
        seq[doc] = seq.get(doc, 0) + 1
        start = offset.get(doc, 0) + 7
        offset[doc] = start + len(text)
        rows.append({
            "doc_id": doc, "mention_seq": seq[doc], "quote": text, "char_start": start, "char_end": start + len(text),
            "measure": measure, "value": value, "unit": unit, "value_raw": value_raw, "unit_raw": unit_raw,
            "approx": "", "period_year": fact["year"], "period_end_month": fact["period_end_month"],
            "period_kind": "ytd", "metric_code": fact["metric_code"], "metric_name": fact["metric_name_zh"],
            "metric_raw": fact["metric_name_zh"], "region_code": fact["region_code"],
            "region_name": fact["region_name_zh"], "region_raw": fact["region_name_zh"],
            "industry_code": fact.get("industry_code"), "industry_name": fact.get("industry_name_zh"),
            "industry_raw": fact.get("industry_name_zh"), "breakdown": None,
            "source_url": f"https://tjj.xinjiang.gov.cn/{doc}.html", "published": dt.date(fact["year"], 10, 20),
            "rule": "test",
        })

    for fact in facts:
        who = fact["region_name_zh"] + (fact.get("industry_name_zh") or "") + fact["metric_name_zh"]
        if fact["ytd_value"] is not None:
            if fact["unit"] == "CNY" and fact["ytd_value"] >= 10_000_000:
                raw, unit_raw = f"{fact['ytd_value'] / YI:.2f}", "亿元"
            else:
                raw, unit_raw = f"{fact['ytd_value']:g}", "元" if fact["unit"] == "CNY" else "个"
            add(fact, "level", fact["ytd_value"], fact["unit"], raw, unit_raw, f"{who}{raw}{unit_raw}")
        if fact["yoy_pct_reported"] is not None:
            yoy = fact["yoy_pct_reported"]
            add(fact, "yoy_pct", yoy, "percent", f"{yoy}", "%", f"{who}同比增长{yoy}%")
        if fact["share_pct_reported"] is not None:
            share = fact["share_pct_reported"]
            add(fact, "share_pct", share, "percent", f"{share}", "%", f"{who}占比重{share}%")
    return rows


def _create(con: duckdb.DuckDBPyConnection, table: str, columns: list[tuple[str, str]],
            rows: list[dict[str, Any]]) -> None:
    con.execute(f"CREATE TABLE {table} ({', '.join(f'{n} {t}' for n, t in columns)})")
    names = [n for n, _ in columns]
    con.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' for _ in names)})",
                    [[row.get(n) for n in names] for row in rows])


# fct_metric_mentions as dbt builds it, from the raw mentions: names, precision as written, and
# the observation key (int_mentions__enriched) that the restatement rules compare mentions by
MENTIONS_SQL = """
CREATE TABLE fct_metric_mentions AS
SELECT *,
       metric_name AS metric_name_zh,
       region_name AS region_name_zh,
       coalesce(approx, '') <> '' AS is_approximate,
       coalesce(length(regexp_extract(value_raw, '[.]([0-9]+)', 1)), 0) AS value_decimals,
       metric_code IS NOT NULL AND region_code IS NOT NULL AS is_observable,
       TRUE AS is_chosen,
       md5(concat_ws('|', metric_code, region_code, coalesce(industry_code, 'TOTAL'), coalesce(breakdown, 'none'),
                     period_year, period_end_month, period_kind, measure)) AS observation_key
FROM raw_metrics
"""


def restatement(doc_id: str, seq: int, quote: str, value_raw: str, *, approx: str = "",
                like: str = "新疆维吾尔自治区地区生产总值1400.00亿元") -> str:
    """SQL adding to fct_metric_mentions a mention that states the statistic of the mention
    quoted `like` again, as `value_raw` 亿元, in document `doc_id`."""
    return (
        "INSERT INTO fct_metric_mentions SELECT * REPLACE ("
        f"'{doc_id}' AS doc_id, {seq} AS mention_seq, '{quote}' AS quote, 9000 + {seq} AS char_start,"
        f" 9000 + {seq} + length('{quote}') AS char_end, {value_raw}::DOUBLE * {YI} AS value, '{value_raw}' AS value_raw,"
        f" '{approx}' AS approx, {approx != ''} AS is_approximate,"
        f" coalesce(length(regexp_extract('{value_raw}', '[.]([0-9]+)', 1)), 0) AS value_decimals)"
        f" FROM fct_metric_mentions WHERE quote = '{like}'"
    )


# Restatements that agree: 1400.0 and 1400 亿元 are 1400.00 亿元 as written with fewer
# decimals, 近1400 is approximate; in another document (xj-2024q4) and in the same one.
GOOD_RESTATEMENTS = (
    restatement("xj-2024q4", 1, "前三季度全区地区生产总值1400.0亿元", "1400.0"),
    restatement("xj-2024q4", 2, "全区经济总量近1390亿元", "1390", approx="近"),
    restatement("xj-2024q3", 201, "全区地区生产总值1400亿元", "1400"),
)


def build_warehouse(path: Path, extra_region: Sequence[dict[str, Any]] = (),
                    extra_industry: Sequence[dict[str, Any]] = (), statements: Sequence[str] = ()) -> Path:
    """A warehouse with the four tables the gate reads: consistent in every rule unless the
    extra facts or the SQL statements break it."""
    region = _good_region_facts() + list(extra_region)
    industry = _good_industry_facts() + list(extra_industry)
    mentions = _mentions(region + industry)
    first_doc = mentions[0]["doc_id"]
    # two mentions that only the raw layer checks
    for seq, measure, value, unit, unit_raw, quote in (
        (99, "completion_pct", 85.0, "percent", "%", "完成年度目标的85.0%"),
        (100, "pp_change", 1.2, "pp", "个百分点", "提高1.2个百分点"),
    ):
        start = 5000 + 100 * seq
        mentions.append({**mentions[0], "doc_id": first_doc, "mention_seq": seq, "measure": measure,
                         "value": value, "unit": unit, "value_raw": str(value), "unit_raw": unit_raw,
                         "quote": quote, "char_start": start, "char_end": start + len(quote)})
    con = duckdb.connect(str(path))
    try:
        _create(con, "raw_metrics", RAW_COLUMNS, mentions)
        con.execute("CREATE VIEW stg_bulletins__raw_metrics AS SELECT * FROM raw_metrics")
        con.execute(MENTIONS_SQL)
        _create(con, "fct_region_quarter", REGION_COLUMNS, region)
        _create(con, "fct_industry_quarter", INDUSTRY_COLUMNS, industry)
        _create(con, "dim_region", DIM_REGION_COLUMNS, DIM_REGION)
        _create(con, "dim_region_partition", DIM_REGION_PARTITION_COLUMNS, DIM_REGION_PARTITION)
        for sql in (*GOOD_RESTATEMENTS, *statements):
            con.execute(sql)
    finally:
        con.close()
    return path


# ---------------------------------------------------------------------------------- fixtures

# Faults planted in one warehouse, each on its own metric, region or period so that every rule
# sees exactly its own: the gate runs once for all of them (GX takes seconds per run).
_F = _fact
BROKEN_REGION = [
    # shares of 全区 without levels: 70 + 35 > 100
    _F("fixed_asset_investment", "XJN", 2024, 3, None, share=70.0),
    _F("fixed_asset_investment", "XJS", 2024, 3, None, share=35.0),
    # a prefecture above 全区, a county above its prefecture and 全区; in another province, a
    # prefecture above its province
    _F("tourism_revenue", "650000", 2024, 3, 100.00 * YI),
    _F("tourism_revenue", "650100", 2024, 3, 120.00 * YI),
    _F("tourism_revenue", "650102", 2024, 3, 130.00 * YI),
    _F("tourism_revenue", "620000", 2024, 3, 80.00 * YI),
    _F("tourism_revenue", "620100", 2024, 3, 90.00 * YI),
    # 北疆 + 南疆 ≠ 全区: 50 亿 off; 2 projects off 1200; 0.03 亿 off 9.99 亿 (two decimals allow 0.02)
    _F("exports", "650000", 2024, 3, 500.00 * YI),
    _F("exports", "XJN", 2024, 3, 300.00 * YI),
    _F("exports", "XJS", 2024, 3, 150.00 * YI),
    _F("signed_projects", "650000", 2024, 3, 1200, unit="count"),
    _F("signed_projects", "XJN", 2024, 3, 700, unit="count"),
    _F("signed_projects", "XJS", 2024, 3, 502, unit="count"),
    _F("imports", "650000", 2024, 3, 9.99 * YI),
    _F("imports", "XJN", 2024, 3, 6.00 * YI),
    _F("imports", "XJS", 2024, 3, 4.02 * YI),
    # a reported share that the levels contradict: 1200 / 2000 = 60 %, not 55 %
    _F("foreign_trade", "650000", 2024, 3, 2000.00 * YI),
    _F("foreign_trade", "XJN", 2024, 3, 1200.00 * YI, share=55.0),
]
BROKEN_INDUSTRY = [
    # 北疆's sectors: 100 + 300 + 420 (the good TERTIARY row) = 820 ≠ 840 (北疆 GDP)
    _F("value_added", "XJN", 2024, 3, 100.00 * YI, industry="PRIMARY"),
    _F("value_added", "XJN", 2024, 3, 300.00 * YI, industry="SECONDARY"),
    # 南疆's industry above 南疆's GDP (560)
    _F("value_added", "XJS", 2024, 3, 600.00 * YI, industry="INDUSTRY"),
]
BROKEN_SQL = (
    # a sector share the levels contradict: 140 / 1400 = 10 %, not 9 %
    "UPDATE fct_industry_quarter SET share_pct_reported = 9.0"
    " WHERE industry_code = 'PRIMARY' AND region_code = '650000' AND year = 2024",
    # duplicate observation keys
    "INSERT INTO fct_region_quarter SELECT * FROM fct_region_quarter WHERE region_code = '650100' AND year = 2023",
    "INSERT INTO fct_industry_quarter SELECT * FROM fct_industry_quarter"
    " WHERE industry_code = 'INDUSTRY' AND region_code = '650000'",
    # a negative level
    "UPDATE fct_region_quarter SET ytd_value = -1 WHERE region_code = '110000'",
    # raw mentions (the view reads raw_metrics; fct_metric_mentions is a copy and stays intact)
    "UPDATE raw_metrics SET char_end = char_end + 1 WHERE doc_id = 'xj-2023q3' AND mention_seq = 1",
    "UPDATE raw_metrics SET quote = NULL WHERE doc_id = 'xj-2023q3' AND mention_seq = 2",
    "UPDATE raw_metrics SET measure = 'ratio' WHERE doc_id = 'xj-2023q3' AND mention_seq = 3",
    "UPDATE raw_metrics SET unit = 'furlong' WHERE doc_id = 'xj-2023q3' AND mention_seq = 4",
    "UPDATE raw_metrics SET value = -5 WHERE doc_id = 'xj-2023q3' AND mention_seq = 5",
    "UPDATE raw_metrics SET value = 120 WHERE quote = '北疆地区地区生产总值占比重60.1%'",
    "UPDATE raw_metrics SET value = -120 WHERE quote = '新疆维吾尔自治区地区生产总值同比增长7.7%'",
    "UPDATE raw_metrics SET value = 1500 WHERE measure = 'completion_pct'",
    # a published mention without its document
    "UPDATE fct_metric_mentions SET doc_id = NULL WHERE mention_seq = 100",
)
BROKEN_FAILS = {
    "raw_metrics.quote_matches_span", "raw_metrics.quote_not_null", "raw_metrics.measure_accepted",
    "raw_metrics.unit_known", "raw_metrics.level_non_negative", "raw_metrics.share_pct_0_100",
    "raw_metrics.yoy_pct_plausible", "raw_metrics.completion_pct_0_1000", "raw_metrics.completion_pct_0_100",
    "fct_metric_mentions.doc_id_not_null",
    "fct_region_quarter.shares_of_whole_sum_le_100", "fct_region_quarter.part_not_above_whole",
    "fct_region_quarter.parts_sum_to_whole", "fct_region_quarter.share_agrees_with_levels",
    "fct_region_quarter.observation_key_unique", "fct_region_quarter.ytd_value_non_negative",
    "fct_industry_quarter.sectors_sum_to_total", "fct_industry_quarter.industry_not_above_region_total",
    "fct_industry_quarter.share_agrees_with_levels", "fct_industry_quarter.observation_key_unique",
    # a warning: fixed_asset_investment's latest quarter has 北疆's and 南疆's shares but no 全区 level
    "fct_region_quarter.latest_period_has_whole_total",
}
BROKEN_WARNINGS = {"raw_metrics.completion_pct_0_100", "fct_region_quarter.latest_period_has_whole_total"}


@pytest.fixture(scope="session")
def good_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("good") / "warehouse.duckdb")


@pytest.fixture(scope="session")
def good_run(good_db: Path) -> tuple[GateResult, str, str]:
    """The gate on the good warehouse while another reader holds it; the file's hash before and after."""
    before = hashlib.sha256(good_db.read_bytes()).hexdigest()
    holder = duckdb.connect(str(good_db), read_only=True)
    try:
        result = run_gate(good_db, SUITES)
    finally:
        holder.close()
    return result, before, hashlib.sha256(good_db.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def good_result(good_run: tuple[GateResult, str, str]) -> GateResult:
    return good_run[0]


@pytest.fixture(scope="session")
def broken_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, GateResult]:
    """(warehouse, Data Docs folder, gate result) for the warehouse with every planted fault."""
    folder = tmp_path_factory.mktemp("broken")
    db = build_warehouse(folder / "warehouse.duckdb", BROKEN_REGION, BROKEN_INDUSTRY, BROKEN_SQL)
    docs = folder / "data_docs"
    return db, docs, run_gate(db, SUITES, docs)


@pytest.fixture(scope="session")
def broken_result(broken_run: tuple[Path, Path, GateResult]) -> GateResult:
    return broken_run[2]


def gate_on(tmp_path: Path, *statements: str) -> GateResult:
    return run_gate(build_warehouse(tmp_path / "warehouse.duckdb", statements=statements), SUITES)


def failed(result: GateResult) -> set[str]:
    return {f"{r.suite}.{r.expectation}" for r in result.results if not r.success}


def rows(result: GateResult, check: str, *keys: str) -> set[tuple[Any, ...]]:
    suite, name = check.split(".")
    return {tuple(row[k] for k in keys) for row in result.get(suite, name).failing_rows}


# ------------------------------------------------------------------------------- good data


def test_good_warehouse_passes_every_check(good_result: GateResult) -> None:
    assert failed(good_result) == set(), format_gate_table(good_result)
    assert good_result.passed
    assert good_result.notes == []
    n_expectations = sum(len(s.expectations) for s in load_suites(SUITES))
    assert len(good_result.results) == n_expectations
    assert good_result.counts == {"checks": n_expectations, "passed": n_expectations, "failed": 0,
                                  "failed_error": 0, "failed_warning": 0}


def test_cross_row_rules_have_rows_to_check(good_result: GateResult) -> None:
    """The rules over several rows must see the good data, or a pass would prove nothing."""
    expected_rows = {
        # 北疆 + 南疆 = 全区 (the partition of 650000) in gdp 2023 and 2024, investment_projects,
        # retail_sales (disposable_income is not additive; 北疆's members are never all there)
        ("fct_region_quarter", "parts_sum_to_whole"): 4,
        # gdp 2024: XJN, XJS, 650100 in 全区, 650100 in XJN, 650102 in 650100, 全区 and XJN;
        # gdp 2023: XJN, XJS, 650100 in 全区, 650100 in XJN; XJN, XJS in investment_projects and
        # retail_sales (not disposable_income; 110000 has no parent with figures)
        ("fct_region_quarter", "part_not_above_whole"): 7 + 4 + 2 + 2,
        ("fct_region_quarter", "share_agrees_with_levels"): 4,
        ("fct_region_quarter", "yoy_agrees_with_levels"): 4,
        ("fct_region_quarter", "shares_of_whole_sum_le_100"): 3,   # grouping, prefecture, county
        ("fct_industry_quarter", "sectors_sum_to_total"): 2,
        ("fct_industry_quarter", "industry_not_above_region_total"): 8,
        ("fct_industry_quarter", "share_agrees_with_levels"): 4,
        ("fct_industry_quarter", "yoy_agrees_with_levels"): 3,
        ("fct_industry_quarter", "shares_of_whole_sum_le_100"): 2,  # 全区's sectors, 北疆's tertiary
        # 全区 gdp 2024 Q3 in xj-2024q3 (1400.00, and 1400 within it) and xj-2024q4 (1400.0; 近1390
        # is approximate)
        ("fct_metric_mentions", "restated_value_agrees_across_documents"): 1,   # the figures, 1400.00 v 1400.0
        ("fct_metric_mentions", "restated_value_agrees_within_document"): 1,
        # the latest quarter of gdp (in 新疆's and in 北京's tree), investment_projects,
        # retail_sales, disposable_income
        ("fct_region_quarter", "latest_period_has_whole_total"): 5,
        # the six regions of the facts, each in dim_region
        ("fct_region_quarter", "region_code_in_dim_region"): 6,
    }
    seen = {key: good_result.get(*key).element_count for key in expected_rows}
    assert seen == expected_rows


def test_gate_opens_the_warehouse_read_only(good_run: tuple[GateResult, str, str]) -> None:
    result, before, after = good_run
    assert result.passed  # it ran although another connection held the file
    assert after == before


# ----------------------------------------------------------------------------- broken data


def test_broken_warehouse_fails_exactly_the_planted_rules(broken_result: GateResult) -> None:
    assert failed(broken_result) == BROKEN_FAILS, format_gate_table(broken_result)
    assert not broken_result.passed
    assert broken_result.counts["failed_warning"] == len(BROKEN_WARNINGS)
    assert {f"{r.suite}.{r.expectation}" for r in broken_result.failures("warning")} == BROKEN_WARNINGS


def test_shares_summing_over_100_fail(broken_result: GateResult) -> None:
    check = broken_result.get("fct_region_quarter", "shares_of_whole_sum_le_100")
    assert check.severity == "error" and check.unexpected_count == 1
    row = check.failing_rows[0]
    assert (row["metric_code"], row["parent_region_code"], row["region_level"]) == (
        "fixed_asset_investment", "650000", "grouping")
    assert row["share_sum"] == pytest.approx(105.0)
    assert row["doc_id"] == "xj-2024q3" and "占比重" in row["quote"]


def test_part_larger_than_whole_fails(broken_result: GateResult) -> None:
    check = "fct_region_quarter.part_not_above_whole"
    assert rows(broken_result, check, "metric_code", "region_code", "parent_region_code") == {
        ("tourism_revenue", "650100", "650000"),   # a prefecture above 全区
        ("tourism_revenue", "650102", "650100"),   # a county above its prefecture
        ("tourism_revenue", "650102", "650000"),   # … and above 全区
        ("tourism_revenue", "620100", "620000"),   # 兰州市 above 甘肃省
    }
    for row in broken_result.get("fct_region_quarter", "part_not_above_whole").failing_rows:
        assert row["excess"] > row["tolerance"]
        # traced back to the mention that stated the level
        assert row["doc_id"] == "xj-2024q3"
        assert REGION_NAMES[row["region_code"]] + "旅游总收入" in row["quote"] and "亿元" in row["quote"]


def test_parts_not_summing_to_whole_fail(broken_result: GateResult) -> None:
    check = "fct_region_quarter.parts_sum_to_whole"
    assert rows(broken_result, check, "metric_code", "year", "quarter") == {
        ("exports", 2024, 3), ("signed_projects", 2024, 3), ("imports", 2024, 3)}
    by_metric = {r["metric_code"]: r for r in broken_result.get(*check.split(".")).failing_rows}
    exports = by_metric["exports"]
    assert exports["parts_sum"] == pytest.approx(450 * YI) and exports["whole"] == pytest.approx(500 * YI)
    assert exports["diff"] == pytest.approx(-50 * YI) and exports["tolerance"] == pytest.approx(0.5 * YI)
    assert by_metric["signed_projects"]["tolerance"] == pytest.approx(1.2)       # relative only
    assert by_metric["imports"]["tolerance"] == pytest.approx(2_000_000)         # 0.01 亿 per part
    assert by_metric["imports"]["abs_diff"] == pytest.approx(3_000_000)
    assert exports["doc_id"] == "xj-2024q3" and "出口额" in exports["quote"]


def test_reported_share_contradicting_levels_fails(broken_result: GateResult) -> None:
    check = "fct_region_quarter.share_agrees_with_levels"
    assert rows(broken_result, check, "metric_code", "region_code") == {("foreign_trade", "XJN")}
    row = broken_result.get(*check.split(".")).failing_rows[0]
    assert row["share_pct_reported"] == 55.0 and row["share_pct_from_levels"] == pytest.approx(60.0)
    assert row["abs_gap_pp"] == pytest.approx(5.0)
    # the evidence is the share mention, not the level
    assert row["doc_id"] == "xj-2024q3" and row["quote"] == "北疆地区外贸进出口总额占比重55.0%"


def test_duplicate_observation_key_fails(broken_result: GateResult) -> None:
    region = broken_result.get("fct_region_quarter", "observation_key_unique")
    assert region.unexpected_count == 2
    assert {(r["region_code"], r["year"]) for r in region.failing_rows} == {("650100", 2023)}
    industry = broken_result.get("fct_industry_quarter", "observation_key_unique")
    assert industry.unexpected_count == 2
    assert {r["industry_code"] for r in industry.failing_rows} == {"INDUSTRY"}


def test_sectors_not_summing_to_gdp_fail(broken_result: GateResult) -> None:
    check = "fct_industry_quarter.sectors_sum_to_total"
    assert rows(broken_result, check, "metric_code", "whole_metric_code", "region_code") == {
        ("value_added", "gdp", "XJN")}
    row = broken_result.get(*check.split(".")).failing_rows[0]
    assert row["parts_sum"] == pytest.approx(820 * YI) and row["whole"] == pytest.approx(840 * YI)


def test_industry_above_region_total_fails(broken_result: GateResult) -> None:
    check = "fct_industry_quarter.industry_not_above_region_total"
    assert rows(broken_result, check, "region_code", "industry_code", "whole_metric_code") == {
        ("XJS", "INDUSTRY", "gdp")}
    row = broken_result.get(*check.split(".")).failing_rows[0]
    assert row["whole_value"] == pytest.approx(560 * YI)
    assert "南疆地区工业增加值600.00亿元" == row["quote"]


def test_sector_share_contradicting_levels_fails(broken_result: GateResult) -> None:
    check = "fct_industry_quarter.share_agrees_with_levels"
    assert rows(broken_result, check, "region_code", "industry_code") == {("650000", "PRIMARY")}
    row = broken_result.get(*check.split(".")).failing_rows[0]
    assert row["share_pct_from_levels"] == pytest.approx(10.0)
    assert row["quote"] == "新疆维吾尔自治区第一产业增加值占比重10.0%"  # the mention, as the bulletin said it


@pytest.mark.parametrize(("check", "field", "expected"), [
    ("raw_metrics.quote_matches_span", "mention_seq", 1),
    ("raw_metrics.quote_not_null", "mention_seq", 2),
    ("raw_metrics.measure_accepted", "measure", "ratio"),
    ("raw_metrics.unit_known", "unit", "furlong"),
    ("raw_metrics.level_non_negative", "value", -5),
    ("raw_metrics.share_pct_0_100", "value", 120),
    ("raw_metrics.yoy_pct_plausible", "value", -120),
    ("raw_metrics.completion_pct_0_1000", "value", 1500),
    ("fct_region_quarter.ytd_value_non_negative", "region_code", "110000"),
])
def test_row_rules_fail_on_the_planted_row(broken_result: GateResult, check: str, field: str,
                                           expected: Any) -> None:
    suite, name = check.split(".")
    result = broken_result.get(suite, name)
    assert not result.success and result.severity == "error" and result.unexpected_count == 1
    row = result.failing_rows[0]
    assert row[field] == expected
    if suite == "raw_metrics":
        assert row["doc_id"] in ("xj-2023q3", "xj-2024q3") and "quote" in row


def test_mention_without_document_fails(broken_result: GateResult) -> None:
    result = broken_result.get("fct_metric_mentions", "doc_id_not_null")
    assert result.unexpected_count == 1 and result.failing_rows[0]["quote"] == "提高1.2个百分点"


def test_yoy_contradicting_levels_is_a_warning_only(tmp_path: Path) -> None:
    result = gate_on(tmp_path, "UPDATE fct_region_quarter SET yoy_pct_reported = 12.0"
                               " WHERE metric_code = 'gdp' AND year = 2024 AND region_code = 'XJN'")
    assert failed(result) == {"fct_region_quarter.yoy_agrees_with_levels"}
    check = result.get("fct_region_quarter", "yoy_agrees_with_levels")
    assert check.severity == "warning" and not check.success
    assert result.passed, "a warning must not block publishing"
    assert result.counts["failed_warning"] == 1 and result.counts["failed_error"] == 0
    row = check.failing_rows[0]
    assert row["yoy_pct_reported"] == 12.0
    assert row["yoy_pct_from_levels"] == pytest.approx(7.6923, abs=1e-4)
    # the mention behind the fact, as the bulletin wrote it (here the fact, not the text, was altered)
    assert row["doc_id"] == "xj-2024q3" and row["quote"] == "北疆地区地区生产总值同比增长7.7%"


def test_completion_above_100_is_a_warning_only(tmp_path: Path) -> None:
    result = gate_on(tmp_path, "UPDATE raw_metrics SET value = 150 WHERE measure = 'completion_pct'")
    assert failed(result) == {"raw_metrics.completion_pct_0_100"}
    assert result.passed
    row = result.get("raw_metrics", "completion_pct_0_100").failing_rows[0]
    assert row["quote"] == "完成年度目标的85.0%" and row["value"] == 150


def test_a_statistic_restated_with_another_value_in_another_document_fails(tmp_path: Path) -> None:
    result = gate_on(tmp_path, restatement("xj-2025q1", 1, "前三季度全区地区生产总值1410.00亿元", "1410.00"))
    assert failed(result) == {"fct_metric_mentions.restated_value_agrees_across_documents"}
    check = result.get("fct_metric_mentions", "restated_value_agrees_across_documents")
    assert check.severity == "error" and not result.passed
    assert check.unexpected_count == 2  # against the figures of xj-2024q3 (1400.00) and xj-2024q4 (1400.0)
    row = check.failing_rows[0]
    assert (row["doc_id"], row["other_doc_id"]) == ("xj-2024q3", "xj-2025q1")
    assert row["quote"] == "新疆维吾尔自治区地区生产总值1400.00亿元"
    assert row["other_quote"] == "前三季度全区地区生产总值1410.00亿元"
    assert row["abs_diff"] == pytest.approx(10 * YI)
    assert row["tolerance"] == pytest.approx(0.01 * YI, rel=1e-3)  # half a unit of 0.01 亿, twice
    table = format_gate_table(result)
    line = next(ln for ln in table.splitlines() if "↳" in ln and "1410.00" in ln)
    assert "doc_id=xj-2024q3" in line and "vs doc_id=xj-2025q1" in line


def test_a_restatement_within_the_rounding_of_both_figures_passes(tmp_path: Path) -> None:
    # 1400.003 could be the 1400.00 written with two decimals (1399.995 … 1400.005)
    result = gate_on(tmp_path, restatement("xj-2025q1", 1, "全区地区生产总值1400.003亿元", "1400.003"))
    assert result.get("fct_metric_mentions", "restated_value_agrees_across_documents").success
    # 1400.006 (± 0.0005) cannot: it fails against xj-2024q3's 1400.00, not against xj-2024q4's 1400.0 (± 0.05)
    (tmp_path / "more").mkdir()
    result = gate_on(tmp_path / "more", restatement("xj-2025q1", 1, "全区地区生产总值1400.006亿元", "1400.006"))
    check = result.get("fct_metric_mentions", "restated_value_agrees_across_documents")
    assert not check.success and check.unexpected_count == 1
    assert check.failing_rows[0]["quote"] == "新疆维吾尔自治区地区生产总值1400.00亿元"


def test_a_statistic_restated_with_another_value_in_one_document_is_a_warning(tmp_path: Path) -> None:
    result = gate_on(tmp_path, restatement("xj-2024q3", 202, "其中工业增加值420亿元", "420",
                                           like="北疆地区地区生产总值840.00亿元"))
    assert failed(result) == {"fct_metric_mentions.restated_value_agrees_within_document"}
    assert result.passed
    row = result.get("fct_metric_mentions", "restated_value_agrees_within_document").failing_rows[0]
    assert row["doc_id"] == row["other_doc_id"] == "xj-2024q3" and row["other_quote"] == "其中工业增加值420亿元"


def test_latest_quarter_without_whole_region_total_is_a_warning(tmp_path: Path) -> None:
    result = gate_on(tmp_path, "DELETE FROM fct_region_quarter WHERE metric_code = 'retail_sales' AND region_code = '650000'")
    assert failed(result) == {"fct_region_quarter.latest_period_has_whole_total"}
    assert result.passed, "a missing total is a gap, not a contradiction"
    row = result.get("fct_region_quarter", "latest_period_has_whole_total").failing_rows[0]
    assert (row["metric_code"], row["year"], row["quarter"], row["regions"]) == ("retail_sales", 2024, 1, "XJN, XJS")
    # traced back to the mentions of the regions that were reported
    assert row["doc_id"] == "xj-2024q1" and "社会消费品零售总额" in row["quote"]


def test_an_older_quarter_without_whole_region_total_passes(tmp_path: Path) -> None:
    result = gate_on(tmp_path, "DELETE FROM fct_region_quarter WHERE metric_code = 'gdp' AND region_code = '650000'"
                               " AND year = 2023")
    assert result.get("fct_region_quarter", "latest_period_has_whole_total").success


def test_an_approximate_share_is_not_held_to_the_levels(tmp_path: Path) -> None:
    # "第一产业占比超过一成" is a bound: 10 % written as 一成 against 140 / 1400 = 10 %, then 5 %
    result = gate_on(tmp_path,
                     "UPDATE fct_industry_quarter SET share_pct_reported = 5.0"
                     " WHERE industry_code = 'PRIMARY' AND region_code = '650000' AND year = 2024",
                     "UPDATE fct_metric_mentions SET is_approximate = TRUE, approx = '超过'"
                     " WHERE measure = 'share_pct' AND industry_code = 'PRIMARY' AND region_code = '650000'")
    check = result.get("fct_industry_quarter", "share_agrees_with_levels")
    assert check.success and check.element_count == 4
    # the same share stated exactly fails (test_sector_share_contradicting_levels_fails)
    (tmp_path / "exact").mkdir()
    result = gate_on(tmp_path / "exact",
                     "UPDATE fct_industry_quarter SET share_pct_reported = 5.0"
                     " WHERE industry_code = 'PRIMARY' AND region_code = '650000' AND year = 2024")
    assert not result.get("fct_industry_quarter", "share_agrees_with_levels").success


def test_missing_table_and_column_are_errors_naming_them(tmp_path: Path) -> None:
    result = gate_on(tmp_path, "DROP TABLE fct_industry_quarter",
                     "ALTER TABLE fct_region_quarter DROP COLUMN quarter_value")
    assert not result.passed
    table = result.get("fct_industry_quarter", "table_readable")
    assert not table.success and table.severity == "error" and "fct_industry_quarter" in table.observed
    assert not result.get("fct_industry_quarter", "sector_additivity_readable").success
    columns = result.get("fct_region_quarter", "columns_present")
    assert not columns.success and "quarter_value" in columns.observed
    assert not result.get("fct_region_quarter", "quarter_value_non_negative").success
    # the rest still ran
    assert result.get("fct_region_quarter", "part_not_above_whole").success
    assert result.get("raw_metrics", "quote_matches_span").success


# ---------------------------------------------------------------------------------- outputs


def test_data_docs_site_is_built(broken_run: tuple[Path, Path, GateResult]) -> None:
    _, docs, result = broken_run
    assert result.docs_index == docs / "index.html"
    index = (docs / "index.html").read_text(encoding="utf-8")
    assert "fct_region_quarter.share_vs_levels" in index
    # one validation page per suite table or named query that an expectation uses
    datasets = 0
    for path in sorted(SUITES.glob("*.json")):
        suite = json.loads(path.read_text(encoding="utf-8"))
        used = {e["meta"].get("query") for e in suite["expectations"]}
        datasets += (None in used) + len(used - {None})
    assert len(list(docs.glob("validations/**/*.html"))) == datasets


def test_audit_results_replace_the_previous_run(broken_run: tuple[Path, Path, GateResult],
                                                tmp_path: Path) -> None:
    source, _, result = broken_run
    db = tmp_path / "warehouse.duckdb"
    shutil.copyfile(source, db)
    write_audit_results(db, result, "run-1")
    write_audit_results(db, result, "run-2")
    con = duckdb.connect(str(db), read_only=True)
    try:
        got = con.execute(
            "SELECT run_id, checked_at, suite, expectation, severity, success, unexpected_count, observed,"
            " sample_json FROM audit_results").fetchall()
    finally:
        con.close()
    assert len(got) == len(result.results)
    assert {r[0] for r in got} == {"run-2"}
    assert all(isinstance(r[1], dt.datetime) for r in got)
    assert {f"{r[2]}.{r[3]}" for r in got if not r[5]} == BROKEN_FAILS
    share = next(r for r in got if (r[2], r[3]) == ("fct_region_quarter", "share_agrees_with_levels"))
    assert share[4] == "error" and share[6] == 1 and share[7].startswith("1 of 5 rows unexpected")
    sample = json.loads(share[8])
    assert sample[0]["doc_id"] == "xj-2024q3" and sample[0]["quote"] == "北疆地区外贸进出口总额占比重55.0%"
    assert all(json.loads(r[8]) == [] for r in got if r[5])


def test_gate_table_and_summary(broken_result: GateResult) -> None:
    table = format_gate_table(broken_result)
    lines = table.splitlines()
    checks = [line for line in lines if line.startswith(("ok", "FAIL", "WARN"))]
    assert len(checks) == len(broken_result.results)
    share_line = next(i for i, line in enumerate(lines) if line.startswith("FAIL")
                      and "fct_region_quarter" in line and "share_agrees_with_levels" in line)
    assert "doc_id=xj-2024q3" in lines[share_line + 1] and "占比重55.0%" in lines[share_line + 1]
    assert any(line.startswith("WARN") and "completion_pct_0_100" in line for line in lines)
    assert "quality gate FAILED" in table
    assert max(len(line) for line in lines) <= 170

    summary = gate_summary_json(broken_result)
    assert json.loads(json.dumps(summary, ensure_ascii=False)) == summary
    assert summary["passed"] is False
    assert set(summary["failed"]) == BROKEN_FAILS
    assert summary["counts"]["failed_error"] == len(BROKEN_FAILS) - len(BROKEN_WARNINGS)
    assert set(summary["timings"]) >= {"read_duckdb_s", "validate_s", "data_docs_s", "total_s"}


# ------------------------------------------------------------------------------ suite files


def _write_suite(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "suites"
    folder.mkdir(exist_ok=True)
    (folder / "bad_suite.json").write_text(text, encoding="utf-8")
    return folder


def test_unparseable_suite_names_file_and_line(tmp_path: Path, good_db: Path) -> None:
    folder = _write_suite(tmp_path, '{\n  "name": "x",\n  "table": "t",,\n  "expectations": []\n}\n')
    with pytest.raises(SuiteFileError) as err:
        run_gate(good_db, folder)
    assert "bad_suite.json:3:" in str(err.value)
    assert err.value.line == 3


@pytest.mark.parametrize(("meta", "message"), [
    ('{"check": "a_check"}', "severity"),
    ('{"check": "a_check", "severity": "fatal"}', "severity"),
    ('{"check": "a_check", "severity": "error", "query": "nope"}', "nope"),
    ('{"severity": "error"}', "check"),
])
def test_invalid_expectation_meta_names_file(tmp_path: Path, meta: str, message: str) -> None:
    folder = _write_suite(tmp_path, (
        '{"name": "x", "table": "t",\n "expectations": [\n'
        '  {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "c"}, "meta": ' + meta + '}\n]}\n'))
    with pytest.raises(SuiteFileError, match=message) as err:
        load_suites(folder)
    assert "bad_suite.json" in str(err.value)


def test_unknown_placeholder_and_bad_expectation_name_file(tmp_path: Path) -> None:
    folder = _write_suite(tmp_path, '{"name": "x", "sql": "SELECT {{nope}}", "expectations": [{}]}')
    with pytest.raises(SuiteFileError, match="nope"):
        load_suites(folder)
    folder = _write_suite(tmp_path, (
        '{"name": "x", "table": "t",\n "expectations": [\n'
        '  {"type": "expect_column_values_to_be_between", "kwargs": {"column": "c", "min_vaule": 0},\n'
        '   "meta": {"check": "typo", "severity": "error"}}\n]}\n'))
    with pytest.raises(SuiteFileError) as err:
        check_suites(folder)
    assert "bad_suite.json:4:" in str(err.value) and "typo" in str(err.value)


def test_params_render_as_sql_literals(tmp_path: Path) -> None:
    folder = _write_suite(tmp_path, json.dumps({
        "name": "x", "params": {"codes": ["a", "o'b"], "n": 3, "s": "z"},
        "sql": ["SELECT * FROM t", "WHERE c IN {{codes}} AND n = {{ n }} AND s = {{s}}"],
        "expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "c"},
                          "meta": {"check": "c_not_null", "severity": "warning"}}],
    }))
    suite = load_suite(folder / "bad_suite.json")
    assert suite.datasets["main"].sql == "SELECT * FROM t\nWHERE c IN ('a', 'o''b') AND n = 3 AND s = 'z'"


# ----------------------------------------------------------- suites agree with the contracts


def _suite_json(name: str) -> dict[str, Any]:
    return json.loads((SUITES / f"{name}.json").read_text(encoding="utf-8"))


def _kwargs(suite: dict[str, Any], check: str) -> dict[str, Any]:
    return next(e["kwargs"] for e in suite["expectations"] if e["meta"]["check"] == check)


def _seed(name: str) -> list[dict[str, str]]:
    with (SEEDS / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_suites_follow_schema_and_seeds() -> None:
    raw = _suite_json("raw_metrics")
    assert _kwargs(raw, "contract_columns_present")["column_set"] == list(RAW_METRICS_SCHEMA)
    assert set(_kwargs(raw, "measure_accepted")["value_set"]) == set(MEASURES)
    assert set(_kwargs(raw, "period_kind_accepted")["value_set"]) == set(PERIOD_KINDS)
    assert set(_kwargs(_suite_json("fct_metric_mentions"), "measure_accepted")["value_set"]) == set(MEASURES)

    bare = csv.DictReader((PROJECT / "loaders" / "grammar" / "bare_values.csv").open(encoding="utf-8"))
    seed_units = {r["unit"] for r in _seed("units.csv")} | {r["unit"] for r in _seed("metrics.csv")} \
        | {r["unit"] for r in bare}   # 综合指数410.38 is in unit index
    non_additive = sorted(r["metric_code"] for r in _seed("metrics.csv") if r["additivity"] != "additive")
    for name in ("raw_metrics", "fct_region_quarter", "fct_industry_quarter"):
        suite = _suite_json(name)
        assert seed_units <= set(_kwargs(suite, "unit_known")["value_set"]), name
        if "params" in suite:
            assert sorted(suite["params"]["non_additive_metrics"]) == non_additive, name

    # the region suite takes its hierarchy from dim_region: no param names a region, and the
    # code pattern it holds the mart to admits every code of the gazetteer
    region_suite = _suite_json("fct_region_quarter")
    regions = {r["region_code"] for r in _seed("regions.csv")}
    named = {v for value in region_suite["params"].values() for v in (value if isinstance(value, list) else [value])}
    assert not named & regions
    pattern = re.compile(_kwargs(region_suite, "region_code_well_formed")["regex"])
    assert [c for c in sorted(regions) if not pattern.search(c)] == []
    sectors = _suite_json("fct_industry_quarter")["params"]["sector_codes"]
    assert sorted(sectors) == sorted(r["industry_code"] for r in _seed("industries.csv") if r["level"] == "sector")


def test_every_suite_builds_in_gx() -> None:
    suites = check_suites(SUITES)
    assert {s.name for s in suites} == {"raw_metrics", "fct_metric_mentions", "fct_region_quarter",
                                        "fct_industry_quarter"}
    for suite in suites:
        assert all(e.severity in ("error", "warning") for e in suite.expectations)
