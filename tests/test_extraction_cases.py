"""The extraction test table (tests/extraction_cases.yaml): sentence in, expected rows out.

Each expected row must be extracted with its measure, value, unit, period, region, industry and
breakdown; rows beyond `expect` must be listed under `allow`. Cases marked `pending: <reason>`
are rules not written yet: they run as strict xfail, so one that starts passing must be unmarked.
"""
from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest
import yaml

from loaders.documents import ScriptConverter, load_document

CASES_FILE = Path(__file__).with_name("extraction_cases.yaml")
CASES = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))


def _same(row: dict, m) -> bool:
    if m.measure != row["measure"] or not math.isclose(m.value, float(row["value"]), rel_tol=1e-9, abs_tol=1e-9):
        return False
    if row.get("unit") and m.unit != row["unit"]:
        return False
    for key, attr in (("period_year", "period_year"), ("period_end_month", "period_end_month"),
                      ("period_kind", "period_kind")):
        if key in row and row[key] is not None and getattr(m, attr) != row[key]:
            return False
    if (row.get("region") or "") and m.region_name != row["region"]:
        return False
    if (row.get("industry") or "") != (m.industry_name or ""):
        return False
    want = [kv.split("=", 1)[-1] for kv in (row.get("breakdown") or "").split(";") if kv]
    return all(w in m.breakdown for w in want)


def _describe(m) -> str:
    return (f"{m.measure} {m.value} {m.unit} {m.period_year}-{m.period_end_month} {m.period_kind} "
            f"{m.region_name} {m.industry_name} {m.breakdown} | {m.quote}")


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case, tmp_path, extractor, converter: ScriptConverter, request):
    if case.get("pending"):
        request.applymarker(pytest.mark.xfail(reason=str(case["pending"]), strict=True))
    meta = {k: case[k] for k in ("published", "title", "url", "region") if case.get(k)}
    front = "".join(f"{k}: {v}\n" for k, v in meta.items())
    front = f"---\nid: case\n{front}---\n" if front else ""
    path = tmp_path / "case.md"
    path.write_text(front + case["text"], encoding="utf-8")
    doc = load_document(path, converter, case.get("year"))
    got = extractor.extract(doc)
    for m in got:
        assert doc.text[m.char_start:m.char_end] == m.quote
    expect = case.get("expect") or []
    allow = case.get("allow") or []
    missing = [row for row in expect if not any(_same(row, m) for m in got)]
    extra = [m for m in got if not any(_same(row, m) for row in expect + allow)
             and not any(m.measure == r["measure"] and math.isclose(m.value, float(r["value"])) for r in allow)]
    for want in case.get("expect_raw") or []:
        # raw names and codes as written, for names the vocabularies do not know yet
        row = next((m for m in got if math.isclose(m.value, float(want["value"]))), None)
        assert row is not None, f"no row with value {want['value']}"
        for key, value in want.items():
            if key != "value":
                assert getattr(row, key) == value, (key, getattr(row, key), value)
    assert not missing and not extra, (
        "missing:\n  " + "\n  ".join(map(str, missing)) + "\nextra:\n  " + "\n  ".join(map(_describe, extra))
        + "\ngot:\n  " + "\n  ".join(map(_describe, got)))
