"""Make the bundled web-page and PDF samples (data/bulletins/*.html, *.pdf) from our own text.

The sample texts are in tools/samples/ (Markdown with front matter: title, published, url),
outside data/bulletins so they are not read as bulletins themselves:
* xj-invest-2023-web.md → data/bulletins/xj-invest-2023-web.html: a news site's article page
  (navigation, a "related news" sidebar whose figures are other bulletins', scripts, a licence
  footer), encoded in GBK as many Chinese sites still serve;
* xj-invest-2025q1-brief.md → data/bulletins/xj-invest-2025q1-brief.pdf: the text printed to
  PDF by headless Chromium on A5 pages, with the browser's running header (date, title) and
  footer (address, page x/y); the dateline closes the text. The font is the Noto Serif SC the
  project depends on (pylopdf-fonts-zh-cn).

    python tools/make_sample_files.py      # needs chromium (apt-get install chromium)
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from bulletin_pages import chromium, news_page, print_page, print_to_pdf, split_markdown  # noqa: E402

SAMPLES = ROOT / "tools" / "samples"
OUT = ROOT / "data" / "bulletins"
RELATED = ["2024年我区区外到位资金9355.26亿元，比上年增长11%", "一季度我区区外资金到位1616.27亿元，增长21.59%",
           "今年“三北”工程任务面积1194.01万亩", "中华骨髓库新疆分库已有5.4万余名志愿者"]


def main() -> None:
    meta, body = split_markdown((SAMPLES / "xj-invest-2023-web.md").read_text(encoding="utf-8"))
    page = news_page(str(meta["title"]), str(meta["published"]), body, RELATED, charset="gbk",
                     site="样例新闻网", url=str(meta["url"]))
    (OUT / "xj-invest-2023-web.html").write_bytes(page.encode("gb18030"))
    browser = chromium()
    if browser is None:
        sys.exit("chromium is needed to print the PDF sample (apt-get install chromium)")
    meta, body = split_markdown((SAMPLES / "xj-invest-2025q1-brief.md").read_text(encoding="utf-8"))
    print_to_pdf(print_page(str(meta["title"]), str(meta["published"]), body),
                 OUT / "xj-invest-2025q1-brief.pdf", browser, str(meta["url"]))
    print(f"wrote {OUT / 'xj-invest-2023-web.html'} and {OUT / 'xj-invest-2025q1-brief.pdf'}")


if __name__ == "__main__":
    main()
