"""Incremental builds (tongbi/run/incremental.py, macros/incremental.sql, tongbi/gate/scoped.py):
a run that adds, changes or removes documents rebuilds only the metric-year slices they touch in
a copy of the published file, and must publish exactly what a full build of the same inputs
publishes; a killed incremental run leaves the published file byte-identical.

Every table and view of the published warehouse is compared, row for row (as sorted lists), with
the one `tongbi run --force` builds from the same bulletins, except the run's own records:
`run_history` (run ids, times, modes) and `audit_results` (run id and time of the check, and
the observed text of an incremental audit says what it validated again).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from runs import Watched, query
from tongbi.cli import main
from tongbi.run import incremental
from tongbi.run.state import DocumentChanges

PROJECT = Path(__file__).resolve().parent.parent
SAMPLES = PROJECT / "data" / "bulletins"
RUN_TABLES = {"run_history", "audit_results"}
ENV = dict(os.environ, DBT_SEND_ANONYMOUS_USAGE_STATS="false", GX_ANALYTICS_ENABLED="false", PYTHONUNBUFFERED="1")

# A third-quarter bulletin of our own (not a real article) between the samples' 上半年 (4322.76亿元)
# and 全年 (8428.53亿元) of 2023: with it, Q3 and Q4 2023 alone are derived from two ytd figures.
Q3_DOC = """---
id: xj-invest-2023q3
title: 前三季度新疆引进区外到位资金{value}亿元
published: 2023-10-20
---

# 前三季度新疆引进区外到位资金{value}亿元

据自治区商务厅统计，2023年前三季度，全区区外资金到位{value}亿元，同比增长15.8%。
"""
# shares of 86.27 % and 43.73 % of one whole: an error-level rule (the same text as tests/test_pipeline.py's)
BAD_SHARES = """---
id: bad-shares
title: 测试稿
published: 2025-04-20
---
一季度，全区引进区外到位资金1616.27亿元。北疆地区引进区外到位资金909.41亿元，占全区总量的86.27%；南疆地区引进区外到位资金706.86亿元，占全区总量的43.73%。
"""
YEAR_DOC = "xj-invest-2023.md"        # 2023 全年: last year's level for 2024's computed YoY
REMOVED_DOC = "xj-invest-2023m1-8.md"
WEB_DOC = "xj-invest-2023-web.html"   # the same bulletin as YEAR_DOC, as a web page


def tables(db: Path) -> dict[str, list[tuple]]:
    """Every table and view but the run records, rows sorted, with the column names."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = con.execute("select table_schema, table_name from information_schema.tables "
                            "where table_catalog = current_database() order by 1, 2").fetchall()
        out: dict[str, list[tuple]] = {}
        for schema, table in names:
            if table in RUN_TABLES:
                continue
            cur = con.execute(f'select * from "{schema}"."{table}"')
            cols = tuple(d[0] for d in cur.description)
            out[f"{schema}.{table}"] = [cols] + sorted(cur.fetchall(), key=repr)
        return out
    finally:
        con.close()


def assert_same_marts(incr: Path, full: Path) -> None:
    a, b = tables(incr), tables(full)
    assert sorted(a) == sorted(b), set(a) ^ set(b)
    differ = [name for name in a if a[name] != b[name]]
    assert not differ, {name: (len(a[name]), len(b[name]),
                               [r for r in a[name] if r not in b[name]][:2],
                               [r for r in b[name] if r not in a[name]][:2]) for name in differ[:3]}


def last_summary(wh: Path) -> dict:
    runs = sorted((wh.parent / "runs").glob("2*/summary.json"))
    return json.loads(runs[-1].read_text(encoding="utf-8"))


