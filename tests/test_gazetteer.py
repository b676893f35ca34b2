"""The national gazetteer seeds and the matcher over them."""
from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from loaders.gazetteer import LEVELS, GazetteerError, load_gazetteer
from loaders.vocabulary import SEEDS_DIR, load_vocabulary

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def gaz():
    return load_gazetteer()


@pytest.fixture(scope="module")
def matcher(gaz):
    return gaz.matcher({"全省": "@province", "全市": "@prefecture"})


def names(gaz, hits):
    return [tuple(gaz.name(c) for c in h.codes) for h in hits]


def test_the_gazetteer_is_national(gaz):
    by_level = {}
    for r in gaz.regions.values():
        by_level[r.level] = by_level.get(r.level, 0) + 1
    assert len(gaz.regions) >= 3000
    assert by_level["province"] == 34 and by_level["prefecture"] >= 330 and by_level["county"] >= 2800


def test_codes_are_unique_and_every_parent_exists_without_cycles(gaz):
    with (SEEDS_DIR / "regions.csv").open(encoding="utf-8") as f:
        codes = [r["region_code"] for r in csv.DictReader(f)]
    assert len(codes) == len(set(codes))
    roots = [c for c, r in gaz.regions.items() if not r.parent]
    assert roots == ["100000"]
    for code, r in gaz.regions.items():
        assert r.level in LEVELS
        assert r.parent == "" or r.parent in gaz.regions, code
        assert gaz.lineage(code)[-1] == "100000", f"{code} does not reach the country (cycle or orphan)"
        assert r.source, code


def test_hierarchy_by_level(gaz):
    assert gaz.regions["650000"].parent == "100000"
    # Xinjiang's prefectures hang on the province; 北疆/南疆 are groupings beside them
    assert gaz.regions["650400"].parent == "650000" and gaz.regions["654000"].parent == "650000"
    assert gaz.regions["XJS"].level == "grouping" and gaz.regions["XJS"].parent == "650000"
    # county-level cities the province administers directly
    assert gaz.regions["419001"].parent == "410000"      # 济源市
    assert gaz.regions["659001"].parent == "650000"      # 石河子市
    assert gaz.regions["110105"].parent == "110000"      # 朝阳区 of the municipality
    assert gaz.province_of("341524") == "340000"         # 金寨县
    assert gaz.lineage("650402") == ("650402", "650400", "650000", "100000")


def test_the_codes_tests_and_models_use_are_kept(gaz):
    for code in ("650000", "XJN", "XJS", "XPCC", "XPCC01", "XPCC14", "XPCC08-142", "SC-CDER", "SC-NWER",
                 "652902", "654203", "659011", "659012", "152900", "632800"):
        assert code in gaz.regions, code
    assert gaz.name("652902") == "库车市" and gaz.level("XPCC08") == "division"


def test_groupings(gaz):
    assert set(gaz.members["XJS"]) >= {"650400", "650500", "653200"}
    assert "650100" in gaz.members["XJN"] and "650100" not in gaz.members["XJS"]
    assert "XJS" in gaz.groupings_of("650402") and "CN-W" in gaz.groupings_of("650402")
    assert gaz.groupings_of("440300") == ("CN-E",)     # 深圳市, through 广东省
    sizes = {g: len(gaz.members[g]) for g in ("CN-E", "CN-C", "CN-W", "CN-NE")}
    assert sizes == {"CN-E": 10, "CN-C": 6, "CN-W": 12, "CN-NE": 3}


@pytest.mark.parametrize("text, expected", [
    ("海北州全年实现地区生产总值", "海北藏族自治州"),
    ("甘孜州", "甘孜藏族自治州"),
    ("昌吉州", "昌吉回族自治州"),
    ("伊犁州", "伊犁哈萨克自治州"),
    ("包头实现", "包头市"),
    ("金寨县", "金寨县"),
    ("内蒙古", "内蒙古自治区"),
    ("广西", "广西壮族自治区"),
    ("博州", "博尔塔拉蒙古自治州"),
    ("襄樊市", "襄阳市"),
    ("襄樊", "襄阳市"),
])
def test_the_names_people_write_resolve(gaz, matcher, text, expected):
    hits = matcher.find(text)
    assert names(gaz, hits[:1]) == [(expected,)]


def test_short_forms_follow_the_suffix_not_the_letters(gaz):
    forms = {a for a, rows in gaz.aliases.items() for r in rows}
    assert {"鄂温克旗", "察右中旗", "神农架"} <= forms
    # a 区 whose name ends in 林 is no 林区; jionlp's 六枝特 cuts into 特区; 东乡族县 is no name
    assert not {"万柏", "碑", "六枝特", "东乡族县", "克州/克孜勒苏"} & forms
    assert gaz.regions["150724"].name_en == "Ewenki Autonomous Banner"
    assert gaz.regions["632200"].name_en == "Haibei Tibetan Autonomous Prefecture"


