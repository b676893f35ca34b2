"""The seed bulletin, scored by the shared scorer against its gold labels."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from loaders import document_texts
from loaders.documents import iter_document_paths
from tongbi.cli import main


def score(shared: Path, gold: str, docs: str, pred: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, str(shared / "tools" / "score_extraction.py"), "--gold",
                          str(shared / "gold" / gold), "--pred", str(pred), "--docs", str(shared / docs),
                          "--show-misses", "--show-false"], capture_output=True, text=True)
    numbers = dict(re.findall(r"(\w+) (\d+\.\d+)", out.stdout))
    bad = re.search(r"quotes not matching their offsets: (\d+)", out.stdout)
    result = {k: float(v) for k, v in numbers.items()}
    result["bad_quotes"] = float(bad[1]) if bad else -1
    result["report"] = out.stdout  # type: ignore[assignment]
    return result


def test_seed_reaches_full_recall_with_precision(shared, tmp_path):
    pred = tmp_path / "seed.csv"
    assert main(["extract", str(shared / "corpus" / "seed"), "--out", str(pred)]) == 0
    s = score(shared, "seed.csv", "corpus/seed", pred)
    assert s["strict_recall"] == 1.0, s["report"]
    assert s["full_recall"] == 1.0, s["report"]
    assert s["precision"] >= 0.95, s["report"]
    assert s["bad_quotes"] == 0, s["report"]


def test_extract_output_is_byte_identical_on_rerun(shared, tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert main(["extract", str(shared / "corpus" / "seed"), "--out", str(a)]) == 0
    assert main(["extract", str(shared / "corpus" / "seed"), "--out", str(b)]) == 0
    assert a.read_bytes() == b.read_bytes()
    header = a.read_text(encoding="utf-8").splitlines()[0].split(",")
    for col in ("doc_id", "quote", "char_start", "char_end", "measure", "value", "unit", "value_raw", "unit_raw",
                "period_year", "period_end_month", "period_kind", "metric_code", "metric_name", "region_code",
                "region_name", "industry_code", "industry_name", "breakdown", "source_url"):
        assert col in header


def scored_set(shared: Path, tmp_path: Path, name: str) -> dict[str, float]:
    """Extract one shared corpus set and score it against its gold; no quote off its offsets."""
    pred = tmp_path / f"{name}.csv"
    assert main(["extract", str(shared / "corpus" / name), "--out", str(pred)]) == 0
    s = score(shared, f"{name}.csv", f"corpus/{name}", pred)
    assert s["bad_quotes"] == 0, s["report"]
    return s


def test_dev_corpus_meets_the_extraction_targets(shared, tmp_path):
    """Dev gold (66 documents): the targets f1 ≥ 0.95 and strict recall ≥ 0.90 (it reaches 0.93),
    precision pinned near what it reaches (0.98); full recall (industry and breakdown too) pinned
    near what it reaches, 0.85."""
    s = scored_set(shared, tmp_path, "dev")
    assert s["precision"] >= 0.97 and s["f1"] >= 0.97, s["report"]
    assert s["strict_recall"] >= 0.92 and s["full_recall"] >= 0.84, s["report"]


def test_national_corpus_meets_the_extraction_targets(shared, tmp_path):
    """National gold (16 bulletins of provinces, prefectures and counties across China): the targets
    f1 ≥ 0.93 and strict recall ≥ 0.90 (it reaches 0.94); full recall pinned near what it reaches, 0.83."""
    s = scored_set(shared, tmp_path, "national")
    assert s["precision"] >= 0.95 and s["f1"] >= 0.93, s["report"]
    assert s["strict_recall"] >= 0.93 and s["full_recall"] >= 0.82, s["report"]


def test_sample_bulletins_match_their_hand_labels(shared, tmp_path):
    """Our own bulletins (data/bulletins) against the labels we wrote for them."""
    samples = Path(__file__).resolve().parent.parent / "data" / "bulletins"
    pred = tmp_path / "samples.csv"
    assert main(["extract", str(samples), "--out", str(pred)]) == 0
    scorer = shared / "tools" / "score_extraction.py"
    # the scorer checks quotes against files of text: for the web page and the PDF, the text
    # their offsets index is the one extracted from them (what document_texts holds)
    texts = tmp_path / "texts"
    texts.mkdir()
    for path in iter_document_paths([samples]):
        (texts / f"{path.stem}.txt").write_text(document_texts.read_text(path), encoding="utf-8", newline="")
    out = subprocess.run([sys.executable, str(scorer), "--gold", str(samples / "expected.csv"), "--pred", str(pred),
                          "--docs", str(texts)], capture_output=True, text=True).stdout
    numbers = {k: float(v) for k, v in re.findall(r"(\w+) (\d+\.\d+)", out)}
    assert numbers["precision"] >= 0.95 and numbers["strict_recall"] >= 0.95 and numbers["full_recall"] >= 0.95, out
    assert "quotes not matching their offsets: 0" in out, out