def run(folder: Path, wh: Path, *extra: str) -> dict:
    assert main(["run", str(folder), "--warehouse", str(wh), "--quiet", *extra]) == 0
    return last_summary(wh)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_incremental_runs_publish_what_a_full_build_of_the_same_inputs_publishes(tmp_path: Path) -> None:
    folder = tmp_path / "bulletins"
    shutil.copytree(SAMPLES, folder)
    wh = tmp_path / "incr" / "warehouse.duckdb"
    full = tmp_path / "full" / "warehouse.duckdb"
    first = run(folder, wh)
    assert first["mode"] == "full" and first["build"]["reason"] == "no published warehouse"

    # 1. a document added: Q3 2023, from which Q3 and Q4 2023 alone are derived
    (folder / "xj-invest-2023q3.md").write_text(Q3_DOC.format(value="6012.40"), encoding="utf-8")
    added = run(folder, wh)
    assert added["mode"] == "incremental", added["build"]
    assert added["build"]["delta"]["documents"] == 1
    assert added["status"] == "published" and added["gate"]["passed"]
    derived = ("select quarter, round(quarter_value / 1e8, 2) from fct_region_quarter where metric_code = "
               "'external_funds' and region_code = '650000' and year = 2023 and is_derived order by quarter")
    assert query(wh, derived) == [(3, 1689.64), (4, 2416.13)]   # 6012.40 − 4322.76, 8428.53 − 6012.40
    assert run(folder, full, "--force")["mode"] == "full"
    assert_same_marts(wh, full)

    # 2. two documents changed, two removed: the derived quarters move; 2023's full-year level,
    #    which 2024's computed YoY reads, changes in its heading (the figure chosen; by 4亿, within
    #    the additivity and share tolerances) but not in its body, which becomes a conflict; the
    #    web version of that bulletin is removed
    yoy = ("select yoy_pct_computed from fct_region_quarter where metric_code = 'external_funds' "
           "and region_code = '650000' and year = 2024 and quarter = 4")
    conflict = ("select chosen_value_raw, other_value_raw from conflicts where metric_code = 'external_funds' "
                "and region_code = '650000' and period_year = 2023 and period_end_month = 12 and measure = 'level'")
    yoy_before = query(wh, yoy)
    assert query(wh, conflict) == []
    (folder / "xj-invest-2023q3.md").write_text(Q3_DOC.format(value="6112.40"), encoding="utf-8")
    text = (folder / YEAR_DOC).read_text(encoding="utf-8")
    assert text.count("引进区外到位资金8428.53亿元") == 2 and "区外资金到位8428.53亿元" in text
    (folder / YEAR_DOC).write_text(text.replace("引进区外到位资金8428.53亿元", "引进区外到位资金8432.53亿元"),
                                   encoding="utf-8")
    (folder / REMOVED_DOC).unlink()
    (folder / WEB_DOC).unlink()
    changed = run(folder, wh)
    assert changed["mode"] == "incremental", changed["build"]
    assert (changed["documents"]["changed"], changed["documents"]["removed"]) == (2, 2)
    assert query(wh, derived) == [(3, 1789.64), (4, 2320.13)]   # 6112.40 − 4322.76, 8432.53 − 6112.40
    assert query(wh, yoy) != yoy_before
    assert query(wh, conflict) == [("8432.53", "8428.53")]
    assert query(wh, "select count(*) from documents where doc_id in ('xj-invest-2023m1-8', 'xj-invest-2023-web')") == [(0,)]
    assert run(folder, full, "--force")["mode"] == "full"
    assert_same_marts(wh, full)

    # the run history says which builds were incremental
    modes = [r[0] for r in query(wh, "select mode from run_history order by started_at")]
    assert modes == ["full", "incremental", "incremental"]


