"""One section per metric: its series, growth rates and breakdowns as figures and tables."""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable

from .charts import (COMPUTED, ChartWriter, MAX_BREAKDOWN_BARS, MAX_SERIES_REGIONS, MAX_YOY_BARS,
                     REGION_PALETTE, REPORTED, SECTORS, SECTOR_COLORS, chart_breakdown, chart_by_region,
                     chart_quarters, chart_series, chart_stacked_shares, chart_yoy, clamp_yoy)
from .data import Row, Warehouse
from .view import (Anchors, BREAKDOWN_KEY_EN, Block, Cell, Column, Figure, MEASURES, MetricSection, Table,
                   UNITS, UnitDisplay, doc_anchor, fmt_exact, fmt_fixed, parse_breakdown, period_label,
                   scaled, slug, unit_display)


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
    province_rank: dict[str, int] = field(default_factory=dict)  # province → 0 for the one with most figures

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
        """The tree of the province with the most figures first, then higher levels before lower."""
        r = self.regions.get(code, {})
        depth = r.get("depth")
        rank = self.province_rank.get(r.get("province_code") or code, len(self.province_rank))
        return (rank, int(depth) if depth is not None else 99, code)

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
    """The groupings that partition a region (北疆/南疆 of 新疆, 东部/中部/西部/东北 of the country)
    as its parts, period by period: one chart, for the partitioned region with the most figures."""
    wholes = Counter(ctx.regions[r["region_code"]].get("partition_whole_code") for r in total
                     if ctx.regions.get(r["region_code"], {}).get("partition_whole_code"))
    if not wholes:
        return None
    whole = min(wholes, key=lambda w: (-wholes[w], ctx.region_sort_key(w)))
    groupings = sorted((c for c, r in ctx.regions.items() if r.get("partition_whole_code") == whole),
                       key=ctx.region_sort_key)
    rows = [r for r in total if r["region_code"] in groupings]
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
        f"{metric['name_zh']} {'/'.join(n.removesuffix('地区') for n in names)}占比 — shares of "
        f"{', '.join(ctx.regions[c].get('name_en') or c for c in groupings)}")


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
