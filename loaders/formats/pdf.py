"""A bulletin published as a PDF file: its text layer, as a reader would read the pages.

pypdf (pure Python, maintained) gives each page's text line by line. What a PDF's text layer
adds to the bulletin is undone here:
* radicals: fonts map glyphs shared by a radical and an ideograph back to the radical
  (⾃ for 自, ⺠ for 民, ⻓ for 长); radicals.csv (tools/make_radicals.py, from Unicode's
  EquivalentUnifiedIdeograph.txt) maps them to the ideograph, and NFKC the compatibility
  ideographs (U+F900–FAFF, U+2F800–2FA1F);
* running headers and footers (the title, a date, a URL repeated on every page) and page
  numbers (3, - 3 -, 3/7, 第3页) between the pages' lines;
* line breaks inside a paragraph (a line filled to the margin goes on on the next line),
  joined; a word hyphenated at a line end is rejoined.
Files that are not readable bulletins are refused: a truncated file, a password-protected
one, and a scanned one with no text layer (no OCR).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections import Counter
from functools import lru_cache
from pathlib import Path

from . import SourceText
from ..documents import DocumentError

RADICALS_CSV = Path(__file__).with_name("radicals.csv")
SENTENCE_END = set("。！？!?；;：:")
# a line that is only a page number: 3 · - 3 - · — 3 — · 3/7 · 3 / 7 · 第3页 · 第3页 共7页 · Page 3 of 7
_PAGE_NUMBER = re.compile(r"\s*(?:[-—–]\s*)?(?:第\s*)?\d{1,4}(?:\s*页)?(?:\s*(?:/|of|共)\s*\d{1,4}\s*页?)?"
                          r"(?:\s*[-—–])?\s*|\s*(?:page|p\.)\s*\d{1,4}(?:\s*(?:/|of)\s*\d{1,4})?\s*", re.I)
# what a browser prints in the margins: the date and time it printed (12/1/26, 8:50 PM), the URL
_BROWSER_STAMP = re.compile(r"\s*\d{1,2}/\d{1,2}/\d{2,4},?\s+\d{1,2}:\d{2}(?:\s*[AP]M)?\b.*|\s*(?:file|https?)://\S+.*",
                            re.I)
_PRINTED_URL = re.compile(r"\s*(https?://[^\s]+)")
_DIGITS = re.compile(r"\d+")
_DATELINE = re.compile(r"(?<!\d)((?:19|20)\d\d)\s*[年.\-/]\s*(1[0-2]|0?[1-9])\s*[月.\-/]\s*(3[01]|[12]\d|0?[1-9])\s*日?")
MARGIN_LINES = 3
DATELINE_PARAGRAPHS = 4    # how far from the head or the foot a dateline stands
DATELINE_MAX_CHARS = 40    # a dateline is a line of its own, not a sentence   # lines at the top and at the bottom of a page where headers and footers sit


@lru_cache(maxsize=1)
def radical_table() -> dict[int, str]:
    """Radical code point → unified ideograph, from radicals.csv (one character for one)."""
    with RADICALS_CSV.open(encoding="utf-8", newline="") as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        table = {int(r["radical_hex"], 16): chr(int(r["ideograph_hex"], 16)) for r in rows}
    for cp in list(range(0xF900, 0xFB00)) + list(range(0x2F800, 0x2FA20)):
        norm = unicodedata.normalize("NFKC", chr(cp))
        if len(norm) == 1 and norm != chr(cp):
            table[cp] = norm
    # CJK fonts draw the dash of 1—8月 (U+2014) and the horizontal bar (U+2015) with one glyph,
    # which text layers give back as the bar: the grammar of periods knows the dash
    table[0x2015] = "\u2014"
    return table


def unify_ideographs(text: str) -> str:
    return text.translate(radical_table())


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" or "\uff00" <= ch <= "\uffef" \
        or ch in "，、（）《》“”‘’—…·"


def _margin_key(line: str) -> str:
    """A header or footer line with its page number or count made one: they repeat as keys."""
    return _DIGITS.sub("#", line.strip())


def strip_margins(pages: list[list[str]]) -> list[list[str]]:
    """Drop page numbers, browser stamps and lines repeated at the top or bottom of most pages."""
    counts: Counter[str] = Counter()
    for lines in pages:
        keys = {_margin_key(x) for x in lines[:MARGIN_LINES] + lines[-MARGIN_LINES:] if x.strip()}
        counts.update(keys)
    repeated = {k for k, n in counts.items() if len(pages) >= 2 and n >= max(2, (len(pages) + 1) // 2)}
    out = []
    for lines in pages:
        keep = list(lines)
        for edge in ("top", "bottom"):
            for _ in range(MARGIN_LINES):
                if not keep:
                    break
                line = keep[0] if edge == "top" else keep[-1]
                if not line.strip() or _PAGE_NUMBER.fullmatch(line) or _BROWSER_STAMP.fullmatch(line) \
                        or _margin_key(line) in repeated:
                    keep.pop(0 if edge == "top" else -1)
                else:
                    break
        out.append(keep)
    return out


def _width(line: str) -> int:
    """Printed width in half-width cells: an ideograph takes two, a digit or Latin letter one."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def join_lines(lines: list[str]) -> str:
    """Paragraphs of the pages' lines: a line that reaches the right margin and does not end a
    sentence goes on on the next line; any other line ends its paragraph."""
    widths = sorted(_width(x.strip()) for x in lines if x.strip())
    if not widths:
        return ""
    # the measure of a full line: most lines of a bulletin's body reach the margin
    full = widths[int(len(widths) * 0.9)] if len(widths) >= 5 else widths[-1]
    paragraphs: list[str] = []
    current = ""
    for raw in lines:
        line = raw.strip()
        if not line:
            if current:
                paragraphs.append(current)
                current = ""
            continue
        if current:
            prev = current[-1]
            if prev == "-" and len(current) > 1 and current[-2].isalpha() and line[0].islower():
                current = current[:-1] + line       # a hyphenated word: inter-\nnational
            elif prev.isascii() and prev.isalnum() and line[0].isascii() and line[0].isalpha() \
                    and not (prev.isdigit() or line[0].isdigit()):
                current += " " + line               # Latin words keep their space
            else:
                current += line
        else:
            current = line
        # a line ends short of the margin when the next word (a figure: 1770.32亿元) did not fit
        if _width(line) < full * 0.75 or line[-1] in SENTENCE_END:
            paragraphs.append(current)
            current = ""
    if current:
        paragraphs.append(current)
    return "\n\n".join(paragraphs)


