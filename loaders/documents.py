"""Reading bulletins: bytes → decoded text, front matter, reference date, and a matching view.

The extractor never works on the raw text directly: it works on `Document.match_text`, a
normalised copy (simplified script, half-width digits, words rejoined across line breaks) in
which every character maps back to one position of the original text through `Document.origin`.
Offsets written to raw_metrics are always offsets into `Document.text`, the file's decoded text
with newlines translated the way Python's text mode reads it.
"""
from __future__ import annotations

import bisect
import datetime as dt
import errno
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml

from .fastregex import compile_fast

MAX_BYTES = 20 * 1024 * 1024
TEXT_SUFFIXES = (".md", ".txt")
# web pages and PDF files: their readers are in loaders/formats/
DOC_SUFFIXES = TEXT_SUFFIXES + (".html", ".htm", ".pdf")

# A line break inside a sentence is page layout, not language: the seed breaks 煤炭清洁高\n\n效利用.
SENTENCE_END = set("。！？!?；;")
_FULL_TO_HALF = {chr(0xFF10 + i): str(i) for i in range(10)}
_FULL_TO_HALF.update({"．": ".", "％": "%", "－": "-", "～": "~", "：": ":", "＋": "+", "／": "/",
                      "（": "(", "）": ")", "﹔": "；", "　": " ", "∶": ":"})
_FULL_TO_HALF.update({chr(0xFF21 + i): chr(0x41 + i) for i in range(26)})
_FULL_TO_HALF.update({chr(0xFF41 + i): chr(0x61 + i) for i in range(26)})


# Unicode category Cc except the tab and newline that text carries
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_FULL_WIDTH = re.compile("[" + "".join(map(re.escape, _FULL_TO_HALF)) + "]")
# a line break with the blank space after it (a run of several lines breaks is one run)
_HEADING = re.compile(r"[ \t\u3000]*(?:[一二三四五六七八九十]+、|[(（][一二三四五六七八九十]+[)）])")
_TABLE_ROW = re.compile(r"\S(?:\t|[ \u3000\u00a0]{2,}|[|｜])\s*\S")
# where each of _TABLE_ROW's separators starts (a run of spaces, at its first two): rare in
# prose, so a line with none of them is no table row and is not searched
_CELL_SEP_START = re.compile(r"\t|[ \u3000\u00a0]{2}|[|｜]")
_BREAK_RUN = re.compile("\n[ \t\n\u3000\u00a0]*")
_CAPTION = re.compile(r"\s*(?:附表|表)\s*\d")   # 表3 2023年主要农产品产量: a table's caption line
_CELL_LINE = 12                          # the longest line taken for a table's cell
_BARE_NUMBER = re.compile(r"\s*[-+]?\d+(?:\.\d+)?\s*")   # a table's last cell, before the prose resumes
_PROSE_MARK = re.compile(r"[，,。；;：:！？!?、]")
# one `key: value` line of front matter whose value YAML would read as a plain scalar
_SIMPLE_ENTRY = re.compile(r"([A-Za-z_][\w-]*):[ \t]+([^-?:,\[\]{}#&*!|>'\"%@`\s](?:(?!: | #).)*?)[ \t]*")
# …a double-quoted value with no escapes or characters YAML treats apart (id: "d002"), or none
_QUOTED_ENTRY = re.compile(r'([A-Za-z_][\w-]*):[ \t]+"([^"\\\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]*)"[ \t]*')
_EMPTY_ENTRY = re.compile(r"([A-Za-z_][\w-]*):[ \t]*")


