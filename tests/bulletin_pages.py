"""Bulletins re-served the way users save them: a news site's web page around the text (with
navigation, a sidebar of other bulletins' figures, scripts and a licence footer), and that
page printed to PDF by a headless browser (running header, URL and page numbers on each page).

Used by tests/test_formats.py and tools/make_sample_files.py.
"""
from __future__ import annotations

import html
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

_FRONT = re.compile(r"\A---\n(.*?)\n---[ \t]*\n", re.S)


def split_markdown(text: str) -> tuple[dict[str, object], str]:
    m = _FRONT.match(text)
    if not m:
        return {}, text
    return yaml.safe_load(m[1]) or {}, text[m.end():]


def body_html(body: str) -> str:
    """Markdown-ish bulletin text as article markup: headings, paragraphs, list items."""
    out: list[str] = []
    items: list[str] = []
    for block in re.split(r"\n\s*\n", body.strip()):
        for line in block.split("\n"):
            line = line.strip()
            if not line:
                continue
            if line.startswith(("- ", "* ")):
                items.append(f"<li>{_inline(line[2:])}</li>")
                continue
            if items:
                out.append("<ul>" + "".join(items) + "</ul>")
                items = []
            if line.startswith("#"):
                level = min(len(line) - len(line.lstrip("#")) + 1, 4)
                out.append(f"<h{level}>{_inline(line.lstrip('#').strip())}</h{level}>")
            elif line.startswith(">"):
                out.append(f"<blockquote><p>{_inline(line.lstrip('> '))}</p></blockquote>")
            else:
                out.append(f"<p>{_inline(line)}</p>")
    if items:
        out.append("<ul>" + "".join(items) + "</ul>")
    return "\n".join(out)


def _inline(text: str) -> str:
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(text))


def news_page(title: str, published: str, body: str, related: list[str], charset: str = "utf-8",
              site: str = "边疆日报网", url: str = "") -> str:
    """A news site's article page: the article among the furniture that is not the bulletin."""
    date = published[:10]
    canonical = f'<link rel="canonical" href="{html.escape(url)}">\n<meta property="og:url" content="{html.escape(url)}">' \
        if url else ""
    # a page whose bulletin has no date shows none (htmldate would guess one from the page)
    dated_meta = (f'<meta property="article:published_time" content="{date}T09:30:00+08:00">\n'
                  f'<meta name="publishdate" content="{date}">') if date else ""
    dated_span = f'<span class="time">{date} 09:30</span> ' if date else ""
    sidebar = "\n".join(f'<li><a href="/news/{i}.html">{html.escape(r)}</a></li>' for i, r in enumerate(related, 1))
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="{charset}">
<title>{html.escape(title)}_{site}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta property="og:title" content="{html.escape(title)}">
<meta property="og:type" content="article">
{canonical}
{dated_meta}
<link rel="stylesheet" href="/static/css/site.css">
<script>window.dataLayer=window.dataLayer||[];function gtag(){{dataLayer.push(arguments);}}gtag('js',new Date());
var hotNews=["全区规模以上工业增加值增长9.9%","社会消费品零售总额增长7.5%"];</script>
<style>nav a{{margin:0 6px}} aside{{float:right;width:30%}}</style>
</head>
<body>
<header class="site-header">
  <div class="logo"><a href="/">{site}</a></div>
  <nav class="main-nav"><a href="/">首页</a><a href="/politics/">时政</a><a href="/economy/">经济</a>
  <a href="/society/">社会</a><a href="/culture/">文化</a><a href="/video/">视频</a><a href="/e-paper/">数字报</a></nav>
  <div class="breadcrumb"><a href="/">首页</a> &gt; <a href="/economy/">经济</a> &gt; 正文</div>
</header>
<div class="container">
<main>
<article class="article">
  <h1 class="article-title">{html.escape(title)}</h1>
  <div class="article-meta">{dated_span}<span class="source">来源：{site}</span>
  <span class="share">分享到：微信 微博</span></div>
  <div class="article-content">
{body_html(body)}
  </div>
  <div class="editor">【责任编辑：网站编辑】</div>
</article>
</main>
<aside class="sidebar">
  <h3>相关新闻</h3>
  <ul class="related">
{sidebar}
  </ul>
  <h3>热点排行</h3>
  <ol><li><a href="/hot/1.html">全区规模以上工业增加值同比增长9.9%</a></li>
  <li><a href="/hot/2.html">前三季度居民人均可支配收入增长6.4%</a></li></ol>
</aside>
</div>
<footer class="site-footer">
  <p><a href="/about/">关于我们</a> | <a href="/contact/">联系我们</a> | <a href="/ads/">广告服务</a></p>
  <p>版权所有 {site} 未经书面授权禁止转载、摘编、复制或建立镜像。违法和不良信息举报电话：0000-0000000</p>
  <p>互联网新闻信息服务许可证编号：00000000000000 ICP备00000000号-1</p>
