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

* **home** — 新疆 (全区, the samples as written, prefectures permuted within 北疆 and 南疆), one of the 14 prefectures
  (全市/全州/全地区) or one of the counties named …县 (全县). A prefecture or county document keeps
  only the paragraphs that name no sub-region (北疆/南疆, prefectures, the free-trade zone), names
  its home in the title and the lead, and its relative references (全区 → 全县) resolve to it.
* **period** — the sample's own (一季度, 上半年, 1—8月, 全年; 1—8月 also re-told as 前三季度;
  the April briefs as stocks and plans, for 新疆 only); **year** 2000–2039, every year written in
  the sample shifted by the same offset (较2022年 stays the year before).
* **figures** — a function of the slot only. The sample is picked by (year, period), so every
  home of a period tells the same sample; 新疆's levels and counts are the sample's times one
  factor per year. Each grouping's level (北疆, 南疆: the sample's own) is divided among its
  prefectures: those 新疆's document states (a level, or a share of 全区) get that figure, the
  others the rest by weights per (prefecture, year); a prefecture's document is its sample
  scaled to its part. A county gets a part of its prefecture below 1 / (the prefecture's
  number of …县). So a prefecture never exceeds its grouping nor a county its prefecture, and a
  grouping's prefectures, when all of them have a document, add up to it. (Weights drawn
  independently per home, as in v2, made 北疆's seven prefectures add up to twice 北疆 and put
  single prefectures above 南疆: the gate quarantined them.)

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
VERSION = 3   # in the completion marker: a corpus of an older generator is not taken for this one

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
GROUPINGS = ("XJN", "XJS")                   # the groupings of 全区 the samples state levels of
OUTLETS = ("融媒体中心", "日报", "发布", "广播电视台")

# the sample's 全区 total and grouping levels (亿元), and what it states of a named prefecture
TOTAL_RE = re.compile(r"区外资金到位([\d.]+)亿元")
GROUPING_RE = {"XJN": re.compile(r"北疆地区[^\d%]*?([\d.]+)亿元"), "XJS": re.compile(r"南疆地区[^\d%]*?([\d.]+)亿元")}
YEAR_RE = re.compile(r"(?<!\d)((?:19|20)\d\d)(?=年|-\d\d-)")
# a level or count: shares, rates, 个百分点 and 倍 are left as written
NUMBER_RE = re.compile(r"(?<![\d.０-９．])([\d０-９]+(?:[.．][\d０-９]+)?)(?=\s*(亿元|万元|元|个(?!援疆|百分点)|家|人|万人|%|％))")
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
    total: float | None = None                       # 全区's level, 亿元 (None: no such figure)
    groupings: tuple[tuple[str, float], ...] = ()    # (grouping code, level 亿元)
    named: tuple[tuple[str, float], ...] = ()        # (prefecture name, level 亿元 the sample states)


def sample_figures(paras: list[str], pref_re: re.Pattern[str]) -> tuple[float | None, tuple[tuple[str, float], ...],
                                                                      tuple[tuple[str, float], ...]]:
    """The sample's 全区 total, grouping levels and named prefectures' levels (from a stated
    level, 乌鲁木齐市（1390.28亿元）, or a share of 全区, …分别为17.03%、16.14%…)."""
    body = "\n".join(paras)
    m = TOTAL_RE.search(body)
    if m is None:
        return None, (), ()
    total = float(m.group(1))
    groupings = tuple((code, float(g.group(1))) for code, rx in GROUPING_RE.items() if (g := rx.search(body)))
    named: dict[str, float] = {}
    for sentence in (x for p in paras for x in p.split("。")):
        names = pref_re.findall(sentence)
        for n in names:
            lv = re.search(re.escape(n) + r"（([\d.]+)亿元）", sentence)
            if lv:
                named[n] = float(lv.group(1))
        head, _, figures = sentence.partition("分别为")
        if figures and "占" in head:   # shares of 全区, not growth rates (增速分别为…)
            for n, share in zip(names, re.findall(r"([\d.]+)%", figures)):
                named[n] = total * float(share) / 100
    return total, groupings, tuple(named.items())


