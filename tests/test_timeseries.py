"""Integration: `tongbi run` on the real bulletins in ../shared/corpus (the seed bulletin and ~90
dev bulletins over many years) builds one warehouse whose time series hold across documents.

One module-scoped run (about a minute). The time-series assertions read the warehouse that dbt
built: the published file, or — while the quality gate refuses to publish because of extraction
errors — the staging file the pipeline keeps beside it. Whether the corpus publishes is a test of
its own; the gate itself is not weakened.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
import yaml

from tongbi.cli import main

PROJECT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("TONGBI_SHARED", PROJECT.parent / "shared"))  # as tests/conftest.py
CORPUS = SHARED / "corpus"

XINJIANG = "650000"


@dataclass
class CorpusRun:
    exit_code: int
    warehouse: Path       # what dbt built: the published file, or the staging file the gate kept

    def query(self, sql: str, *params: object) -> list[tuple]:
        con = duckdb.connect(str(self.warehouse), read_only=True)
        try:
            return con.execute(sql, list(params)).fetchall()
        finally:
            con.close()

    def failed_gate_checks(self) -> list[str]:
        """The error-level checks the gate failed, each with a few offending quotes (for the
        extraction engineer), read from the audit_results table the pipeline writes."""
        con = duckdb.connect(str(self.warehouse), read_only=True)
        try:
            cur = con.execute("select * from audit_results where not success and severity = 'error'")
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, r)) for r in cur.fetchall()]
        except duckdb.Error as exc:
            return [f"(audit_results unreadable: {exc})"]
        finally:
            con.close()
        out = []
        for r in sorted(rows, key=lambda r: (r["suite"], r["expectation"])):
            sample = json.loads(r.get("sample_json") or r.get("failing_rows") or "[]")
            quotes = [f"{x.get('doc_id')} 「{x.get('quote')}」"
                      + (f" vs {x.get('other_doc_id')} 「{x.get('other_quote')}」" if x.get("other_quote") else "")
                      for x in sample[:3] if isinstance(x, dict)]
            out.append(f"{r['suite']}:{r['expectation']} ({r['unexpected_count']} rows, e.g. {'; '.join(quotes)})")
        return out


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory) -> CorpusRun:
    if not CORPUS.is_dir():
        pytest.skip(f"../shared is absent ({CORPUS}): the time-series integration test needs the real "
                    "corpus (set TONGBI_SHARED to its folder)")
    wh = tmp_path_factory.mktemp("timeseries") / "warehouse.duckdb"
    code = main(["run", str(CORPUS), "--warehouse", str(wh), "--quiet"])
    staging = wh.with_name("warehouse.next.duckdb")
    if code == 0:
        return CorpusRun(code, wh)
    if code == 4 and staging.exists():   # built and tested by dbt, refused by the expectation gate
        return CorpusRun(code, staging)
    pytest.fail(f"tongbi run on {CORPUS} exited {code} before dbt could build the warehouse")


# ------------------------------------------------------------------ publishing

def test_the_real_corpus_publishes(corpus_run):
    assert corpus_run.exit_code == 0, "quality gate failed: " + " | ".join(corpus_run.failed_gate_checks())


def test_bulletins_from_across_china_give_region_quarter_facts_for_each_province(corpus_run):
    """The real bulletins of the dev and national sets come from 16 provinces: each has facts."""
    provinces = corpus_run.query(
        "select d.province_name_zh, count(*) from fct_region_quarter f join dim_region d using (region_code) "
        "where d.province_code is not null group by 1")
    assert len(provinces) >= 15, provinces
    named = corpus_run.query("select count(*) from dim_region")[0][0]
    assert named >= 3000   # the national gazetteer, not Xinjiang's 198 places


# ------------------------------------------------------------------ the cross-document series

SERIES_SQL = """
    select year, end_month, ytd_value, yoy_pct_reported, source_doc_ids, is_quarter_end, level_mention_id
    from fct_region_month_ytd
    where metric_code = 'external_funds' and region_code = ? and industry_code = 'TOTAL'
      and ytd_value is not null
