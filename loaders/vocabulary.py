"""The vocabularies the extractor reads: regions, industries, metrics, units, breakdown terms
(dbt seeds in `seeds/`) and the phrasing of periods and measures (`loaders/grammar/`).

Adding a prefecture, an industry cluster or a unit means adding a CSV row, not code.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .fastregex import compile_fast, first_chars
from .gazetteer import Gazetteer, GazetteerError, load_gazetteer, walk_lineage
from .gazetteer import read_rows as gazetteer_rows

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SEEDS_DIR = PROJECT_ROOT / "seeds"
GRAMMAR_DIR = Path(__file__).resolve().parent / "grammar"


class VocabularyError(Exception):
    def __init__(self, path: Path, line: int, reason: str) -> None:
        self.path, self.line, self.reason = str(path), line, reason
        super().__init__(f"{path}:{line}: {reason}")


def read_rows(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """Rows of a vocabulary CSV with their line numbers; missing columns name the file."""
    try:
        return gazetteer_rows(path, required)
    except GazetteerError as exc:
        raise VocabularyError(Path(exc.path), exc.line, exc.reason) from None


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    level: str
    parent: str
    name_en: str = ""
    source: str = ""


@dataclass(frozen=True)
class Unit:
    raw: str
    unit: str
    factor: float
    keep: bool


@dataclass(frozen=True)
class PeriodPhrase:
    pattern: re.Pattern[str]
    kind: str
    end_month: str        # a number, a group name of the pattern ("end"), "ref" (publication month) or
                          # "carried" (the end month of the period named before it)
    year: str             # "", "ref", "prev", or a group name ("year")
    priority: int
    starts: re.Pattern[str] | None = None   # what a match can start with (None: anything)


@dataclass(frozen=True)
class MeasureCue:
    pattern: re.Pattern[str]
    measure: str
    sign: int
    applies_to: str       # percent | pp | times | amount | any
    scope: str            # goal: anywhere before it in the sentence, checked first; clause: text
                          # before the number in its clause; sentence: anywhere before it in the
                          # sentence; after: right after the number; goal_after: right after the
                          # number, checked before the clause (增速19%的要求 is a goal, not growth)
    offset: float = 0.0   # added after the sign: 是去年同期的2倍 is growth of 200 − 100 percent


@dataclass(frozen=True)
class Vocabulary:
    regions: dict[str, Region]
    region_aliases: dict[str, str]        # alias -> one region: see load_vocabulary
    industries: dict[str, str]            # code -> name_zh
    industry_aliases: dict[str, str]
    metrics: dict[str, dict[str, str]]    # code -> row
    metric_aliases: dict[str, str]
    units: dict[str, Unit]
    scales: dict[str, float]
    breakdown_terms: dict[str, tuple[str, str]]
    periods: tuple[PeriodPhrase, ...]
    cues: tuple[MeasureCue, ...]
    relative_regions: dict[str, str]      # 全省/全市/该县 -> the level it refers to
    park_suffixes: tuple[str, ...]        # 经济开发区, 产业园区: a place name before them names a park
    name_suffixes: dict[str, tuple[str, ...]]  # region/industry -> suffixes of names we may not know yet
    gazetteer: Gazetteer | None = None     # every alias with all its regions, and the matcher
    bare_values: tuple[tuple[str, str], ...] = ()   # (cue, unit): 综合指数410.38, 性别比为106.9
    not_counted: tuple[str, ...] = ()     # words after a count that make it no statistic (次浏览)
    ordinal_names: tuple[str, ...] = ()   # classifiers after 第N that make a name, not a count (第3次会议)
    duration_words: tuple[str, ...] = ()  # words before a number of days that make it a duration (为期3天)
    # lineages and provinces already walked: asked for the same few places thousands of times
    _lineages: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False, compare=False)
    _provinces: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    _short_names: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def level_class(self, code: str) -> str:
        """country | province | prefecture | county | grouping | corps | division | regiment | zone"""
        return self.regions[code].level if code in self.regions else ""

    def lineage(self, code: str) -> list[str]:
        """The region and its ancestors, nearest first."""
        found = self._lineages.get(code)
        if found is None:
            found = self._lineages[code] = walk_lineage(self.regions, code)
        return list(found)

    def province_of(self, code: str) -> str:
        found = self._provinces.get(code)
        if found is None:
            found = self._provinces[code] = next(
                (c for c in self.lineage(code) if self.level_class(c) == "province"), "")
        return found

    def short_name(self, code: str) -> str:
        """The place's name as written in short (新疆, 广西, 四川): its shortest alias of two
        characters or more that begins its full name; the full name when it has none."""
        found = self._short_names.get(code)
        if found is None:
            name = self.region_name(code)
            found = min((a for a, c in self.region_aliases.items() if c == code and len(a) >= 2 and name.startswith(a)),
                        key=len, default=name)
            self._short_names[code] = found
        return found

    def region_name(self, code: str) -> str:
        r = self.regions.get(code)
        return r.name if r else ""

    def region_parent(self, code: str) -> str:
        r = self.regions.get(code)
        return r.parent if r else ""


def _compile(path: Path, line: int, pattern: str) -> re.Pattern[str]:
    try:
        return compile_fast(pattern)
    except re.error as exc:
        raise VocabularyError(path, line, f"bad pattern {pattern!r}: {exc}") from None


def load_vocabulary(seeds_dir: Path = SEEDS_DIR, grammar_dir: Path = GRAMMAR_DIR) -> Vocabulary:
    try:
        gazetteer = load_gazetteer(seeds_dir, grammar_dir)
    except GazetteerError as exc:
        raise VocabularyError(Path(exc.path), exc.line, exc.reason) from None
    regions = {c: Region(c, r.name_zh, r.level, r.parent, r.name_en, r.source)
               for c, r in gazetteer.regions.items()}

    def aliases(path: Path, key: str, known: set[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for line, r in read_rows(path, ("alias", key)):
            if r[key] not in known:
                raise VocabularyError(path, line, f"{key} {r[key]!r} is not defined")
            if r["alias"] in out:
                raise VocabularyError(path, line, f"alias {r['alias']!r} is listed twice")
            out[r["alias"]] = r[key]
        return out

    # for callers that want one region per name: the first (highest-level) region of each alias
    # that is a place without looking at what follows it (needs_context aliases need the matcher),
    # and the hand-kept ones (和田), which such callers always matched bare
    def plain(r) -> bool:
        return not r.needs_context or r.kind == "curated"

    region_aliases = {a: next(r.code for r in rows if plain(r))
                      for a, rows in gazetteer.aliases.items() if any(plain(r) for r in rows)}
    industries = {r["industry_code"]: r["name_zh"]
                  for _, r in read_rows(seeds_dir / "industries.csv", ("industry_code", "name_zh"))}
    industry_aliases = aliases(seeds_dir / "industry_aliases.csv", "industry_code", set(industries))
    metrics = {r["metric_code"]: r for _, r in read_rows(seeds_dir / "metrics.csv", ("metric_code", "name_zh", "unit"))}
    metric_aliases = aliases(seeds_dir / "metric_aliases.csv", "metric_code", set(metrics))

    units: dict[str, Unit] = {}
    p = seeds_dir / "units.csv"
    for line, r in read_rows(p, ("unit_raw", "unit", "factor", "is_statistic")):
        try:
            factor = float(r["factor"])
        except ValueError:
            raise VocabularyError(p, line, f"factor {r['factor']!r} is not a number") from None
        units[r["unit_raw"]] = Unit(r["unit_raw"], r["unit"], factor, r["is_statistic"] != "false")
    scales = {r["prefix"]: float(r["factor"])
              for _, r in read_rows(seeds_dir / "unit_scales.csv", ("prefix", "factor"))}
    breakdown_terms = {r["term"]: (r["breakdown_key"], r["breakdown_value"])
                       for _, r in read_rows(seeds_dir / "breakdown_terms.csv",
                                             ("term", "breakdown_key", "breakdown_value"))}

    periods = []
    p = grammar_dir / "period_phrases.csv"
    for line, r in read_rows(p, ("pattern", "period_kind", "end_month", "year", "priority")):
        pattern = _compile(p, line, r["pattern"])   # first: a bad pattern is named with its line
        first = first_chars(r["pattern"])
        periods.append(PeriodPhrase(pattern, r["period_kind"], r["end_month"],
                                    r["year"], int(r["priority"] or 0), re.compile(first) if first else None))
    cues = []
    p = grammar_dir / "measure_cues.csv"
    for line, r in read_rows(p, ("pattern", "measure", "sign", "applies_to", "scope")):
        if r["scope"] not in ("goal", "goal_after", "clause", "sentence", "after"):
            raise VocabularyError(p, line, f"scope {r['scope']!r} is not goal, goal_after, clause, sentence or after")
        try:
            offset = float(r.get("offset") or 0)
        except ValueError:
            raise VocabularyError(p, line, f"offset {r['offset']!r} is not a number") from None
        cues.append(MeasureCue(_compile(p, line, r["pattern"]), r["measure"], int(r["sign"] or 1),
                               r["applies_to"], r["scope"], offset))
    p = grammar_dir / "relative_regions.csv"
    relative = {r["term"]: r["level"] for _, r in read_rows(p, ("term", "level"))}
    parks = tuple(r["suffix"] for _, r in read_rows(grammar_dir / "park_suffixes.csv", ("suffix",)))
    suffixes: dict[str, list[str]] = {}
    for _, r in read_rows(grammar_dir / "name_patterns.csv", ("kind", "suffix")):
        suffixes.setdefault(r["kind"], []).append(r["suffix"])
    bare = tuple((r["cue"], r["unit"]) for _, r in read_rows(grammar_dir / "bare_values.csv", ("cue", "unit")))
    return Vocabulary(regions, region_aliases, industries, industry_aliases, metrics, metric_aliases,
                      units, scales, breakdown_terms, tuple(periods), tuple(cues), relative, parks,
                      {k: tuple(v) for k, v in suffixes.items()}, gazetteer, bare,
                      tuple(r["word"] for _, r in read_rows(grammar_dir / "not_counted.csv", ("word",))),
                      tuple(r["classifier"] for _, r in read_rows(grammar_dir / "ordinal_names.csv", ("classifier",))),
                      tuple(r["word"] for _, r in read_rows(grammar_dir / "duration_words.csv", ("word",))))
