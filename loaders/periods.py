"""The period a figure belongs to: period phrases found in the text (grammar/period_phrases.csv),
the ones that cannot be a figure's own (asides, comparisons, spans opened by 以来), the
bulletin's own period (its title's or its lead's), an event's month, and the year a period
named without one is in."""
from __future__ import annotations

import bisect
import dataclasses
import re
from typing import NamedTuple

from .documents import Document, normalise_term
from .literals import WordsPresent, can_match_all, needed_sets
from .matching import clause_end
from .numbers import Quantity
from .vocabulary import Vocabulary

FLOW_KINDS = ("ytd", "year", "quarter", "month")
NAMED_EVENT = re.compile(r"第[一二三四五六七八九十百零〇\d]+届[^，,；;。\d]{0,12}?(?:会|节|展)")
EVENT_DATE = re.compile(r"(?:(?P<year>(?:19|20)\d\d)年|(?P<rel>去年|今年|上年))?(?P<month>1[0-2]|[1-9])月(?:\d{1,2}日)?"
                        r"[^，,；;。\d]{0,3}?(?:闭幕|开幕|举办|举行|召开)")
EVENT = re.compile(r"召开|举行|举办|开幕|闭幕|签约|启动|开工|揭牌")
# a period a figure is compared with, not the figure's own: 比一季度, 较1-7月, 快于一季度、2016年全年,
# 较2016年全年 (the year written before the period), 较2016年全年、今年一季度 (each item of the list)
COMPARED_PERIOD = re.compile(r"(?:比|较|快于|慢于|高于|低于|好于|超过|同|与|和)(?:[^，,；;。]{0,10}[、和])?"
                             r"(?:(?:19|20)\d\d年|今年|去年|上年)?$")
SO_FAR = ("今年以来", "年初以来", "截至目前")
LAST_YEAR_SAME = ("去年同期", "上年同期")
NOW = ("目前", "现有", "当前", "至今", "如今")
# 城镇化率由上年的45.2%提高到46.6%: the value a change starts from is the year before's
FROM_LAST_YEAR = re.compile(r"由(?:上年|去年)(?:末|底|同期)?(?:的)?\s*$")
# 由一季度的落后3.8个百分点转为领先5.2个百分点: the period after 由 is the start's; what the change
# comes to is of the period reported on
CHANGED_TO = re.compile(r"转为|转变为|(?:提高|提升|上升|下降|回落|降|增加|扩大|缩小|升|增)(?:到|至|为)")
_CN_MONTH = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10,
             "十一": 11, "十二": 12}
_LEAD_DATE = re.compile(r"(?<![\d年])(1[0-2]|[1-9])月(3[01]|[12]\d|[1-9])日")


class Period(NamedTuple):
    year: int | None
    end_month: int | None
    kind: str
    start: int = -1
    explicit_year: bool = False     # the phrase names its year (2023年1-8月, 去年)


