"""`tongbi report`: a static HTML report of the published warehouse.

One HTML file (`index.html`) and its PNG charts (`img/`), opening without a server or network:

- per metric: the year-to-date and single-quarter series by region, the reported growth rates
  beside the ones recomputed from the warehouse's own levels, and the share breakdowns
  (北疆/南疆, 三次产业, and every `key=value` breakdown of the mentions: 资金来源, 投资主体, 园区 …);
- the data-quality summary of the last gate run (`audit_results`), the names the vocabularies
  lack (`unresolved_names`) and the conflicts between mentions (`conflicts`, when present);
- provenance: every figure in a table links to its mention in the appendix, which gives the
  quote, the document, the character offsets and the source URL.

The warehouse is opened read-only, read into memory and closed before anything is drawn.

Charts are Vega-Lite specifications (Altair) rendered to PNG by vl-convert, whose renderer knows
no system font: it draws Chinese as boxes unless a CJK font is registered. `find_cjk_font` looks
first in the pinned `pylopdf-fonts-zh-cn` package (Noto Sans SC inside site-packages, so a plain
`pip install` brings it), then in the usual system font folders (Debian's fonts-noto-cjk and
fonts-wqy-microhei/zenhei, macOS, Windows); `TONGBI_CJK_FONT_DIR` names a folder to use instead.
"""
from __future__ import annotations

import datetime as dt
import importlib.util
import json
import math
import os
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from .errors import TongbiError

Row = dict[str, Any]

TEMPLATE_DIR = Path(__file__).parent
TEMPLATE_NAME = "report.html.j2"      # the page: Jinja2, autoescaped
IMAGE_SUBDIR = "img"
FONT_PACKAGE = "pylopdf_fonts_zh_cn"
FONT_DIR_ENV = "TONGBI_CJK_FONT_DIR"

# Font files vl-convert can use, with the family name to ask for: the pinned package's first,
# then system fonts (Debian: fonts-noto-cjk, fonts-wqy-microhei, fonts-wqy-zenhei).
FONT_CANDIDATES: tuple[tuple[str, str], ...] = (
    ("NotoSansSC-Regular.otf", "Noto Sans SC"),
    ("NotoSansSC-Regular.ttf", "Noto Sans SC"),
    ("NotoSansCJK-Regular.ttc", "Noto Sans CJK SC"),
    ("NotoSansCJKsc-Regular.otf", "Noto Sans CJK SC"),
    ("SourceHanSansSC-Regular.otf", "Source Han Sans SC"),
    ("wqy-microhei.ttc", "WenQuanYi Micro Hei"),
    ("wqy-zenhei.ttc", "WenQuanYi Zen Hei"),
    ("PingFang.ttc", "PingFang SC"),
    ("msyh.ttc", "Microsoft YaHei"),
)
SYSTEM_FONT_DIRS: tuple[str, ...] = (
    "/usr/share/fonts/opentype/noto",
    "/usr/share/fonts/truetype/noto",
    "/usr/share/fonts/noto-cjk",
    "/usr/share/fonts/google-noto-cjk",
    "/usr/share/fonts/opentype/source-han-sans",
    "/usr/share/fonts/truetype/wqy",
    "/usr/share/fonts/wqy-microhei",
    "/usr/share/fonts/wqy-zenhei",
    "/System/Library/Fonts",
    "C:/Windows/Fonts",
)

REQUIRED_TABLES = ("fct_metric_mentions", "fct_observations", "fct_region_month_ytd",
                   "fct_region_quarter", "dim_metric", "dim_region", "dim_industry")
QUERIES: dict[str, str] = {
    "fct_metric_mentions": "select * from fct_metric_mentions order by published nulls first, doc_id, mention_seq",
    "fct_observations": "select * from fct_observations",
    "fct_region_month_ytd": "select * from fct_region_month_ytd order by year, end_month",
    "fct_region_quarter": "select * from fct_region_quarter order by year, quarter",
    "dim_metric": "select * from dim_metric",
    "dim_region": "select * from dim_region",
    "dim_industry": "select * from dim_industry",
    "documents": "select * from documents order by published nulls first, doc_id",
    "audit_results": ("select * from audit_results where run_id = (select run_id from audit_results "
                      "order by checked_at desc limit 1) order by success, severity, suite, expectation"),
    "conflicts": "select * from conflicts order by metric_code, region_code, period_year, period_end_month, measure",
    "unresolved_names": "select * from unresolved_names order by n_mentions desc, raw_name",
    "rejected_documents": "select * from rejected_documents",
}

MAX_SERIES_REGIONS = 8        # lines in one time-series chart; the rest are in the table
MAX_YOY_BARS = 24             # region × period pairs in the growth chart (the latest)
CHART_WIDTH = 760             # CSS pixels; PNGs are drawn at `scale` times this
REPORTED = "报告 Reported"
COMPUTED = "计算 Computed"
COLOR_REPORTED = "#1f4e79"
COLOR_COMPUTED = "#e07b39"
REGION_PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b",
                  "#9d755d", "#1b9e77", "#7570b3", "#d95f02", "#ff9da6")
PART_PALETTE = ("#2f6f8f", "#e07b39", "#5b9a4b", "#c44e52", "#8172b2", "#937860", "#da8bc3",
                "#8c8c8c", "#ccb974", "#64b5cd")
MAX_BREAKDOWN_BARS = 24       # bars in one breakdown chart (the latest snapshots)
SECTOR_COLORS = {"PRIMARY": "#54a24b", "SECONDARY": "#4c78a8", "TERTIARY": "#f58518"}
SECTORS = ("PRIMARY", "SECONDARY", "TERTIARY")
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


class ReportError(TongbiError):
    """The report cannot be written: no warehouse, or one without the marts."""


# ---------------------------------------------------------------- options and results

@dataclass(frozen=True)
class ReportOptions:
    warehouse: Path = Path("warehouse.duckdb")
    out_dir: Path | None = None        # default: reports/ beside the warehouse
    scale: float = 2.0                 # PNG pixels per CSS pixel

    def output_dir(self) -> Path:
        return self.out_dir if self.out_dir is not None else self.warehouse.parent / "reports"


@dataclass(frozen=True)
class FontChoice:
    family: str
    directory: Path
    source: str            # "package pylopdf-fonts-zh-cn", "system", "TONGBI_CJK_FONT_DIR"


@dataclass(frozen=True)
class ReportResult:
    index: Path
    images: tuple[Path, ...]
    n_metrics: int
    n_mentions: int
    font: FontChoice | None


# ---------------------------------------------------------------- reading the warehouse

@dataclass(frozen=True)
class Warehouse:
    path: Path
    tables: Mapping[str, list[Row]]

    def rows(self, name: str) -> list[Row]:
        return self.tables.get(name, [])

    def has(self, name: str) -> bool:
        return name in self.tables


