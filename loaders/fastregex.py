"""Compiling the vocabulary's patterns so that `re` skips, at C speed, the positions where no
match can start.

Python's `re` only skips ahead by itself when a pattern starts with a literal or a character
class. Our grammar's patterns often start with a lookbehind (`(?<![0-9])1—3月`), an optional
qualifier (`(?:约|近)?5亿元`) or an alternation of such: then the engine walks every branch at
every position of the text. Prefixing the pattern with a lookahead on the characters a match
can start with, `(?=[1一第])(?:…)`, changes no match (every match starts with one of them) and
made period and quantity matching two to three times faster.
"""
from __future__ import annotations

import re
from re import _constants as C  # type: ignore[attr-defined]
from re import _parser as P     # type: ignore[attr-defined]


class _Unbounded(Exception):
    """The pattern may start with any character (or match the empty string)."""


def _first(items: P.SubPattern | list) -> tuple[set[str], bool]:
    """(class items a match of `items` can start with, whether `items` can match empty)."""
    out: set[str] = set()
    for op, av in items:
        if op is C.LITERAL:
            out.add(re.escape(chr(av)))
            return out, False
        if op is C.IN:
            if any(o is C.NEGATE for o, _ in av):
                raise _Unbounded
            for o, a in av:
                if o is C.LITERAL:
                    out.add(re.escape(chr(a)))
                elif o is C.RANGE:
                    out.add(f"{re.escape(chr(a[0]))}-{re.escape(chr(a[1]))}")
                elif o is C.CATEGORY and a is C.CATEGORY_DIGIT:
                    out.add(r"\d")
                else:
                    raise _Unbounded
            return out, False
        if op is C.SUBPATTERN:
            first, empty = _first(av[-1])
        elif op is C.BRANCH:
            first, empty = set(), False
            for alt in av[1]:
                f, e = _first(alt)
                first |= f
                empty = empty or e
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            first, empty = _first(av[2])
            empty = empty or av[0] == 0
        elif op in (C.ASSERT, C.ASSERT_NOT, C.AT):
            continue  # zero width: the match starts with what follows
        else:
            raise _Unbounded  # ANY, NOT_LITERAL, back references, categories other than digits
        out |= first
        if not empty:
            return out, False
    return out, True


def first_chars(pattern: str) -> str | None:
    """A character class of what every match of `pattern` starts with, or None."""
    try:
        first, empty = _first(P.parse(pattern))
    except _Unbounded:
        return None
    if empty or not first:
        return None
    return "[" + "".join(sorted(first)) + "]"


def compile_fast(pattern: str) -> re.Pattern[str]:
    """`re.compile(pattern)`, with the lookahead on its first characters where one exists."""
    first = first_chars(pattern)
    if first is None or re.match(r"\(\?[aiLmsux]+\)", pattern):
        return re.compile(pattern)  # global flags (?i) must stay first
    return re.compile(f"(?={first})(?:{pattern})")
