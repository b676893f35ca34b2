"""Deterministic benchmark corpus that passes the quality gate: N bulletins, each one whole
sample bulletin re-told for another place, period and year with consistently scaled figures.

    python -m bench.generate OUT_DIR N [--seed 7]

Each document is written as soon as it is made (sharded into folders of 1,000 files), so the
whole corpus is never held in memory. File stems are unique (`bench-0000123`): tongbi names a
document by its file stem. The same seed and N give byte-identical files.

Why whole bulletins: a sample bulletin is internally consistent (北疆 + 南疆 = 全区, shares =
level / whole, parts below wholes), and multiplying every level of it by one factor keeps it so
(shares, growth rates, completion rates and 个百分点 are left as written). Recombining paragraphs
of different bulletins with independent factors, as this generator did before, is not, and the
gate rejected every such corpus.

A document is a *slot* (home region, year, period) stated by one sample:

* **home** — 新疆 (全区, the samples as written, prefectures permuted), one of the 14 prefectures
  (全市/全州/全地区) or one of the counties named …县 (全县). A prefecture or county document keeps
  only the paragraphs that name no sub-region (北疆/南疆, prefectures, the free-trade zone), names
  its home in the title and the lead, and its relative references (全区 → 全县) resolve to it.
* **period** — the sample's own (一季度, 上半年, 1—8月, 全年; 1—8月 also re-told as 前三季度;
  the April briefs as stocks and plans, for 新疆 only); **year** 2000–2039, every year written in
  the sample shifted by the same offset (较2022年 stays the year before).
* **figures** — a function of the slot only: the sample is picked by the slot, every level and
  count is multiplied by one factor per (home, sample, year), times a weight per level of the
  home (新疆 1, prefecture 0.11–0.25, county 0.01–0.025) so that a county never exceeds its
  prefecture nor a prefecture 全区 in the same period.

Slots are visited in a fixed pseudo-random order (a bijection of 0..S-1), so the first S
documents have unique slots (S ≈ 16,000); later documents restate an earlier slot with the same
figures (another outlet, another publication day), as papers restate an official release. A
prefecture document whose slot's 新疆 document names that prefecture (its share of 全区 would
have to agree with its level) is told by one of the prefecture's counties instead.
"""
from __future__ import annotations

import argparse
import csv
import math
import random
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "bulletins"
SHARD = 1000
YEARS = range(2000, 2040)
XJ = "650000"
VERSION = 2   # in the completion marker: a corpus of an older generator is not taken for this one

# sample stem -> (year its figures are for, period kinds it can tell)
SAMPLE_KINDS: dict[str, tuple[int, tuple[str, ...]]] = {
    "xj-invest-2025q1": (2025, ("q1",)),
    "xj-invest-2023h1": (2023, ("h1",)),
    "xj-invest-2023m1-8": (2023, ("m8", "q3")),
    "xj-invest-2023": (2023, ("fy",)),
    "xj-invest-2024": (2024, ("fy",)),
    "xj-briefs-2025-04": (2025, ("briefs",)),
}
KINDS = ("q1", "h1", "m8", "q3", "fy")       # every home
XJ_KINDS = KINDS + ("briefs",)               # 新疆 only
WEIGHT = {"province": (1.0, 1.0), "prefecture": (0.11, 0.25), "county": (0.01, 0.025)}
OUTLETS = ("融媒体中心", "日报", "发布", "广播电视台")

YEAR_RE = re.compile(r"(?<!\d)((?:19|20)\d\d)(?=年|-\d\d-)")
# a level or count: shares, rates, 个百分点 and 倍 are left as written
NUMBER_RE = re.compile(r"(?<![\d.０-９．])([\d０-９]+(?:[.．][\d０-９]+)?)(?=\s*(亿元|万元|元|个(?!援疆)|家|人|万人|%|％))")
_FW = str.maketrans("０１２３４５６７８９．", "0123456789.")
_HW = str.maketrans("0123456789.", "０１２３４５６７８９．")
# what a sub-region paragraph names; such paragraphs are dropped for a prefecture or county home
SUBREGION_WORDS = ("北疆", "南疆", "南北疆", "新疆", "自贸", "自由贸易", "片区", "地州市", "区域")


@dataclass(frozen=True)
class Sample:
    stem: str
    base_year: int
    title: str
    published: str          # YYYY-MM-DD
    paragraphs: tuple[str, ...]


def load_samples() -> dict[str, Sample]:
    out: dict[str, Sample] = {}
    for stem, (base, _) in SAMPLE_KINDS.items():
        text = (SAMPLES / f"{stem}.md").read_text(encoding="utf-8")
        _, front, body = text.split("---", 2)
        meta = dict(line.split(":", 1) for line in front.strip().splitlines())
        paras = [p.strip() for p in re.split(r"\n\s*\n", body) if p.strip()]
        paras = [p for p in paras if not p.startswith("# ")]   # the heading is the title again
        out[stem] = Sample(stem, base, meta["title"].strip(), meta["published"].strip(), tuple(paras))
    return out


