"""loaders/cnnumerals.py reads written-out numerals without cn2an: every value it gives must be
cn2an's, so that quantities come out the same whichever reader read them."""
from __future__ import annotations

import itertools
import random

import cn2an

from loaders.cnnumerals import plain_cn_integer
from loaders.numbers import parse_cn_number

ALPHABET = "零一二三四五六七八九十百千万亿"


def _cn2an(s: str) -> float | None:
    try:
        return float(cn2an.cn2an(s, "smart"))
    except (ValueError, KeyError, TypeError):
        return None


def test_every_short_string_reads_as_cn2an_reads_it() -> None:
    accepted = 0
    for n in range(1, 5):
        for chars in itertools.product(ALPHABET, repeat=n):
            s = "".join(chars)
            value = plain_cn_integer(s)
            if value is not None:
                accepted += 1
                assert float(value) == _cn2an(s), s
    assert accepted > 500   # the common forms are read here, not left to cn2an


def test_written_out_numbers_and_their_misspellings_read_as_cn2an_reads_them() -> None:
    writer = cn2an.An2Cn()
    rng = random.Random(17)
    read = 0
    for _ in range(3000):
        x = rng.randint(1, 10 ** rng.randint(1, 12))
        s = writer.an2cn(x, "low").replace("两", "二")
        value = plain_cn_integer(s)
        if value is not None:
            read += 1
            assert value == x and float(value) == _cn2an(s), s
        broken = list(s)
        broken.insert(rng.randrange(len(s) + 1), rng.choice(ALPHABET))
        b = "".join(broken)
        if (value := plain_cn_integer(b)) is not None:
            assert float(value) == _cn2an(b), b
    assert read > 2000


def test_quantities_in_chinese_numerals() -> None:
    assert parse_cn_number("两千") == 2000.0
    assert parse_cn_number("三千零五十万") == 30500000.0
    assert parse_cn_number("三万五") == 35000.0       # shorthand: cn2an's reading
    assert parse_cn_number("一百零五点三") == 105.3
    assert parse_cn_number("千万") == 10000000.0
    assert parse_cn_number("一万亿") == 1e12
