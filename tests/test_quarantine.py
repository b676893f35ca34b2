"""Quarantine through `tongbi run` (a subprocess): the bulletin that breaks error rules is kept out of
the marts and the rest publishes; --strict and --max-quarantine fail as the all-or-nothing gate did;
a quarantined document is carried across publishes until its bytes change.

The bad bulletin is tests/fixtures/quarantine/parts-and-shares.md (乌鲁木齐市 above 全区, shares of
全区 adding up to 120 %). Each `tongbi run` with a build takes ~45 s: the module makes seven.
The cross-document policy and what is never quarantined are tested on check results directly.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from test_gate_faults import N_SAMPLES, SAMPLES, query, run_tongbi, summary_of
from tongbi.gate import CheckResult
from tongbi.run.quarantine import MINORITY, NO_MAJORITY, SINGLE, blame, cross_document_blame, parse_share

PROJECT = Path(__file__).resolve().parent.parent
BAD = PROJECT / "tests" / "fixtures" / "quarantine" / "parts-and-shares.md"
BAD_ID = "parts-and-shares"
FACT_TABLES = ("fct_metric_mentions", "fct_region_quarter", "fct_industry_quarter", "fct_observations")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rows(db: Path, table: str) -> list[tuple]:
    return sorted(query(db, f"select * from {table}"), key=repr)


def quarantine_rows(db: Path) -> list[dict]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        cur = con.execute("select * from quarantine order by doc_id, rule")
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]
    finally:
        con.close()


def events(stderr: str) -> list[dict]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def folder_with(root: Path, *extra: Path) -> Path:
    folder = root / "bulletins"
    shutil.copytree(SAMPLES, folder)
    for path in extra:
        shutil.copy(path, folder / path.name)
    return folder


@dataclass
class Site:
    clean: Path        # the samples alone, published
    quarantined: Path  # then the samples and the bad bulletin, published by a default run
    folder: Path       # the folder of that run
    proc: object


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    root = tmp_path_factory.mktemp("quarantine")
    clean = root / "clean" / "warehouse.duckdb"
    clean.parent.mkdir()
    proc = run_tongbi(SAMPLES, "--warehouse", clean, "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    wh = root / "bad" / "warehouse.duckdb"
    wh.parent.mkdir()
    shutil.copy2(clean, wh)
    folder = folder_with(root / "bad", BAD)
    proc = run_tongbi(folder, "--warehouse", wh, "--quiet")
    return Site(clean, wh, folder, proc)


# ------------------------------------------------------------------------- the default run


def test_a_default_run_quarantines_the_bad_bulletin_and_publishes_the_others(site: Site) -> None:
    proc = site.proc
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = summary_of(proc)
    assert summary["status"] == "published" and summary["warehouse"]["published"] is True
    q = summary["quarantine"]
    assert q["documents"] == 1 and q["doc_ids"] == [BAD_ID] and q["new_doc_ids"] == [BAD_ID]
    assert q["rebuilds"] == 1 and q["share"] == pytest.approx(1 / (N_SAMPLES + 1), abs=1e-4)
    assert "dbt build, quarantine round 1" in summary["stages"]
    assert summary["gate"]["passed"] is True and summary["gate"]["counts"]["failed_error"] == 0
    # the terminal says how many and why
    out = proc.stdout
    assert f"Quarantine: 1 of {N_SAMPLES + 1} documents kept out of the marts" in out
    assert any(ln.strip().startswith(f"{BAD_ID}: fct_region_quarter.part_not_above_whole") for ln in out.splitlines())
    (n,), = query(site.quarantined, "select documents_quarantined from run_history "
                                    f"where run_id = '{summary['run_id']}'")
    assert n == 1


def test_the_quarantine_table_names_the_rules_quotes_offsets_and_document(site: Site) -> None:
    found = quarantine_rows(site.quarantined)
    assert {r["doc_id"] for r in found} == {BAD_ID}
    by_rule = {r["rule"]: r for r in found}
    assert set(by_rule) == {"part_not_above_whole", "shares_of_whole_sum_le_100"}
    text = BAD.read_text(encoding="utf-8")
    body = text.split("---\n", 2)[2]
    part = by_rule["part_not_above_whole"]
    assert part["suite"] == "fct_region_quarter" and part["severity"] == "error" and part["policy"] == SINGLE
    assert "乌鲁木齐市区外资金到位5200.00亿元" in part["quote"]
    values = json.loads(part["offending_values"])
    assert values["part_value"] == pytest.approx(5200e8) and values["whole_value"] == pytest.approx(4500e8)
    shares = by_rule["shares_of_whole_sum_le_100"]
    assert "70.00%" in shares["quote"] and json.loads(shares["offending_values"])["share_sum"] == pytest.approx(120)
    for r in found:
        # the offsets are those of the quote in the document's text (as the loader read it)
        assert r["char_start"] is not None and r["char_end"] - r["char_start"] == len(r["quote"])
        assert r["quote"] in body
        assert r["path"] == str(site.folder / BAD.name) and r["source_url"] == "https://example.org/tongbi-tests/parts-and-shares"
        assert r["sha256"] == sha256(BAD) and r["run_id"] == summary_of(site.proc)["run_id"]


def test_none_of_the_bad_bulletins_facts_reach_the_marts_and_the_good_ones_are_all_there(site: Site) -> None:
    wh = site.quarantined
    for table in FACT_TABLES:
        column = "doc_id" if table == "fct_metric_mentions" else "source_doc_ids"
        (n,), = query(wh, f"select count(*) from {table} where {column} like '%{BAD_ID}%'")
        assert n == 0, f"{table} holds figures of the quarantined bulletin"
        assert rows(wh, table) == rows(site.clean, table), f"{table} differs from the samples' own build"
    published_docs = "select distinct doc_id from fct_metric_mentions order by 1"
    assert query(wh, published_docs) == query(site.clean, published_docs)
    assert len(query(wh, published_docs)) == N_SAMPLES
    # the document itself is still known (the manifest), its figures are not
    assert query(wh, f"select count(*) from documents where doc_id = '{BAD_ID}'") == [(1,)]
    assert query(wh, f"select count(*) from raw_metrics where doc_id = '{BAD_ID}'") == [(0,)]


def test_the_report_lists_the_quarantined_bulletin(site: Site, tmp_path: Path) -> None:
    from tongbi.report import ReportOptions, build_report

    result = build_report(ReportOptions(warehouse=site.quarantined, out_dir=tmp_path / "report"))
    html = result.index.read_text(encoding="utf-8")
    assert "Quarantined documents" in html and BAD_ID in html and "part_not_above_whole" in html


# ------------------------------------------------------------------ what fails as before


def test_strict_fails_and_leaves_the_published_file_byte_identical(site: Site, tmp_path: Path) -> None:
    wh = tmp_path / "warehouse.duckdb"
    shutil.copy2(site.clean, wh)
    before = sha256(wh)
    proc = run_tongbi(folder_with(tmp_path, BAD), "--warehouse", wh, "--quiet", "--strict")
    assert proc.returncode == 4, proc.stderr[-3000:]
    assert sha256(wh) == before
    summary = summary_of(proc)
    assert summary["status"] == "failed" and summary["quarantine"]["documents"] == 0
    assert "fct_region_quarter:part_not_above_whole" in proc.stderr


def test_quarantining_more_than_the_maximum_share_fails_the_run(site: Site, tmp_path: Path) -> None:
    wh = tmp_path / "warehouse.duckdb"
    shutil.copy2(site.clean, wh)
    before = sha256(wh)
    limit = 0.5 / (N_SAMPLES + 1)   # half of what one bad bulletin among the samples is
    proc = run_tongbi(folder_with(tmp_path, BAD), "--warehouse", wh, "--quiet", "--max-quarantine", f"{limit:.4f}")
    assert proc.returncode == 4, proc.stderr[-3000:]
    assert sha256(wh) == before
    assert f"it would quarantine 1 of {N_SAMPLES + 1} documents, more than --max-quarantine" in proc.stderr
    assert "a systemic fault, not a bad page" in proc.stderr
    assert summary_of(proc)["warehouse"]["published"] is False


# ---------------------------------------------------------------- across publishes


def test_an_unchanged_quarantined_bulletin_stays_quarantined_without_a_rebuild_loop(site: Site, tmp_path: Path) -> None:
    wh = tmp_path / "warehouse.duckdb"
    shutil.copy2(site.quarantined, wh)
    first = quarantine_rows(wh)
    revised = PROJECT / "tests" / "fixtures" / "bad_bulletins" / "revised-later.md"  # a warning, never quarantined
    folder = folder_with(tmp_path, BAD, revised)
    proc = run_tongbi(folder, "--warehouse", wh, "--log-format", "json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = events(proc.stderr)
    end = next(e for e in log if e["event"] == "run_end")
    assert end["status"] == "published" and end["quarantined"] == 1 and end["quarantined_doc_ids"] == [BAD_ID]
    assert not [e for e in log if e["event"] == "quarantine"], "carried, not quarantined again"
    assert not [s for s in end["stages"] if "quarantine round" in s]
    carried = quarantine_rows(wh)
    assert [(r["doc_id"], r["rule"], r["run_id"], r["quote"]) for r in carried] == \
           [(r["doc_id"], r["rule"], r["run_id"], r["quote"]) for r in first]
    assert {r["last_run_id"] for r in carried} == {end["run_id"]}
    (n,), = query(wh, f"select count(*) from fct_metric_mentions where doc_id = '{BAD_ID}'")
    assert n == 0
    (n,), = query(wh, "select count(*) from fct_metric_mentions where doc_id = 'revised-later'")
    assert n > 0


def test_a_clean_publish_says_quarantined_0_and_a_fixed_bulletin_leaves_quarantine(site: Site, tmp_path: Path) -> None:
    wh = tmp_path / "warehouse.duckdb"
    shutil.copy2(site.quarantined, wh)
    folder = folder_with(tmp_path, BAD)
    fixed = (folder / BAD.name).read_text(encoding="utf-8")
    fixed = fixed.replace("乌鲁木齐市区外资金到位5200.00亿元", "乌鲁木齐市区外资金到位1200.00亿元")
    fixed = fixed.replace("所占比重为50.00%", "所占比重为30.00%")
    (folder / BAD.name).write_text(fixed, encoding="utf-8")
    proc = run_tongbi(folder, "--warehouse", wh, "--log-format", "json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    end = next(e for e in events(proc.stderr) if e["event"] == "run_end")
    assert end["quarantined"] == 0 and end["published"] is True
    assert quarantine_rows(wh) == []
    (n,), = query(wh, f"select count(*) from fct_metric_mentions where doc_id = '{BAD_ID}'")
    assert n > 0, "the fixed bulletin's figures are published"


# ------------------------------------------------------------------ policy (no build)


def check(name: str, rows: list[dict], *, severity: str = "error", type_: str = "expect_column_values_to_be_between",
          suite: str = "fct_metric_mentions") -> CheckResult:
    return CheckResult(suite=suite, expectation=name, columns=(), severity=severity, success=False,
                       observed=f"{len(rows)} rows unexpected", unexpected_count=len(rows), failing_rows=rows,
                       expectation_type=type_)


def pair(a: str, va: float, b: str, vb: float) -> dict:
    return {"metric_code": "projects", "region_code": "650000", "period_year": 2025, "period_end_month": 3,
            "measure": "level", "doc_id": a, "quote": f"{a} says {va}", "value": va,
            "other_doc_id": b, "other_quote": f"{b} says {vb}", "other_value": vb}


def test_cross_document_policy_quarantines_the_minority_or_both_without_a_majority() -> None:
    # two documents, one figure each: no majority, both quarantined
    assert cross_document_blame([("a", 1778, "b", 1878)]) == {"a": NO_MAJORITY, "b": NO_MAJORITY}
    # three documents, two of them agree (they form no failing pair): the third is quarantined
    assert cross_document_blame([("a", 1878, "b", 1778), ("a", 1878, "c", 1778.0)]) == {"a": MINORITY}
    # three documents, three figures: none leads
    assert cross_document_blame([("a", 1, "b", 2), ("a", 1, "c", 3), ("b", 2, "c", 3)]) == \
           {"a": NO_MAJORITY, "b": NO_MAJORITY, "c": NO_MAJORITY}
    # through the gate's failing rows: each blamed document with its own quote and the other side
    verdict = blame([check("restated_value_agrees_across_documents",
                           [pair("a", 1878, "b", 1778), pair("a", 1878, "c", 1778)])])
    assert verdict.untraceable == [] and verdict.doc_ids == {"a"}
    (o,) = verdict.offences
    assert o.policy == MINORITY and o.quote == "a says 1878" and o.other_doc_id == "b"
    # a minority on the `other` side of the pairs keeps its own quote
    verdict = blame([check("restated", [pair("b", 1778, "z", 1878), pair("c", 1778, "z", 1878)])])
    (o,) = verdict.offences
    assert (o.doc_id, o.quote, o.other_doc_id) == ("z", "z says 1878", "b")
    # two statistics are two disputes: a tie in one does not decide the other
    other_stat = dict(pair("b", 5, "c", 6), metric_code="external_funds")
    verdict = blame([check("restated", [pair("a", 1878, "b", 1778), pair("a", 1878, "c", 1778), other_stat])])
    assert verdict.doc_ids == {"a", "b", "c"}
    assert {(o.doc_id, o.policy) for o in verdict.offences} == {("a", MINORITY), ("b", NO_MAJORITY), ("c", NO_MAJORITY)}


def test_warnings_and_schema_level_failures_are_never_quarantined() -> None:
    row = {"doc_id": "a", "quote": "占101.43%", "share_pct": 101.43}
    assert blame([check("share_pct_0_100", [row], severity="warning")]).offences == []
    for failure in (check("table_readable", [], type_="read_dataset"),
                    check("columns_present", [], type_="expect_table_columns_to_match_set"),
                    check("share_pct_0_100", [{"share_pct": 101.43}]),   # no document to blame
                    CheckResult(suite="raw_metrics", expectation="value_not_null", columns=("value",),
                                severity="error", success=False, observed="exception: boom", unexpected_count=0,
                                failing_rows=[row], expectation_type="expect_column_values_to_not_be_null")):
        verdict = blame([failure, check("share_pct_0_100", [row])])
        assert verdict.untraceable == [f"{failure.suite}.{failure.expectation}"], failure
    # a fact row without a doc_id of its own is blamed on its evidence's document
    verdict = blame([check("part_not_above_whole", [{"region_code": "650100", "evidence": [{"doc_id": "d", "quote": "q"}]}])])
    assert [(o.doc_id, o.policy) for o in verdict.offences] == [("d", SINGLE)]


def test_max_quarantine_takes_a_share_or_a_percentage() -> None:
    assert parse_share("0.2") == pytest.approx(0.2) and parse_share("20%") == pytest.approx(0.2)
    with pytest.raises(ValueError, match="between 0 and 1"):
        parse_share("120%")


def test_a_bulletin_that_disagrees_with_the_majority_of_its_date_is_quarantined(site: Site, tmp_path: Path) -> None:
    """Majority: restated-projects says 1878 projects where two samples of the same date (the
    bulletin xj-invest-2025q1 and its PDF brief) say 1778: only the minority is kept out. (Two
    documents, one figure each — no majority — is the unit test above.)"""
    restated = PROJECT / "tests" / "fixtures" / "quarantine" / "restated-projects.md"
    wh = tmp_path / "warehouse.duckdb"
    shutil.copy2(site.clean, wh)
    sayers = ("select distinct doc_id from fct_metric_mentions where metric_code = 'investment_projects' "
              "and period_year = 2025 and period_end_month = 3 and value = 1778 order by 1")
    assert len(query(wh, sayers)) >= 2, "the samples no longer state the figure twice: the test needs them"
    proc = run_tongbi(folder_with(tmp_path, restated), "--warehouse", wh, "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    (r,) = quarantine_rows(wh)
    assert r["doc_id"] == "restated-projects" and r["rule"] == "restated_value_agrees_across_documents"
    assert r["policy"] == MINORITY and "1878" in r["quote"] and "1778" in r["other_quote"]
    assert r["other_doc_id"] in {d for (d,) in query(wh, sayers)}
    assert query(wh, "select count(*) from fct_metric_mentions where doc_id = 'restated-projects'") == [(0,)]
    assert len(query(wh, sayers)) >= 2, "the majority's figures are published"