class PeriodReader:
    """Finds and chooses periods for one vocabulary's phrasing."""

    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab
        # the words each phrase's matches contain: a text without them is not scanned for it
        self._needs = [needed_sets(p.pattern.pattern) for p in vocab.periods]
        self._present = WordsPresent(self._needs)


    def find(self, t: str, body: int, doc: Document) -> list[tuple[int, int, Period, int]]:
        found: list[tuple[int, int, Period, int]] = []
        carried: dict[int, int] = {}   # start → years back
        short = len(t) - body < 80   # a title: most phrases cannot start anywhere in it
        present = self._present.present(t)
        for phrase, needs in zip(self.vocab.periods, self._needs):
            if short and phrase.starts is not None and phrase.starts.search(t, body) is None:
                continue
            if not can_match_all(needs, present):
                continue
            for m in phrase.pattern.finditer(t, body):
                groups = {k: v for k, v in m.groupdict().items() if v}
                if phrase.end_month == "carried":
                    # years back, or (negative) the year named (2023年同期)
                    carried[m.start()] = 1 if phrase.year == "prev" else -int(groups["year"]) if phrase.year == "year" else 0
                    end = doc.reference_month
                elif phrase.end_month == "end":
                    end = month_number(groups.get("end") or groups.get("end2"))
                elif phrase.end_month == "ref":
                    end = doc.reference_month
                else:
                    end = int(phrase.end_month)
                if phrase.year == "year":
                    year = int(groups["year"])
                elif phrase.year == "prev":
                    year = doc.reference_year - 1 if doc.reference_year else None
                elif phrase.end_month == "ref":
                    year = doc.reference_year
                else:
                    year = year_for(end, phrase.kind, doc)
                found.append((m.start(), m.end(), Period(year, end, phrase.kind, m.start(),
                                                                  phrase.year in ("year", "prev") or phrase.end_month == "ref"),
                              phrase.priority))
        # where phrases overlap keep the higher priority (2023年1—8月 over 1—8月 over 2023年)
        found.sort(key=lambda f: (f[0], -f[3]))
        kept = without_overlaps(found)
        if carried:
            kept = self._carried_months(kept, carried, doc.reference_year)
        return kept

    @staticmethod
    def _carried_months(kept: list[tuple[int, int, Period, int]], carried: dict[int, int],
                        reference_year: int | None) -> list[tuple[int, int, Period, int]]:
        """前11个月…。其中，当月新建…: a bare 当月 is the last month of the period named before it;
        1-8月…，去年同期到位资金…: 去年同期 is that period a year earlier (the last period of the
        bulletin's own year: not 去年全年 named just before)."""
        out: list[tuple[int, int, Period, int]] = []
        last: Period | None = None
        current: Period | None = None
        for hit in kept:
            start, end, period, priority = hit
            if start in carried:
                back = carried[start]
                base = current if back and current is not None else last
                if base is not None and base.year:
                    kind = period.kind if period.kind != "carried" else base.kind
                    year = -back if back < 0 else base.year - back
                    hit = (start, end, Period(year, base.end_month, kind, start, True), priority)
                elif back:
                    hit = (start, end, period._replace(year=period.year - 1 if period.year else None,
                                                       kind=period.kind if period.kind != "carried" else "ytd"), priority)
            elif period.kind in FLOW_KINDS and period.end_month:
                last = period
                if period.year == reference_year:
                    current = period
            out.append(hit)
        return out

    @staticmethod
    def subject_periods(t: str, hits: list[tuple[int, int, Period, int]], masked: list[bool],
                         doc: Document) -> list[tuple[int, int, Period, int]]:
        """The period phrases that can be a figure's own period. A phrase in brackets is an aside
        (三年行动计划(2018-2020年)); one a figure is compared with is a reference, not its period
        (比一季度加快, 快于一季度、2016年全年); one followed by 以来 starts a cumulative span that
        ends at the bulletin's date (2017年以来 → since)."""
        kept: list[tuple[int, int, Period, int]] = []
        dropped_end = -1
        for hit in hits:
            start, end, period, priority = hit
            # 2016年 + 全年 found as two phrases are one: dropped together
            if masked[start] or start == dropped_end or COMPARED_PERIOD.search(t, max(0, start - 14), start):
                dropped_end = end
                continue
            if t.startswith("以来", end):
                hit = (start, end + 2, Period(doc.reference_year, doc.reference_month, "since", start, False), priority)
            kept.append(hit)
        return kept

    def lead_period(self, doc: Document, period_hits: list[tuple[int, int, Period, int]],
                     sentences: list[tuple[int, int]], quantities: list[Quantity]) -> Period | None:
        """The bulletin's own period: its title's, else that of the first sentence stating a figure
        (not "2017年全区投资促进工作会议" in a lead that states none)."""
        title = normalise_term(doc.title)
        if title:
            titled = [h for h in self.find(title, 0, doc) if h[2].kind in FLOW_KINDS]
            if titled:
                return Period(titled[0][2].year, titled[0][2].end_month, titled[0][2].kind, -1,
                              titled[0][2].explicit_year)
        with_figures = [(a, b) for a, b in sentences if any(a <= q.num_start < b for q in quantities)]
        t = doc.match_text
        if with_figures:
            # 8月25日，…集中签约大会召开。大会…签约项目共45个: a bulletin that opens on an event, its
            # figures without a period of their own, reports the event's
            a = with_figures[0][0]
            p_start = t.rfind("\n", 0, a) + 1
            first_figure = min(q.num_start for q in quantities if q.num_start >= a)
            event = self.event_period(t, max(p_start, doc.body_start), doc)
            if event is not None and not any(p_start <= h[0] < first_figure for h in period_hits):
                return event
        for start, _, period, _ in period_hits:
            # 截至7月底，全州招商引资开工项目118个: a stock date opening the lead bounds its flows too
            if (period.kind in FLOW_KINDS or period.kind == "as_of" and period.end_month
                    and not doc.match_text.startswith(NOW, start)) \
                    and any(a <= start < b for a, b in with_figures):
                return period
        return None

    @staticmethod
    def event_period(t: str, p_start: int, doc: Document) -> Period | None:
        end = clause_end(t, p_start, "。！？!?\n")
        m = _LEAD_DATE.search(t, p_start, min(end, p_start + 20))
        if m is None or not EVENT.search(t, m.end(), end) or doc.reference_year is None:
            return None
        return Period(doc.reference_year, int(m[1]), "other", m.start(), False)

    @staticmethod
    def named_event_period(t: str, s_start: int, p_end: int, q: Quantity, clause: str,
                           doc: Document) -> Period | None:
        """第十九届兰洽会签约项目1093个，签约金额6129亿元，从2013年6月闭幕至今…: what was signed at
        a numbered event is of the month the text dates the event to."""
        if "签约" not in clause or doc.reference_year is None:
            return None
        events = list(NAMED_EVENT.finditer(t, s_start, q.start))
        if not events:
            return None
        nxt = NAMED_EVENT.search(t, q.end, p_end)
        m = EVENT_DATE.search(t, events[-1].end(), nxt.start() if nxt else p_end)
        if m is None:
            return None
        year = int(m["year"]) if m["year"] else doc.reference_year - (1 if m["rel"] in ("去年", "上年") else 0)
        return Period(year, int(m["month"]), "other", m.start(), bool(m["year"] or m["rel"]))

    @staticmethod
    def choose(hits: list[tuple[int, int, Period, int]], s_start: int, p_start: int, q: Quantity,
                doc: Document, carried: Period | None) -> Period | None:
        t = doc.match_text
        # 去年同期到位资金3878.66亿元，完成全年…: last year's figure is one clause's aside (a
        # sentence's, when it opens the sentence: 去年同期，全市…)
        in_sentence = [h for h in hits if s_start <= h[0] and h[1] <= q.start
                       and not (t.startswith(LAST_YEAR_SAME, h[0]) and t[h[1]:h[1] + 1] not in ("，", ",")
                                and clause_end(t, h[1]) < q.start)]
        in_paragraph = [h for h in hits if p_start <= h[0] and h[1] <= s_start
                        and h[2].kind in FLOW_KINDS + ("as_of",) and not t.startswith(LAST_YEAR_SAME, h[0])]
        chosen = in_sentence[-1][2] if in_sentence else (in_paragraph[-1][2] if in_paragraph else carried)
        if chosen is not None and carried is not None and chosen is not carried and chosen.kind == "ytd" \
                and carried.kind == "ytd" and carried.year == chosen.year and carried.end_month \
                and doc.match_text.startswith(SO_FAR, chosen.start):
            return carried  # 今年以来 in a bulletin about 前7个月 is those seven months
        if chosen is not None and carried is not None and chosen.kind == "as_of" and chosen.end_month == 12 \
                and not chosen.explicit_year and carried.kind == "year" and carried.year:
            return Period(carried.year, 12, "as_of", chosen.start, True)   # 年末 in a report on a year is its end
        if chosen is not None and not chosen.explicit_year and chosen.kind in FLOW_KINDS:
            # 去年…。全年累计…: a period named without its year is in the year the paragraph named
            named = [h[2] for h in hits if p_start <= h[0] and h[1] <= q.start and h[2].explicit_year
                     and h[0] < chosen.start and not t.startswith(LAST_YEAR_SAME, h[0])]
            if named:
                return Period(named[-1].year, chosen.end_month, chosen.kind, chosen.start, True)
        return chosen