"""


def test_xinjiang_external_funds_spans_many_years_periods_and_bulletins(corpus_run):
    rows = corpus_run.query(SERIES_SQL, XINJIANG)
    years = {r[0] for r in rows}
    end_months = {r[1] for r in rows}
    docs = {d for r in rows for d in r[4].split(",")}
    assert len(years) >= 6, sorted(years)
    assert {3, 8, 12} <= end_months, sorted(end_months)
    assert len(docs) >= 6, sorted(docs)


# (year, end month) -> (level in 亿元, reported YoY %, bulletin): hand-checked against the text
# of the bulletins (most are in ../shared/gold/dev.csv and seed.csv).
KNOWN_XINJIANG_FIGURES = {
    (2011, 12): (1962.41, 48.41, "d096"),
    (2017, 12): (5380.57, None, "d122"),
    (2020, 8): (2372.04, 14.77, "d013"),
    (2023, 8): (6262.18, 14.80, "d003"),
    (2025, 3): (1616.27, 21.59, "000_8c4f85d12575a8bd"),
    (2025, 12): (10655.71, 13.9, "d012"),
}


@pytest.mark.parametrize("period", sorted(KNOWN_XINJIANG_FIGURES), ids=lambda p: f"{p[0]}-{p[1]:02d}")
def test_known_figures_are_in_the_monthly_ytd_table(corpus_run, period):
    year, end_month = period
    level, yoy, doc = KNOWN_XINJIANG_FIGURES[period]
    found = [r for r in corpus_run.query(SERIES_SQL, XINJIANG) if (r[0], r[1]) == period]
    assert found, f"no row for {year}年1-{end_month}月"
    (_, _, value, reported, docs, is_quarter_end, _), = found
    assert value == pytest.approx(level * 1e8) and doc in docs.split(",")
    if yoy is not None:
        assert reported == pytest.approx(yoy)
    assert is_quarter_end == (end_month % 3 == 0)


def test_ytd_figures_of_other_months_are_not_forced_into_quarters(corpus_run):
    monthly = corpus_run.query(SERIES_SQL + " and not is_quarter_end", XINJIANG)
    assert {(r[0], r[1]) for r in monthly} >= {(2020, 8), (2023, 8)}
    quarter_mentions = {r[0] for r in corpus_run.query(
        "select level_mention_id from fct_region_quarter where level_mention_id is not null")}
    assert not quarter_mentions & {r[6] for r in monthly}


# ------------------------------------------------------------------ YoY

PAIRS_SQL = """
    select cur.{period}, cur.year, cur.ytd_value, prior.ytd_value, cur.yoy_pct_reported,
           cur.prior_year_ytd_value, cur.yoy_pct_computed, cur.yoy_gap_pp, cur.yoy_gap_flag,
           cur.metric_code, cur.region_code, {industry}
    from {table} cur
    join {table} prior
      on prior.metric_code = cur.metric_code and prior.region_code = cur.region_code
     and {same_industry} and prior.year = cur.year - 1 and prior.{period} = cur.{period}
    where cur.ytd_value is not null and prior.ytd_value is not null and prior.ytd_value <> 0
