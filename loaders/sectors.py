"""Sector lists written short. 第一、二、三产业 and 二、三产业 name each sector once, the 产业 written
only after the last numeral; 三大产业 or 三次产业 before a list of three values gives them, in order,
to the primary, secondary and tertiary sectors. The sectors' codes come from the industry
vocabulary (its 第一产业, 第二产业, 第三产业)."""
from __future__ import annotations

import re

from .matching import Hit

ELLIPTICAL = re.compile(r"(?<![\d一二三四五六七八九十])(第?)([一二三])(?:([、和及与])第?([一二三]))?([、和及与])第?([一二三])产业")
COLLECTIVE = re.compile(r"三大产业|三次产业")
# between the collective name and its first value: how the whole is split (分布为, 占比分别为)
COLLECTIVE_TAIL = re.compile(r"[^，,；;。\d]{0,8}?(?:分布|分别|依次|占比|比重|构成)[^，,；;。\d]{0,4}$|"
                             # 三次产业结构为6.5:49.4:44.1，对GDP贡献率分别为…: a later clause of the
                             # sentence that gives the same three sectors another figure each
                             r"[^；;。]{0,40}?[，,][^，,；;。\d]{0,10}?(?:贡献率|拉动|增加值|增速|比重|占比)"
                             r"[^，,；;。\d]{0,6}?(?:分别|依次)[^，,；;。\d]{0,4}$")


def sector_codes(industry_aliases: dict[str, str]) -> dict[str, str]:
    """一 → the code of 第一产业, and so on, for the numerals the vocabulary names sectors with."""
    return {n: industry_aliases[f"第{n}产业"] for n in "一二三" if f"第{n}产业" in industry_aliases}


def expand_elliptical(t: str, hits: list[Hit], codes: dict[str, str], start: int) -> list[Hit]:
    """Replace what matched inside each elliptical list (三产业 at its end) by one hit a sector."""
    if len(codes) < 3:
        return hits
    extra: list[Hit] = []
    spans: list[tuple[int, int]] = []
    for m in ELLIPTICAL.finditer(t, start):
        groups = [g for g in (2, 4, 6) if m.group(g)]
        numerals = [m.group(g) for g in groups]
        if len(set(numerals)) != len(numerals):
            continue
        spans.append(m.span())
        for i, g in enumerate(groups):
            a = m.start() if i == 0 else m.start(g)
            b = m.end() if i == len(groups) - 1 else m.end(g)
            extra.append(Hit(a, b, codes[m.group(g)], t[a:b]))
    if not spans:
        return hits
    kept = [h for h in hits if not any(a <= h.start < b for a, b in spans)]
    return sorted(kept + extra, key=lambda h: h.start)


def collective_before(t: str, s_start: int, first_value: int) -> bool:
    """三大产业分布为 right before a list's first value."""
    m = None
    for m in COLLECTIVE.finditer(t, s_start, first_value):
        pass
    return m is not None and COLLECTIVE_TAIL.fullmatch(t, m.end(), first_value) is not None
