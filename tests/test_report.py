"""`tongbi report` on the sample warehouse: it builds, its PNGs are real images of the size the
HTML declares, every local link and anchor resolves, a figure leads to the quote that states it,
and Chinese in the charts is drawn with a CJK font rather than as boxes."""
from __future__ import annotations

import contextlib
import io
import re
import shutil
import struct
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import duckdb
import pytest

from tongbi.cli import main
from tongbi.report import FONT_DIR_ENV, ReportOptions, build_report, find_cjk_font, web_url, wrap_subtitle

PROJECT = Path(__file__).resolve().parent.parent
SAMPLES = PROJECT / "data" / "bulletins"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SCALE = 2   # ReportOptions.scale: PNG pixels per CSS pixel


# ---------------------------------------------------------------- a small DOM for the checks

@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list["Node | str"] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def walk(self):
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.walk()


class TreeBuilder(HTMLParser):
    VOID = {"meta", "img", "br", "link", "input", "hr", "source"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(html_text: str) -> Node:
    builder = TreeBuilder()
    builder.feed(html_text)
    return builder.root


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


# ---------------------------------------------------------------- fixtures

@dataclass
class Built:
    warehouse: Path
    out: Path
    index: Path
    printed: str
    dom: Node

    def ids(self) -> dict[str, Node]:
        return {n.attrs["id"]: n for n in self.dom.walk() if "id" in n.attrs}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    """The sample warehouse (`tongbi run`, ≈45 s) and its report written through the CLI."""
    base = tmp_path_factory.mktemp("report")
    wh = base / "warehouse.duckdb"
    assert main(["run", str(SAMPLES), "--warehouse", str(wh), "--quiet"]) == 0
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["report", "--warehouse", str(wh)]) == 0
    printed = out.getvalue()
    index = base / "reports" / "index.html"     # default: reports/ beside the warehouse
    assert f"Report: {index.resolve()}" in printed
    return Built(wh, index.parent, index, printed, parse(index.read_text(encoding="utf-8")))


# ---------------------------------------------------------------- the report on the real sample warehouse

def test_report_builds_from_the_sample_warehouse(built):
    html_text = built.index.read_text(encoding="utf-8")
    ids = built.ids()
    for part in ("metrics", "quality", "conflicts", "provenance", "metric-external_funds"):
        assert part in ids, f"no #{part}"
    assert "引进区外到位资金" in html_text and "Funds from outside the region" in html_text
    assert "亿元" in html_text
    # the charts the issue asks for: series, quarter alone, YoY, 北疆/南疆, 三次产业, 资金来源
    images = {Path(n.attrs["src"]).name for n in built.dom.walk() if n.tag == "img"}
    for name in ("external_funds-ytd.png", "external_funds-quarter.png", "external_funds-yoy.png",
                 "external_funds-groupings.png", "external_funds-sectors.png"):
        assert name in images, f"no {name}"
    funds_alts = [n.attrs["alt"] for n in built.dom.walk()
                  if n.tag == "img" and n.attrs["src"].startswith("img/external_funds-by-")]
    assert any("资金来源" in a for a in funds_alts), funds_alts
    # the gate's results and the conflicts model are reported
    quality = ids["quality"].text()
    assert "通过 PASSED" in quality and "restated_value_agrees_within_document" in quality
    assert "待核查的冲突" in ids["conflicts"].text() or "预期的差异" in ids["conflicts"].text()
    # the table of contents lists every metric section
    toc = next(n for n in built.dom.walk() if n.tag == "nav")
    toc_targets = {a.attrs["href"] for a in toc.walk() if a.tag == "a"}
    metric_ids = {i for i in ids if i.startswith("metric-") and ids[i].tag == "article"}
    assert metric_ids and {f"#{i}" for i in metric_ids} <= toc_targets


