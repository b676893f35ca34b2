"""The benchmark corpus (bench/generate.py) agrees with dim_region's hierarchy: a prefecture's
level stays below its grouping's (北疆, 南疆), a county's below its prefecture's, and a
grouping's prefectures add up to it. The gate checks exactly this (fct_region_quarter
part_not_above_whole, parts_sum_to_whole); a corpus that breaks it is quarantined and the
bench's full run builds several times.

`python -m pytest` runs from the project root, which puts `bench` on the path."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bench.generate import GROUPINGS, KINDS, XJ, YEARS, Generator
from loaders.documents import ScriptConverter, load_document

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def gen() -> Generator:
    return Generator(7)


def test_every_period_divides_each_grouping_among_its_prefectures(gen: Generator):
    for year in YEARS:
        for kind in KINDS:
            sample = gen.sample_for(year, kind)
            parts = gen.parts(year, kind)
            assert set(parts) == set(gen.prefectures), (year, kind)
            for code, level in sample.groupings:
                members = [p for p in gen.prefectures if gen.grouping_of[p] == code]
                assert sum(parts[p] for p in members) == pytest.approx(level / sample.total, rel=1e-9)
                assert all(0 < parts[p] < level / sample.total for p in members), (year, kind, code)


def _levels(path: Path, extractor, converter: ScriptConverter) -> dict[str, set[float]]:
    """region name -> the exact (not 超/逾) 区外到位资金 levels the extractor reads for it."""
    out: dict[str, set[float]] = {}
    for m in extractor.extract(load_document(path, converter, None)):
        if (m.measure == "level" and m.metric_code == "external_funds" and not m.industry_name
                and not m.breakdown and not m.approx):
            out.setdefault(m.region_name, set()).add(m.value)
    return out


def test_extracted_prefectures_add_up_to_the_grouping_and_stay_above_their_counties(
        gen: Generator, extractor, converter: ScriptConverter, tmp_path: Path):
    # one period of 新疆 and every prefecture of each grouping (the H1 sample names none of them),
    # and one county of each prefecture, read by the extractor as `tongbi run` reads them
    year, kind = 2010, "h1"
    texts = {XJ: gen.xj_text(year, kind)}
    for p in gen.prefectures:
        texts[p] = gen.local_text(p, year, kind)
        if gen.counties_of[p]:
            texts[gen.counties_of[p][0]] = gen.local_text(gen.counties_of[p][0], year, kind)
    levels: dict[str, set[float]] = {}
    for code, (title, body) in texts.items():
        path = tmp_path / f"bench-{code}.md"
        path.write_text(f"---\nid: bench-{code}\ntitle: {title}\npublished: {year}-07-19\n---\n\n# {title}\n\n{body}\n",
                        encoding="utf-8")
        levels.update(_levels(path, extractor, converter))
    one = {name: vals.pop() for name, vals in levels.items() if len(vals) == 1}
    assert set(one) == set(levels), f"a region read with two levels: {levels}"
    with open(ROOT / "seeds" / "regions.csv", encoding="utf-8") as fh:
        name_of = {r["region_code"]: r["name_zh"] for r in csv.DictReader(fh)}
    for g in GROUPINGS:
        whole = one[name_of[g]]
        members = [name_of[p] for p in gen.prefectures if gen.grouping_of[p] == g]
        parts = [one[m] for m in members]
        # the gate's tolerance: 0.1 % of the whole, or 0.01 亿元 per part
        assert abs(sum(parts) - whole) <= max(1e-3 * whole, len(parts) * 1e6), (g, whole, dict(zip(members, parts)))
        assert max(parts) < whole
    for p in gen.prefectures:
        for c in gen.counties_of[p][:1]:
            assert one[name_of[c]] < one[name_of[p]], (name_of[c], name_of[p])
