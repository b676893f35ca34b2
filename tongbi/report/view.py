"""What the report's template shows: cells, tables, figures and sections, and how figures,
units and periods are written in them.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

BREAKDOWN_KEY_EN = {"资金来源": "source of funds", "投资主体": "type of investor",
                    "园区": "zone or park", "城乡": "urban / rural"}
MEASURES: dict[str, tuple[str, str]] = {
    "level": ("数值", "level"), "yoy_pct": ("同比", "YoY"), "share_pct": ("占比", "share"),
    "target": ("目标", "target"), "change": ("增量", "change"),
    "completion_pct": ("完成率", "completion"), "pp_change": ("百分点变化", "pp change"),
    "contribution_pct": ("贡献率", "contribution"), "other": ("其他", "other"),
}
PERIOD_KINDS = {"ytd": "累计", "as_of": "截至", "plan": "计划", "since": "以来累计", "year": "全年",
                "quarter": "单季", "month": "单月"}
CONFLICT_KINDS: dict[str, tuple[str, str, bool]] = {   # label zh, explanation, to review?
    "same_publication": ("同次发布不一致", "another value from the chosen figure's publication date, "
                         "not a rounding: two statistics under one key, usually an extraction error", True),
    "other_publication": ("其他发布不一致", "a disagreement with another publication", True),
    "superseded_vintage": ("已被修订", "the figure of an earlier publication that a later one revised", False),
    "rounded_restatement": ("取整重述", "a coarser figure within rounding of the chosen one: expected", False),
}


def web_url(url: str | None) -> str | None:
    """A source URL fit for a link: http(s) only, so that no bulletin's front matter can put a
    script or a local file behind a link."""
    return url if url and url.split(":", 1)[0].lower() in ("http", "https") else None


# ---------------------------------------------------------------- units and formatting


@dataclass(frozen=True)
class UnitDisplay:
    zh: str
    en: str
    divisor: float


UNITS: dict[str, UnitDisplay] = {
    "CNY": UnitDisplay("亿元", "100 million CNY", 1e8),
    "USD": UnitDisplay("亿美元", "100 million USD", 1e8),
    "count": UnitDisplay("个", "count", 1),
    "person_times": UnitDisplay("万人次", "10,000 person-times", 1e4),
    "mu": UnitDisplay("万亩", "10,000 mu", 1e4),
    "ha": UnitDisplay("公顷", "hectares", 1),
    "km2": UnitDisplay("平方公里", "km²", 1),
    "m2": UnitDisplay("万平方米", "10,000 m²", 1e4),
    "km": UnitDisplay("公里", "km", 1),
    "kWh": UnitDisplay("亿千瓦时", "100 million kWh", 1e8),
    "kW": UnitDisplay("万千瓦", "10,000 kW", 1e4),
    "tonne": UnitDisplay("万吨", "10,000 tonnes", 1e4),
    "m3": UnitDisplay("万立方米", "10,000 m³", 1e4),
    "percent": UnitDisplay("%", "percent", 1),
    "pp": UnitDisplay("个百分点", "percentage points", 1),
}


def unit_display(unit: str | None) -> UnitDisplay:
    return UNITS.get(unit or "", UnitDisplay(unit or "", unit or "", 1))


def scaled(value: float | None, unit: UnitDisplay) -> float | None:
    return None if value is None else value / unit.divisor


def fmt_exact(value: float | None) -> str:
    """A figure with the decimals it needs (at most 4), thousands separated: 909.41, 9,300."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    for decimals in range(5):
        if abs(round(value, decimals) - value) < 1e-9 * max(1.0, abs(value)):
            return f"{value:,.{decimals}f}"
    return f"{value:,.4f}"


def fmt_fixed(value: float | None, decimals: int = 2, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:+,.{decimals}f}" if signed else f"{value:,.{decimals}f}"


def period_label(year: int | None, end_month: int | None, kind: str | None) -> str:
    """How bulletins name a period: 2023年1-8月, 截至2025年4月, 2025年计划."""
    if year is None:
        return "期间不明"
    m = end_month
    if kind in ("ytd", "year"):
        if m in (None, 12):
            return f"{year}年全年" if kind == "year" else f"{year}年1-12月"
        return f"{year}年1月" if m == 1 else f"{year}年1-{m}月"
    if kind == "plan":
        return f"{year}年计划"
    if kind == "as_of":
        return f"截至{year}年{m}月" if m else f"截至{year}年"
    if kind == "since":
        return f"截至{year}年{m}月累计" if m else f"截至{year}年累计"
    label = f"{year}年{m}月" if m else f"{year}年"
    return f"{label}（{PERIOD_KINDS.get(kind or '', kind or '')}）"


def slug(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z_.-]+", "-", text).strip("-") or "x"


def doc_anchor(doc_id: str) -> str:
    return "doc-" + slug(doc_id)


def parse_breakdown(breakdown: str | None) -> list[tuple[str, str]]:
    if not breakdown or breakdown == "none":
        return []
    pairs = []
    for part in breakdown.split(";"):
        if "=" in part:
            key, value = part.split("=", 1)
            pairs.append((key.strip(), value.strip()))
    return pairs


# ---------------------------------------------------------------- view model (what the template shows)


@dataclass
class Cell:
    text: str = ""
    href: str | None = None
    css: str = ""              # num, computed, flag, sample …
    title: str | None = None
    parts: list[Cell] = field(default_factory=list)   # shown one per line instead of `text`


@dataclass(frozen=True)
class Column:
    zh: str
    en: str
    numeric: bool = False


@dataclass
class Table:
    id: str
    title_zh: str
    title_en: str
    columns: list[Column]
    rows: list[list[Cell]]
    note: str = ""


@dataclass(frozen=True)
class Figure:
    id: str
    src: str
    width: int
    height: int
    alt: str
    note: str = ""


@dataclass
class Block:
    id: str
    title_zh: str
    title_en: str
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class MetricSection:
    id: str
    code: str
    name_zh: str
    name_en: str
    unit: UnitDisplay
    kind: str
    headline: list[Cell]
    blocks: list[Block]
    n_observations: int


@dataclass
class Anchors:
    """mention_id → the id of its row in the provenance appendix (unique, URL-safe)."""
    by_mention: dict[str, str] = field(default_factory=dict)

    def add(self, mention_id: str) -> str:
        if mention_id not in self.by_mention:
            base = "m-" + slug(mention_id)
            anchor, n = base, 1
            taken = set(self.by_mention.values())
            while anchor in taken:
                n += 1
                anchor = f"{base}-{n}"
            self.by_mention[mention_id] = anchor
        return self.by_mention[mention_id]

    def href(self, mention_id: str | None) -> str | None:
        if mention_id and mention_id in self.by_mention:
            return "#" + self.by_mention[mention_id]
        return None
