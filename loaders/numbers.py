"""Finding quantities in text: a number (Arabic or Chinese), its scale and unit, and qualifiers.

The grammar is built from the unit and scale vocabularies: a quantity is
    [approx-before] NUMBER [SCALE] [余|多] UNIT [余|多|左右]
and 百分之N is a percent. Numbers without a unit (dates, years, codes) are not quantities.
"""
from __future__ import annotations

import re
from typing import NamedTuple

from .cnnumerals import plain_cn_integer
from .fastregex import compile_fast
from .vocabulary import Vocabulary

CN_DIGITS = "零〇一二两三四五六七八九十百千万亿"
APPROX_BEFORE = ("超过", "接近", "将近", "约为", "大约", "近", "超", "约", "逾", "达近")
APPROX_AFTER = ("余", "多", "左右", "以上")


class Quantity(NamedTuple):
    start: int            # span in match_text, qualifiers included
    end: int
    num_start: int        # span of the number itself
    value: float          # normalised (scale and unit factor applied; 倍 → percent)
    value_raw: str
    unit: str             # normalised unit
    unit_raw: str         # scale + unit as written (亿元, 万余名, %)
    approx: str
    is_times: bool        # 增长2.14倍
    is_statistic: bool
    ordinal: bool         # 第200例


def parse_cn_number(s: str) -> float | None:
    s = s.replace("两", "二").replace("〇", "零")
    if s[0] in "百千万亿":
        s = "一" + s  # 千万千瓦, 万亩: a bare place value counts one of it
    whole, _, frac = s.partition("点")
    digits = "零一二三四五六七八九"
    plain = plain_cn_integer(whole)
    if plain is not None:
        value = float(plain)
    else:
        import cn2an   # the irregular forms only: its import is slow

        try:
            value = float(cn2an.cn2an(whole, "smart"))
        except (ValueError, KeyError, TypeError):
            return None
    if frac:
        if any(c not in digits for c in frac):
            return None
        value = float(f"{int(value)}.{''.join(str(digits.index(c)) for c in frac)}")
    return value


UNIT_LABELS = ("单位:", "单位：", "单位: ", "单位")
LIST_JOINER = re.compile(r"\s*[、和及与]\s*")
# Anchored at the search's end: the item just before the next one, not the first in the window.
BARE_ITEM = re.compile(r"(?<![\d.])(?P<num>\d+(?:\.\d+)?)\s*[、和及与]\s*$")
RESPECTIVELY = re.compile(r"(?:分别|依次)(?:为|是|达|达到|增长|下降|增加|减少|提高|回落|加快|高出|高于|低于|快于|慢于|高|低|快|慢)?\s*$")


# a web page's time stamp, which counters (2次, 15人) follow on the same line
STAMP_BEFORE = re.compile(r"(?:19|20)\d\d[-/.年]\d{1,2}[-/.月]\d{1,2}日?\s+\d{1,2}:\d{2}(?::\d{2})?[^\n\d]{0,12}$")
LIFE_EXPECTANCY = re.compile(r"(?:预期|平均)寿命(?:达到|达|为|是|提高到|提高至)?(?:约|近)?$")
# words that start with 成, so that a numeral before them (这一成绩) is no share in tenths
CHENG_WORDS = tuple("绩果就功为本立交熟效员型品都长")