def load_samples(pref_re: re.Pattern[str]) -> dict[str, Sample]:
    out: dict[str, Sample] = {}
    for stem, (base, _) in SAMPLE_KINDS.items():
        text = (SAMPLES / f"{stem}.md").read_text(encoding="utf-8")
        _, front, body = text.split("---", 2)
        meta = dict(line.split(":", 1) for line in front.strip().splitlines())
        paras = [p.strip() for p in re.split(r"\n\s*\n", body) if p.strip()]
        paras = [p for p in paras if not p.startswith("# ")]   # the heading is the title again
        out[stem] = Sample(stem, base, meta["title"].strip(), meta["published"].strip(), tuple(paras),
                           *sample_figures(paras, pref_re))
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
        self.regions, self.aliases = load_regions()
        # the samples are Xinjiang's bulletins: they are re-told for Xinjiang's own places only
        self.prefectures = sorted(c for c, r in self.regions.items() if r[1] == "prefecture" and r[2] == XJ)
        counties = sorted(c for c, r in self.regions.items() if r[1] == "county" and r[0].endswith("县")
                          and r[2] in self.prefectures)
        self.counties_of = {p: [c for c in counties if self.regions[c][2] == p] for p in self.prefectures}
        self.homes = [XJ] + self.prefectures + counties
        self.pref_names = [self.regions[c][0] for c in self.prefectures]
        self.pref_re = re.compile("|".join(sorted(map(re.escape, self.pref_names), key=len, reverse=True)))
        self.samples = load_samples(self.pref_re)
        with open(ROOT / "seeds" / "region_groupings.csv", encoding="utf-8") as fh:
            self.grouping_of = {r["member_code"]: r["grouping_code"] for r in csv.DictReader(fh)
                                if r["grouping_code"] in GROUPINGS and r["member_code"] in self.prefectures}
        self.code_of = {self.regions[c][0]: c for c in self.prefectures}
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

    def sample_for(self, year: int, kind: str) -> Sample:
        """One sample per (year, period): every home's document of the period scales the same
        bulletin, so each of its levels is the same part of 新疆's."""
        stems = [s for s, (_, kinds) in SAMPLE_KINDS.items() if kind in kinds]
        return self.samples[_rng(self.seed, "sample", year, kind).choice(stems)]

    def permutation(self, year: int, kind: str) -> dict[str, str]:
        # keyed by the sample, not the period: 1—8月 and 前三季度 re-tell one sample and state
        # the same figures (the same 全年 target) for the same places
        """新疆's document names its prefectures permuted, each within its grouping: the levels
        the sample states of a grouping's prefectures stay below the grouping's."""
        out: dict[str, str] = {}
        for g in GROUPINGS:
            names = [self.regions[c][0] for c in self.prefectures if self.grouping_of.get(c) == g]
            out.update(zip(names, _rng(self.seed, "places", year, self.sample_for(year, kind).stem, g).sample(names, len(names))))
        return out

    def parts(self, year: int, kind: str) -> dict[str, float]:
        return self._parts(year, self.sample_for(year, kind).stem)

    @lru_cache(maxsize=1024)
    def _parts(self, year: int, stem: str) -> dict[str, float]:
        """Each prefecture's part of 全区 for the period: a named prefecture's stated level,
        the rest of its grouping's level divided among the others by weights per year."""
        sample = self.samples[stem]
        if not sample.total or not sample.groupings:
            return {}
        perm = self.permutation(year, next(k for k in SAMPLE_KINDS[stem][1]))
        stated = {self.code_of[perm[n]]: level / sample.total for n, level in sample.named}
        out = dict(stated)
        for g, level in sample.groupings:
            others = [c for c in self.prefectures if self.grouping_of.get(c) == g and c not in stated]
            rest = level / sample.total - sum(v for c, v in stated.items() if self.grouping_of.get(c) == g)
            if rest <= 0:
                raise ValueError(f"{sample.stem}: the stated prefectures of {g} exceed its level")
            w = {c: _rng(self.seed, "weight", c, year).uniform(0.3, 1.0) for c in others}
            out.update({c: rest * w[c] / sum(w.values()) for c in others})
        return out

    def factor(self, home: str, year: int, kind: str) -> float:
        """What every level and count of the period's sample is multiplied by for this home."""
        xj = _rng(self.seed, "factor", year).uniform(0.5, 1.6)
        name, level, parent = self.regions[home]
        if level == "province":
            return xj
        if level == "prefecture":
            return xj * self.parts(year, kind).get(home, 0.15)
        # a part of its prefecture shared with the other …县 (the homes): below it, and large
        # enough that 2-decimal 亿元 figures keep their shares within the gate's 0.1 pp
        county = _rng(self.seed, "county", home, year).uniform(0.4, 0.9) / max(1, len(self.counties_of[parent]))
        return xj * self.parts(year, kind).get(parent, 0.15) * county

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
            # keep the precision of a scaled-down amount (794亿元 × 0.03 → 23.82亿元, not 24); below
            # 10亿元 to the 万元 (a county's 3.9712亿元): at 2 decimals a share moved by 0.1 pp
            digits = len(a.replace(".", "").lstrip("0"))
            cap = 2 if value >= 10 or m.group(2) != "亿元" else 4
            decimals = min(cap, max(decimals, digits - len(str(int(value)))))
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
        sample = self.sample_for(year, kind)
        factor = self.factor(XJ, year, kind)
        places = self.permutation(year, kind)
        body = "\n\n".join(self.pref_re.sub(lambda m: places[m.group(0)], p) for p in sample.paragraphs)
        return (self._retell(sample.title, sample, year, kind, factor),
                self._retell(body, sample, year, kind, factor))

    def local_text(self, home: str, year: int, kind: str) -> tuple[str, str]:
        """Title and body of a prefecture's or county's document: sub-region paragraphs dropped,
        全区/我区 made its own, its name in the title and the lead."""
        name, level, _ = self.regions[home]
        suffix = relative_suffix(name, level)
        sample = self.sample_for(year, kind)
        factor = self.factor(home, year, kind)
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
        sample = self.sample_for(year, kind)
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