def find_dateline(text: str) -> dt.date | None:
    """The date on a dateline: a short paragraph among the first or the last few that states a
    full date (2024年1月18日, 发布时间：2024-01-18 10:05), not a date the body speaks of."""
    paragraphs = [p.strip() for p in text.split("\n") if p.strip()]
    for part in (paragraphs[:DATELINE_PARAGRAPHS], paragraphs[::-1][:DATELINE_PARAGRAPHS]):
        for para in part:
            if len(para) > DATELINE_MAX_CHARS:
                continue
            for m in _DATELINE.finditer(para):
                try:
                    return dt.date(int(m[1]), int(m[2]), int(m[3]))
                except ValueError:
                    continue
    return None


def read_pdf(data: bytes, path: Path | str) -> SourceText:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    if not data.lstrip()[:5] == b"%PDF-":
        raise DocumentError(path, "not a PDF file (no %PDF- header)")
    if b"%%EOF" not in data[-2048:]:
        raise DocumentError(path, "truncated PDF file: it does not end with %%EOF (an interrupted download?)")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError(path, "encrypted PDF file: its text needs a password")
        raw_pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
        title = str(info.title or "").strip() if info is not None else ""
    except DocumentError:
        raise
    except FileNotDecryptedError:
        raise DocumentError(path, "encrypted PDF file: its text needs a password") from None
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise DocumentError(path, f"unreadable PDF file: {exc}") from None
    if not raw_pages:
        raise DocumentError(path, "PDF file without pages")
    if not any(p.strip() for p in raw_pages):
        raise DocumentError(path, f"PDF file without a text layer ({len(raw_pages)} pages of images, "
                                  "a scan?): tongbi does no OCR, convert it to text first")
    pages = [unify_ideographs(p.replace("\r\n", "\n").replace("\r", "\n")).split("\n") for p in raw_pages]
    # a page printed from a browser carries its address in the footer: the bulletin's URL
    urls = [m[1] for page in pages for line in page[-MARGIN_LINES:] if (m := _PRINTED_URL.match(line))]
    lines = [line for page in strip_margins(pages) for line in page]
    text = join_lines(lines)
    if not text.strip():
        raise DocumentError(path, "PDF file whose pages hold only headers and page numbers")
    return SourceText(text=text + "\n", title=unify_ideographs(title), published=find_dateline(text),
                      source_url=urls[0] if urls else "", encoding="pdf")
