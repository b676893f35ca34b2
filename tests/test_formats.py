"""Bulletins as users have them: web pages (.html/.htm) and PDF files (.pdf) beside .md/.txt.

Held out: real bulletins of ../shared/corpus/dev re-served as a news site's pages (navigation,
a sidebar of other bulletins' figures, scripts, a licence footer; every third page in GBK) and
printed to PDF by headless Chromium (running header, address and page numbers in the margins,
the radicals its text layer emits): extraction from them is scored against the gold labels
beside the plain-text versions' score.
"""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from bulletin_pages import chromium, news_page, reserve, split_markdown
from loaders.corpus import extract_corpus
from loaders.documents import DocumentError, iter_document_paths, load_document
from loaders.formats.pdf import radical_table, strip_margins, unify_ideographs
from loaders.seeds import raw_metrics_frame, write_csv

PROJECT = Path(__file__).resolve().parent.parent
SAMPLES = PROJECT / "data" / "bulletins"
HTML_SAMPLE = SAMPLES / "xj-invest-2023-web.html"
PDF_SAMPLE = SAMPLES / "xj-invest-2025q1-brief.pdf"
# a few dev bulletins (fast): the gold's figures of many kinds, GBK pages among them (every third)
HELD_OUT = ("d003", "d004", "d006", "d011", "d012", "d018", "d020", "d084", "d099")


def browser() -> str:
    found = chromium()
    if found is None:
        pytest.skip("chromium is absent (.ci/run installs it): the PDF tests print with it")
    return found


# ------------------------------------------------------------------------------ PDF text layer


def test_radicals_map_to_the_ideographs_they_print_as():
    table = radical_table()
    assert len(table) > 300   # Kangxi radicals, the CJK Radicals Supplement, compatibility ideographs
    assert unify_ideographs("新疆维吾尔⾃治区⼈⺠政府：同⽐增⻓21.59%") == "新疆维吾尔自治区人民政府：同比增长21.59%"
    # one character for one: offsets into the text stay where they were
    assert all(len(v) == 1 for v in table.values())


def test_running_headers_footers_and_page_numbers_are_dropped():
    body = [["北疆地区区外到位资金909.41亿元，占全区的56.27%；", "南疆地区区外到位资金706.86亿元，"],
            ["占全区的43.73%，同比增长38.9%。", "东部地区到位资金1096.88亿元，"],
            ["占全区到位资金的67.86%。", "民间投资占全区到位资金的比重为68.64%。"]]
    pages = [["12/1/26, 8:52 PM 2025年一季度全区招商引资情况", *lines,
              "http://example.org/tongbi-samples/brief", f"{i}/3"] for i, lines in enumerate(body, 1)]
    assert strip_margins(pages) == body
    # a header of the publisher's own, repeated on every page, and page numbers as 第 i 页
    pages = [["新疆维吾尔自治区商务厅 招商引资简报", *lines, f"第 {i} 页 共 3 页"] for i, lines in enumerate(body, 1)]
    assert strip_margins(pages) == body


def test_pdf_sample_reads_as_its_text(converter):
    doc = load_document(PDF_SAMPLE, converter)
    assert doc.doc_id == "xj-invest-2025q1-brief" and doc.encoding == "pdf"
    assert doc.published is not None and doc.published.isoformat() == "2025-04-14"   # the closing dateline
    # the address the browser printed in the footer (the page was served over http)
    assert doc.source_url == "http://example.org/tongbi-samples/xj-invest-2025q1-brief"
    assert not any(0x2E80 <= ord(c) <= 0x2FDF for c in doc.text), "radicals left in the text"
    for furniture in ("example.org", "PM", "1/2", "2/2"):
        assert furniture not in doc.text
    # a paragraph's lines joined: the sentence and its figures in one piece
    assert "全区落实执行招商引资项目1778个，引进区外到位资金1616.27亿元，同比增长21.59%。" in doc.text
    assert doc.text.count("2025年一季度全区招商引资情况") == 1   # the title, not the running header