class QuantityFinder:
    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab
        units = sorted(vocab.units, key=len, reverse=True)
        scales = sorted(vocab.scales, key=len, reverse=True)
        unit_alt = "|".join(re.escape(u) for u in units)
        scale_alt = "|".join(re.escape(s) for s in scales)
        before = "|".join(APPROX_BEFORE)
        self.non_stat_words = tuple(u for u, x in vocab.units.items() if not x.keep) + vocab.not_counted
        # Chinese numerals are only numbers when they carry a place value (两千, 五十) or stand
        # before a scale: 一个/三地 in prose are words, not statistics.
        self.pattern = compile_fast(
            rf"(?P<pbefore>{before})?百分之(?P<pct>[{CN_DIGITS}点]+|\d+(?:\.\d+)?)|"
            rf"(?P<before>{before})?(?P<ord>第)?"
            rf"(?:(?P<num>(?<![0-9.])(?<!\d,)(?<![0-9.] )(?:\d{{1,3}}(?:,\d{{3}})+|\d+)(?:\.\d+)?)|"
            rf"(?P<cn>(?<![{CN_DIGITS}])[{CN_DIGITS}]+(?:点[{CN_DIGITS}]+)?))"
            rf"\s*(?P<mid0>[余多])?(?P<scale>{scale_alt})?(?P<mid>[余多])?\s*"
            rf"(?P<unit>倍|{unit_alt})(?P<after>余|多|左右|以上)?"
        )
        # a value named by what precedes it, with no unit after it (综合指数410.38, 性别比为106.9):
        # the words of its name may stand between (性别比（以女性为100）为106.9)
        bare = "|".join(re.escape(c) for c, _ in vocab.bare_values)
        self.bare_units = dict(vocab.bare_values)
        self.bare_pattern = re.compile(
            rf"(?P<cue>{bare})(?:[(（][^()（）]{{1,20}}[)）])?(?:为|是|达|达到|由|缩小为|扩大为)?\s*"
            rf"(?P<num>(?<![\d.])\d+(?:\.\d+)?)(?![\d.%％:：倍个万亿千百元]|,\d)") if bare else None
        self.range_pattern = re.compile(rf"(?<![0-9.])(\d+(?:\.\d+)?)\s*({scale_alt})?\s*(?:到|至|—|–|-|~)\s*$")

    def find(self, text: str, start: int = 0, end: int | None = None) -> list[Quantity]:
        end = len(text) if end is None else end
        out: list[Quantity] = []
        for m in self.pattern.finditer(text, start, end):
            q = self._build(text, m)
            if q is None:
                continue
            out.append(q)
            rng = self._range_start(text, m, q)
            if rng is not None:
                out.insert(len(out) - 1, rng)
        if self.bare_pattern is not None:
            taken = {q.num_start for q in out}
            for m in self.bare_pattern.finditer(text, start, end):
                if m.start("num") not in taken:
                    out.append(Quantity(m.start("num"), m.end("num"), m.start("num"), float(m["num"]), m["num"],
                                        self.bare_units[m["cue"]], "", "", False, True, False))
            out.sort(key=lambda q: q.num_start)
        return self._shared_units(text, self._shared_points(text, out))

    @staticmethod
    def _shared_units(text: str, qs: list[Quantity]) -> list[Quantity]:
        """分别增长1.81、1.78和1.57倍, 分别为3.5、2.1亿元: the bare numbers of a respectively-list
        share the unit (and scale) of its last item."""
        out: list[Quantity] = []
        for q in qs:
            if not q.is_statistic or not q.value_raw or not q.value_raw[0].isdigit():
                out.append(q)
                continue
            try:
                factor = q.value / float(q.value_raw.replace(",", ""))
            except (ValueError, ZeroDivisionError):
                out.append(q)
                continue
            run: list[re.Match[str]] = []
            pos = q.num_start
            before = text[max(0, pos - 16):pos].rstrip()   # the window BARE_ITEM is searched in
            if not before or before[-1] not in "、和及与":
                out.append(q)   # most figures: no list joiner right before (BARE_ITEM ends with one)
                continue
            while (m := BARE_ITEM.search(text, max(0, pos - 16), pos)) is not None:
                run.append(m)
                pos = m.start()
            if run and RESPECTIVELY.search(text, max(0, pos - 12), pos):
                for m in reversed(run):
                    value = float(m["num"])
                    out.append(Quantity(m.start("num"), m.end("num"), m.start("num"), float(f"{value * factor:.10g}"),
                                        m["num"], q.unit, q.unit_raw, q.approx, q.is_times, q.is_statistic, False))
            out.append(q)
        return out

    @staticmethod
    def _shared_points(text: str, qs: list[Quantity]) -> list[Quantity]:
        """快于一季度、去年全年1.5个、3个百分点: the listed 个 are percentage points too."""
        for i in range(len(qs) - 2, -1, -1):
            q, nxt = qs[i], qs[i + 1]
            if q.unit_raw == "个" and nxt.unit == "pp" and LIST_JOINER.fullmatch(text, q.end, nxt.start):
                qs[i] = q._replace(unit=nxt.unit, unit_raw=nxt.unit_raw)
        return qs

    def _build(self, text: str, m: re.Match[str]) -> Quantity | None:
        pbefore, pct, before, ordinal, num, cn, mid0, scale_raw, mid, unit_raw, after = m.group(
            "pbefore", "pct", "before", "ord", "num", "cn", "mid0", "scale", "mid", "unit", "after")
        scale_raw = scale_raw or ""
        q_start = m.start()
        if pct is not None:
            value = float(pct) if pct[0].isdigit() else parse_cn_number(pct)
            if value is None:
                return None
            return Quantity(m.start(), m.end(), m.start("pct") - 3, value, pct, "percent", "百分之",
                            pbefore or "", False, True, False)
        if num is not None:
            raw = num
            num_start = m.start("num")
            if num_start > 0 and text[num_start - 1].isalnum() and not self._cjk(text[num_start - 1]):
                return None  # part of a code or identifier
            number = float(raw.replace(",", ""))  # 9,355.26: thousands separators
            if m.start() == num_start and num_start >= 2 and text[num_start - 1] in "-−" \
                    and (self._cjk(text[num_start - 2]) or text[num_start - 2] in ":："):
                # 自然增长率-1.02‰, 增长-2.3%: a minus after a word (not after a number: 1-8月)
                number, raw, q_start = -number, "-" + raw, num_start - 1
        else:
            raw = cn
            num_start = m.start("cn")
            # a lone 十/千/万 glued to a unit word is usually a word (十大, 千瓦 handled by units)
            if (not any(c in raw for c in "十百千万亿点") or len(raw) == 1 and raw not in "万千百") \
                    and unit_raw != "成" \
                    and not (unit_raw == "倍" and num_start > 0 and text[num_start - 1] in "的长加"):
                # 六成以上, 是去年的两倍, 增长三倍: a single digit is a number before 成, or before 倍
                # after what it multiplies or the growth it measures
                return None
            if len(raw) == 1 and num_start > 0 and (text[num_start - 1] in "(（\t" or text.endswith(UNIT_LABELS, 0, num_start)):
                # 年末数（万人）, 单位：万吨, a 单位 column's 万吨: a unit named, not ten thousand of it
                return None
            if num_start > 0 and text[num_start - 1] in "个项类大" and all(c in "十百千万亿" for c in raw):
                return None  # 14个千亿元产业, 十大千亿级: a size class after a classifier, not an amount
            if text.rfind("“", 0, m.start()) > text.rfind("”", 0, m.start()):
                return None  # “百家企业和田行”: a numeral inside a quoted name is part of the name
            number = parse_cn_number(raw)
            if number is None:
                return None
        if unit_raw == "成" and text.startswith(CHENG_WORDS, m.end("unit")):
            return None  # 这一成绩, 三成果: 成 begins a word (成绩, 成果), it is no tenth
        if ordinal and unit_raw in self.vocab.ordinal_names:
            return None  # 第3次常委会议, 第五届博览会: the ordinal names an event, it counts nothing
        if q_start > 0 and text[q_start - 1] == "每" and (before or "") == "":
            return None  # 每万人发明专利拥有量, 每千人口床位: the base of a rate, not a count
        unit = self.vocab.units.get(unit_raw)
        scale = self.vocab.scales.get(scale_raw, 1.0)
        end = m.end()
        if unit is not None and unit.unit == "day" and text.endswith(self.vocab.duration_words, max(0, q_start - 4), q_start):
            return None  # 活动为期3天: how long an event lasts, not a number of days of the place
        if unit is not None and unit.unit == "count":
            after_text = text[end: end + 6].lstrip("多余")
            if after_text.startswith(self.non_stat_words):
                return None  # 5个多小时: a duration, not a count
            if STAMP_BEFORE.search(text, max(0, q_start - 40), q_start):
                return None  # 2025-07-12 16:19:03  2次: a page's counter beside its time stamp
        if text.startswith("级", end) or (after == "以上" and end < len(text)
                                         and ("\u4e00" <= text[end] <= "\u9fff")):
            return None  # 千亿元级工程, 10亿元以上项目, 增速在20%以上的: a size class, not a quantity
        approx = before or mid0 or mid or after or ""
        if after == "以上":
            approx = "以上"
        if unit_raw == "倍":
            return Quantity(q_start, end, num_start, round(number * scale * 100, 10), raw, "percent",
                            scale_raw + "倍", approx, True, True, bool(ordinal))
        assert unit is not None
        value = number * scale * unit.factor
        value = float(f"{value:.10g}")
        # 人均预期寿命达到78.5岁: a population's life expectancy is a statistic, a person's age is not
        keep = unit.keep or unit.unit == "age" and LIFE_EXPECTANCY.search(text, max(0, q_start - 12), q_start) is not None
        return Quantity(q_start, end, num_start, value, raw, unit.unit,
                        (mid0 or "") + scale_raw + (mid or "") + unit_raw + (after or ""), approx,
                        False, keep, bool(ordinal))

    def _range_start(self, text: str, m: re.Match[str], q: Quantity) -> Quantity | None:
        """150到200毫升, 3至5亿元: the first number of a range takes the unit of the second, and its
        scale unless it has its own (10万至20万千瓦)."""
        k = m.start()
        while k > 0 and text[k - 1].isspace():
            k -= 1
        if k == 0 or text[k - 1] not in "到至—–-~":
            return None  # most figures: no range separator right before
        head = text[max(0, m.start() - 16): m.start()]
        r = self.range_pattern.search(head)
        second = float(m["num"].replace(",", "")) if m["num"] else 0.0
        if r is None or not q.is_statistic or not second:
            return None
        first = float(r[1])
        second_scale = self.vocab.scales.get(m["scale"] or "", 1.0)
        factor = q.value / second / second_scale * (self.vocab.scales[r[2]] if r[2] else second_scale)
        base = max(0, m.start() - 16)
        return Quantity(base + r.start(1), base + r.end(1), base + r.start(1), float(f"{first * factor:.10g}"),
                        r[1], q.unit, q.unit_raw, q.approx, q.is_times, q.is_statistic, False)

    @staticmethod
    def _cjk(ch: str) -> bool:
        return "\u4e00" <= ch <= "\u9fff"
