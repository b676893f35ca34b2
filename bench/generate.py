"""Deterministic benchmark corpus: N bulletins made by recombining the sample bulletins'
paragraphs with varied figures, places and periods.

    python -m bench.generate OUT_DIR N [--seed 7]

Each document is written as soon as it is made (sharded into folders of 1,000 files), so the
whole corpus is never held in memory. File stems are unique (`bench-0000123`): tongbi names a
document by its file stem. The same seed and N give byte-identical files.
"""
from __future__ import annotations

import argparse
import csv
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "bulletins"
SHARD = 1000

PERIODS = ("一季度", "上半年", "前三季度", "全年")
# month a period's bulletin is published in (the following month)
PUBLISHED_MONTH = {"一季度": 4, "上半年": 7, "前三季度": 10, "全年": 1}
PERIOD_RE = re.compile(r"一季度|上半年|前三季度|1-8月|1—8月|全年")
YEAR_RE = re.compile(r"20[12]\d年")
NUMBER_RE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)(?=\s*(亿元|万元|元|个|%|％|家|人|万人))")


def sample_paragraphs() -> tuple[list[str], list[str]]:
    """Body paragraphs of the sample bulletins (front matter and headings dropped), and titles."""
    paragraphs: list[str] = []
    titles: list[str] = []
    for path in sorted(SAMPLES.glob("*.md")):
        if path.name == "README.md":
            continue
        text = path.read_text(encoding="utf-8")
        if text.startswith("---"):
            _, front, text = text.split("---", 2)
            for line in front.splitlines():
                if line.startswith("title:"):
                    titles.append(line.split(":", 1)[1].strip())
        for para in re.split(r"\n\s*\n", text):
            para = para.strip()
            if para and not para.startswith("#") and any(ch.isdigit() for ch in para):
                paragraphs.append(para)
    return paragraphs, titles


def prefectures() -> list[str]:
    with open(ROOT / "seeds" / "regions.csv", encoding="utf-8") as fh:
        return [r["name_zh"] for r in csv.DictReader(fh) if r["level"] == "prefecture"]


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.paragraphs, self.titles = sample_paragraphs()
        self.places = prefectures()
        # place names that occur in the samples, to be swapped for other prefectures
        self.place_re = re.compile("|".join(sorted(map(re.escape, self.places), key=len, reverse=True)))

    def _scale(self, m: re.Match[str], factor: float) -> str:
        s = m.group(1)
        value = float(s) * factor
        if m.group(2) in ("%", "％"):  # rates and shares: varied a little, never past 100
            value = float(s) * (0.9 + 0.2 * (factor - 0.5) / 1.1)
            if value >= 100:
                value = float(s)
        decimals = len(s.split(".")[1]) if "." in s else 0
        return f"{value:.{decimals}f}" if decimals else str(max(1, round(value)))

    def document(self, i: int) -> tuple[str, str]:
        rng = self.rng
        year = rng.randint(2015, 2025)
        period = rng.choice(PERIODS)
        factor = rng.uniform(0.5, 1.6)
        places = dict(zip(self.places, rng.sample(self.places, len(self.places))))
        paras = rng.sample(self.paragraphs, k=min(len(self.paragraphs), rng.randint(4, 9)))
        body = []
        for para in paras:
            para = PERIOD_RE.sub(period, para)
            para = YEAR_RE.sub(f"{year}年", para)
            para = self.place_re.sub(lambda m: places[m.group(0)], para)
            para = NUMBER_RE.sub(lambda m: self._scale(m, factor), para)
            body.append(para)
        pub_year = year + 1 if period == "全年" else year
        published = f"{pub_year}-{PUBLISHED_MONTH[period]:02d}-{rng.randint(1, 28):02d}"
        title = f"{year}年{period}" + PERIOD_RE.sub("", YEAR_RE.sub("", rng.choice(self.titles)))
        stem = f"bench-{i:07d}"
        text = (f"---\nid: {stem}\nurl: https://example.org/tongbi-bench/{stem}\ntitle: {title}\n"
                f"published: {published}\n---\n\n# {title}\n\n" + "\n\n".join(body) + "\n")
        return stem, text


def generate(out: Path, n: int, seed: int = 7) -> Path:
    """Write n documents under out/<shard>/; returns out. Skips when out already holds them."""
    marker = out / f".complete-{n}-{seed}"
    if marker.exists():
        return out
    gen = Generator(seed)
    for i in range(n):
        stem, text = gen.document(i)
        shard = out / f"{i // SHARD:04d}"
        if i % SHARD == 0:
            shard.mkdir(parents=True, exist_ok=True)
        (shard / f"{stem}.md").write_text(text, encoding="utf-8")
    marker.touch()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("n", type=int)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    generate(args.out, args.n, args.seed)
    print(f"{args.n} documents in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