def without_overlaps(found: list[tuple[int, int, Period, int]]) -> list[tuple[int, int, Period, int]]:
    """The phrases kept, by start, taking them by priority (then start) and leaving out each one
    that overlaps a phrase already kept."""
    kept: list[tuple[int, int, Period, int]] = []
    if any(f[0] >= f[1] for f in found):
        for f in sorted(found, key=lambda f: (-f[3], f[0])):
            if not any(f[0] < k[1] and k[0] < f[1] for k in kept):
                kept.append(f)
    else:
        # the kept spans are apart and in order, so only the last one starting before a phrase's
        # end can overlap it: a bisection, not a look at every kept phrase
        starts: list[int] = []
        ends: list[int] = []
        for f in sorted(found, key=lambda f: (-f[3], f[0])):
            i = bisect.bisect_left(starts, f[1])
            if i and ends[i - 1] > f[0]:
                continue
            starts.insert(i, f[0])
            ends.insert(i, f[1])
            kept.append(f)
    kept.sort(key=lambda f: f[0])
    return kept


def month_number(s: str | None) -> int | None:
    if not s:
        return None
    return int(s) if s.isdigit() else _CN_MONTH.get(s)


def dated_by_lead(doc: Document) -> Document:
    """A bulletin speaks from the day its lead names (5月31日，…在拉萨举行…签约), which may be
    days before it was put online: 今年以来 and stocks without a date of their own are as of then."""
    if doc.published is None or doc.reference_month is None:
        return doc
    m = _LEAD_DATE.search(doc.match_text, doc.body_start, doc.body_start + 400)
    if m is None:
        return doc
    month = int(m[1])
    if not (doc.reference_month - 2 <= month < doc.reference_month):
        return doc
    return dataclasses.replace(doc, reference_month=month)


def year_for(end_month: int | None, kind: str, doc: Document) -> int | None:
    """A period named without its year is the latest one that had ended when the bulletin
    appeared: 全年 in a January bulletin is last year."""
    year = doc.reference_year
    if year is None or end_month is None or doc.reference_month is None:
        return year
    published_month = doc.published.month if doc.published else doc.reference_month
    if kind in FLOW_KINDS and end_month >= published_month and doc.reference_source == "front_matter":
        return year - 1
    if kind == "as_of" and end_month > published_month:
        return year - 1
    return year