def test_the_plan_builds_incrementally_only_on_the_published_build_s_fingerprint(tmp_path: Path) -> None:
    published = tmp_path / "warehouse.v1.duckdb"
    published.write_bytes(b"")
    previous = SimpleNamespace(exists=True, build_fingerprint="abc")
    one_added = DocumentChanges(added=["d1"], unchanged=["d0"])

    def plan(**kw):
        args = dict(force=False, previous=previous, base_fp="abc", changes=one_added, published_file=published)
        return incremental.plan(**{**args, **kw})

    assert plan().incremental and plan().docs == ["d1"]
    assert not plan(force=True).incremental
    assert not plan(base_fp="other").incremental          # models, vocabulary, code or policy changed
    assert not plan(previous=SimpleNamespace(exists=True, build_fingerprint=None)).incremental
    assert not plan(published_file=None).incremental
    assert not plan(changes=DocumentChanges(unchanged=["d0"])).incremental
    removed = plan(changes=DocumentChanges(removed=["d0"], unchanged=["d1"]))
    assert removed.incremental and removed.docs == ["d0"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="dbt dies with tongbi on Linux only")
def test_a_failed_or_killed_incremental_run_leaves_the_published_file_byte_identical(tmp_path: Path) -> None:
    folder = tmp_path / "bulletins"
    shutil.copytree(SAMPLES, folder)
    wh = tmp_path / "warehouse.duckdb"
    run(folder, wh)
    version, before = os.readlink(wh), sha256(wh)

    # failed: three bulletins whose shares break an error rule, more than --max-quarantine (20 %)
    # of the documents, so none is published
    bad = [folder / f"bad-shares-{i}.md" for i in range(3)]
    for i, path in enumerate(bad):
        path.write_text(BAD_SHARES.replace("id: bad-shares", f"id: bad-shares-{i}"), encoding="utf-8")
    assert main(["run", str(folder), "--warehouse", str(wh), "--quiet"]) == 4
    failed = last_summary(wh)
    assert failed["status"] == "failed" and failed["build"]["rounds"][0] == "incremental", failed["build"]
    assert os.readlink(wh) == version and sha256(wh) == before
    for path in bad:
        path.unlink()

    # killed while dbt builds in the copy, and while the gate audits it
    (folder / "xj-invest-2023q3.md").write_text(Q3_DOC.format(value="6012.40"), encoding="utf-8")
    staging = wh.with_name("warehouse.next.duckdb")
    for marker, wait in (("▶ dbt build", 2.0), ("▶ expectations", 0.3)):
        proc = Watched(folder, "--warehouse", wh)
        proc.wait_for(marker)
        time.sleep(wait)
        proc.kill()
        assert os.readlink(wh) == version and sha256(wh) == before, f"killed after {marker}"
        killed = last_summary(wh)
        assert killed["status"] == "running" and killed["mode"] == "incremental", killed.get("build")
    assert staging.exists(), "the killed run's copy is left for the next run to remove"
    recovered = run(folder, wh)
    assert recovered["mode"] == "incremental" and recovered["status"] == "published"
    assert str(staging) in recovered["recovery"]["removed"]
    assert os.readlink(wh) != version
    assert query(wh, "select count(*) from documents where doc_id = 'xj-invest-2023q3'") == [(1,)]


def test_document_texts_lines_are_the_bytes_polars_writes() -> None:
    """The run formats document_texts.csv lines in Python (`text_row`, kept in the extraction cache); the loader's
    `text_csv` writes them with polars: the seed file, and so the input fingerprint, must not
    depend on which wrote them."""
    from loaders import document_texts
    from loaders.document_texts import text_row
    from loaders.documents import iter_document_paths

    texts = [document_texts.read_text(p) for p in iter_document_paths([SAMPLES])]
    texts += ["", "a", "x,y", 'say "hi"', "line\nbreak", "cr\rx", "crlf\r\n", " lead", "trail ", "全角，逗号",
              "tab\tx", "\ufeffbom", "a\u2028b", '"', ","]
    assert len(texts) > 15
    for text in texts:
        assert text_row("doc", text) == document_texts.text_csv("doc", text), repr(text[:40])
    assert text_row('a"b,c', "t") == document_texts.text_csv('a"b,c', "t")
