"""The command line: `tongbi extract` writes the contract and reports names it could not resolve."""
from __future__ import annotations

import csv

from tongbi.cli import main


def test_extract_reports_unresolved_names(tmp_path, capsys):
    doc = tmp_path / "b.md"   # 星河市 is made up: a place the national gazetteer cannot know
    doc.write_text("---\nid: b\npublished: 2025-04-10\n---\n一季度，新疆引进区外到位资金1616.27亿元。"
                   "同期，星河市签约项目21个，低空经济产业集群项目36个。\n", encoding="utf-8")
    out, report = tmp_path / "raw.csv", tmp_path / "unresolved.csv"
    assert main(["extract", str(doc), "--out", str(out), "--unresolved", str(report)]) == 0
    rows = list(csv.DictReader(report.open(encoding="utf-8")))
    names = {(r["name_kind"], r["raw_name"]): r for r in rows}
    assert names[("region", "星河市")]["n_mentions"] == "2"  # both figures of its sentence
    assert ("industry", "低空经济产业集群") in names
    assert "星河市" in capsys.readouterr().err
    mentions = list(csv.DictReader(out.open(encoding="utf-8")))
    xinghe = next(m for m in mentions if m["value"] == "21.0")
    assert (xinghe["region_code"], xinghe["region_raw"]) == ("", "星河市")


def test_a_failure_exits_non_zero_with_one_line(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nothing-here"), "--warehouse", str(tmp_path / "w.duckdb"), "--quiet"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("tongbi: ") and "nothing-here" in err[-1]


def test_extract_on_all_cores_writes_the_same_bytes(tmp_path, monkeypatch):
    """`--workers`: a pool of processes, whatever it does first, writes what one process writes
    (the bundled bulletins are fewer than a pool is started for: the threshold is lowered)."""
    from pathlib import Path

    import loaders.corpus

    bulletins = Path(__file__).resolve().parent.parent / "data" / "bulletins"
    monkeypatch.setattr(loaders.corpus, "PARALLEL_MIN_MISSES", 1)
    monkeypatch.setattr(loaders.corpus, "CHUNK_FILES", 4)   # several steps, the pool reused
    outputs = []
    for workers in ("1", "2"):
        out, report = tmp_path / f"raw{workers}.csv", tmp_path / f"unresolved{workers}.csv"
        assert main(["extract", str(bulletins), "--out", str(out), "--unresolved", str(report),
                     "--workers", workers]) == 0
        outputs.append((out.read_bytes(), report.read_bytes()))
    assert outputs[0] == outputs[1] and outputs[0][0].count(b"\n") > 100