def test_a_renamed_place_in_an_old_bulletin_is_todays(gaz, matcher):
    text = "2013年，吐鲁番地区实现地区生产总值"
    hits = matcher.find(text, 0, len(text), dt.date(2013, 12, 31))
    assert [(h.raw, gaz.name(h.codes[0])) for h in hits] == [("吐鲁番地区", "吐鲁番市")]
    assert matcher.find("襄樊市", on=dt.date(2005, 1, 1))[0].codes == ("420600",)


def test_a_short_form_that_is_also_a_word_needs_what_follows(gaz, matcher):
    assert matcher.find("和田玉产业") == []
    assert matcher.find("三江源国家公园") == []
    assert names(gaz, matcher.find("和田地区")) == [("和田地区",)]
    assert names(gaz, matcher.find("喀什、和田等地")) == [("喀什地区",), ("和田地区",)]
    assert names(gaz, matcher.find("和田全年实现")) == [("和田地区",)]
    assert [h.raw for h in matcher.find("三江县")] == ["三江县"]


def test_a_county_named_by_an_everyday_word_is_found_only_in_full(gaz, matcher):
    # 合作市 (Gansu), 资源县, 新建区: the bare words are too common to be the county
    assert matcher.find("加强合作，新建项目12个，资源丰富") == []
    assert names(gaz, matcher.find("合作市完成")) == [("合作市",)]


def test_the_callers_relative_terms_win_over_a_place_of_the_same_name(gaz):
    m = gaz.matcher({"全州": "@prefecture"})
    assert [h.codes for h in m.find("全州共完成投资")] == [("@prefecture",)]
    assert [gaz.name(h.codes[0]) for h in m.find("全州县")] == ["全州县"]


def test_an_ambiguous_name_keeps_every_candidate(gaz, matcher):
    hits = matcher.find("鼓楼区实现")
    assert len(hits) == 1 and len(hits[0].codes) >= 3
    assert {gaz.name(c) for c in hits[0].codes} == {"鼓楼区"}
    assert len({gaz.province_of(c) for c in hits[0].codes}) >= 3


def test_the_candidate_nearest_the_home_is_chosen(gaz, matcher):
    codes = matcher.find("鼓楼区实现")[0].codes
    assert gaz.closest(codes, "350100") == "350102"           # 福州市 bulletin
    assert gaz.closest(codes, "320000") == "320106"           # 江苏省: 南京's comes first of the two
    assert gaz.closest(codes, "650000") == codes[0]           # none in Xinjiang: the first
    assert gaz.closest(("650400",), "110000") == "650400"


def test_leftmost_longest_with_relative_terms_in_one_pass(gaz, matcher):
    text = "全省14个市州中，昌吉回族自治州和昌吉市，全市"
    hits = matcher.find(text)
    assert [(h.raw, h.codes) for h in hits] == [("全省", ("@province",)), ("昌吉回族自治州", ("652300",)),
                                                ("昌吉市", ("652301",)), ("全市", ("@prefecture",))]
    # start/end bound the search
    assert [h.raw for h in matcher.find(text, text.index("和"), len(text))] == ["昌吉市", "全市"]


def test_the_vocabulary_keeps_one_region_per_alias_for_older_callers():
    vocab = load_vocabulary()
    assert vocab.region_aliases["鼓楼区"] == vocab.gazetteer.aliases["鼓楼区"][0].code
    assert vocab.region_aliases["海北州"] == "632200"
    assert vocab.region_aliases["和田"] == "653200"     # hand-kept: the extractor matched it bare
    assert "三江" not in vocab.region_aliases
    assert vocab.level_class("659001") == "county" and vocab.province_of("659001") == "650000"


def test_a_bad_alias_row_names_the_file_and_line(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for name in ("regions.csv", "region_aliases.csv", "region_groupings.csv"):
        shutil.copy(SEEDS_DIR / name, seeds / name)
    aliases = seeds / "region_aliases.csv"
    n = len(aliases.read_text(encoding="utf-8").splitlines())
    with aliases.open("a", encoding="utf-8") as f:
        f.write("某地,999999,name,,,false,\n")
    with pytest.raises(GazetteerError) as err:
        load_gazetteer(seeds)
    assert str(err.value).startswith(f"{aliases}:{n + 1}:") and "999999" in str(err.value)


def _generator_python() -> str | None:
    if importlib.util.find_spec("jionlp") and importlib.util.find_spec("pypinyin"):
        return sys.executable
    venv = ROOT / "scripts" / ".venv"
    return str(venv / "bin" / "python") if (venv / ".installed").exists() else None


def test_the_committed_seeds_are_what_the_script_generates(tmp_path):
    python = _generator_python()
    if python is None:
        pytest.skip("jionlp and pypinyin are not installed (make gazetteer creates scripts/.venv with them)")
    subprocess.run([python, str(ROOT / "scripts" / "build_gazetteer.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    for name in ("regions.csv", "region_aliases.csv", "region_groupings.csv"):
        assert (tmp_path / name).read_text(encoding="utf-8") == (SEEDS_DIR / name).read_text(encoding="utf-8"), \
            f"seeds/{name} differs from a regeneration: run make gazetteer"
