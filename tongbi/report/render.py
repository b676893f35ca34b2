"""`tongbi report`: a static HTML report of the published warehouse.

One HTML file (`index.html`) and its PNG charts (`img/`), opening without a server or network:

- per metric: the year-to-date and single-quarter series by region, the reported growth rates
  beside the ones recomputed from the warehouse's own levels, and the share breakdowns
  (groupings such as 北疆/南疆, 三次产业, and every `key=value` breakdown of the mentions: 资金来源, 投资主体, 园区 …);
- the data-quality summary of the last gate run (`audit_results`), the names the vocabularies
  lack (`unresolved_names`) and the conflicts between mentions (`conflicts`, when present);
- provenance: every figure in a table links to its mention in the appendix, which gives the
  quote, the document, the character offsets and the source URL.

The warehouse is opened read-only, read into memory and closed before anything is drawn.

The report's jobs, one module each: `data` (the warehouse queries), `charts` (the chart
specifications, drawn to PNG), `view` (what the template shows, and how figures are written),
`sections` and `review` (the parts of the page), `render` (this module: the page, from
`report.html.j2`).
"""
from __future__ import annotations

import datetime as dt
import os
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from .charts import ChartWriter, FONT_DIR_ENV, FontChoice, IMAGE_SUBDIR, find_cjk_font
from .data import Warehouse, read_warehouse
from .review import build_conflicts, build_provenance, build_quality
from .sections import Context, build_sections
from .view import Anchors

TEMPLATE_DIR = Path(__file__).parent
TEMPLATE_NAME = "report.html.j2"      # the page: Jinja2, autoescaped


# ---------------------------------------------------------------- options and results


@dataclass(frozen=True)
class ReportOptions:
    warehouse: Path = Path("warehouse.duckdb")
    out_dir: Path | None = None        # default: reports/ beside the warehouse
    scale: float = 2.0                 # PNG pixels per CSS pixel

    def output_dir(self) -> Path:
        return self.out_dir if self.out_dir is not None else self.warehouse.parent / "reports"


@dataclass(frozen=True)
class ReportResult:
    index: Path
    images: tuple[Path, ...]
    n_metrics: int
    n_mentions: int
    font: FontChoice | None


def province_rank(wh: Warehouse) -> dict[str, int]:
    """Provinces by how many facts the warehouse holds about their tree, most first: the report
    leads with the places it knows most about, whichever province they are in."""
    regions = {r["region_code"]: r for r in wh.rows("dim_region")}
    counts = Counter((regions.get(r["region_code"]) or {}).get("province_code") or r["region_code"]
                     for r in wh.rows("fct_region_quarter") if r.get("region_code"))
    return {code: i for i, (code, _) in enumerate(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))}


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
        province_rank=province_rank(wh),
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
