"""Where a text's sentences, clauses and lists start and end, and leftmost-longest matching of
a vocabulary's terms: the positions every attribution rule works from."""
from __future__ import annotations

import bisect
import datetime as dt
import functools
import re
from typing import NamedTuple

import ahocorasick_rs

from .documents import normalise_term

CLAUSE_SEP = re.compile(r"[，,；;]|:(?!\d)|(?<!\d):")
SENTENCE_SEP = "。！？!?\n"
LIST_SEP = re.compile(r"^\s*(?:、|和|及|与)\s*$")
HEADING = re.compile(r"\s*(?:[一二三四五六七八九十]+、|[(（][一二三四五六七八九十]+[)）])")


class Hit(NamedTuple):    # a tuple: made thousands of times a document
    start: int
    end: int
    code: str
    raw: str


class TermMatcher:
    """Leftmost-longest matching of a vocabulary's terms."""

    def __init__(self, terms: dict[str, str]) -> None:
        self.terms = {normalise_term(k): v for k, v in terms.items()}
        alts = sorted(self.terms, key=len, reverse=True)
        # the alternation, longest first, is leftmost-longest: `pattern.match` at a position
        self.pattern = re.compile("|".join(re.escape(a) for a in alts)) if alts else None
        # the same matches found by an automaton, in one pass instead of trying every term at
        # every position
        self._words = list(self.terms)
        self._codes = [self.terms[w] for w in self._words]
        self._automaton = ahocorasick_rs.AhoCorasick(self._words, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest) \
            if alts and "" not in self.terms else None

    def find(self, text: str, start: int, end: int, on: dt.date | None = None) -> list[Hit]:
        if self.pattern is None:
            return []
        if self._automaton is None:
            return [Hit(m.start(), m.end(), self.terms[m.group()], m.group())
                    for m in self.pattern.finditer(text, start, end)]
        window = text[start:end] if start or end != len(text) else text
        words, codes = self._words, self._codes
        return [Hit(start + a, start + b, codes[i], words[i])
                for i, a, b in self._automaton.find_matches_as_indexes(window)]


def with_headings(t: str, paragraphs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """A numbered heading (二、2022年各县市情况) opens the paragraph after it: its period and place
    are that paragraph's context."""
    out: list[tuple[int, int]] = []
    pending: int | None = None
    for a, b in paragraphs:
        if pending is None and b - a <= 32 and HEADING.match(t, a) and not t[a:b].strip().endswith(("。", "！", "？")):
            pending = a
            continue
        if not t[a:b].strip() and pending is not None:
            continue   # the blank lines between a heading and its paragraph
        out.append((pending if pending is not None else a, b))
        pending = None
    if pending is not None:
        out.append((pending, paragraphs[-1][1]))
    return out


def spans(t: str, start: int, seps: str) -> list[tuple[int, int]]:
    spans, a = [], start
    for m in separators(seps).finditer(t, start):
        i = m.start()
        if i + 1 > a:
            spans.append((a, i + 1))
        a = i + 1
    if a < len(t):
        spans.append((a, len(t)))
    return spans or [(start, len(t))]


@functools.lru_cache(maxsize=None)
def separators(seps: str) -> re.Pattern[str]:
    return re.compile("[" + re.escape(seps) + "]")


def sentence_start(t: str, p_start: int, pos: int) -> int:
    return max([p_start] + [t.rfind(c, p_start, pos) + 1 for c in "。！？!?"])


class ClauseStarts:
    """clause_start for every figure of a document: the separators are found once."""

    def __init__(self, t: str, body: int) -> None:
        self.t = t
        self.ends = [m.end() for m in CLAUSE_SEP.finditer(t, body)]

    def before(self, s_start: int, pos: int) -> int:
        if pos > s_start and self.t[pos - 1] == ":":
            return pos  # clause_start sees no digit after a colon right before `pos`
        i = bisect.bisect_right(self.ends, pos) - 1
        return self.ends[i] if i >= 0 and self.ends[i] > s_start else s_start


def clause_start(t: str, s_start: int, pos: int) -> int:
    last = s_start
    for m in CLAUSE_SEP.finditer(t, s_start, pos):
        last = m.end()
    return last


def clause_end(t: str, pos: int, stops: str = "，,；;。！？!?\n") -> int:
    # one scan that stops at the first separator, not a `find` per separator, each of which
    # runs to the end of the text when its character is absent
    m = separators(stops).search(t, pos)
    return m.start() if m is not None else len(t)


def inside(pos: int, spans: list[tuple[int, int]]) -> bool:
    return any(a <= pos < b for a, b in spans)


def last_before(hits: list[Hit], pos: int) -> Hit | None:
    before = [h for h in hits if h.end <= pos]
    return before[-1] if before else None


def list_run(hits: list[Hit], t: str, at: int) -> list[Hit]:
    """The run of names directly enumerated (A、B和C) that ends closest before `at`."""
    if not hits:
        return []
    run = [hits[-1]]
    for h in reversed(hits[:-1]):
        gap = t[h.end:run[0].start]
        if LIST_SEP.match(gap) or gap == "":
            run.insert(0, h)
        else:
            break
    return run