def load_regions() -> tuple[dict[str, tuple[str, str, str]], dict[str, list[str]]]:
    """code -> (name, level, parent); code -> its aliases (names the extractor knows it by)."""
    with open(ROOT / "seeds" / "regions.csv", encoding="utf-8") as fh:
        regions = {r["region_code"]: (r["name_zh"], r["level"], r["parent_code"]) for r in csv.DictReader(fh)}
    aliases: dict[str, list[str]] = {code: [r[0]] for code, r in regions.items()}
    with open(ROOT / "seeds" / "region_aliases.csv", encoding="utf-8") as fh:
        for row in csv.reader(fh):
            if len(row) >= 2 and row[1] in aliases:
                aliases[row[1]].append(row[0])
    return regions, aliases


def relative_suffix(name: str, level: str) -> str:
    """全区 in a sample becomes 全<suffix> for this home (grammar/relative_regions.csv)."""
    if level == "county":
        return "县"
    for end, suffix in (("自治州", "州"), ("地区", "地区"), ("市", "市")):
        if name.endswith(end):
            return suffix
    raise ValueError(name)


def _rng(*key: object) -> random.Random:
    return random.Random(":".join(map(str, key)))


class Generator:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.samples = load_samples()
        self.regions, self.aliases = load_regions()
        # the samples are Xinjiang's bulletins: they are re-told for Xinjiang's own places only
        self.prefectures = sorted(c for c, r in self.regions.items() if r[1] == "prefecture" and r[2] == XJ)
        counties = sorted(c for c, r in self.regions.items() if r[1] == "county" and r[0].endswith("县")
                          and r[2] in self.prefectures)
        self.counties_of = {p: [c for c in counties if self.regions[c][2] == p] for p in self.prefectures}
        self.homes = [XJ] + self.prefectures + counties
        self.pref_names = [self.regions[c][0] for c in self.prefectures]
        self.pref_re = re.compile("|".join(sorted(map(re.escape, self.pref_names), key=len, reverse=True)))
        all_names = sorted({n for c, (n, lvl, _) in self.regions.items() if lvl in ("prefecture", "county")}
                           | {a for c in self.prefectures for a in self.aliases[c]}, key=len, reverse=True)
        self.subregion_re = re.compile("|".join(map(re.escape, SUBREGION_WORDS + tuple(all_names))))
        # the slot space: 新疆 × years × XJ_KINDS, then every other home × years × KINDS
        self.n_xj = len(YEARS) * len(XJ_KINDS)
        self.n_slots = self.n_xj + (len(self.homes) - 1) * len(YEARS) * len(KINDS)
        self.step = 7919
        while math.gcd(self.step, self.n_slots) != 1:
            self.step += 2
        self.offset = _rng(seed, "offset").randrange(self.n_slots)

    # -- slots ---------------------------------------------------------------------------
    def slot(self, i: int) -> tuple[str, int, str, int]:
        """Document i -> (home, year, kind, restatement number)."""
        s = (i * self.step + self.offset) % self.n_slots
        if s < self.n_xj:
            home, rest = XJ, s
            kinds = XJ_KINDS
        else:
            s -= self.n_xj
            per_home = len(YEARS) * len(KINDS)
            home, rest = self.homes[1 + s // per_home], s % per_home
            kinds = KINDS
        year, kind = YEARS[rest // len(kinds)], kinds[rest % len(kinds)]
        return home, year, kind, i // self.n_slots

    def sample_for(self, home: str, year: int, kind: str) -> Sample:
        stems = [s for s, (_, kinds) in SAMPLE_KINDS.items() if kind in kinds]
        return self.samples[_rng(self.seed, "sample", home, year, kind).choice(stems)]

    def factor(self, home: str, sample: Sample, year: int) -> float:
        rng = _rng(self.seed, "factor", home, sample.stem, year)
        lo, hi = WEIGHT[self.regions[home][1]]
        return rng.uniform(0.5, 1.6) * rng.uniform(lo, hi)

    # -- text ----------------------------------------------------------------------------
    @staticmethod
    def _scale(m: re.Match[str], factor: float) -> str:
        s = m.group(1)
        if m.group(2) in ("%", "％"):
            return s
        full = s != s.translate(_FW)
        a = s.translate(_FW)
        value = float(a) * factor
        decimals = len(a.split(".")[1]) if "." in a else 0
        if m.group(2) in ("亿元", "万元", "元"):
            # keep the precision of a scaled-down amount (794亿元 × 0.03 → 23.82亿元, not 24)
            digits = len(a.replace(".", "").lstrip("0"))
            decimals = min(2, max(decimals, digits - len(str(int(value)))))
        out = f"{value:.{decimals}f}" if decimals else str(max(1, round(value)))
        return out.translate(_HW) if full else out

    def _retell(self, text: str, sample: Sample, year: int, kind: str, factor: float) -> str:
        text = YEAR_RE.sub(lambda m: str(int(m.group(1)) + year - sample.base_year), text)
        if kind == "q3":
            text = re.sub(r"1\s*[-—–]\s*8月", "前三季度", text)
        return NUMBER_RE.sub(lambda m: self._scale(m, factor), text)

    @lru_cache(maxsize=256)
    def xj_text(self, year: int, kind: str) -> tuple[str, str]:
        """Title and body of 新疆's document for (year, kind): the sample as written, its
        prefectures permuted."""
        sample = self.sample_for(XJ, year, kind)
        factor = self.factor(XJ, sample, year)
        perm = _rng(self.seed, "places", year, kind).sample(self.pref_names, len(self.pref_names))
        places = dict(zip(self.pref_names, perm))
        body = "\n\n".join(self.pref_re.sub(lambda m: places[m.group(0)], p) for p in sample.paragraphs)
        return (self._retell(sample.title, sample, year, kind, factor),
                self._retell(body, sample, year, kind, factor))

    def local_text(self, home: str, year: int, kind: str) -> tuple[str, str]:
        """Title and body of a prefecture's or county's document: sub-region paragraphs dropped,
        全区/我区 made its own, its name in the title and the lead."""
        name, level, _ = self.regions[home]
        suffix = relative_suffix(name, level)
        sample = self.sample_for(home, year, kind)
        factor = self.factor(home, sample, year)
        paras = [p for p in sample.paragraphs if not self.subregion_re.search(p)]
        body = "\n\n".join(paras)
        for old, new in (("自治区商务厅", f"{name}商务局"), ("全自治区", f"全{suffix}"), ("全疆", f"全{suffix}"),
                         ("全区", f"全{suffix}"), ("我区", f"我{suffix}"), ("自治区", name),
                         ("新疆日报", f"{name}融媒体中心"), ("天山网", f"{name}发布")):
            body = body.replace(old, new)
        title = re.sub("我区|全区", name, sample.title)
        if name not in title:
            title = f"{name}{title}"
        return (self._retell(title, sample, year, kind, factor),
                self._retell(body, sample, year, kind, factor))

    def names_home(self, text: str, home: str) -> bool:
        return any(a in text for a in self.aliases[home])

    def document(self, i: int) -> tuple[str, str]:
        home, year, kind, again = self.slot(i)
        if self.regions[home][1] == "prefecture" and self.names_home("".join(self.xj_text(year, kind)), home):
            # 新疆's document for this period states this prefecture's share or level: a
            # prefecture document would have to agree with it; one of its counties tells it
            counties = self.counties_of[home]
            home = counties[year % len(counties)] if counties else XJ
        if home == XJ:
            title, body = self.xj_text(year, kind)
        else:
            title, body = self.local_text(home, year, kind)
        sample = self.sample_for(home, year, kind)
        rng = _rng(self.seed, "doc", i)
        pub = sample.published
        pub_year = int(pub[:4]) + year - sample.base_year
        published = f"{pub_year}{pub[4:8]}{rng.randint(1, 28):02d}"
        if again and home != XJ:   # a restatement: another outlet of the same place
            body = body.replace(f"{self.regions[home][0]}融媒体中心",
                                f"{self.regions[home][0]}{OUTLETS[again % len(OUTLETS)]}")
        stem = f"bench-{i:07d}"
        text = (f"---\nid: {stem}\nurl: https://example.org/tongbi-bench/{stem}\ntitle: {title}\n"
                f"published: {published}\n---\n\n# {title}\n\n{body}\n")
        return stem, text


def generate(out: Path, n: int, seed: int = 7, start: int = 0) -> Path:
    """Write documents start..start+n-1 under out/<shard>/; returns out. Skips when out
    already holds them."""
    marker = out / (f".complete-{n}-{seed}-v{VERSION}" if not start else f".complete-{start}+{n}-{seed}-v{VERSION}")
    if marker.exists():
        return out
    gen = Generator(seed)
    for i in range(start, start + n):
        stem, text = gen.document(i)
        shard = out / f"{i // SHARD:04d}"
        if i == start or i % SHARD == 0:
            shard.mkdir(parents=True, exist_ok=True)
        (shard / f"{stem}.md").write_text(text, encoding="utf-8")
    marker.touch()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("n", type=int)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--start", type=int, default=0, help="first document number (e.g. one more document)")
    args = ap.parse_args(argv)
    generate(args.out, args.n, args.seed, args.start)
    print(f"{args.n} documents in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
