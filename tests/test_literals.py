"""Patterns left out of a scan for lacking their words change no match (loaders/literals.py)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from loaders.extraction import DENOMINATOR
from loaders.literals import PrunedAlternation, can_match, needed_words, top_alternatives
from loaders.places import NOT_SUBJECT_PLACE
from loaders.vocabulary import load_vocabulary

BULLETINS = Path(__file__).resolve().parent.parent / "data" / "bulletins"
TEXTS = [p.read_text(encoding="utf-8") for p in sorted(BULLETINS.glob("*.md"))] + [
    "5月31日，2023年项目集中签约大会在拉萨举行。东距乌鲁木齐170公里。自治区下达的目标任务。",
    "天山网讯（记者）新华社乌鲁木齐4月2日电 一季报显示，截至2023年底增长。",
    "", "在", "距", "下达的", "举行在",
]


@pytest.mark.parametrize(("pattern", "expected"), [
    (r"(?P<year>(?:19|20)\d\d)年上半年", {"年上半年"}),
    (r"今年以来|年初以来|截至目前", {"今年以来", "年初以来", "截至目前"}),
    (r"(?:第)?一季度|1季度", {"一季度", "1季度"}),
    (r"在[^，]{1,10}?(?:举行|召开)", {"举行", "召开"}),
    (r"(?:增长)?\d+", None),          # nothing it must contain
    (r"(?i)abc", None),               # case-blind: a word test would be wrong
    (r"a|\d", None),                  # one alternative needs no word
    (r"(?:ab)+c", {"ab"}),
])
def test_needed_words(pattern, expected):
    assert needed_words(pattern) == (frozenset(expected) if expected is not None else None)
    for text in TEXTS:   # whatever the words, a text without them has no match
        if re.search(pattern, text):
            assert can_match(needed_words(pattern), text)


def test_needed_sets_are_all_a_match_must_contain():
    from loaders.literals import can_match_all, needed_sets

    assert needed_sets(r"(?:网|社)[\u4e00-\u9fff]{2}\d月\d日\s*(?:电|讯)") == (
        frozenset({"网", "社"}), frozenset({"月"}), frozenset({"日"}), frozenset({"电", "讯"}))
    assert needed_sets(r"[^电]+") == () and needed_sets(r"(?i)ab") == ()
    for pattern in (NOT_SUBJECT_PLACE.pattern, DENOMINATOR.pattern):
        for part in top_alternatives(pattern):
            sets = needed_sets(part)
            for text in TEXTS:
                if re.search(part, text):
                    assert can_match_all(sets, frozenset(w for s in sets for w in s if w in text)), part


def test_top_alternatives():
    assert top_alternatives(r"a|b(c|d)|[|]|\||[]|]") == ["a", "b(c|d)", "[|]", r"\|", "[]|]"]
    assert top_alternatives("abc") == ["abc"]


@pytest.mark.parametrize("compiled", [NOT_SUBJECT_PLACE, DENOMINATOR, re.compile(r"(a)|b")])
def test_pruned_alternation_finds_what_the_whole_pattern_finds(compiled):
    pruned = PrunedAlternation(compiled)
    for text in TEXTS:
        for start in (0, 3, len(text) // 2):
            assert [m.span() for m in pruned.finditer(text, start)] == \
                [m.span() for m in compiled.finditer(text, start)]


def test_period_phrases_are_found_as_before_on_the_bundled_bulletins():
    vocab = load_vocabulary()
    for phrase in vocab.periods:
        words = needed_words(phrase.pattern.pattern)
        for text in TEXTS:
            if phrase.pattern.search(text):
                assert can_match(words, text), phrase.pattern.pattern
    assert sum(needed_words(p.pattern.pattern) is not None for p in vocab.periods) >= len(vocab.periods) - 2


def test_words_present_in_one_pass_are_the_words_the_text_contains():
    from loaders.literals import WordsPresent

    needs = [needed_words(p.pattern.pattern) for p in load_vocabulary().periods]
    present = WordsPresent(needs)
    for text in TEXTS:
        found = present.present(text)
        assert found == {w for w in present.words if w in text}
        assert [n is None or not n.isdisjoint(found) for n in needs] == [can_match(n, text) for n in needs]