</footer>
<script src="/static/js/stat.js"></script>
<script>document.querySelectorAll('.share').forEach(function(e){{e.onclick=function(){{}}}});</script>
</body>
</html>
"""


def cjk_font() -> Path:
    """The Noto Serif SC font the project depends on (pylopdf-fonts-zh-cn), for the printed page."""
    import pylopdf_fonts_zh_cn

    return Path(pylopdf_fonts_zh_cn.__file__).with_name("NotoSerifSC-Regular.otf")


def print_page(title: str, published: str, body: str) -> str:
    """The bulletin as a print layout: the text alone, on narrow pages, so it breaks into pages
    with the browser's running header (date, title) and footer (URL, page x/y); the date
    closes the text, as a communiqué's does."""
    dateline = ""
    if published[:10].count("-") == 2:
        y, m, d = (int(x) for x in published[:10].split("-"))
        dateline = f'<p style="text-align:right">{y}年{m}月{d}日</p>'
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>@font-face {{ font-family: "BulletinSerif"; src: url("/{FONT_PATH}"); }}
@page {{ size: A5; margin: 18mm 14mm; }}
body {{ font-family: "BulletinSerif", serif; font-size: 11pt; line-height: 1.6; }}
h1 {{ font-size: 15pt; }} p {{ text-indent: 2em; margin: 0.4em 0; }}</style></head>
<body><h1>{html.escape(title)}</h1>
{body_html(body)}
{dateline}
</body></html>
"""


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


FONT_PATH = "__fonts/NotoSerifSC-Regular.otf"


def print_to_pdf(page_html: str, out: Path, browser: str, url: str = "", header_footer: bool = True) -> None:
    """Print a page to PDF with headless Chromium, as a browser's 'Save as PDF' does. The page is
    served at `url` (its host resolved to a server on this machine), so the footer the browser
    prints carries the bulletin's address."""
    import http.server
    import threading
    from urllib.parse import urlsplit

    font = cjk_font().read_bytes()
    page = page_html.encode("utf-8")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server interface
            data, kind = (font, "font/otf") if self.path.endswith(FONT_PATH) else (page, "text/html; charset=utf-8")
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    parts = urlsplit(url) if url.startswith(("http://", "https://")) else None
    address = f"http://{parts.netloc}{parts.path or '/'}" if parts else "http://bulletins.test/page.html"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                   f"--host-resolver-rules=MAP * 127.0.0.1:{server.server_address[1]}",
                   f"--user-data-dir={tmp}/profile", f"--print-to-pdf={out}"]
            if not header_footer:
                cmd.append("--no-pdf-header-footer")
            subprocess.run(cmd + [address], check=True, capture_output=True, timeout=120)
    finally:
        server.shutdown()
        server.server_close()
    if not out.exists():
        raise RuntimeError(f"{browser} printed no PDF for {out}")


def reserve(docs: list[Path], out: Path, browser: str | None, gbk_every: int = 3) -> dict[str, Path]:
    """Re-serve bulletins (Markdown with front matter) as news-site pages (every `gbk_every`-th
    one GBK-encoded) in out/html, and printed to PDF in out/pdf when a browser is there. Each
    page's sidebar lists the lead sentences of the other bulletins: figures that are not its own."""
    folders = {"html": out / "html", "pdf": out / "pdf"}
    for f in folders.values():
        f.mkdir(parents=True, exist_ok=True)
    parsed = [(p, *split_markdown(p.read_text(encoding="utf-8"))) for p in docs]
    leads = [next((x.strip() for x in body.split("\n") if len(x.strip()) > 20), "")[:60] for _, _, body in parsed]
    for i, (path, meta, body) in enumerate(parsed):
        title = str(meta.get("title") or "").strip() or path.stem
        published = str(meta.get("published") or "")
        related = [leads[j] for j in range(len(parsed)) if j != i][:4]
        charset = "gbk" if gbk_every and i % gbk_every == gbk_every - 1 else "utf-8"
        url = str(meta.get("url") or "").strip()
        page = news_page(title, published, body, related, charset=charset, url=url)
        try:
            data = page.encode("gb18030" if charset == "gbk" else "utf-8")
        except UnicodeEncodeError:
            data = page.replace('charset="gbk"', 'charset="utf-8"').encode("utf-8")
        (folders["html"] / f"{path.stem}.html").write_bytes(data)
        if browser:
            print_to_pdf(print_page(title, published, body), folders["pdf"] / f"{path.stem}.pdf", browser, url)
    return folders
