"""Leaving out of a scan the patterns, and the alternatives of an alternation, that cannot match
a text because it lacks a word every match of them contains.

The grammar scans each document with many patterns (29 period phrases, the venues of
NOT_SUBJECT_PLACE …), and most of them match nowhere in a given bulletin: 一季报, 截至…年底,
…举行. `str.__contains__` tells that at C speed before the regex engine walks the text. Every
match of `(?P<year>(?:19|20)\\d\\d)年上半年` contains 上半年; every match of
`在…(?:举行|召开|…)|…距…|…下达` contains 在, 距 or 下达: a text with none of them has no match,
and an alternation's alternatives that cannot match leave its other matches as they were
(leftmost first, the earlier alternative first, as before).
"""
from __future__ import annotations

import re
from re import _constants as C  # type: ignore[attr-defined]
from re import _parser as P     # type: ignore[attr-defined]
from typing import Iterable, Iterator

import ahocorasick_rs

from .fastregex import compile_fast

_REPEATS = (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT)


def _score(words: frozenset[str]) -> tuple[int, int]:
    return min(len(w) for w in words), -len(words)   # long words, few of them: rarely all absent


def _best(sets: list[frozenset[str]]) -> frozenset[str] | None:
    return max(sets, key=_score) if sets else None


def _needed(items: P.SubPattern | list) -> list[frozenset[str]]:
    """Sets of words such that every match of `items` contains a word of each set."""
    out: list[frozenset[str]] = []
    run: list[str] = []
    for op, av in items:
        if op is C.LITERAL:
            run.append(chr(av))
            continue
        if run:
            out.append(frozenset({"".join(run)}))
            run = []
        if op is C.SUBPATTERN:
            if not av[1] & re.IGNORECASE:
                out.extend(_needed(av[-1]))
        elif op is C.BRANCH:
            each = [_best(_needed(alt)) for alt in av[1]]
            if all(each):
                out.append(frozenset().union(*each))   # type: ignore[arg-type]
        elif op in _REPEATS and av[0] >= 1:
            out.extend(_needed(av[2]))
        elif op is C.IN and av and all(o is C.LITERAL for o, _ in av):
            out.append(frozenset(chr(a) for _, a in av))   # (?:电|讯), parsed as a class [电讯]
        # classes, lookarounds, optional parts: no word they must contain
    if run:
        out.append(frozenset({"".join(run)}))
    return [w for w in out if w and all(w)]


def needed_sets(pattern: str) -> tuple[frozenset[str], ...]:
    """Sets of words such that every match of `pattern` contains a word of each (none: no test)."""
    try:
        parsed = P.parse(pattern)
    except re.error:
        return ()
    if parsed.state.flags & re.IGNORECASE:
        return ()
    return tuple(dict.fromkeys(_needed(parsed)))


def needed_words(pattern: str) -> frozenset[str] | None:
    """Words of which every match of `pattern` contains one, or None when there are none."""
    return _best(list(needed_sets(pattern)))


def can_match_all(sets: tuple[frozenset[str], ...], present: frozenset[str]) -> bool:
    """Whether a text whose words (of those `WordsPresent` looks for) are `present` may match."""
    for words in sets:
        if words.isdisjoint(present):
            return False
    return True


def can_match(words: frozenset[str] | None, text: str) -> bool:
    return words is None or any(w in text for w in words)


class WordsPresent:
    """Which of many patterns' needed words a text contains, in one automaton pass (asking
    `w in text` word by word cost as much as the scans it saved)."""

    def __init__(self, needs: Iterable[frozenset[str] | None | tuple[frozenset[str], ...]]) -> None:
        words: set[str] = set()
        for n in needs:
            for one in (n if isinstance(n, tuple) else (n,) if n else ()):
                words |= one
        self.words = sorted(words)
        self._automaton = ahocorasick_rs.AhoCorasick(self.words, matchkind=ahocorasick_rs.MatchKind.Standard) \
            if self.words else None

    def present(self, text: str) -> frozenset[str]:
        if self._automaton is None:
            return frozenset()
        words = self.words
        return frozenset(words[i] for i, _, _ in self._automaton.find_matches_as_indexes(text, overlapping=True))


def top_alternatives(pattern: str) -> list[str]:
    """`pattern` split at its top-level `|` (one part when it is not an alternation)."""
    parts: list[str] = []
    depth, start, i, in_class = 0, 0, 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            j = i + 1 + (pattern.startswith("^", i + 1))
            if pattern.startswith("]", j):   # []…] and [^]…]: the first ] is a member
                i = j
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    parts.append(pattern[start:])
    return parts


class PrunedAlternation:
    """`compiled.finditer`, scanning only with the alternatives the text can match. Patterns it
    cannot take apart safely (capture groups, whose numbers would shift; flags) are scanned whole."""

    def __init__(self, compiled: re.Pattern[str]) -> None:
        self.compiled = compiled
        parts = top_alternatives(compiled.pattern)
        simple = compiled.groups == 0 and compiled.flags == re.UNICODE and len(parts) > 1
        if simple:
            top = P.parse(compiled.pattern)
            simple = len(top) == 1 and top[0][0] is C.BRANCH and len(top[0][1][1]) == len(parts)
        self.parts = parts if simple else [compiled.pattern]
        self.needs = [needed_sets(p) for p in self.parts] if simple else [()]
        self._present = WordsPresent(self.needs)
        self._variants: dict[tuple[int, ...], re.Pattern[str] | None] = {}

    def for_text(self, text: str) -> re.Pattern[str] | None:
        """The pattern of the alternatives `text` can match (None: no alternative can)."""
        present = self._present.present(text)
        if len(self.parts) == 1:
            return self.compiled if can_match_all(self.needs[0], present) else None
        kept = tuple(i for i, sets in enumerate(self.needs) if can_match_all(sets, present))
        found = self._variants.get(kept, self)
        if found is self:
            found = self._variants[kept] = (
                self.compiled if len(kept) == len(self.parts) else
                compile_fast("|".join(self.parts[i] for i in kept)) if kept else None)
        return found   # type: ignore[return-value]

    def finditer(self, text: str, pos: int = 0, endpos: int | None = None) -> Iterator[re.Match[str]]:
        pattern = self.for_text(text)
        if pattern is None:
            return iter(())
        return pattern.finditer(text, pos, len(text) if endpos is None else endpos)