def test_pngs_are_valid_images_of_the_declared_size(built):
    imgs = [n for n in built.dom.walk() if n.tag == "img"]
    assert len(imgs) >= 8
    for img in imgs:
        path = built.out / img.attrs["src"]
        width, height = png_size(path)
        assert (width, height) == (SCALE * int(img.attrs["width"]), SCALE * int(img.attrs["height"])), path.name
        assert img.attrs["alt"], f"{path.name} has no alt text"
    on_disk = {p.name for p in (built.out / "img").glob("*.png")}
    assert on_disk == {Path(i.attrs["src"]).name for i in imgs}, "stale or unreferenced PNGs"


def test_every_local_link_and_anchor_resolves(built):
    ids = built.ids()
    assert len(ids) == sum(1 for n in built.dom.walk() if "id" in n.attrs), "duplicate ids"
    n_fragment = 0
    for node in built.dom.walk():
        for attr in ("href", "src"):
            ref = node.attrs.get(attr)
            if ref is None:
                continue
            url = urlparse(ref)
            if url.scheme in ("http", "https"):
                assert node.tag == "a", f"<{node.tag} {attr}={ref}> needs the network"
                continue
            assert not url.scheme, ref
            if url.path:
                assert (built.out / unquote(url.path)).is_file(), f"missing {ref}"
            if url.fragment:
                assert unquote(url.fragment) in ids, f"no anchor for {ref}"
                n_fragment += 1
    assert n_fragment > 50
    assert not any(n.tag in ("script", "link", "iframe") for n in built.dom.walk()), "the report must be static"


def test_a_figure_links_to_the_quote_that_states_it(built):
    ids = built.ids()
    table = ids["external_funds-regions"]
    row = next(tr for tr in table.walk() if tr.tag == "tr"
               and "北疆地区" in tr.text() and "2025年1-3月" in tr.text())
    link = next(a for a in row.walk() if a.tag == "a" and a.text() == "909.41")
    target = ids[unquote(link.attrs["href"].lstrip("#"))]
    text = target.text()
    assert "909.41" in text and "xj-invest-2025q1" in text and "北疆" in text
    assert re.search(r"\d+–\d+", text), "character offsets"
    sources = [a.attrs["href"] for a in target.walk() if a.tag == "a"]
    # the bulletin or its PDF brief (which restates it): the one chosen links to its address
    assert any(re.fullmatch(r"https?://example\.org/tongbi-samples/xj-invest-2025q1(-brief)?", s) for s in sources)
    # the reported YoY beside it links to its own quote, the computed one to none
    yoy_row = next(tr for tr in table.walk() if tr.tag == "tr"
                   and "南疆地区" in tr.text() and "2024年1-12月" in tr.text())
    cells = [td for td in yoy_row.children if isinstance(td, Node) and td.tag == "td"]
    reported = next(a for a in cells[4].walk() if a.tag == "a")
    assert "14.9" in ids[reported.attrs["href"][1:]].text()
    assert "computed" in cells[5].attrs["class"] and not any(n.tag == "a" for n in cells[5].walk())


def test_every_observation_in_the_warehouse_is_linked_from_a_table(built):
    con = duckdb.connect(str(built.warehouse), read_only=True)
    try:
        chosen = {r[0] for r in con.execute("select chosen_mention_id from fct_observations").fetchall()}
    finally:
        con.close()
    linked_rows = {unquote(a.attrs["href"][1:]) for n in built.dom.walk() if n.tag == "table"
                   for a in n.walk() if a.tag == "a" and a.attrs.get("href", "").startswith("#m-")}
    ids = built.ids()
    linked_mentions = {_mention_id(ids[r]) for r in linked_rows}
    assert chosen <= linked_mentions, sorted(chosen - linked_mentions)[:5]


def _mention_id(row: Node) -> str:
    return next(n for n in row.walk() if n.tag == "code").text()


def test_the_warehouse_is_closed_after_the_report(built):
    # the fixture wrote the report in this process: a read-only connection left open would make
    # this read-write one fail ("different configuration")
    con = duckdb.connect(str(built.warehouse))
    con.close()


