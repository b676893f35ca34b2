"""A bulletin saved as a web page: the article's main text, title and date, by trafilatura.

A news site's page carries navigation, a "related news" sidebar full of other regions'
figures, scripts and a licence footer around the article; only the article is the bulletin.
trafilatura (boilerplate removal, maintained, measured best among the open extractors) keeps
the main text; its metadata gives the title and the publication date (htmldate).
"""
from __future__ import annotations

import codecs
import datetime as dt
import re
from pathlib import Path

from . import SourceText
from ..documents import DocumentError

# <meta charset="gbk"> or <meta http-equiv="Content-Type" content="text/html; charset=gb2312">
_DECLARED = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.I)
# GB2312 and GBK pages hold characters beyond their tables more often than not: read them as
# GB18030, which contains both
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030",
              "euc-cn": "gb18030", "hz-gb-2312": "gb18030"}
# an article shorter than this is a page without one (an index, an error page)
MIN_ARTICLE_CHARS = 30


def decode_html(data: bytes, path: Path | str) -> tuple[str, str]:
    """The page's text by its BOM, its declared charset, or the detected one."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    declared = _DECLARED.search(data[:4096])
    if declared:
        name = declared[1].decode("ascii").lower()
        name = _SUPERSETS.get(name, name)
        try:
            codecs.lookup(name)
        except LookupError:
            name = ""
        if name:
            try:
                return data.decode(name), name
            except UnicodeDecodeError:
                pass   # a page that lies about its charset: detect it instead
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is not None and best.encoding:
        name = _SUPERSETS.get(best.encoding.lower(), best.encoding.lower())
        try:
            return data.decode(name), name
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        raise DocumentError(path, "undecodable web page: neither its declared charset, UTF-8 nor GB18030") from None


def _date(value: object) -> dt.date | None:
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def read_html(data: bytes, path: Path | str) -> SourceText:
    import trafilatura

    page, encoding = decode_html(data, path)
    try:
        doc = trafilatura.bare_extraction(page, with_metadata=True, include_comments=False,
                                          include_tables=True, include_images=False,
                                          include_links=False, deduplicate=False,
                                          # the page's stated date (metadata, <time>, its URL), never
                                          # one guessed from the text: a date the article speaks of is
                                          # not its publication date
                                          date_extraction_params={"extensive_search": False,
                                                                  "original_date": True})
    except Exception as exc:  # lxml raises several kinds on broken markup
        raise DocumentError(path, f"unreadable web page: {exc}") from None
    body = (getattr(doc, "text", None) or "").strip() if doc is not None else ""
    if len(body) < MIN_ARTICLE_CHARS:
        raise DocumentError(path, "web page without an article: no main text found "
                                  "(an index page, an error page or a page of scripts only)")
    title = (doc.title or "").strip()
    # the headline states a figure more often than not: it is part of the text, first
    text = body if not title or body.startswith(title) else f"{title}\n\n{body}"
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return SourceText(text=text + "\n", title=title, published=_date(doc.date),
                      source_url=(doc.url or "").strip(), encoding=encoding)