"""
# table -> (period column, has an industry column)
TABLES = {
    "fct_region_quarter": ("quarter", False),
    "fct_industry_quarter": ("quarter", True),
    "fct_region_month_ytd": ("end_month", True),
}


@pytest.mark.parametrize("table", sorted(TABLES))
def test_computed_yoy_exists_wherever_the_prior_year_does(corpus_run, table):
    period, has_industry = TABLES[table]
    pairs = corpus_run.query(PAIRS_SQL.format(
        table=table, period=period,
        industry="cur.industry_code" if has_industry else "'TOTAL'",
        same_industry="prior.industry_code = cur.industry_code" if has_industry else "true"))
    for _, _, value, prior, reported, prior_col, computed, gap, flag, *key in pairs:
        assert prior_col == pytest.approx(prior), key
        assert computed == pytest.approx((value / prior - 1) * 100, abs=1e-5), key
        if reported is None:
            assert gap is None and flag is None, key
        else:
            assert gap == pytest.approx(reported - computed, abs=1e-5), key
            assert flag == (abs(reported - computed) > 0.5), key
    if table == "fct_region_month_ytd":
        xinjiang = [p for p in pairs if p[9] == "external_funds" and p[10] == XINJIANG and p[11] == "TOTAL"]
        assert xinjiang, "no Xinjiang external_funds period with a prior year in the warehouse"


def test_reported_yoy_implies_the_earlier_bulletin_figure(corpus_run):
    """2025 full year (d012: 10655.71亿元, +13.9%) implies 2024's 9355.3亿元 — the figure d006
    published on 2025-01-12, kept as a vintage of the 2024 observation."""
    (implied,), = corpus_run.query("""
        select implied_prior_year_ytd_value from fct_region_month_ytd
        where metric_code = 'external_funds' and region_code = ? and industry_code = 'TOTAL'
          and year = 2025 and end_month = 12""", XINJIANG)
    vintages = corpus_run.query("""
        select value, valid_from, first_doc_id from fct_observation_vintages
        where metric_code = 'external_funds' and region_code = ? and industry_code = 'TOTAL'
          and breakdown = 'none' and period_year = 2024 and period_end_month = 12
          and period_kind = 'ytd' and measure = 'level'""", XINJIANG)
    d006 = [v for v in vintages if v[2] == "d006"]
    assert d006 and d006[0][0] == pytest.approx(935526000000) and str(d006[0][1]) == "2025-01-12"
    assert implied == pytest.approx(d006[0][0], rel=5e-4)


def test_2025_full_year_yoy_computed_across_bulletins_agrees_with_the_reported(corpus_run):
    (prior, computed, reported, flag), = corpus_run.query("""
        select prior_year_ytd_value, yoy_pct_computed, yoy_pct_reported, yoy_gap_flag
        from fct_region_quarter
        where metric_code = 'external_funds' and region_code = ? and year = 2025 and quarter = 4""",
        XINJIANG)
    assert prior == pytest.approx(935526000000)
    assert computed == pytest.approx((10655.71 / 9355.26 - 1) * 100, abs=1e-4)
    assert reported == pytest.approx(13.9) and flag is False


# ------------------------------------------------------------------ observations, vintages, conflicts

def test_every_mention_is_kept_linked_and_every_disagreement_listed(corpus_run):
    (n_differing,), = corpus_run.query("""
        select count(*) from fct_metric_mentions m
        join fct_observations o using (observation_key)
        where m.value <> o.value""")
    (n_conflicts,), = corpus_run.query("select count(*) from conflicts")
    assert n_conflicts == n_differing > 0
    (orphans,), = corpus_run.query("""
        select count(*) from fct_metric_mentions
        where is_observable and value is not null
          and observation_key not in (select observation_key from fct_observations)""")
    assert orphans == 0
    (bad,), = corpus_run.query("""
        select count(*) from fct_observations o
        join fct_observation_vintages v on v.observation_key = o.observation_key and v.is_current
        where v.value <> o.value""")
    (n_obs,), = corpus_run.query("select count(*) from fct_observations")
    (n_current,), = corpus_run.query("select count(*) from fct_observation_vintages where is_current")
    assert bad == 0 and n_current == n_obs


def test_a_rounded_headline_never_stands_for_a_precise_figure_of_its_bulletin(corpus_run):
    """000_8c4f…: 「一季度新疆引进区外到位资金1616亿元」 headline, 1616.27亿元 in the body."""
    (key, value, quote), = corpus_run.query("""
        select observation_key, value, chosen_quote from fct_observations
        where metric_code = 'external_funds' and region_code = ? and industry_code = 'TOTAL'
          and breakdown = 'none' and period_year = 2025 and period_end_month = 3
          and period_kind = 'ytd' and measure = 'level'""", XINJIANG)
    assert value == pytest.approx(161627000000) and "1616.27" in quote
    kinds = {k for (k,) in corpus_run.query(
        "select conflict_kind from conflicts where observation_key = ? and other_value = 161600000000", key)}
    assert kinds == {"rounded_restatement"}


# ------------------------------------------------------------------ shares

def test_sector_value_added_shares_are_computed_against_gdp(corpus_run):
    """d079 (XPCC 2019 bulletin): 第一/二/三产业 value added 605.82 / 959.62 / 1181.64亿元 of a
    GDP of 2747.07亿元, reported as 22.1% / 34.9% / 43.0%."""
    rows = corpus_run.query("""
        select industry_code, share_whole_metric_code, share_pct_reported, share_pct_computed, share_gap_pp
        from fct_industry_quarter
        where metric_code = 'value_added' and region_code = 'XPCC' and year = 2019 and quarter = 4
          and industry_code in ('PRIMARY', 'SECONDARY', 'TERTIARY')""")
    assert len(rows) == 3
    for industry, whole, reported, computed, gap in rows:
        assert whole == "gdp" and computed is not None, industry
        assert abs(gap) < 0.5, (industry, reported, computed)


# ------------------------------------------------------------------ documentation

def test_every_column_of_every_model_and_seed_is_described(corpus_run):
    described: dict[str, dict[str, str]] = {}
    for path in (PROJECT / "models").rglob("*.yml"):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for node in (doc.get("models") or []) + (doc.get("seeds") or []):
            described[node["name"]] = {
                c["name"]: (c.get("description") or "").strip() for c in node.get("columns") or []}
    actual: dict[str, set[str]] = {}
    for table, column in corpus_run.query("""
            select table_name, column_name from information_schema.columns
            where table_schema = 'main' and table_name not in ('audit_results', 'run_history', 'quarantine')"""):
        # (written by the pipeline, not dbt: run_history's and quarantine's columns are described in
        # their table comments, tongbi/run/history.py RUN_HISTORY_COLUMNS, tongbi/run/quarantine.py)
        actual.setdefault(table, set()).add(column)
    missing = sorted(f"{t}.{c}" for t, cols in actual.items() for c in cols
                     if not described.get(t, {}).get(c))
    stale = sorted(f"{t}.{c}" for t, cols in described.items() if t in actual
                   for c in cols if c not in actual[t])
    assert not missing, f"undocumented columns: {missing}"
    assert not stale, f"documented columns that do not exist: {stale}"