def read_warehouse(path: Path) -> Warehouse:
    """Every table the report needs, read into memory; the connection is closed on return."""
    import duckdb

    if not path.is_file():
        raise ReportError(f"no warehouse at {path}: build one with `tongbi run`")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise ReportError(f"cannot open {path} read-only: {exc}") from exc
    try:
        present = {r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'main'").fetchall()}
        missing = [t for t in REQUIRED_TABLES if t not in present]
        if missing:
            raise ReportError(f"{path} lacks {', '.join(missing)}: is it a tongbi warehouse?")
        tables: dict[str, list[Row]] = {}
        for name, sql in QUERIES.items():
            if name in present:
                cur = con.execute(sql)
                columns = [d[0] for d in cur.description]
                tables[name] = [dict(zip(columns, r)) for r in cur.fetchall()]
    finally:
        con.close()
    return Warehouse(path, tables)


# ---------------------------------------------------------------- fonts

def find_cjk_font(environ: Mapping[str, str] | None = None, package: str = FONT_PACKAGE,
                  system_dirs: Sequence[str] = SYSTEM_FONT_DIRS) -> FontChoice | None:
    """The folder of a CJK font vl-convert can register, and the family to ask for: the folder
    named by TONGBI_CJK_FONT_DIR, else the font package's folder in site-packages, else a system
    font folder; None when there is none."""
    env = os.environ if environ is None else environ
    folders: list[tuple[Path, str]] = []
    if env.get(FONT_DIR_ENV):
        folders.append((Path(env[FONT_DIR_ENV]), FONT_DIR_ENV))
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        folders.extend((Path(p), f"package {package.replace('_', '-')}") for p in spec.submodule_search_locations)
    folders.extend((Path(p), "system") for p in system_dirs)
    for folder, source in folders:
        if not folder.is_dir():
            continue
        for filename, family in FONT_CANDIDATES:
            if (folder / filename).is_file():
                return FontChoice(family, folder, source)
    return None


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


# ---------------------------------------------------------------- charts

@dataclass
class ChartWriter:
    """Renders Altair charts to PNG files under `img_dir` at a fixed size."""
    img_dir: Path
    scale: float
    font: FontChoice | None
    written: list[Path] = field(default_factory=list)

    def config(self, chart: Any) -> Any:
        family = self.font.family if self.font else "sans-serif"
        return chart.configure(font=family, background="white", padding=12).configure_title(
            fontSize=15, subtitleFontSize=12, subtitleColor="#555", anchor="start", offset=10,
        ).configure_axis(labelFontSize=11, titleFontSize=12, gridColor="#e6e6e6").configure_legend(
            labelFontSize=11, titleFontSize=12, orient="bottom", direction="horizontal",
            columns=4, symbolType="square", labelLimit=260,
        ).configure_view(stroke=None)

    def write(self, chart: Any, name: str, height: int, alt_text: str, note: str = "") -> Figure:
        import altair as alt
        import vl_convert as vlc

        sized = chart.properties(width=CHART_WIDTH, height=height,
                                 autosize=alt.AutoSizeParams(type="fit", contains="padding"))
        png = vlc.vegalite_to_png(self.config(sized).to_dict(), scale=self.scale)
        self.img_dir.mkdir(parents=True, exist_ok=True)
        path = self.img_dir / f"{name}.png"
        path.write_bytes(png)
        self.written.append(path)
        return Figure(id=f"fig-{name}", src=f"{IMAGE_SUBDIR}/{path.name}", width=CHART_WIDTH,
                      height=height, alt=alt_text, note=note)


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def wrap_subtitle(text: str, width: int = 118) -> list[str]:
    """Subtitle lines that fit the chart's width (CJK characters count double)."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if line and _display_width(candidate) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    return lines + [line] if line else lines


def _title(zh: str, en: str) -> Any:
    import altair as alt

    return alt.Title(zh, subtitle=wrap_subtitle(en))


def _color_scale(domain: Sequence[str], palette: Mapping[str, str]) -> Any:
    """Colours fixed per name across a metric's charts; the legend lists only `domain`."""
    import altair as alt

    return alt.Scale(domain=list(domain), range=[palette.get(d, "#888") for d in domain])


def _extent(values: Iterable[float], headroom: float = 0.18) -> list[float]:
    """An axis domain from 0 (or the lowest negative value) with room for the labels at bar ends."""
    vals = [v for v in values if v is not None]
    lo, hi = min([0.0, *vals]), max([0.0, *vals])
    span = (hi - lo) or 1.0
    return [lo - (headroom * span if lo < 0 else 0), hi + headroom * span]


def present(names: Sequence[str], data: Iterable[Row], key: str) -> list[str]:
    seen = {d[key] for d in data}
    return [n for n in names if n in seen]


def chart_series(rows: list[Row], unit: UnitDisplay, palette: Mapping[str, str], title: tuple[str, str],
                 value_key: str) -> Any:
    """Lines through the year-to-date levels by region, restarting each year."""
    import altair as alt

    data = [{"region": r["region_name_zh"], "date": r["date"], "year": r["year"],
             "value": scaled(r[value_key], unit), "label": fmt_exact(scaled(r[value_key], unit))}
            for r in rows]
    regions = present(list(palette), data, "region")
    color = alt.Color("region:N", title="地区 Region", scale=_color_scale(regions, palette), sort=regions)
    base = alt.Chart(alt.Data(values=data), title=_title(*title)).encode(
        x=alt.X("date:T", title="截止月份 Period end month", scale=alt.Scale(type="utc", padding=18),
                axis=alt.Axis(format="%Y-%m", labelAngle=0)),
        y=alt.Y("value:Q", title=f"{unit.zh}（{unit.en}）"),
        color=color,
    )
    layers = [base.mark_line(strokeWidth=2).encode(detail="year:O"),
              base.mark_point(filled=True, size=55, opacity=1)]
    if len(regions) <= 3 and len(data) <= 24:
        layers.append(base.mark_text(dy=-9, fontSize=10).encode(text="label:N"))
    return alt.layer(*layers)


def chart_by_region(rows: list[Row], unit: UnitDisplay, title: tuple[str, str], value_key: str) -> Any:
    """Horizontal bars by region for a single period."""
    import altair as alt

    data = [{"region": r["region_name_zh"], "value": scaled(r[value_key], unit),
             "label": fmt_exact(scaled(r[value_key], unit))} for r in rows]
    base = alt.Chart(alt.Data(values=data), title=_title(*title)).encode(
        y=alt.Y("region:N", title=None, sort=[d["region"] for d in data]),
        x=alt.X("value:Q", title=f"{unit.zh}（{unit.en}）",
                scale=alt.Scale(domain=_extent(d["value"] for d in data), nice=False)),
    )
    return alt.layer(
        base.mark_bar(color=REGION_PALETTE[0]),
        base.mark_text(align="left", dx=4, fontSize=10, color="#333").encode(text="label:N"),
    )


def chart_quarters(rows: list[Row], unit: UnitDisplay, palette: Mapping[str, str], title: tuple[str, str]) -> Any:
    import altair as alt

    derived, reported = "推算 Derived: YTD difference", "报告 Reported, or Q1 = YTD"
    data = [{"quarter": f"{r['year']}Q{r['quarter']}", "region": r["region_name_zh"],
             "value": scaled(r["quarter_value"], unit), "label": fmt_exact(scaled(r["quarter_value"], unit)),
             "source": derived if r.get("is_derived") else reported}
            for r in rows]
    quarters = sorted({d["quarter"] for d in data})
    regions = present(list(palette), data, "region")
    enc: dict[str, Any] = {
        "x": alt.X("quarter:O", title="季度 Quarter", sort=quarters, axis=alt.Axis(labelAngle=0)),
        "xOffset": alt.XOffset("region:N", sort=regions),
        "y": alt.Y("value:Q", title=f"{unit.zh}（{unit.en}）",
                   scale=alt.Scale(domain=_extent((d["value"] for d in data), 0.12), nice=False)),
        "color": alt.Color("region:N", title="地区 Region", scale=_color_scale(regions, palette), sort=regions),
    }
    if any(d["source"] == derived for d in data):
        enc["opacity"] = alt.Opacity("source:N", title="来源 Source",
                                     scale=alt.Scale(domain=[reported, derived], range=[1.0, 0.45]))
    base = alt.Chart(alt.Data(values=data), title=_title(*title)).encode(**enc)
    layers = [base.mark_bar()]
    if len(data) <= 40:   # labels above positive bars, below negative ones
        for where, dy, baseline in (("datum.value >= 0", -4, "bottom"), ("datum.value < 0", 4, "top")):
            layers.append(base.transform_filter(where).mark_text(dy=dy, baseline=baseline, fontSize=10).encode(
                text="label:N", color=alt.value("#333")))
    return alt.layer(*layers)


def clamp_yoy(items: list[Row]) -> None:
    """Keep the axis readable: a computed rate far beyond every reported one (usually two statistics
    under one key) is drawn cut at the axis' end, marked ▸, with its true value as the label."""
    reported = [abs(i["value"]) for i in items if i["source"] == REPORTED]
    limit = max([*reported, 10.0]) * 1.5 if reported else max(abs(i["value"]) for i in items)
    for i in items:
        i["shown"] = max(-limit, min(limit, i["value"]))
        i["pos"] = max(i["shown"], 0)
        if i["shown"] != i["value"]:
            i["label"] += " ▸" if i["value"] > 0 else " ◂"


def chart_yoy(items: list[Row], title: tuple[str, str]) -> Any:
    """Reported and computed growth rates side by side, one row per region and period."""
    import altair as alt

    order = list(dict.fromkeys(i["row"] for i in items))
    base = alt.Chart(alt.Data(values=items), title=_title(*title)).encode(
        y=alt.Y("row:N", title=None, sort=order, axis=alt.Axis(labelLimit=320)),
        yOffset=alt.YOffset("source:N", sort=[REPORTED, COMPUTED]),
        x=alt.X("shown:Q", title="同比增长 YoY growth, %",
                scale=alt.Scale(domain=_extent(i["shown"] for i in items), nice=False)),
        color=alt.Color("source:N", title="口径 Basis",
                        scale=alt.Scale(domain=[REPORTED, COMPUTED], range=[COLOR_REPORTED, COLOR_COMPUTED])),
    )
    text = base.mark_text(align="left", dx=3, fontSize=9, color="#333").encode(
        text="label:N", x=alt.X("pos:Q"))
    rule = alt.Chart(alt.Data(values=[{"x": 0}])).mark_rule(color="#888").encode(x="x:Q")
    return alt.layer(base.mark_bar(), text, rule)


def chart_stacked_shares(items: list[Row], domain: list[str], colors: Sequence[str],
                         title: tuple[str, str], legend_title: str) -> Any:
    """100-percent-style horizontal bars: each row's parts side by side, labelled with their share."""
    import altair as alt

    order = list(dict.fromkeys(i["row"] for i in items))
    base = alt.Chart(alt.Data(values=items), title=_title(*title)).transform_stack(
        stack="share", groupby=["row"], as_=["x0", "x1"], sort=[alt.SortField("rank")],
    ).transform_calculate(mid="(datum.x0 + datum.x1) / 2")
    bars = base.mark_bar(stroke="white", strokeWidth=1).encode(
        y=alt.Y("row:N", title=None, sort=order, axis=alt.Axis(labelLimit=320)),
        x=alt.X("x0:Q", title="占比 Share, %", scale=alt.Scale(domain=[0, 100])),
        x2="x1:Q",
        color=alt.Color("part:N", title=legend_title, scale=alt.Scale(domain=domain, range=list(colors))),
    )
    labels = base.transform_filter("datum.share >= 6").mark_text(color="white", fontSize=10, fontWeight="bold").encode(
        y=alt.Y("row:N", sort=order), x="mid:Q", text="label:N")
    return alt.layer(bars, labels)


def chart_breakdown(items: list[Row], parts: list[str], axis_title: str, title: tuple[str, str]) -> Any:
    """One bar per part of a snapshot (region × period), snapshots one under the other."""
    import altair as alt

    rows = list(dict.fromkeys(i["row"] for i in items))
    base = alt.Chart(alt.Data(values=items), title=_title(*title)).encode(
        y=alt.Y("row:N", title=None, sort=rows, axis=alt.Axis(labelLimit=340)),
        x=alt.X("value:Q", title=axis_title,
                scale=alt.Scale(domain=_extent((i["value"] for i in items), 0.3), nice=False)),
        color=alt.Color("part:N", title="类别 Part", sort=parts,
                        scale=alt.Scale(domain=parts, range=[PART_PALETTE[i % len(PART_PALETTE)]
                                                             for i in range(len(parts))])),
    )
    return alt.layer(base.mark_bar(), base.mark_text(align="left", dx=3, fontSize=10).encode(
        text="label:N", color=alt.value("#333")))


# ---------------------------------------------------------------- building one metric's section

@dataclass
class Context:
    """Everything the section builders share; built once per report."""
    wh: Warehouse
    anchors: Anchors
    charts: ChartWriter
    regions: dict[str, Row]
    industries: dict[str, Row]
    observations: dict[tuple[Any, ...], Row]      # (metric, region, industry, breakdown, year, month, kind, measure)
    linked: set[str] = field(default_factory=set)  # mention ids some table links to
    palette: dict[str, str] = field(default_factory=dict)  # region name → colour, the same in every chart
    doc_ids: frozenset[str] = frozenset()          # documents with a part in the provenance appendix

    def colors(self, names: Iterable[str]) -> dict[str, str]:
        """Distinct colours for one chart's regions, each region keeping the colour it was first
        given wherever that does not clash with another region of the same chart."""
        chart: dict[str, str] = {}
        for name in names:
            usage = Counter(self.palette.values())
            free = [c for c in REGION_PALETTE if c not in chart.values()] or list(REGION_PALETTE)
            if name not in self.palette:
                self.palette[name] = min(free, key=lambda c: (usage[c], REGION_PALETTE.index(c)))
            own = self.palette[name]
            chart[name] = own if own in free else min(free, key=lambda c: (usage[c], REGION_PALETTE.index(c)))
        return chart

    def region_sort_key(self, code: str) -> tuple[int, int, str]:
        """Xinjiang's tree first, then higher levels before lower ones."""
        r = self.regions.get(code, {})
        depth = r.get("depth")
        return (0 if r.get("is_in_xinjiang") else 1, int(depth) if depth is not None else 99, code)

    def obs(self, metric: str, region: str, industry: str, breakdown: str, year: int, month: int,
            measure: str) -> Row | None:
        for kind in ("ytd", "year"):
            o = self.observations.get((metric, region, industry, breakdown, year, month, kind, measure))
            if o is not None:
                return o
        return None

    def doc_links(self, doc_ids: str | None) -> Cell:
        """Comma-separated document ids, each linked to its part of the provenance appendix."""
        parts = [Cell(d, f"#{doc_anchor(d)}" if d in self.doc_ids else None)
                 for d in (x.strip() for x in (doc_ids or "").split(",")) if d]
        return Cell(parts=parts, css="docs")

    def link(self, text: str, mention_id: str | None, css: str = "num", title: str | None = None) -> Cell:
        href = self.anchors.href(mention_id)
        if href and mention_id:
            self.linked.add(mention_id)
            title = title or f"出处 source: {mention_id}"
        return Cell(text, href, css, title)


def computed_cell(text: str, how: str) -> Cell:
    return Cell(text, None, "num computed", f"计算值 computed: {how}")


def build_metric(ctx: Context, metric: Row, ytd_rows: list[Row], quarter_rows: list[Row],
                 obs_rows: list[Row]) -> MetricSection:
    code = metric["metric_code"]
    unit = unit_display(metric.get("unit"))
    mid = f"metric-{slug(code)}"
    is_flow = metric.get("metric_kind") != "stock"
    level_zh, level_en = ("累计值", "year-to-date") if is_flow else ("期末值", "level at period end")
    total = [r for r in ytd_rows if r["industry_code"] == "TOTAL"]
    for r in total:   # plotted at the first day of the end month, so that the axis' month labels name it
        r["date"] = f"{r['year']:04d}-{r['end_month']:02d}-01" if r.get("year") and r.get("end_month") else None
    blocks: list[Block] = []

    # -- time series
    series = Block(f"{mid}-series", "时间序列", "Time series")
    with_level = [r for r in total if r.get("ytd_value") is not None and r["date"]]
    region_points = Counter(r["region_code"] for r in with_level)
    chosen = sorted(region_points, key=lambda c: (-min(region_points[c], 3), ctx.region_sort_key(c)))
    chosen = sorted(chosen[:MAX_SERIES_REGIONS], key=ctx.region_sort_key)
    names = [ctx.regions.get(c, {}).get("name_zh", c) for c in chosen]
    palette = ctx.colors(names)
    plotted = [r for r in with_level if r["region_code"] in chosen]
    left_out = len(region_points) - len(chosen)
    note = f"另有 {left_out} 个地区见数据表 — {left_out} more regions in the table." if left_out > 0 else ""
    if len(plotted) >= 2:    # a single figure needs no chart: it is in the headline and the table
        dates = {r["date"] for r in plotted}
        title = (f"{metric['name_zh']}：{level_zh}（{unit.zh}）",
                 f"{metric['name_en']}, {level_en} by region, {unit.en}"
                 + ("; each line restarts in January" if is_flow and len(dates) > 1 else ""))
        if len(dates) > 1:
            chart = chart_series(plotted, unit, palette, title, "ytd_value")
            height = 340
        else:
            only = plotted[0]["period_label_zh"]
            title = (title[0] + f" · {only}", title[1] + f", {only}")
            chart = chart_by_region(sorted(plotted, key=lambda r: -(r["ytd_value"] or 0)), unit,
                                    title, "ytd_value")
            height = max(140, 26 * len(plotted) + 90)
        series.figures.append(ctx.charts.write(
            chart, f"{slug(code)}-ytd", height,
            f"{metric['name_zh']} {level_zh}，按地区 — {metric['name_en']}, {level_en} by region", note))
    q_rows = [r for r in quarter_rows if r.get("quarter_value") is not None and r["region_code"] in chosen]
    if len(q_rows) >= 2 and is_flow:
        series.figures.append(ctx.charts.write(
            chart_quarters(q_rows, unit, palette, (f"{metric['name_zh']}：单季值（{unit.zh}）",
                                                 f"{metric['name_en']}, the quarter alone by region, {unit.en}")),
            f"{slug(code)}-quarter", 300,
            f"{metric['name_zh']} 单季值 — {metric['name_en']}, quarter alone by region"))
    if series.figures:
        blocks.append(series)

    # -- growth: reported beside computed
    yoy_items: list[Row] = []
    yoy_rows = [r for r in total if r.get("yoy_pct_reported") is not None or r.get("yoy_pct_computed") is not None]
    yoy_rows = sorted(yoy_rows, key=lambda r: (r["date"] or "", ctx.region_sort_key(r["region_code"])))
    shown_yoy = yoy_rows[-MAX_YOY_BARS:]
    for r in sorted(shown_yoy, key=lambda r: (ctx.region_sort_key(r["region_code"]), r["date"] or "")):
        row = f"{r['region_name_zh']} {r['period_label_zh']}"
        for source, key in ((REPORTED, "yoy_pct_reported"), (COMPUTED, "yoy_pct_computed")):
            v = r.get(key)
            if v is not None:
                yoy_items.append({"row": row, "source": source, "value": v, "pos": max(v, 0),
                                  "label": fmt_fixed(v) if source == COMPUTED else fmt_exact(v)})
    if len(yoy_items) >= 2:
        clamp_yoy(yoy_items)
        n_rows = len({i["row"] for i in yoy_items})
        block = Block(f"{mid}-yoy", "同比增长", "Year-on-year growth")
        block.figures.append(ctx.charts.write(
            chart_yoy(yoy_items, (f"{metric['name_zh']}：同比增长（%）",
                                  f"{metric['name_en']}, YoY growth of the {level_en} level, %: "
                                  "reported beside recomputed from the warehouse's levels")),
            f"{slug(code)}-yoy", max(150, 30 * n_rows + 100),
            f"{metric['name_zh']} 同比：报告值与计算值 — reported and computed YoY growth",
            f"仅显示最近 {MAX_YOY_BARS} 项 — the latest {MAX_YOY_BARS} shown; all in the table."
            if len(yoy_rows) > MAX_YOY_BARS else ""))
        blocks.append(block)

    # -- shares
    shares = Block(f"{mid}-shares", "结构", "Shares")
    fig = grouping_shares(ctx, metric, total)
    if fig:
        shares.figures.append(fig)
    fig = sector_shares(ctx, metric, [r for r in ytd_rows if r["industry_code"] in SECTORS])
    if fig:
        shares.figures.append(fig)
    breakdown_obs = [o for o in obs_rows if parse_breakdown(o.get("breakdown"))]
    shares.figures.extend(breakdown_figures(ctx, metric, breakdown_obs, total))
    if shares.figures:
        blocks.append(shares)

    # -- tables: every figure links to its mention
    tables = Block(f"{mid}-tables", "数据表", "Figures")
    if total:
        tables.tables.append(region_table(ctx, metric, total, quarter_rows, unit, level_zh, level_en))
    industry_rows = [r for r in ytd_rows if r["industry_code"] != "TOTAL"]
    if industry_rows:
        tables.tables.append(industry_table(ctx, metric, industry_rows, unit))
    if breakdown_obs:
        tables.tables.append(breakdown_table(ctx, metric, breakdown_obs, total, unit))
    other = [o for o in obs_rows if o["chosen_mention_id"] not in ctx.linked]
    if other:
        tables.tables.append(other_table(ctx, metric, other, unit))
    if tables.tables:
        blocks.append(tables)

    return MetricSection(mid, code, metric["name_zh"], metric.get("name_en") or "", unit,
                         "flow 流量" if is_flow else "stock 存量", headline(ctx, total, unit, level_zh),
                         blocks, len(obs_rows))


def headline(ctx: Context, total: list[Row], unit: UnitDisplay, level_zh: str) -> list[Cell]:
    """The latest level of the highest region in the hierarchy, with its growth."""
    with_level = [r for r in total if r.get("ytd_value") is not None]
    if not with_level:
        return []
    top = min(ctx.region_sort_key(r["region_code"]) for r in with_level)
    latest = max((r for r in with_level if ctx.region_sort_key(r["region_code"]) == top),
                 key=lambda r: (r["year"], r["end_month"]))
    cells = [Cell(f"{latest['region_name_zh']} {latest['period_label_zh']} {level_zh}"),
             ctx.link(fmt_exact(scaled(latest["ytd_value"], unit)), latest.get("level_mention_id")),
             Cell(unit.zh)]
    if latest.get("yoy_pct_reported") is not None:
        cells += [Cell("，同比"), ctx.link(fmt_exact(latest["yoy_pct_reported"]) + "%",
                                         latest.get("yoy_pct_mention_id"))]
    elif latest.get("yoy_pct_computed") is not None:
        cells += [Cell("，同比（计算）"), computed_cell(fmt_fixed(latest["yoy_pct_computed"]) + "%",
                                                   "from the level a year earlier")]
    return cells


def grouping_shares(ctx: Context, metric: Row, total: list[Row]) -> Figure | None:
    """北疆/南疆 (and any other grouping) as parts of their province, period by period."""
    groupings = sorted((c for c, r in ctx.regions.items() if r.get("region_level") == "grouping"),
                       key=ctx.region_sort_key)
    rows = [r for r in total if r["region_code"] in groupings]
    if not rows:
        return None
    items = []
    for r in sorted(rows, key=lambda r: (r["date"] or "", groupings.index(r["region_code"]))):
        share = r.get("share_pct_reported")
        if share is None:
            share = r.get("share_pct_computed")
        if share is None or not 0 < share <= 100:
            continue
        items.append({"row": r["period_label_zh"], "part": r["region_name_zh"], "share": share,
                      "rank": groupings.index(r["region_code"]), "label": f"{share:.1f}%"})
    if not items:
        return None
    parents = {ctx.regions.get(ctx.regions[c].get("parent_code") or "", {}).get("name_en")
               or ctx.regions[c].get("parent_name_zh") or "" for c in groupings}
    names = [ctx.regions[c]["name_zh"] for c in groupings]
    n_rows = len({i["row"] for i in items})
    return ctx.charts.write(
        chart_stacked_shares(items, names, list(ctx.colors(names).values()), (
            f"{metric['name_zh']}：{'/'.join(n.removesuffix('地区') for n in names)}占比（%）",
            f"{metric['name_en']}: shares of {', '.join(ctx.regions[c].get('name_en') or c for c in groupings)} "
            f"in {'/'.join(sorted(parents))}, % (reported; else computed from levels)"), "地区 Region"),
        f"{slug(metric['metric_code'])}-groupings", max(150, 34 * n_rows + 110),
        f"{metric['name_zh']} 北疆/南疆占比 — shares of Northern and Southern Xinjiang")


def sector_shares(ctx: Context, metric: Row, rows: list[Row]) -> Figure | None:
    """三次产业: the primary, secondary and tertiary industries' shares, region × period."""
    items = []
    for r in sorted(rows, key=lambda r: (ctx.region_sort_key(r["region_code"]), r["year"], r["end_month"])):
        share = r.get("share_pct_reported")
        if share is None:
            share = r.get("share_pct_computed")
        if share is None or not 0 < share <= 100:
            continue
        items.append({"row": f"{r['region_name_zh']} {r['period_label_zh']}", "part": r["industry_name_zh"],
                      "share": share, "rank": SECTORS.index(r["industry_code"]), "label": f"{share:.1f}%"})
    if not items:
        return None
    # a part above 100 % or parts summing past it are extraction faults: leave those rows to the table
    sums: dict[str, float] = defaultdict(float)
    for i in items:
        sums[i["row"]] += i["share"]
    items = [i for i in items if sums[i["row"]] <= 100.5]
    if not items:
        return None
    names = [ctx.industries.get(s, {}).get("name_zh", s) for s in SECTORS]
    whole = "GDP" if metric["metric_code"] == "value_added" else "the total"
    n_rows = len({i["row"] for i in items})
    return ctx.charts.write(
        chart_stacked_shares(items, names, [SECTOR_COLORS[s] for s in SECTORS], (
            f"{metric['name_zh']}：三次产业结构（%）",
            f"{metric['name_en']}: shares of the primary, secondary and tertiary industries in {whole}, % "
            "(reported; else computed from levels)"), "产业 Sector"),
        f"{slug(metric['metric_code'])}-sectors", max(150, 34 * n_rows + 110),
        f"{metric['name_zh']} 三次产业结构 — shares of the three sectors")


def breakdown_figures(ctx: Context, metric: Row, obs: list[Row], total: list[Row]) -> list[Figure]:
    """One chart per breakdown key (资金来源, 投资主体, 园区 …): each part's share of its region's
    total (reported, else computed from the levels), snapshot by snapshot; the levels when no
    share can be had."""
    unit = unit_display(metric.get("unit"))
    whole = {(r["region_code"], r["year"], r["end_month"]): r.get("ytd_value") for r in total}
    by_key: dict[str, dict[tuple[Any, ...], dict[str, Row]]] = defaultdict(lambda: defaultdict(dict))
    for o in obs:
        if o.get("period_kind") not in ("ytd", "year", "as_of"):
            continue
        pairs = parse_breakdown(o["breakdown"])
        key = "+".join(k for k, _ in pairs)
        part = " · ".join(v for _, v in pairs)
        by_key[key][(o["region_code"], o["period_year"] or 0, o["period_end_month"] or 0, o["period_kind"],
                     part)][o["measure"]] = o
    figures: list[Figure] = []
    for key, parts in sorted(by_key.items(), key=lambda kv: -len(kv[1])):
        entries: list[Row] = []
        for (region, year, month, kind, part), measures in parts.items():
            level, share = measures.get("level"), measures.get("share_pct")
            share_v = share["value"] if share else None
            w = whole.get((region, year, month)) if kind in ("ytd", "year") else None
            if share_v is None and level is not None and w:
                share_v = 100 * level["value"] / w
            entries.append({"snapshot": (year, month, ctx.region_sort_key(region), kind), "region": region,
                            "period": period_label(year or None, month or None, kind), "part": part,
                            "level": scaled(level["value"], unit) if level else None, "share": share_v})
        plot_share = sum(1 for e in entries if e["share"] is not None and 0 < e["share"] <= 100) >= 2
        key_en = " + ".join(BREAKDOWN_KEY_EN.get(k, k) for k in key.split("+"))
        if plot_share:
            shown = [e for e in entries if e["share"] is not None and 0 < e["share"] <= 100]
        else:
            shown = [e for e in entries if e["level"] is not None]
        if len(shown) < 2:
            continue
        # the latest snapshots, as many as fit
        snapshots = sorted({e["snapshot"] for e in shown}, reverse=True)
        kept: set[tuple[Any, ...]] = set()
        n = 0
        for snap in snapshots:
            size = sum(1 for e in shown if e["snapshot"] == snap)
            if kept and n + size > MAX_BREAKDOWN_BARS:
                break
            kept.add(snap)
            n += size
        shown = sorted((e for e in shown if e["snapshot"] in kept),
                       key=lambda e: (e["snapshot"], -((e["share"] if plot_share else e["level"]) or 0)))
        items = []
        for e in shown:
            where = f"{ctx.regions.get(e['region'], {}).get('name_zh', e['region'])} {e['period']}"
            level_text = f"{fmt_exact(e['level'])}{unit.zh}" if e["level"] is not None else ""
            if plot_share:
                label = f"{e['share']:.1f}%" + (f"（{level_text}）" if level_text else "")
            else:
                label = level_text + (f"（{e['share']:.1f}%）" if e["share"] is not None else "")
            items.append({"row": f"{where} · {e['part']}", "part": e["part"],
                          "value": e["share"] if plot_share else e["level"], "label": label})
        part_names = list(dict.fromkeys(i["part"] for i in items))
        left_out = len(snapshots) - len(kept)
        note = (f"仅显示最近的 {len(kept)} 组，另有 {left_out} 组见数据表 — the latest {len(kept)} snapshots; "
                f"{left_out} more in the table." if left_out else "")
        if plot_share:
            axis = "占比 Share of the total, %"
            sub = (f"{metric['name_en']} by {key_en}: each part's share of its region's total, % (reported, else "
                   f"computed from the levels); in brackets the level, {unit.en}. Parts may overlap.")
        else:
            axis = f"{unit.zh}（{unit.en}）"
            sub = f"{metric['name_en']} by {key_en}, {unit.en}. Parts may overlap."
        figures.append(ctx.charts.write(
            chart_breakdown(items, part_names, axis, (f"{metric['name_zh']}：按{key}（{'%' if plot_share else unit.zh}）",
                                                      sub)),
            f"{slug(metric['metric_code'])}-by-{slug(key) if slug(key) != 'x' else 'key'}-{len(figures) + 1}",
            max(160, 24 * len(items) + 150),
            f"{metric['name_zh']} 按{key} — {metric['name_en']} by {key_en}", note))
    return figures


# ---------------------------------------------------------------- tables

def region_table(ctx: Context, metric: Row, total: list[Row], quarter_rows: list[Row], unit: UnitDisplay,
                 level_zh: str, level_en: str) -> Table:
    quarters = {(r["region_code"], r["year"], r["quarter"]): r for r in quarter_rows}
    code = metric["metric_code"]
    rows = []
    for r in sorted(total, key=lambda r: (ctx.region_sort_key(r["region_code"]), r["year"], r["end_month"])):
        share_obs = ctx.obs(code, r["region_code"], "TOTAL", "none", r["year"], r["end_month"], "share_pct")
        q = quarters.get((r["region_code"], r["year"], r["quarter"])) if r.get("is_quarter_end") else None
        q_value = q.get("quarter_value") if q else None
        if q is None or q_value is None:
            q_cell = Cell("")
        elif q.get("quarter_value_source") == "reported_quarter":
            q_obs = ctx.observations.get((code, r["region_code"], "TOTAL", "none", r["year"], r["end_month"],
                                          "quarter", "level"))
            q_cell = ctx.link(fmt_exact(scaled(q_value, unit)), q_obs["chosen_mention_id"] if q_obs else None)
        elif q.get("quarter_value_source") == "ytd_q1":
            q_cell = Cell(fmt_exact(scaled(q_value, unit)), None, "num", "一季度即累计值 Q1 = year-to-date")
        else:
            q_cell = computed_cell(fmt_exact(scaled(q_value, unit)), "this YTD minus the previous quarter's")
        gap = r.get("yoy_gap_pp")
        rows.append([
            Cell(r["region_name_zh"]),
            Cell(r["period_label_zh"]),
            ctx.link(fmt_exact(scaled(r.get("ytd_value"), unit)), r.get("level_mention_id")),
            q_cell,
            ctx.link(fmt_exact(r.get("yoy_pct_reported")), r.get("yoy_pct_mention_id")),
            computed_cell(fmt_fixed(r.get("yoy_pct_computed")), "level / level a year earlier − 1"),
            Cell(fmt_fixed(gap, signed=True), None, "num flag" if r.get("yoy_gap_flag") else "num",
                 "报告与计算相差过大 reported and computed disagree" if r.get("yoy_gap_flag") else None),
            ctx.link(fmt_exact(r.get("share_pct_reported")),
                     share_obs["chosen_mention_id"] if share_obs else None),
            computed_cell(fmt_fixed(r.get("share_pct_computed")),
                          f"level / the level of {r.get('share_parent_code') or 'the parent'}"),
            ctx.doc_links(r.get("source_doc_ids")),
        ])
    return Table(f"{slug(code)}-regions", "地区数据", "Figures by region", [
        Column("地区", "Region"), Column("期间", "Period"),
        Column(f"{level_zh}（{unit.zh}）", f"{level_en}, {unit.en}", True),
        Column(f"单季（{unit.zh}）", "quarter alone", True),
        Column("同比 报告 %", "YoY reported", True), Column("同比 计算 %", "YoY computed", True),
        Column("差 pp", "gap", True), Column("占比 报告 %", "share reported", True),
        Column("占比 计算 %", "share computed", True), Column("文件", "documents"),
    ], rows, "Linked figures open their quote in the appendix; italic figures are computed by the warehouse.")


def industry_table(ctx: Context, metric: Row, rows_in: list[Row], unit: UnitDisplay) -> Table:
    code = metric["metric_code"]
    rows = []
    for r in sorted(rows_in, key=lambda r: (ctx.region_sort_key(r["region_code"]), r["industry_code"],
                                            r["year"], r["end_month"])):
        share_obs = ctx.obs(code, r["region_code"], r["industry_code"], "none", r["year"], r["end_month"], "share_pct")
        rows.append([
            Cell(r["region_name_zh"]), Cell(r.get("industry_name_zh") or r["industry_code"]),
            Cell(r["period_label_zh"]),
            ctx.link(fmt_exact(scaled(r.get("ytd_value"), unit)), r.get("level_mention_id")),
            ctx.link(fmt_exact(r.get("yoy_pct_reported")), r.get("yoy_pct_mention_id")),
            computed_cell(fmt_fixed(r.get("yoy_pct_computed")), "level / level a year earlier − 1"),
            ctx.link(fmt_exact(r.get("share_pct_reported")),
                     share_obs["chosen_mention_id"] if share_obs else None),
            computed_cell(fmt_fixed(r.get("share_pct_computed")),
                          f"level / the region's {r.get('share_whole_metric_code') or 'total'}"),
        ])
    return Table(f"{slug(code)}-industries", "行业数据", "Figures by industry", [
        Column("地区", "Region"), Column("行业", "Industry"), Column("期间", "Period"),
        Column(f"数值（{unit.zh}）", unit.en, True), Column("同比 报告 %", "YoY reported", True),
        Column("同比 计算 %", "YoY computed", True), Column("占比 报告 %", "share reported", True),
        Column("占比 计算 %", "share computed", True),
    ], rows)


def breakdown_table(ctx: Context, metric: Row, obs: list[Row], total: list[Row], unit: UnitDisplay) -> Table:
    whole = {(r["region_code"], r["year"], r["end_month"]): r.get("ytd_value") for r in total}
    grouped: dict[tuple[Any, ...], dict[str, Row]] = defaultdict(dict)
    for o in obs:
        grouped[(o["breakdown"], o["region_code"], o["period_year"], o["period_end_month"],
                 o["period_kind"])][o["measure"]] = o
    rows = []
    for (breakdown, region, year, month, kind), m in sorted(
            grouped.items(), key=lambda kv: (kv[0][0], ctx.region_sort_key(kv[0][1]), kv[0][2] or 0, kv[0][3] or 0)):
        pairs = parse_breakdown(breakdown)
        level, share, yoy = m.get("level"), m.get("share_pct"), m.get("yoy_pct")
        w = whole.get((region, year, month)) if kind in ("ytd", "year") else None
        computed = 100 * level["value"] / w if (level and w) else None
        rows.append([
            Cell(" + ".join(k for k, _ in pairs)), Cell(" · ".join(v for _, v in pairs)),
            Cell(ctx.regions.get(region, {}).get("name_zh", region)), Cell(period_label(year, month, kind)),
            ctx.link(fmt_exact(scaled(level["value"], unit)) if level else "",
                     level["chosen_mention_id"] if level else None),
            ctx.link(fmt_exact(yoy["value"]) if yoy else "", yoy["chosen_mention_id"] if yoy else None),
            ctx.link(fmt_exact(share["value"]) if share else "", share["chosen_mention_id"] if share else None),
            computed_cell(fmt_fixed(computed), "level / the region's whole-economy level"),
        ])
    return Table(f"{slug(metric['metric_code'])}-breakdowns", "构成数据", "Figures by breakdown", [
        Column("维度", "Dimension"), Column("类别", "Part"), Column("地区", "Region"), Column("期间", "Period"),
        Column(f"数值（{unit.zh}）", unit.en, True), Column("同比 %", "YoY reported", True),
        Column("占比 报告 %", "share reported", True), Column("占比 计算 %", "share computed", True),
    ], rows)


def measure_unit(measure: str, unit: UnitDisplay) -> UnitDisplay:
    if measure in ("yoy_pct", "share_pct", "completion_pct", "contribution_pct"):
        return UNITS["percent"]
    if measure == "pp_change":
        return UNITS["pp"]
    return unit


def other_table(ctx: Context, metric: Row, obs: list[Row], unit: UnitDisplay) -> Table:
    rows = []
    for o in sorted(obs, key=lambda o: (ctx.region_sort_key(o["region_code"]), o["period_year"] or 0,
                                        o["period_end_month"] or 0, o["measure"])):
        shown = unit_display(o.get("unit")) if o.get("unit") else measure_unit(o["measure"], unit)
        zh, en = MEASURES.get(o["measure"], (o["measure"], o["measure"]))
        rows.append([
            Cell(o["region_name_zh"] or o["region_code"]),
            Cell("" if o["industry_code"] == "TOTAL" else (o.get("industry_name_zh") or o["industry_code"])),
            Cell(" · ".join(f"{k}={v}" for k, v in parse_breakdown(o.get("breakdown")))),
            Cell(period_label(o["period_year"], o["period_end_month"], o["period_kind"])),
            Cell(f"{zh} {en}"),
            ctx.link(fmt_exact(scaled(o["value"], shown)), o["chosen_mention_id"],
                     title=("约 approximate; " if o.get("is_approximate") else "") + f"source: {o['chosen_mention_id']}"),
            Cell(shown.zh),
        ])
    return Table(f"{slug(metric['metric_code'])}-other", "其他数字", "Other figures", [
        Column("地区", "Region"), Column("行业", "Industry"), Column("构成", "Breakdown"),
        Column("期间", "Period"), Column("度量", "Measure"), Column("数值", "Value", True), Column("单位", "Unit"),
    ], rows, "Targets, changes, completion rates, stocks at a date and other figures of the metric.")


# ---------------------------------------------------------------- quality, conflicts, provenance

@dataclass
class Quality:
    run_id: str
    checked_at: str
    n_checks: int
    n_passed: int
    n_failed_error: int
    n_failed_warning: int
    failing: Table | None
    all_checks: Table | None
    unresolved: Table | None
    n_unresolved: int
    rejected: Table | None


def build_quality(ctx: Context) -> Quality | None:
    results = ctx.wh.rows("audit_results")
    by_doc_seq = {(m["doc_id"], m["mention_seq"]): m["mention_id"] for m in ctx.wh.rows("fct_metric_mentions")}
    by_doc_quote = {(m["doc_id"], m["quote"]): m["mention_id"] for m in ctx.wh.rows("fct_metric_mentions")}

    def samples(raw: str | None) -> Cell:
        try:
            items = json.loads(raw) if raw else []
        except ValueError:
            return Cell(str(raw)[:200])
        cells: list[Cell] = []
        for item in items[:3] if isinstance(items, list) else []:
            if not isinstance(item, dict):
                cells.append(Cell(str(item)[:120]))
                continue
            doc, quote = item.get("doc_id"), item.get("quote")
            mention = by_doc_seq.get((doc, item.get("mention_seq"))) or by_doc_quote.get((doc, quote))
            text = f"{doc}: {quote}" if doc and quote else json.dumps(item, ensure_ascii=False)[:160]
            cells.append(ctx.link(text, mention, "sample"))
        return Cell(parts=cells, css="samples")

    quality_tables: dict[str, Table | None] = {"failing": None, "all": None}
    if results:
        failing = [r for r in results if not r["success"]]
        cols = [Column("级别", "Severity"), Column("套件", "Suite"), Column("检查", "Expectation"),
                Column("不符行数", "Unexpected", True), Column("观测", "Observed")]
        quality_tables["failing"] = Table("quality-failing", "未通过的检查", "Failing checks",
                                          cols + [Column("样例", "Examples")], [
            [Cell(r["severity"], None, f"sev-{r['severity']}"), Cell(r["suite"]), Cell(r["expectation"]),
             Cell(str(r["unexpected_count"]), None, "num"), Cell(r.get("observed") or ""),
             samples(r.get("sample_json"))] for r in failing])
        quality_tables["all"] = Table("quality-all", "全部检查", "All checks", cols + [Column("结果", "Result")], [
            [Cell(r["severity"], None, f"sev-{r['severity']}"), Cell(r["suite"]), Cell(r["expectation"]),
             Cell(str(r["unexpected_count"]), None, "num"), Cell(r.get("observed") or ""),
             Cell("通过 pass" if r["success"] else "未通过 fail", None, "ok" if r["success"] else "flag")]
            for r in results])
    unresolved_rows = ctx.wh.rows("unresolved_names")
    unresolved = Table("quality-unresolved", "未识别的名称", "Names the vocabularies lack (most frequent)", [
        Column("类型", "Kind"), Column("名称", "Name"), Column("次数", "Mentions", True),
        Column("文件数", "Documents", True), Column("例句", "Example")], [
        [Cell(u["name_kind"]), Cell(u["raw_name"]), Cell(str(u["n_mentions"]), None, "num"),
         Cell(str(u.get("n_documents") or ""), None, "num"),
         ctx.link(f"{u.get('example_doc_id')}: {u.get('example_quote')}", u.get("example_mention_id"), "sample")]
        for u in unresolved_rows[:20]]) if unresolved_rows else None
    rejected_rows = ctx.wh.rows("rejected_documents")
    rejected = Table("quality-rejected", "未能读取的文件", "Rejected documents",
                     [Column("文件", "Path"), Column("行", "Line"), Column("原因", "Reason")],
                     [[Cell(str(r.get("path"))), Cell(str(r.get("line") or "")), Cell(str(r.get("reason")))]
                      for r in rejected_rows]) if rejected_rows else None
    if not results and unresolved is None and rejected is None:
        return None
    return Quality(
        run_id=results[0]["run_id"] if results else "",
        checked_at=str(results[0]["checked_at"])[:19] if results else "",
        n_checks=len(results), n_passed=sum(1 for r in results if r["success"]),
        n_failed_error=sum(1 for r in results if not r["success"] and r["severity"] == "error"),
        n_failed_warning=sum(1 for r in results if not r["success"] and r["severity"] != "error"),
        failing=quality_tables["failing"], all_checks=quality_tables["all"],
        unresolved=unresolved, n_unresolved=len(unresolved_rows), rejected=rejected,
    )


@dataclass
class Conflicts:
    counts: list[tuple[str, str, str, int, bool]]     # kind, label zh, explanation, count, to review
    review: Table | None
    expected: Table | None


def build_conflicts(ctx: Context) -> Conflicts | None:
    if not ctx.wh.has("conflicts"):
        return None
    rows = ctx.wh.rows("conflicts")
    counts = Counter(r["conflict_kind"] for r in rows)

    def table(id_: str, zh: str, en: str, selected: list[Row]) -> Table | None:
        if not selected:
            return None
        out = []
        for r in selected:
            unit = unit_display(r.get("unit"))
            zh_m, _ = MEASURES.get(r["measure"], (r["measure"], ""))
            out.append([
                Cell(r.get("metric_name_zh") or r.get("metric_code") or ""),
                Cell(r.get("region_name_zh") or r.get("region_code") or ""),
                Cell(period_label(r.get("period_year"), r.get("period_end_month"), r.get("period_kind"))
                     + ("" if r.get("breakdown") in (None, "none") else f" · {r['breakdown']}")
                     + ("" if r.get("industry_code") in (None, "TOTAL") else f" · {r['industry_code']}")),
                Cell(f"{zh_m}（{unit.zh}）"),
                ctx.link(fmt_exact(scaled(r.get("chosen_value"), unit)), r.get("chosen_mention_id")),
                ctx.link(fmt_exact(scaled(r.get("other_value"), unit)), r.get("other_mention_id")),
                Cell(fmt_fixed(r.get("value_gap_pct"), 1, signed=True), None, "num"),
                Cell("同文" if r.get("is_same_document") else "", None, ""),
                Cell(CONFLICT_KINDS.get(r["conflict_kind"], (r["conflict_kind"],))[0]),
            ])
        return Table(id_, zh, en, [
            Column("指标", "Metric"), Column("地区", "Region"), Column("期间", "Period"), Column("度量", "Measure"),
            Column("采用值", "Chosen", True), Column("其他值", "Other", True), Column("差 %", "Gap", True),
            Column("同文", "Same doc"), Column("类型", "Kind")], out)

    review = [r for r in rows if CONFLICT_KINDS.get(r["conflict_kind"], ("", "", True))[2]]
    expected = [r for r in rows if not CONFLICT_KINDS.get(r["conflict_kind"], ("", "", True))[2]]
    return Conflicts(
        counts=[(k, CONFLICT_KINDS.get(k, (k, "", True))[0], CONFLICT_KINDS.get(k, ("", "", True))[1], n,
                 CONFLICT_KINDS.get(k, ("", "", True))[2]) for k, n in counts.most_common()],
        review=table("conflicts-review", "待核查的冲突", "Conflicts to review", review),
        expected=table("conflicts-expected", "预期的差异", "Expected differences (revisions, roundings)", expected),
    )


@dataclass
class ProvenanceMention:
    anchor: str
    mention_id: str
    doc_id: str
    before: str
    figure: str
    after: str
    char_start: int | None
    char_end: int | None
    source_url: str | None
    what: str
    value: str
    is_chosen: bool
    linked: bool


@dataclass
class ProvenanceDocument:
    anchor: str
    doc_id: str
    title: str
    published: str
    source_url: str | None
    mentions: list[ProvenanceMention]


def split_quote(quote: str, value_raw: str | None) -> tuple[str, str, str]:
    """The quote with its figure set apart (the last occurrence: figures end their quotes)."""
    if value_raw and value_raw in quote:
        i = quote.rfind(value_raw)
        return quote[:i], value_raw, quote[i + len(value_raw):]
    return quote, "", ""


def build_provenance(ctx: Context) -> list[ProvenanceDocument]:
    docs_meta = {d["doc_id"]: d for d in ctx.wh.rows("documents")}
    by_doc: dict[str, list[Row]] = defaultdict(list)
    for m in ctx.wh.rows("fct_metric_mentions"):
        by_doc[m["doc_id"]].append(m)
    out = []
    for doc_id, mentions in by_doc.items():
        first = mentions[0]
        meta = docs_meta.get(doc_id, {})
        items = []
        for m in sorted(mentions, key=lambda m: m.get("mention_seq") or 0):
            before, figure, after = split_quote(m.get("quote") or "", m.get("value_raw"))
            unit = measure_unit(m.get("measure") or "", unit_display(m.get("unit")))
            if m.get("unit"):
                unit = unit_display(m["unit"])
            zh, en = MEASURES.get(m.get("measure") or "", (m.get("measure") or "", ""))
            what = " · ".join(x for x in (
                m.get("metric_name_zh") or (f"〔{m['metric_raw']}〕" if m.get("metric_raw") else "〔未识别 unresolved〕"),
                m.get("region_name_zh") or m.get("region_raw") or "",
                m.get("industry_name_zh") or "",
                " ".join(f"{k}={v}" for k, v in parse_breakdown(m.get("breakdown"))),
                period_label(m.get("period_year"), m.get("period_end_month"), m.get("period_kind")),
                zh) if x)
            value = (f"{'≈' if m.get('is_approximate') else ''}{fmt_exact(scaled(m.get('value'), unit))} {unit.zh}"
                     if m.get("value") is not None else "")
            items.append(ProvenanceMention(
                anchor=ctx.anchors.by_mention[m["mention_id"]], mention_id=m["mention_id"], doc_id=doc_id,
                before=before, figure=figure, after=after, char_start=m.get("char_start"),
                char_end=m.get("char_end"), source_url=web_url(m.get("source_url")), what=what, value=value,
                is_chosen=bool(m.get("is_chosen")), linked=m["mention_id"] in ctx.linked))
        out.append(ProvenanceDocument(
            anchor=doc_anchor(doc_id), doc_id=doc_id,
            title=meta.get("title") or first.get("document_title") or doc_id,
            published=str(meta.get("published") or first.get("published") or "")[:10],
            source_url=web_url(meta.get("source_url") or first.get("source_url")), mentions=items))
    return out


# ---------------------------------------------------------------- the whole report

def build_sections(ctx: Context) -> list[MetricSection]:
    metrics = {m["metric_code"]: m for m in ctx.wh.rows("dim_metric")}
    ytd: dict[str, list[Row]] = defaultdict(list)
    for r in ctx.wh.rows("fct_region_month_ytd"):
        ytd[r["metric_code"]].append(r)
    quarters: dict[str, list[Row]] = defaultdict(list)
    for r in ctx.wh.rows("fct_region_quarter"):
        quarters[r["metric_code"]].append(r)
    obs: dict[str, list[Row]] = defaultdict(list)
    for o in ctx.wh.rows("fct_observations"):
        obs[o["metric_code"]].append(o)
    order = sorted(set(obs) | set(ytd), key=lambda c: (
        -sum(1 for r in ytd.get(c, []) if r["industry_code"] == "TOTAL" and r.get("ytd_value") is not None),
        -len(obs.get(c, [])), c))
    return [build_metric(ctx, metrics.get(c) or {"metric_code": c, "name_zh": c, "name_en": c, "unit": None},
                         ytd.get(c, []), quarters.get(c, []), obs.get(c, []))
            for c in order]


def render_html(template_vars: Mapping[str, Any]) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.get_template(TEMPLATE_NAME).render(**template_vars)


def build_report(opts: ReportOptions, warn: Callable[[str], None] | None = None) -> ReportResult:
    """Read the warehouse, draw the charts, write index.html; return what was written."""
    warn = warn or (lambda msg: print(f"tongbi report: {msg}", file=sys.stderr))
    wh = read_warehouse(opts.warehouse)
    out_dir = opts.output_dir()
    img_dir = out_dir / IMAGE_SUBDIR
    out_dir.mkdir(parents=True, exist_ok=True)
    stale = set(img_dir.glob("*.png")) if img_dir.is_dir() else set()

    font = find_cjk_font()
    if font is None:
        warn("no CJK font found: chart labels in Chinese will show as boxes. "
             f"`pip install pylopdf-fonts-zh-cn`, install fonts-noto-cjk, or set {FONT_DIR_ENV}")
    else:
        import vl_convert as vlc

        vlc.register_font_directory(str(font.directory))

    anchors = Anchors()
    for m in wh.rows("fct_metric_mentions"):
        anchors.add(m["mention_id"])
    ctx = Context(
        wh=wh, anchors=anchors, charts=ChartWriter(img_dir, opts.scale, font),
        regions={r["region_code"]: r for r in wh.rows("dim_region")},
        industries={r["industry_code"]: r for r in wh.rows("dim_industry")},
        observations={(o["metric_code"], o["region_code"], o["industry_code"], o["breakdown"], o["period_year"],
                       o["period_end_month"], o["period_kind"], o["measure"]): o
                      for o in wh.rows("fct_observations")},
        doc_ids=frozenset(m["doc_id"] for m in wh.rows("fct_metric_mentions")),
    )
    sections = build_sections(ctx)
    quality = build_quality(ctx)
    conflicts = build_conflicts(ctx)
    provenance = build_provenance(ctx)   # last: it marks which mentions the tables link to

    docs = wh.rows("documents")
    stat = opts.warehouse.stat()
    html_text = render_html({
        "sections": sections, "quality": quality, "conflicts": conflicts, "provenance": provenance,
        "warehouse": str(opts.warehouse.resolve()),
        "built_at": dt.datetime.fromtimestamp(stat.st_mtime).strftime("%Y-%m-%d %H:%M"),
        "generated_at": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "n_documents": len(docs) or len(provenance), "n_mentions": len(wh.rows("fct_metric_mentions")),
        "n_observations": len(wh.rows("fct_observations")), "font": font,
        "has_conflicts_model": wh.has("conflicts"),
    })
    index = out_dir / "index.html"
    tmp = index.with_suffix(".html.tmp")
    tmp.write_text(html_text, encoding="utf-8")
    os.replace(tmp, index)
    for old in stale - set(ctx.charts.written):
        old.unlink(missing_ok=True)
    return ReportResult(index=index, images=tuple(ctx.charts.written), n_metrics=len(sections),
                        n_mentions=len(wh.rows("fct_metric_mentions")), font=font)
