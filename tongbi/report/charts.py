"""The report's charts: Vega-Lite specifications (Altair) rendered to PNG by vl-convert, and
the CJK font vl-convert needs to draw Chinese.

vl-convert's renderer knows no system font: it draws Chinese as boxes unless a CJK font is
registered. `find_cjk_font` looks first in the pinned `pylopdf-fonts-zh-cn` package (Noto Sans
SC inside site-packages, so a plain `pip install` brings it), then in the usual system font
folders (Debian's fonts-noto-cjk and fonts-wqy-microhei/zenhei, macOS, Windows);
`TONGBI_CJK_FONT_DIR` names a folder to use instead.
"""
from __future__ import annotations

import importlib.util
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .data import Row
from .view import Figure, UnitDisplay, fmt_exact, scaled

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


@dataclass(frozen=True)
class FontChoice:
    family: str
    directory: Path
    source: str            # "package pylopdf-fonts-zh-cn", "system", "TONGBI_CJK_FONT_DIR"


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
