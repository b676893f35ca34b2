"""End to end: `tongbi run` on the bundled bulletins publishes a warehouse holding the seed's
figures with their YoY; a bulletin that breaks a rule stops publishing and changes nothing."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import duckdb
import pytest

from loaders.documents import iter_document_paths
from tongbi.cli import main

PROJECT = Path(__file__).resolve().parent.parent
SAMPLES = PROJECT / "data" / "bulletins"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    wh = tmp_path_factory.mktemp("wh") / "warehouse.duckdb"
    assert main(["run", str(SAMPLES), "--warehouse", str(wh), "--quiet"]) == 0
    assert wh.exists() and not wh.with_name("warehouse.next.duckdb").exists()
    return wh


def query(wh: Path, sql: str, *params: object) -> list[tuple]:
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def test_seed_figures_by_region_with_yoy(warehouse):
    rows = {r[0]: r[1:] for r in query(warehouse, """
        select region_code, ytd_value, share_pct_reported, yoy_pct_reported, implied_prior_year_ytd_value
        from fct_region_quarter where metric_code = 'external_funds' and year = 2025 and quarter = 1""")}
    assert rows["XJN"][0] == pytest.approx(90941000000) and rows["XJN"][1] == pytest.approx(56.27)
    whole = rows["650000"]
    assert whole[0] == pytest.approx(161627000000) and whole[2] == pytest.approx(21.59)
    assert round(whole[3] / 1e8, 2) == 1329.28
    assert rows["XJS"][2] == pytest.approx(38.9)


def test_bulletins_of_other_provinces_publish_with_their_place_in_the_hierarchy(warehouse):
    """The samples from 山西, 深圳 and 包头 publish region-quarter facts under their own province,
    with the path dim_region gives them: nothing in the warehouse is Xinjiang's alone."""
    rows = {r[0]: r[1:] for r in query(warehouse, """
        select f.region_code, d.province_code, d.path, f.year, f.ytd_value, f.yoy_pct_reported
        from fct_region_quarter f join dim_region d on d.region_code = f.region_code
        where f.metric_code = 'gdp' and f.quarter = 2 and d.province_code <> '650000'""")}
    assert rows["140000"] == ("140000", "中华人民共和国 > 山西省", 2017, pytest.approx(657791000000), 6.9)
    assert rows["440300"] == ("440000", "中华人民共和国 > 广东省 > 深圳市", 2022, pytest.approx(1501691000000), 3.0)
    assert rows["150200"] == ("150000", "中华人民共和国 > 内蒙古自治区 > 包头市", 2021, pytest.approx(162700000000), 15.7)
    (n_provinces,), = query(warehouse, """
        select count(distinct d.province_code) from fct_region_quarter f
        join dim_region d on d.region_code = f.region_code""")
    assert n_provinces == 4


def test_yoy_computed_from_the_warehouse_own_prior_year(warehouse):
    (reported, computed, prior), = query(warehouse, """
        select yoy_pct_reported, yoy_pct_computed, prior_year_ytd_value from fct_region_quarter
        where metric_code = 'external_funds' and region_code = '650000' and year = 2024 and quarter = 4""")
    assert prior == pytest.approx(842853000000)
    assert computed == pytest.approx((9355.26 / 8428.53 - 1) * 100, abs=1e-6)
    assert reported == pytest.approx(11.0) and abs(reported - computed) < 0.5


def test_industry_quarter_holds_second_industry(warehouse):
    (value, yoy, name), = query(warehouse, """
        select ytd_value, yoy_pct_reported, industry_name_zh from fct_industry_quarter
        where metric_code = 'external_funds' and region_code = '650000' and industry_code = 'SECONDARY'
          and year = 2025 and quarter = 1""")
    assert value == pytest.approx(122829000000) and yoy == pytest.approx(18.29) and name == "第二产业"


def test_every_mention_keeps_its_quote_and_the_audit_is_published(warehouse):
    n_mentions, n_docs = query(warehouse, "select count(*), count(distinct doc_id) from fct_metric_mentions")[0]
    assert n_docs == len(iter_document_paths([SAMPLES]))  # .md, .html, .pdf; README.md is not a bulletin
    assert n_mentions > 100
    (failed_errors,), = query(warehouse, "select count(*) from audit_results where not success and severity = 'error'")
    assert failed_errors == 0


BAD_SHARES = """---
id: bad-shares
url: https://example.org/tongbi-tests/bad-shares
title: 测试稿
published: 2025-04-20
---
一季度，全区引进区外到位资金1616.27亿元。北疆地区引进区外到位资金909.41亿元，占全区总量的86.27%；南疆地区引进区外到位资金706.86亿元，占全区总量的43.73%。
"""


def test_a_bulletin_breaking_a_rule_stops_publishing_and_changes_nothing(warehouse, tmp_path, capsys):
    """--strict: the all-or-nothing gate (without it the bulletin is quarantined: test_quarantine)."""
    folder = tmp_path / "bulletins"
    shutil.copytree(SAMPLES, folder)
    (folder / "bad-shares.md").write_text(BAD_SHARES, encoding="utf-8")
    wh = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse, wh)
    before = hashlib.sha256(wh.read_bytes()).hexdigest()
    code = main(["run", str(folder), "--warehouse", str(wh), "--quiet", "--strict"])
    err = capsys.readouterr().err
    assert code == 4
    assert hashlib.sha256(wh.read_bytes()).hexdigest() == before
    assert wh.with_name("warehouse.next.duckdb").exists()
    assert "share" in err and "86.27" in err