class DocumentError(Exception):
    """A document that cannot be read; carries the file and, where known, the line."""

    def __init__(self, path: Path | str, reason: str, line: int | None = None) -> None:
        self.path = str(path)
        self.reason = reason
        self.line = line
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Document:
    doc_id: str
    path: str
    text: str                      # decoded file text (what offsets refer to)
    match_text: str                # normalised view used for matching
    origin: tuple[int, ...]        # origin[i] = index in text of match_text[i]
    body_start: int                # first character after the front matter, in match_text
    front_matter: dict[str, object] = field(default_factory=dict)
    title: str = ""
    source_url: str = ""
    published: dt.date | None = None
    reference_year: int | None = None
    reference_month: int | None = None
    reference_source: str = ""
    encoding: str = "utf-8"
    is_traditional: bool = False
    sha256: str = ""

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Offsets in `text` of the match_text slice [start, end)."""
        return self.origin[start], self.origin[end - 1] + 1


def iter_document_paths(paths: list[Path]) -> list[Path]:
    """Files named directly, and .md/.txt/.html/.htm/.pdf files under folders, in a stable order:
    each folder's files sorted by their path components (as pathlib sorts them), a file reached
    twice (a folder given twice, a symbolic link) kept where it first comes.

    The order and the path strings are what `sorted(folder.rglob("*"))` gives (the extraction
    cache's key and documents.path hold them), found with one os.scandir per folder and one
    realpath per folder, not per file: an incremental run walks every file of the corpus."""
    found: list[tuple[Path, str]] = []   # each file and its real path (what tells two apart)
    for p in paths:
        if p.is_dir():
            files: list[tuple[tuple[str, ...], Path, str]] = []
            _walk(p, os.path.realpath(p), (), files)
            files.sort(key=lambda f: f[0])
            found.extend((path, real) for _, path, real in files)
        else:
            found.append((p, os.path.realpath(p)))
    seen: set[str] = set()
    unique = []
    for p, real in found:
        if real not in seen:
            seen.add(real)
            unique.append(p)
    return unique


# folder / name as rglob makes it (Python 3.11 and 3.12), without parsing the path again
_child: Callable[[Path, str], Path] = getattr(Path, "_make_child_relpath", Path.joinpath)


def _is_document_name(name: str) -> bool:
    i = name.rfind(".")   # Path.suffix: no suffix for ".md" or "name."
    suffix = name[i:].lower() if 0 < i < len(name) - 1 else ""
    return suffix in DOC_SUFFIXES and name.lower() != "readme.md"


def _walk(folder: Path, real: str, parts: tuple[str, ...], out: list[tuple[tuple[str, ...], Path, str]]) -> None:
    """The document files under `folder` (whose real path is `real`), as Path.rglob("*") finds
    them: into folders but not into links to folders, a link to a file counted as the file,
    an unreadable folder skipped. A file that is no link has the real path of its folder."""
    try:
        with os.scandir(folder) as it:
            entries = list(it)
    except PermissionError:
        return
    except OSError as exc:
        if exc.errno in _IGNORED_ERRNOS:
            return
        raise
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                _walk(_child(folder, entry.name), os.path.join(real, entry.name), parts + (entry.name,), out)
                continue
            if not _is_document_name(entry.name) or not entry.is_file():
                continue
            link = entry.is_symlink()
        except OSError as exc:
            if exc.errno in _IGNORED_ERRNOS:
                continue
            raise
        out.append((parts + (entry.name,), _child(folder, entry.name),
                    os.path.realpath(entry.path) if link else os.path.join(real, entry.name)))


# what pathlib's walk ignores (a file removed or a link broken while it walks)
_IGNORED_ERRNOS = (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP)


def decode_bytes(data: bytes, path: Path | str) -> tuple[str, str]:
    """Decode UTF-8 (with or without BOM) or GB18030; refuse binary and empty files."""
    if not data.strip():
        raise DocumentError(path, "empty file")
    if len(data) > MAX_BYTES:
        raise DocumentError(path, f"file too large ({len(data)} bytes > {MAX_BYTES})")
    if b"\x00" in data[:8192]:
        raise DocumentError(path, "binary file (NUL bytes), not a text bulletin")
    try:
        text = data.decode("utf-8")
        encoding = "utf-8-sig" if text.startswith("\ufeff") else "utf-8"
    except UnicodeDecodeError as exc:
        try:
            text = data.decode("gb18030")
            encoding = "gb18030"
        except UnicodeDecodeError:
            line = data[: exc.start].count(b"\n") + 1
            raise DocumentError(path, "undecodable: neither UTF-8 nor GB18030/GBK", line) from None
    # Offsets follow Python's text mode, which is how every consumer reads the file back.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    controls = len(_CONTROL_CHARS.findall(text))
    if controls > max(8, len(text) // 100):
        raise DocumentError(path, "binary content (control characters), not a text bulletin")
    return text, encoding


def split_front_matter(text: str, path: Path | str) -> tuple[dict[str, object], int]:
    """Parse optional YAML front matter; returns it and the offset where the body starts."""
    start = 1 if text.startswith("\ufeff") else 0
    if not text.startswith("---\n", start):
        return {}, 0
    close = re.compile(r"^---[ \t]*$", re.M).search(text, start + 4)
    if close is None:
        raise DocumentError(path, "front matter opened with --- is never closed", 1)
    block = text[start + 4: close.start()]
    simple = _simple_front_matter(block)
    if simple is not None:
        end = close.end() + 1 if close.end() < len(text) else close.end()
        return simple, end
    try:
        # the C loader when libyaml is there: front matter parsing was a sixth of extraction time
        meta = yaml.load(block, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        # YAML notices an unclosed bracket only at the end of the block: point at its last line at most
        last = max(0, block.rstrip("\n").count("\n"))
        line = min(mark.line, last) + 2 if mark is not None else 1
        raise DocumentError(path, f"broken front matter: {getattr(exc, 'problem', exc)}", line) from None
    if not isinstance(meta, dict):
        raise DocumentError(path, "front matter is not a mapping of keys to values", 2)
    end = close.end() + 1 if close.end() < len(text) else close.end()
    return meta, end


def _simple_front_matter(block: str) -> dict[str, object] | None:
    """Front matter of plain `key: value` lines read the way YAML reads it, without YAML: the
    C parser still cost as much as the rest of reading a document. Anything else (quotes,
    lists, comments, numbers, booleans, times) returns None and goes to YAML."""
    meta: dict[str, object] = {}
    resolvers = yaml.resolver.Resolver.yaml_implicit_resolvers
    for line in block.split("\n"):
        if not line:
            continue
        m = _SIMPLE_ENTRY.fullmatch(line)
        if m is None:
            if (q := _QUOTED_ENTRY.fullmatch(line) or _EMPTY_ENTRY.fullmatch(line)) is None:
                return None
            meta[q[1]] = q[2] if q.lastindex == 2 else None
            continue
        key, value = m.groups()
        tags = [tag for tag, regexp in resolvers.get(value[0], ()) if regexp.match(value)]
        if not tags:
            meta[key] = value
        elif tags[0] == "tag:yaml.org,2002:timestamp" and (d := _ISO_DATE.fullmatch(value)):
            try:
                meta[key] = dt.date(int(d[1]), int(d[2]), int(d[3]))
            except ValueError:
                return None
        else:
            return None
    return meta


_ISO_DATE = re.compile(r"(\d{4})-(\d\d?)-(\d\d?)")


def _to_date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value.strip():
        m = re.match(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})", value.strip())
        if m:
            try:
                return dt.date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                return None
    return None


def normalise_term(term: str) -> str:
    """A vocabulary term in the form it takes in the matching view (half-width digits, brackets)."""
    return _FULL_WIDTH.sub(lambda m: _FULL_TO_HALF[m.group()], term)


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


class ScriptConverter:
    """Traditional → simplified conversion that keeps one character per character."""

    def __init__(self) -> None:
        import opencc

        self._cc = opencc.OpenCC("t2s")

    def convert(self, text: str) -> str:
        out = self._cc.convert(text)
        if len(out) == len(text):
            return out
        # Phrase rules changed a length somewhere: fall back to character by character.
        return "".join(c if len(c) == 1 else ch for ch, c in ((ch, self._cc.convert(ch)) for ch in text))


def build_match_view(text: str, body_start: int, converter: ScriptConverter,
                     rejoin_lines: bool = True) -> tuple[str, tuple[int, ...], bool]:
    """Normalise `text` for matching, keeping a map back to original offsets. `rejoin_lines`
    False: the text's line breaks are paragraph breaks already (a web page's or PDF's text, whose
    reader joined the lines of each paragraph), and a heading stays apart from what follows."""
    simplified = converter.convert(text)
    changed = 0 if simplified == text else sum(1 for a, b in zip(text, simplified) if a != b)
    is_traditional = changed > max(3, len(text) // 200)
    # one character for one, so offsets hold (str.translate with a dict is slower than this)
    half = _FULL_WIDTH.sub(lambda m: _FULL_TO_HALF[m.group()], simplified)
    pieces: list[str] = []
    origin: list[int] = []
    pos = 0              # where the text not yet copied to the view starts
    tail, seen = "", 0   # the view's last characters, up to `seen` in `half`
    sep_starts = [m.start() for m in _CELL_SEP_START.finditer(half)] if rejoin_lines else []

    def table_row(a: int, b: int) -> bool:
        k = bisect.bisect_left(sep_starts, a)
        return k < len(sep_starts) and sep_starts[k] < b and _TABLE_ROW.search(half, a, b) is not None

    for run in _BREAK_RUN.finditer(half, body_start) if rejoin_lines else ():
        i, j = run.span()
        tail = (tail + half[seen:i])[-4:] if i - seen < 4 else half[i - 4:i]
        seen = i
        # Rejoin a sentence broken across lines: drop the whole whitespace run when the text
        # before it does not end a sentence and the text after it continues.
        prev = tail[-3:].rstrip(" \t")[-1:]
        nxt = half[j] if j < len(half) else ""
        # …839.6亿元 / 2017年，… is a headline followed by a new statement, not one sentence
        ends_quantity = any(c.isdigit() for c in tail)
        # a numbered heading (二、各县市情况) ends at its line, and so does a table's row (cells
        # apart by tabs or runs of spaces): neither is rejoined to what follows
        line_start = half.rfind("\n", 0, i) + 1
        next_end = half.find("\n", j)
        next_end = next_end if next_end >= 0 else len(half)
        if i - line_start <= 30 and (_HEADING.match(half, line_start) or _CAPTION.match(half, line_start)) \
                or table_row(line_start, i) or table_row(j, next_end):
            continue
        # a table copied one cell a line (指标 / 产量 / 原煤 / 12850.3): short lines after short
        # lines, where wrapped prose has full lines before its breaks
        if i - line_start <= _CELL_LINE and not _PROSE_MARK.search(half, line_start, i) \
                and (next_end - j <= _CELL_LINE and not _PROSE_MARK.search(half, j, next_end)
                     or _BARE_NUMBER.fullmatch(half, line_start, i)):
            continue
        if prev and nxt and prev not in SENTENCE_END and (_is_cjk(prev) or prev.isdigit() or prev in "%）)”") \
                and (_is_cjk(nxt) or nxt.isdigit() or nxt in "（(“") and not (ends_quantity and nxt.isdigit()):
            pieces.append(half[pos:i])
            origin.extend(range(pos, i))
            pos = seen = j
    if not pieces:
        view, origin_map = half, list(range(len(half)))
    else:
        pieces.append(half[pos:])
        origin.extend(range(pos, len(half)))
        view, origin_map = "".join(pieces), origin
    view, origin_map = _drop_ruby(view, origin_map, body_start)
    return view, tuple(origin_map), is_traditional


# Pages converted by some sites carry each character's reading in brackets after it
# (增長(zhǎng), 萬(wàn)元): the reading is not text, and it splits cue words from their numbers.
_RUBY = compile_fast(r"(?<=[\u3400-\u4dbf\u4e00-\u9fff])\((?=[a-zü]*[āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ])[a-zāáǎàēéěèīíǐìōóǒòūúǔùüǖǘǚǜ]{1,7}\)")
_TONE_MARKED = re.compile("[āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ]")   # every reading has one


def _drop_ruby(view: str, origin: list[int], body_start: int) -> tuple[str, list[int]]:
    if "(" not in view or _TONE_MARKED.search(view) is None:   # a reading: in brackets, tone-marked
        return view, origin
    spans = [m.span() for m in _RUBY.finditer(view)]
    if not spans:
        return view, origin
    pieces: list[str] = []
    kept: list[int] = []
    pos = 0
    for a, b in spans:
        if a < body_start:   # front matter offsets stay as they are
            continue
        pieces.append(view[pos:a])
        kept.extend(origin[pos:a])
        pos = b
    pieces.append(view[pos:])
    kept.extend(origin[pos:])
    return "".join(pieces), kept


_YEAR_RE = re.compile(r"(?<!\d)(19[89]\d|20[0-4]\d)\s*年")
_MONTH_DAY_RE = re.compile(r"(?<!\d)(1[0-2]|[1-9])月(3[01]|[12]\d|[1-9])日")
_FULL_DATE_RE = re.compile(r"(?<!\d)(19[89]\d|20[0-4]\d)[-/.年](1[0-2]|0?[1-9])[-/.月](3[01]|[12]\d|0?[1-9])")


# Years a bulletin names that are not when it speaks from: deadlines and plans (到2025年, 将于2023年),
# the start of a span (2019年一季度以来), a programme's years in brackets ((2018-2020年)).
_NOT_NOW = re.compile(r"(?:到|至|力争|将|将于|计划|预计|拟|[-—–~])\s*$")
_NOT_NOW_AFTER = re.compile(r"(?:[^，,。；;\d]{0,4})以来")


def _in_brackets(text: str, pos: int) -> bool:
    opened = max(text.rfind("(", 0, pos), text.rfind("（", 0, pos))
    return opened >= 0 and max(text.rfind(")", opened, pos), text.rfind("）", opened, pos)) < 0 \
        and pos - opened < 30


def infer_reference_date(body: str) -> tuple[int | None, int | None]:
    """The year and month a bulletin speaks from, when it has no publication date.

    Bulletins state their own year rarely but mention the latest year they speak of; a day
    written without a year (4月12日) is in that latest year.
    """
    full = [(int(m[1]), int(m[2])) for m in _FULL_DATE_RE.finditer(body)]
    named = [m for m in _YEAR_RE.finditer(body)
             if not _NOT_NOW.search(body, max(0, m.start() - 4), m.start()) and not _in_brackets(body, m.start())]
    # a span's start (2013年以来) is in the past: the latest one is a lower bound worth taking when
    # no other year is named
    years = [int(m[1]) for m in named if not _NOT_NOW_AFTER.match(body, m.end())] \
        or [int(m[1]) for m in named]
    years += [y for y, _ in full]
    if not years:
        return None, None
    year = max(years)
    months = [m for y, m in full if y == year]
    months += [int(m[1]) for m in _MONTH_DAY_RE.finditer(body)
               if not body[max(0, m.start() - 5): m.start()].rstrip().endswith("年")]
    return year, (max(months) if months else None)


# A unit or a percent sign with no number before it: how a spam copy of a bulletin looks once
# its digits were stripped (增长%，资金亿元); 亿元以上项目 is a size class, and a table's column
# unit (比上年增长（%）, 单位：万吨) names a unit, not a lost figure.
_STRIPPED = compile_fast(r"(?<![\dA-Za-z/=%十百千万两一二三四五六七八九零〇.多余几数\s(（:：])(?:%|亿元|万元|万吨|万人次|个百分点)"
                       r"(?!以上|以下|级|规模)")
_INTACT = re.compile(r"[\d十百千万两一二三四五六七八九]\s*(?:%|亿元|万元|万吨|万人次|个百分点)")


def check_figures_intact(text: str, path: Path | str) -> None:
    """Refuse a text whose figures lost their digits: none of its numbers can be trusted."""
    stripped = len(_STRIPPED.findall(text))
    if stripped >= 3 and stripped >= len(_INTACT.findall(text)):
        line = text[: _STRIPPED.search(text).start()].count("\n") + 1  # type: ignore[union-attr]
        raise DocumentError(path, f"corrupted text: {stripped} figures have lost their digits "
                                  "(e.g. 增长%); no statistic in it can be trusted", line)


def load_document(path: Path, converter: ScriptConverter, default_year: int | None = None) -> Document:
    try:
        # refuse an oversized file before reading it: never hold a 50 MB file in memory to say no
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise DocumentError(path, f"file too large ({size / 2**20:.1f} MB, the limit is "
                                      f"{MAX_BYTES / 2**20:.0f} MB); not read")
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(path, f"cannot read: {exc.strerror or exc}") from None
    source = None
    if path.suffix.lower() in DOC_SUFFIXES and path.suffix.lower() not in TEXT_SUFFIXES:
        from .formats import read_source

        if not data.strip():
            raise DocumentError(path, "empty file")
        source = read_source(path, data)
        text, encoding, meta, body_start = source.text, source.encoding, {}, 0
    else:
        text, encoding = decode_bytes(data, path)
        meta, body_start = split_front_matter(text, path)
    match_text, origin, is_traditional = build_match_view(text, body_start, converter, rejoin_lines=source is None)
    check_figures_intact(match_text, path)
    match_body_start = bisect.bisect_left(origin, body_start)
    published = _to_date(meta.get("published")) if source is None else source.published
    ref_year: int | None
    ref_month: int | None
    if published:
        # "front_matter" names a stated publication date, wherever the file states it (front
        # matter, a page's metadata, a PDF's dateline): extraction dates unyeared periods by it
        ref_year, ref_month, ref_source = published.year, published.month, "front_matter"
    else:
        ref_year, ref_month = infer_reference_date(match_text[match_body_start:])
        ref_source = "text" if ref_year else ""
        if ref_year is None and default_year is not None:
            ref_year, ref_source = default_year, "option"
    return Document(
        # raw_metrics names a document by its file name (what the scorer and users see),
        # whatever its front matter `id` says
        doc_id=path.stem,
        path=str(path),
        text=text,
        match_text=match_text,
        origin=origin,
        body_start=match_body_start,
        front_matter=meta,
        title=str(meta.get("title") or "").strip() if source is None else source.title,
        source_url=str(meta.get("url") or "").strip() if source is None else source.source_url,
        published=published,
        reference_year=ref_year,
        reference_month=ref_month,
        reference_source=ref_source,
        encoding=encoding,
        is_traditional=is_traditional,
        sha256=hashlib.sha256(data).hexdigest(),
    )
