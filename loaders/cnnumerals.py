"""Chinese numerals in their written-out form (三千零五十万, 十五, 两千) read without cn2an: its
import cost a tenth of a `tongbi extract` of 2,000 bulletins. Only the canonical form is read
here; anything else (五五, 三万五, 一万亿) is left to cn2an (`numbers.parse_cn_number`), and
tests/test_cn_numerals.py holds every value read here to cn2an's."""
from __future__ import annotations

_DIGITS = {"零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_SECTIONS = {"万": 10 ** 4, "亿": 10 ** 8}


def plain_cn_integer(s: str) -> int | None:
    """The value of `s` (digits 零 to 九 after 两 → 二, 〇 → 零) when it is a numeral written out in
    full that cn2an reads as the same number, else None."""
    total = 0
    section = 0
    digit: int | None = None
    last_unit = 10 ** 5          # units within a section fall strictly: 千 > 百 > 十
    last_section = 10 ** 13      # and sections too: 万亿 > 亿 > 万
    zero = False                 # a 零 since the last unit: the next digit or 十 is in a lower place
    skip = False
    for i, c in enumerate(s):
        if skip:
            skip = False
            continue
        if c in _DIGITS:
            if digit is not None:
                return None      # 五五, 二零二三: digits read one by one
            if c == "零":
                if last_unit not in (100, 1000) or zero:
                    return None  # 零 only inside a section, after 百 or 千 (一百零五, 三千零五十)
                zero = True
                continue
            digit = _DIGITS[c]
        elif c in _UNITS:
            unit = _UNITS[c]
            if unit >= last_unit or last_unit != 10 ** 5 and unit * 10 != last_unit and not zero:
                return None      # 一千一十: a place skipped needs its 零
            if zero and unit * 10 == last_unit:
                return None      # 一百零一十: and a 零 skips one
            if last_unit == 10 ** 5 and total and unit != 1000:
                return None      # 一万一百: so does a section after 万 or 亿 that does not start at 千
            if digit is None:
                if unit != 10 or section or total or zero:
                    return None  # 百 or 千 with no digit; 十 with none only to open the number
                digit = 1
            section += digit * unit
            digit, last_unit, zero = None, unit, False
        elif c in _SECTIONS:
            size = _SECTIONS[c]
            if c == "万" and s.startswith("亿", i + 1):
                if i + 2 < len(s):
                    return None          # 一万亿 is read here, 二万亿五亿 is left to cn2an
                size, skip = 10 ** 12, True   # a trillion
            if size >= last_section:
                return None      # 万亿: let the full reader decide
            if digit is not None:
                if last_unit not in (10, 10 ** 5) and not zero:
                    return None  # 一百一万: shorthand
                section += digit
            elif zero:
                return None      # 一百零万
            if not section:
                return None
            total += section * size
            section, digit, last_unit, last_section, zero = 0, None, 10 ** 5, size, False
        else:
            return None
    if last_section == 10 ** 8 and (section or digit is not None):
        return None              # 一亿一千: the reader wants the 万 section written out
    if digit is not None:
        if last_unit != 10 ** 5 and last_unit != 10 and not zero:
            return None          # 一百五: shorthand for 一百五十
        if last_unit == 10 ** 5 and total and not zero:
            return None          # 三万五: shorthand for 三万五千
        section += digit
    elif zero:
        return None              # a trailing 零
    if not total and not section and digit is None:
        return None
    return total + section