def test_a_warehouse_without_conflicts_or_gate_results_still_reports(built, tmp_path):
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(built.warehouse, copy)
    con = duckdb.connect(str(copy))
    con.execute("drop table conflicts")
    con.execute("drop table audit_results")
    con.close()
    result = build_report(ReportOptions(warehouse=copy, out_dir=tmp_path / "out"))
    html_text = result.index.read_text(encoding="utf-8")
    assert "This warehouse has no conflicts model" in html_text
    assert "no gate results" in html_text


def test_a_missing_warehouse_is_one_line_and_non_zero(tmp_path, capsys):
    assert main(["report", "--warehouse", str(tmp_path / "nope.duckdb")]) == 1
    err = capsys.readouterr().err
    assert "no warehouse at" in err and "tongbi run" in err


# ---------------------------------------------------------------- fonts

def test_the_pinned_package_provides_a_cjk_font():
    font = find_cjk_font(environ={})
    assert font is not None, "pylopdf-fonts-zh-cn is a dependency: `pip install -e .` brings Noto Sans SC"
    assert font.family == "Noto Sans SC" and (font.directory / "NotoSansSC-Regular.otf").is_file()


def test_a_font_folder_named_in_the_environment_comes_first(tmp_path):
    (tmp_path / "wqy-microhei.ttc").write_bytes(b"")
    font = find_cjk_font(environ={FONT_DIR_ENV: str(tmp_path)})
    assert font is not None and font.family == "WenQuanYi Micro Hei" and font.source == FONT_DIR_ENV


def test_chinese_is_drawn_as_glyphs_not_boxes():
    """Characters no registered font has (private use) all draw alike, as boxes or as nothing;
    without a CJK font 北疆 draws exactly so. With the font registered the images differ."""
    import altair as alt
    import vl_convert as vlc

    font = find_cjk_font(environ={})
    assert font is not None
    vlc.register_font_directory(str(font.directory))

    def draw(text: str) -> bytes:
        chart = alt.Chart(alt.Data(values=[{"x": 0}])).mark_text(fontSize=40, text=text).properties(
            width=120, height=60).configure(font=font.family).configure_view(stroke=None)
        return vlc.vegalite_to_png(chart.to_dict(), scale=1)

    assert draw("北疆") != draw("\ue000\ue001")
    assert draw("\ue000\ue001") == draw("\ue002\ue003"), "boxes are all alike (the premise of this test)"


def test_subtitles_wrap_to_the_chart_width():
    lines = wrap_subtitle("Funds from outside the region put in place: shares of the primary, secondary "
                          "and tertiary industries in the total, % (reported; else computed from levels)")
    assert len(lines) == 2 and all(len(line) <= 118 for line in lines)


def test_system_fonts_are_the_fallback(tmp_path):
    wqy = tmp_path / "wqy"
    wqy.mkdir()
    (wqy / "wqy-microhei.ttc").write_bytes(b"")
    font = find_cjk_font(environ={}, package="no_such_font_package", system_dirs=(str(tmp_path / "none"), str(wqy)))
    assert font is not None and font.family == "WenQuanYi Micro Hei" and font.source == "system"
    assert find_cjk_font(environ={}, package="no_such_font_package", system_dirs=()) is None


def test_only_web_addresses_become_source_links():
    assert web_url("https://example.org/a") == "https://example.org/a"
    assert web_url("javascript:alert(1)") is None and web_url("file:///etc/passwd") is None and web_url(None) is None


def test_regions_of_one_chart_never_share_a_colour():
    from tongbi.report import Anchors, Context, Warehouse

    ctx = Context(wh=Warehouse(Path("none"), {}), anchors=Anchors(), charts=None,  # type: ignore[arg-type]
                  regions={}, industries={}, observations={})
    for i in range(14):                 # more regions than colours, one chart each
        ctx.colors([f"r{i}"])
    chart = ctx.colors(["r0", "r12", "r13", "r1", "new"])
    assert len(set(chart.values())) == len(chart)
    assert chart["r0"] == ctx.colors(["r0"])["r0"], "a region keeps its colour where it can"