def test_bad_pdf_files_are_rejected_by_name_and_reason(tmp_path, vocab):
    from pypdf import PdfReader, PdfWriter

    data = PDF_SAMPLE.read_bytes()
    (tmp_path / "truncated.pdf").write_bytes(data[: len(data) // 2])
    writer = PdfWriter(clone_from=PdfReader(PDF_SAMPLE))
    writer.encrypt(user_password="secret", owner_password="owner")
    with (tmp_path / "locked.pdf").open("wb") as f:
        writer.write(f)
    scan = PdfWriter()
    scan.add_blank_page(width=420, height=595)
    scan.add_blank_page(width=420, height=595)
    with (tmp_path / "scanned.pdf").open("wb") as f:
        scan.write(f)
    (tmp_path / "fake.pdf").write_bytes(b"<html>not a pdf</html>")
    shutil.copy(PDF_SAMPLE, tmp_path / "good.pdf")
    result = extract_corpus([tmp_path], vocab)
    reasons = {Path(str(r["path"])).name: str(r["reason"]) for r in result.rejected}
    assert set(reasons) == {"truncated.pdf", "locked.pdf", "scanned.pdf", "fake.pdf"}
    assert "truncated" in reasons["truncated.pdf"]
    assert "encrypted" in reasons["locked.pdf"] and "password" in reasons["locked.pdf"]
    assert "no text layer" in reasons["scanned.pdf"].replace("without a text layer", "no text layer")
    assert "OCR" in reasons["scanned.pdf"]
    assert "not a PDF" in reasons["fake.pdf"]
    assert [d["doc_id"] for d in result.documents] == ["good"] and result.mentions


# ------------------------------------------------------------------------------------ web pages


def test_html_sample_is_its_article_only(converter):
    doc = load_document(HTML_SAMPLE, converter)
    assert doc.encoding == "gb18030"   # declared gbk, read as its superset
    assert doc.title == "8428.53亿元！2023年新疆区外到位资金增长16.5%"
    assert doc.published is not None and doc.published.isoformat() == "2024-01-18"
    assert doc.reference_source == "front_matter"   # a stated publication date
    assert doc.source_url == "https://example.org/tongbi-samples/xj-invest-2023-web"
    assert doc.text.startswith(doc.title)
    assert "北疆地区区外到位资金5092.08亿元，占全区的60.41%，增长14.27%" in doc.text
    # the sidebar's figures are other bulletins'; navigation, scripts and the footer are no text
    for furniture in ("9355.26", "1194.01", "相关新闻", "首页", "gtag", "hotNews", "版权所有", "ICP", "9.9%"):
        assert furniture not in doc.text, furniture


def test_html_charsets_declared_and_undeclared(tmp_path, converter):
    meta, body = split_markdown((PROJECT / "tools" / "samples" / "xj-invest-2023-web.md").read_text(encoding="utf-8"))
    page = news_page(str(meta["title"]), str(meta["published"]), body, ["其他地区增长9.9%"], charset="gb2312")
    (tmp_path / "declared.htm").write_bytes(page.encode("gb18030"))
    (tmp_path / "undeclared.html").write_bytes(page.replace('<meta charset="gb2312">', "").encode("gb18030"))
    texts = {p.stem: load_document(p, converter).text for p in iter_document_paths([tmp_path])}
    assert set(texts) == {"declared", "undeclared"}
    assert texts["declared"] == texts["undeclared"] and "8428.53亿元" in texts["declared"]


def test_html_table_rows_are_read_under_their_columns(tmp_path, converter, extractor):
    """A communiqué page's <table> comes out of the page reader one cell a line; the table reader
    takes its rows back under their columns (a 单位 column, a % column)."""
    rows = "".join(f"<tr><td>{a}</td><td>{b}</td><td>{c}</td><td>{d}</td></tr>" for a, b, c, d in (
        ("指标", "单位", "产量", "比上年增长(%)"), ("粮食", "万吨", "56.3", "1.2"), ("油料", "万吨", "3.1", "-0.5")))
    page = ("<html><head><meta charset='utf-8'><title>某市2023年国民经济和社会发展统计公报</title></head><body>"
            "<div class='article'><h1>福州市2023年国民经济和社会发展统计公报</h1>"
            "<p>初步核算，全年全市地区生产总值12928.47亿元，比上年增长5.5%。全市常住人口增加5万人。</p>"
            f"<p>表1　2023年主要农产品产量</p><table>{rows}</table>"
            "<p>全年全市规模以上工业增加值比上年增长5.6%。</p></div></body></html>")
    (tmp_path / "communique.html").write_text(page, encoding="utf-8")
    doc = load_document(tmp_path / "communique.html", converter)
    got = {(m.measure, m.value, m.unit, m.industry_name, m.period_year) for m in extractor.extract(doc)
           if m.rule == "table"}
    assert got == {("level", 563000.0, "tonne", "粮食", 2023), ("yoy_pct", 1.2, "percent", "粮食", 2023),
                   ("level", 31000.0, "tonne", "油料", 2023), ("yoy_pct", -0.5, "percent", "油料", 2023)}


def test_page_without_an_article_is_rejected(tmp_path, vocab):
    (tmp_path / "index.html").write_text(
        "<html><head><title>首页</title><script>var a=1;</script></head><body><nav><a href='/'>首页</a>"
        "<a href='/e'>经济</a></nav><footer>版权所有</footer></body></html>", encoding="utf-8")
    (tmp_path / "empty.html").write_bytes(b"")
    shutil.copy(HTML_SAMPLE, tmp_path / "article.html")
    result = extract_corpus([tmp_path], vocab)
    reasons = {Path(str(r["path"])).name: str(r["reason"]) for r in result.rejected}
    assert "without an article" in reasons["index.html"] and "empty" in reasons["empty.html"]
    assert [d["doc_id"] for d in result.documents] == ["article"]


# ------------------------------------------------------------- held out: real bulletins re-served


@pytest.fixture(scope="module")
def reserved(shared, tmp_path_factory):
    docs = [shared / "corpus" / "dev" / f"{d}.md" for d in HELD_OUT]
    docs = [d for d in docs if d.exists()]
    if len(docs) < 5:
        pytest.skip("the held-out dev bulletins are absent from ../shared/corpus/dev")
    out = tmp_path_factory.mktemp("reserved")
    (out / "plain").mkdir()
    for d in docs:
        shutil.copy(d, out / "plain" / d.name)
    reserve(docs, out, browser())
    return out


def _score(shared: Path, folder: Path, out: Path, vocab) -> dict[str, float]:
    result = extract_corpus([folder], vocab)
    assert not result.rejected, result.rejected
    write_csv(raw_metrics_frame(m.as_row() for m in result.mentions), out)
    # the gold of the held-out documents only: recall is over what they state
    gold = out.with_name("gold.csv")
    with (shared / "gold" / "dev.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    with gold.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(r for r in rows if r["doc"] in HELD_OUT)
    proc = subprocess.run([sys.executable, str(shared / "tools" / "score_extraction.py"), "--gold",
                           str(gold), "--pred", str(out)],
                          capture_output=True, text=True, check=True)
    line = next(x for x in proc.stdout.splitlines() if x.startswith("precision"))
    values = line.split()
    scores = dict(zip(values[::2], map(float, values[1::2])))
    print(folder.name, line)
    return scores


@pytest.mark.parametrize("kind", ["html", "pdf"])
def test_reserved_bulletins_score_like_their_plain_text(shared, reserved, kind, vocab):
    plain = _score(shared, reserved / "plain", reserved / "plain.csv", vocab)
    other = _score(shared, reserved / kind, reserved / f"{kind}.csv", vocab)
    assert other["precision"] >= plain["precision"] - 0.03
    assert other["strict_recall"] >= plain["strict_recall"] - 0.05


def test_run_over_both_folders_publishes_and_quotes_match_document_texts(reserved, tmp_path):
    site = tmp_path / "site"
    shutil.copytree(reserved / "html", site / "html")
    (site / "pdf").mkdir()
    for p in (reserved / "pdf").glob("*.pdf"):       # other ids: the same bulletin printed
        shutil.copy(p, site / "pdf" / f"{p.stem}-print.pdf")
    env = dict(os.environ, DBT_SEND_ANONYMOUS_USAGE_STATS="false", GX_ANALYTICS_ENABLED="false")
    proc = subprocess.run([sys.executable, "-m", "tongbi.cli", "run", "html", "pdf", "--warehouse",
                           "warehouse.duckdb", "--quiet"], cwd=site, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    con = duckdb.connect(str(site / "warehouse.duckdb"), read_only=True)
    try:
        n_docs = con.sql("select count(*) from document_texts").fetchall()[0][0]
        assert n_docs == 2 * len(list((reserved / "html").iterdir()))
        n, bad = con.sql("""select count(*), count(*) filter (where t.doc_id is null
                                or m.quote is distinct from substr(t.text, m.char_start + 1, m.char_end - m.char_start))
                            from raw_metrics m left join document_texts t using (doc_id)""").fetchall()[0]
        assert n > 50 and bad == 0
        encodings = dict(con.sql("select encoding, count(*) from documents group by 1").fetchall())
        assert encodings.get("pdf") == n_docs // 2 and encodings.get("gb18030")
        # a user's first polars query of the warehouse
        df = con.sql("select doc_id, n_chars from documents order by doc_id").pl()
        assert df.height == n_docs
    finally:
        con.close()
