"""The lookahead on first characters changes no match of the grammar's patterns."""
from __future__ import annotations

import re

import pytest

from loaders.fastregex import compile_fast, first_chars
from loaders.vocabulary import load_vocabulary

TEXT = ("据统计，2023年1—8月全区引进区外到位资金6262.18亿元，比上年增长14.8%；截至8月底，"
        "在建项目4391个（+191个），其中二季度增速为8.2%，一季度约为百分之十二。去年全年完成目标的102.81%，"
        "到2025年力争突破1万亿元，5月份当月增长9.1%，前7个月下降0.3个百分点，今年以来增长2.14倍。")


@pytest.mark.parametrize(("pattern", "expected"), [
    (r"(?<![0-9])1\s*[-—]\s*3月", "[1]"),
    (r"(?:第)?一季度|1季度", "[1一第]"),
    (r"(?P<year>(?:19|20)\d\d)年", "[12]"),
    (r"(?:约|近)?\d+亿元", r"[\d约近]"),
    (r"[^，]*增长", None),          # may start with almost anything
    (r"(?:增长)?", None),            # may match the empty string
    (r".年", None),
])
def test_first_chars(pattern, expected):
    assert first_chars(pattern) == expected


def test_grammar_patterns_match_the_same_with_and_without_the_lookahead():
    vocab = load_vocabulary()
    patterns = [p.pattern.pattern for p in vocab.periods] + [c.pattern.pattern for c in vocab.cues]
    checked = 0
    for fast_source in patterns:
        original = fast_source[fast_source.index("(?:") + 3:-1] if fast_source.startswith("(?=[") else fast_source
        slow, fast = re.compile(original), compile_fast(original)
        for start in range(0, len(TEXT), 7):
            assert [m.span() for m in slow.finditer(TEXT, start)] == [m.span() for m in fast.finditer(TEXT, start)]
            assert [m.groupdict() for m in slow.finditer(TEXT, start)] == [m.groupdict() for m in fast.finditer(TEXT, start)]
        checked += fast.pattern != original
    assert checked >= len(vocab.periods)   # every period phrase got its lookahead
