"""From a document to statistic mentions: each quantity gets a measure, period, subject and metric.

How a careful reader attributes a number, and so how this module does:
- the measure comes from the words right before the number in its clause (同比增长, 占…的, 完成…的);
- the subject (region, industry, breakdown) is the nearest one named before it in the sentence,
  leaving out what a share is taken of (占全区总量的) and asides in brackets (含吐鲁番、哈密);
  a sentence that names no region speaks of the paragraph's, else of the document's;
- the period is the nearest period phrase in the sentence, else in the paragraph, else the last
  flow period of the document; stocks with no period of their own are as of the publication date;
- "分别" lists give one value to each listed subject, in order.
"""
from __future__ import annotations

import bisect
import dataclasses
import functools
import datetime as dt
import re
from dataclasses import asdict, dataclass
from typing import Iterable, NamedTuple

from .documents import Document, normalise_term
from .gazetteer import RegionMatcher
from .numbers import Quantity, QuantityFinder
from .vocabulary import Vocabulary

CLAUSE_SEP = re.compile(r"[，,；;]|:(?!\d)|(?<!\d):")
SENTENCE_SEP = "。！？!?\n"
LIST_SEP = re.compile(r"^\s*(?:、|和|及|与)\s*$")
LIST_SEP_VERB = re.compile(r"^\s*(?:、|和|及|与)\s*(?:增长|下降|提高|回落|减少|增加)\s*$")
QUARTER_LIST = re.compile(r"(?<![前上下])(?:第)?[一二三四](?:、[一二三四])+季度")
FLOW_KINDS = ("ytd", "year", "quarter", "month")
# verbs and particles around a figure that are not part of what it measures
UNIT_VERBS = re.compile(r"^(?:共|累计|全年|共计|完成|实现|新增|达到|达|为|有|已)+|(?:共|累计|共计|达到|达|为|是|有|约|近|超过|超|逾)+$")
UNKNOWN_LEVEL = {"市": "prefecture", "州": "prefecture", "盟": "prefecture", "区": "prefecture",
                 "县": "county", "旗": "county"}   # an unknown name's level, by its last character
# a statement after a semicolon that starts with a verb goes on about the same subject
CONTINUES = re.compile(r"\s*(?:实现|完成|增长|下降|同比|比上年|较上年|其中|占|达到|累计|共)")
SOURCE_BEFORE = re.compile(r"(?:引进|来自|从)$")   # where money comes from
ACTUAL = re.compile(r"已|实际|累计")
# An event's venue (在乌鲁木齐举行) and a distance's reference point (东距乌鲁木齐170公里) name a
# place that is never the subject of a statistic, nor what the bulletin is about.
NOT_SUBJECT_PLACE = re.compile(r"在[^，,；;。\d]{1,10}?(?:举行|召开|举办|开幕|闭幕|集中签约|签约|启动)|[东西南北]?距(?:离)?[^，,；;。\d]{1,12}|"
                               r"(?:网|社|报|台|新闻)[\u4e00-\u9fff]{2,8}?\d{1,2}月\d{1,2}日\s*(?:电|讯)|"
                               r"(?:^|(?<=\n))[\u4e00-\u9fff]{2,4}讯(?=[(（])")
DENOMINATOR = re.compile(r"在[^，,；;。\d]{0,12}中(?=的?占)|占|(?:全疆|全区|全国|全省)(?=首|第一|率先|最)|"
                         r"(?:比|较|高于|低于|快于|慢于)(?=[^，,；;。\d]{0,12}(?:增长|增加|提高|下降|减少|回落|\d))|"
                         # a ranking names the field it ranks in: 居吉林省第4位, 保持全省9市州第2位, 位居五市第一
                         r"(?:居|位居|位列|位于|排名|排|列|保持)(?=[^，,；;。]{0,14}?(?:第[一二三四五六七八九十\d]|首位|前列|榜首))|"
                         # what a place is within a wider one: 是全疆棉花生产大区, 是全国重要的能源基地
                         r"(?:是|为|成为)(?=(?:全疆|全区|全国|全省|全市)[^，,；;。\d]{0,12}(?:大区|大县|大市|大省|之一|基地|中心|枢纽))")
DENOMINATOR_END = re.compile(r"[，,；;。]|\d")
_BRACKET_OR_BREAK = re.compile(r"[(（)）\n]")
RATIO = re.compile(r"(?<![\d.:])(\d+(?:\.\d+)?)(?:\s*:\s*(\d+(?:\.\d+)?)){2,}(?![\d.:])")
RATIO_CUE = re.compile(r"(?:结构|比例|之比|比为)")
ORGANISATION = re.compile(r"[\u4e00-\u9fff]{0,4}?(?:集团|公司|钢铁|银行|证券|大学|学院|医院|日报|电视台)|"
                          r"(?:地委|市委|县委|州委|区委|省委|盟委|旗委|党委|委|人民政府|政府)(?!会)")
# 天津援疆, 广东对口帮扶: the province that gives aid is a partner of the bulletin's place
PARTNER_AFTER = re.compile(r"援[疆藏青川黔滇甘宁蒙桂]|对口(?:支援|帮扶|援助)|帮扶")
# 到新疆投资, 对广西投资, 落户和田: where money goes is the bulletin's place
DESTINATION = re.compile(r"(?:到|对|来|赴|落户|进)$")
DESTINATION_AFTER = re.compile(r"(?:投资|兴业|考察|发展)")
COMPARED_FIELD = re.compile(r"(?:高于|低于|快于|慢于|领跑|领先|居|位居|位列|占|比|较|超过|超出|落后于?|与)$")
COMPARED_FIELD_AFTER = re.compile(r"[^，,；;。\d]{0,6}?(?:第[一二三四五六七八九十\d]|首位|前列|榜首|平均)")
EVENT = re.compile(r"召开|举行|举办|开幕|闭幕|签约|启动|开工|揭牌")
HEADING = re.compile(r"\s*(?:[一二三四五六七八九十]+、|[(（][一二三四五六七八九十]+[)）])")
# a period a figure is compared with, not the figure's own: 比一季度, 较1-7月, 快于一季度、2016年全年
COMPARED_PERIOD = re.compile(r"(?:比|较|快于|慢于|高于|低于|好于|超过|同|与|和)(?:[^，,；;。\d]{0,8}[、和])?$")
SO_FAR = ("今年以来", "年初以来", "截至目前")
NOW = ("目前", "现有", "当前", "至今", "如今")
THREE_SECTORS = re.compile(r"三次产业|一二三产|三产业")


@dataclass(slots=True)   # millions of them in a large run
class Mention:
    doc_id: str
    mention_seq: int
    quote: str
    char_start: int
    char_end: int
    measure: str
    value: float
    unit: str
    value_raw: str
    unit_raw: str
    approx: str
    period_year: int | None
    period_end_month: int | None
    period_kind: str
    metric_code: str
    metric_name: str
    metric_raw: str
    region_code: str
    region_name: str
    region_raw: str
    industry_code: str
    industry_name: str
    industry_raw: str
    breakdown: str
    source_url: str
    published: dt.date | None
    rule: str

    def as_row(self) -> dict[str, object]:
        return asdict(self)


class Hit(NamedTuple):    # a tuple: made thousands of times a document
    start: int
    end: int
    code: str
    raw: str


class Period(NamedTuple):
    year: int | None
    end_month: int | None
    kind: str
    start: int = -1
    explicit_year: bool = False     # the phrase names its year (2023年1-8月, 去年)


class TermMatcher:
    """Leftmost-longest matching of a vocabulary's terms."""

    def __init__(self, terms: dict[str, str]) -> None:
        self.terms = {normalise_term(k): v for k, v in terms.items()}
        alts = sorted(self.terms, key=len, reverse=True)
        self.pattern = re.compile("|".join(re.escape(a) for a in alts)) if alts else None

    def find(self, text: str, start: int, end: int) -> list[Hit]:
        if self.pattern is None:
            return []
        return [Hit(m.start(), m.end(), self.terms[m.group()], m.group())
                for m in self.pattern.finditer(text, start, end)]


LEVEL_WORDS = "省市县区旗州盟"
NOT_A_LEVEL = ("外", "内", "级", "委", "直", "属", "域")   # 新疆区外资金, 市直部门: the level word is another word


class PlaceMatcher:
    """The gazetteer's matcher behind the TermMatcher interface. A name of several places (鼓楼区)
    keeps all of them, joined by "|", until the bulletin's home decides (`Extractor._disambiguate`)."""

    def __init__(self, matcher: RegionMatcher) -> None:
        self.matcher = matcher

    def find(self, text: str, start: int, end: int, on: dt.date | None = None) -> list[Hit]:
        # 青川 before 旗 is not 青川县 but a banner of another name: a short form followed by a
        # level word of its own names a place the gazetteer does not know
        return [Hit(h.start, h.end, "|".join(h.codes), h.raw) for h in self.matcher.find(text, start, end, on)
                if h.raw[-1] in LEVEL_WORDS or h.end >= len(text) or text[h.end] not in LEVEL_WORDS
                or text.startswith(NOT_A_LEVEL, h.end + 1) or h.codes[0].startswith("@")]


class Extractor:
    def __init__(self, vocab: Vocabulary, default_home: str = "") -> None:
        """`default_home` is the region a bulletin that names no place speaks of. There is none
        by default: such a bulletin's figures are left without a region and reported."""
        self.vocab = vocab
        self.default_home = default_home
        self.quantities = QuantityFinder(vocab)
        # explicit names and relative references (全省, 我市, 该县) in one leftmost-longest pass;
        # a relative reference's code is "@<level>" until the document's home region is known
        relative = {k: "@" + v for k, v in vocab.relative_regions.items()}
        self.regions: TermMatcher | PlaceMatcher = (
            PlaceMatcher(vocab.gazetteer.matcher(relative)) if vocab.gazetteer is not None
            else TermMatcher({**vocab.region_aliases, **relative}))
        suffixes = "|".join(re.escape(x) for x in sorted(vocab.park_suffixes, key=len, reverse=True))
        self.park_words = re.compile(suffixes) if suffixes else None
        # names the vocabularies lack, kept raw so that they are reported, never dropped
        # (a place's name is short; a cluster's may follow a place: 全区低空经济产业集群)
        self.unknown = {kind: re.compile(rf"(?:^|(?<=[，,。、；;：:（(“\s在从至到和与及对]))([\u4e00-\u9fff]{{2,{width}}}?"
                                         rf"(?:{'|'.join(map(re.escape, sorted(sfx, key=len, reverse=True)))}))")
                        for kind, width in (("region", 4), ("industry", 12)) if (sfx := vocab.name_suffixes.get(kind))}
        # _is_funding_source asks the same of a name while finding the home region and again
        # while resolving names: answers are kept for the document being extracted
        self._funding_memo_text = ""
        self._funding_memo: dict[tuple[int, int, str, str], bool] = {}
        self.fund_words = re.compile(r"资金|投资|引资|到位|注入|来源")
        self.industries = TermMatcher(vocab.industry_aliases)
        self.metrics = TermMatcher(vocab.metric_aliases)
        self.breakdowns = TermMatcher({k: f"{a}={b}" for k, (a, b) in vocab.breakdown_terms.items()})
        # the cues that apply to each kind of figure, in the grammar's order, for each scope
        self.cues = {(scope, kind): [c for c in vocab.cues if c.scope == scope and c.applies_to in (kind, "any")]
                     for scope in ("goal", "clause", "sentence", "after")
                     for kind in ("times", "percent", "pp", "amount")}

    # -- document level ---------------------------------------------------------------------
    def extract(self, doc: Document) -> list[Mention]:
        doc = _dated_by_lead(doc)
        t = doc.match_text
        body = doc.body_start
        paragraphs = _with_headings(t, _spans(t, body, "\n"))
        sentences = _spans(t, body, SENTENCE_SEP)
        para_starts = [s for s, _ in paragraphs]
        masked = self._mask(t)
        on = doc.published or (dt.date(doc.reference_year, doc.reference_month or 12, 1) if doc.reference_year else None)
        all_regions = self._nested(self._disambiguate(doc, self.regions.find(t, body, len(t), on)))
        all_industries = self.industries.find(t, body, len(t))
        # names in brackets are asides, never subjects, but still hint at where the bulletin is
        bracketed = [h for h in all_regions if masked[h.start] and not h.code.startswith("@")]
        parks = self._parks(t, [h for h in all_regions if not h.code.startswith("@")], body)
        # 城镇化率 is a rate of the whole place, not a figure of its towns
        breakdown_hits = [b for b in self.breakdowns.find(t, body, len(t))
                          if not any(p.start <= b.start < p.end for p in parks)
                          and not (b.code.startswith("城乡=") and t.startswith("化", b.end))]
        spans = [(b.start, b.end) for b in breakdown_hits]  # 乌鲁木齐片区 is a park, not 乌鲁木齐市
        venues = [m.span() for m in NOT_SUBJECT_PLACE.finditer(t, body)]
        # 山东钢铁, 兰州日报: a place at the head of an organisation's name
        venues += [(h.start, h.end) for h in all_regions if not h.code.startswith("@") and ORGANISATION.match(t, h.end)]
        # a venue, a dateline's city or an organisation's place is never a subject, but hints at
        # where the bulletin is
        bracketed += [h for h in all_regions if not masked[h.start] and not h.code.startswith("@")
                      and _inside(h.start, venues)]
        for a, b in spans + venues:
            masked[a:b] = [True] * (b - a)
        region_hits = [h for h in all_regions if not masked[h.start]]
        # a named park keeps the place its name starts with as the region (喀什经济开发区 → 喀什)
        breakdown_hits = sorted(breakdown_hits + parks, key=lambda b: b.start)
        unknown_places = self._with_unknown("region", t, body, [], masked, all_regions)
        home = self._home_region(doc, region_hits + unknown_places, bracketed)
        home_raw = ""
        if home.startswith("?"):
            # the bulletin is about a place the vocabulary lacks (阿拉善盟): its figures stay
            # unresolved under that name rather than defaulting to Xinjiang
            home, home_raw = "", home[1:]
        region_hits, breakdown_hits = self._resolve_regions(t, region_hits, breakdown_hits, home, home_raw)
        region_hits = sorted(region_hits + unknown_places, key=lambda h: h.start)
        industry_hits = [h for h in all_industries if not masked[h.start]]
        industry_hits = self._with_unknown("industry", t, body, industry_hits, masked, all_industries)
        metric_hits = self.metrics.find(t, body, len(t))
        period_hits = self._subject_periods(t, self._periods(t, body, doc), masked, doc)
        default_region = home

        quantities = [q for q in self.quantities.find(t, body) if q.is_statistic]
        mentions: list[Mention] = []
        # the lead's period is the bulletin's: a later "2021年，夏粮…" is an aside
        title_park = self._title_park(doc)
        lead_period = self._lead_period(doc, period_hits, sentences, quantities)
        last_metric = ""
        metric_by_unit: dict[str, str] = {}
        # Every rule looks at most from the paragraph start to the sentence end: cut each list
        # to that window once per sentence instead of scanning the whole document.
        index = {name: [h.start for h in hits] for name, hits in (
            ("region", region_hits), ("industry", industry_hits), ("breakdown", breakdown_hits),
            ("metric", metric_hits))}
        period_starts = [p[0] for p in period_hits]
        q_starts = [q.num_start for q in quantities]

        def window(hits: list, starts: list[int], a: int, b: int) -> list:
            return hits[bisect.bisect_left(starts, a):bisect.bisect_left(starts, b)]

        clause_starts = _ClauseStarts(t, body)
        topics = self._section_topics(t, paragraphs, region_hits, home)
        current_paragraph = -1
        for (s_start, s_end) in sentences:
            p_start = para_starts[bisect.bisect_right(para_starts, s_start) - 1]
            if p_start != current_paragraph:
                # "the last metric measured in this unit" holds within a paragraph only
                current_paragraph, metric_by_unit = p_start, {}
            qs = window(quantities, q_starts, s_start, s_end)
            if not qs and not RATIO.search(t, s_start, s_end):
                continue
            region_hits_w = window(region_hits, index["region"], p_start, s_end)
            industry_hits_w = window(industry_hits, index["industry"], p_start, s_end)
            breakdown_hits_w = window(breakdown_hits, index["breakdown"], p_start, s_end)
            metric_hits_w = window(metric_hits, index["metric"], p_start, s_end)
            period_hits_w = window(period_hits, period_starts, p_start, s_end)
            prev: Mention | None = None
            prev_q: Quantity | None = None
            denominators = self._denominator_spans(t, s_start, s_end)
            subj_regions = [h for h in region_hits_w if s_start <= h.start < s_end
                            and not _inside(h.start, denominators)]
            assigned = self._respectively(t, s_start, s_end, qs, subj_regions, industry_hits_w, breakdown_hits_w)
            for q in qs:
                clause_start = clause_starts.before(s_start, q.start)
                local = t[clause_start:q.start]
                measure, sign = self._measure(t, s_start, q, local, prev, prev_q)
                if measure is None:
                    continue
                # subject: explicit in the sentence before the number, else carried
                region = _last_before(subj_regions, q.start)
                if region is None:
                    # the topic (first place named) of the latest earlier sentence of the paragraph
                    earlier = [h for h in region_hits_w if p_start <= h.start < s_start]
                    if earlier:
                        topic_sentence = max(_sentence_start(t, p_start, h.start) for h in earlier)
                        region = next(h for h in earlier if h.start >= topic_sentence)
                    else:
                        region = topics.get(p_start)
                industry = _last_before([h for h in industry_hits_w if clause_start <= h.start < q.start
                                         and not _inside(h.start, denominators)], q.start)
                if industry is None and measure in ("level", "target", "change"):
                    # 12个二产项目: a count names what it counts right after its classifier
                    industry = next((h for h in industry_hits_w if h.start == q.end), None)
                if industry is not None and "等" in t[industry.end:q.start]:
                    industry = None  # 旅游开发等7大类、总投资1166亿元: the figure sums the listed kinds
                if industry is None:
                    # earlier clauses of the statement; a semicolon starts another statement
                    statement = max(s_start, t.rfind("；", s_start, clause_start) + 1, t.rfind(";", s_start, clause_start) + 1)
                    if CONTINUES.match(t, statement):
                        statement = s_start  # ；实现利润715.09亿元: the same subject goes on
                    industry = _last_before([h for h in industry_hits_w if statement <= h.start < clause_start
                                             and not _inside(h.start, denominators)], q.start)
                breakdown = self._breakdown(t, breakdown_hits_w, clause_start, s_start, q.start, denominators)
                if title_park and "园区=" not in breakdown:
                    breakdown = ";".join(filter(None, [breakdown, title_park]))
                metric = self._metric(t, metric_hits_w, s_start, p_start, q, denominators, measure)
                override = assigned.get(id(q), {})
                region = override.get("region", region)
                industry = override.get("industry", industry)
                if "breakdown" in override:
                    breakdown = override["breakdown"]
                if metric:
                    metric_code = metric.code
                elif measure in ("level", "target", "change"):
                    # 区外资金到位9355.26亿元 after 4391个项目: the last metric measured in this unit
                    metric_code = metric_by_unit.get(_unit_family(q.unit), "")
                else:
                    metric_code = prev.metric_code if prev else last_metric
                metric_raw = metric.raw if metric else (
                    self._metric_words(t, clause_start, q, region_hits_w, industry_hits_w, period_hits_w)
                    if measure in ("level", "target", "change") and not metric_code else "")
                period = self._period(period_hits_w, s_start, p_start, q, doc, lead_period)
                if not any(p_start <= h[0] and h[1] <= q.start for h in period_hits_w):
                    # 8月25日，…集中签约大会召开。大会…签约项目共45个: an event's figures are of its
                    # month, unless their paragraph names a period of its own
                    period = self._event_period(t, p_start, doc) or period
                kind_of_metric = self.vocab.metrics.get(metric_code, {}).get("kind", "flow")
                if period is None or period.start < s_start and kind_of_metric == "stock" and period.kind != "as_of":
                    # a stock takes a date carried from before (年末…。其中，男性…), never a flow's span
                    period = Period(doc.reference_year, doc.reference_month, "as_of")
                elif kind_of_metric != "stock" and lead_period is not None and lead_period.kind in FLOW_KINDS \
                        and period is not lead_period and period.kind == "as_of" and period.year == lead_period.year \
                        and t.startswith(NOW, period.start):
                    # 一季度…。目前已引进的109个项目中，新建项目47个: "now" in a report on a period is
                    # that period, for what flows (a stock stays as of now)
                    period = lead_period
                implied = self.vocab.metrics.get(metric_code, {}).get("industry_code", "")
                if industry is None and implied in self.vocab.industries:
                    industry = Hit(q.start, q.start, implied, "")  # 接待游客 is tourism
                if "quarter" in override:
                    period = Period(period.year, int(override["quarter"]) * 3, "quarter", period.start, period.explicit_year)
                if q.ordinal:
                    period = Period(period.year, period.end_month if period.kind != "ytd" else doc.reference_month,
                                    "since")
                if measure == "target":
                    # a plan's 全年 is the year it is made in, even in a mid-year bulletin
                    year = period.year if period.year and period.explicit_year else doc.reference_year
                    period = Period(year or period.year, 12, "plan")
                region_code = region.code if region else default_region
                value = q.value * sign
                m = Mention(
                    doc_id=doc.doc_id, mention_seq=0, quote="", char_start=0, char_end=0,
                    measure=measure, value=value, unit=q.unit if measure != "pp_change" else "pp",
                    value_raw=q.value_raw, unit_raw=q.unit_raw, approx=q.approx,
                    period_year=period.year, period_end_month=period.end_month, period_kind=period.kind,
                    metric_code=metric_code, metric_name=self.vocab.metrics.get(metric_code, {}).get("name_zh", ""),
                    metric_raw=metric_raw,
                    region_code=region_code, region_name=self.vocab.region_name(region_code),
                    region_raw=region.raw if region else (home_raw if not region_code else ""),
                    industry_code=industry.code if industry else "",
                    industry_name=self.vocab.industries.get(industry.code, "") if industry else "",
                    industry_raw=industry.raw if industry else "",
                    breakdown=breakdown, source_url=doc.source_url, published=doc.published,
                    rule="respectively" if override else f"{measure}:{q.unit}",
                )
                quote_start = max(clause_start, q.start - 40)
                while quote_start < q.start and t[quote_start] in " \n\t":
                    quote_start += 1
                m.char_start, m.char_end = doc.span(quote_start, q.end)
                m.quote = doc.text[m.char_start:m.char_end]
                mentions.append(m)
                prev, prev_q = m, q
                last_metric = metric_code or last_metric
                if metric_code and measure in ("level", "target", "change"):
                    metric_by_unit[_unit_family(q.unit)] = metric_code
            mentions.extend(self._ratios(doc, s_start, s_end, industry_hits_w, default_region,
                                         subj_regions, period_hits_w, p_start, lead_period))
        mentions.sort(key=lambda m: (m.char_start, m.char_end, m.measure, m.value))
        for i, m in enumerate(mentions, 1):
            m.mention_seq = i
        return mentions

    # -- pieces -------------------------------------------------------------------------------
    def _home_region(self, doc: Document, hits: list[Hit], asides: list[Hit]) -> str:
        """The place a bulletin is about: the one its front matter names (`region:`), else the
        one named in its title, first lines and most often."""
        given = self._given_region(doc)
        if given:
            return given
        # Which province's bulletin this is decides whether another province named beside funds
        # is a partner (山东钢铁…到新疆投资) or the subject: decide it first without that rule.
        provisional = self._score_home(doc, hits, asides, "")
        return self._score_home(doc, hits, asides, self.vocab.province_of(provisional))

    def _section_topics(self, t: str, paragraphs: list[tuple[int, int]], hits: list[Hit],
                        home: str) -> dict[int, Hit]:
        """二、各县市情况\n博乐市招商引资开工项目36个…。\n按产业分：二产项目17个: in a report laid out
        in sections, a paragraph led by a place below the home makes it the topic of the
        paragraphs after it that name none, until another place leads one, the home is named
        again or a heading starts another section."""
        topics: dict[int, Hit] = {}
        topic: Hit | None = None
        sectioned = False   # only a report laid out in sections has places leading its paragraphs
        starts = [h.start for h in hits]
        for a, b in paragraphs:
            if topic is not None:
                topics[a] = topic
            if HEADING.match(t, a):
                topic, sectioned = None, True
                a = t.find("\n", a, b) + 1 or b   # the paragraph proper starts below its heading
                while a < b and t[a].isspace():
                    a += 1
            if not sectioned:
                continue
            i = bisect.bisect_left(starts, a)
            lead = hits[i] if i < len(hits) and hits[i].start < min(b, a + 12) else None
            if lead is None or any(c in "。！？" for c in t[a:lead.start]):
                continue
            below_home = bool(lead.code) and not lead.code.startswith("@") and lead.code != home \
                and home in self.vocab.lineage(lead.code)
            topic = lead if below_home else None
        return topics

    def _nested(self, hits: list[Hit]) -> list[Hit]:
        """内蒙古自治区包头市, 新疆喀什地区: a place written with its province before it is the place."""
        return [h for h, nxt in zip(hits, hits[1:] + [None])
                if not (nxt is not None and nxt.start == h.end and h.code and not h.code.startswith("@")
                        and h.code in self.vocab.lineage(nxt.code)[1:])]

    def _disambiguate(self, doc: Document, hits: list[Hit]) -> list[Hit]:
        """A name of several places (鼓楼区, 朝阳) is the one nearest the places the bulletin
        names unambiguously: the one sharing most ancestors with the provisional home."""
        if not any("|" in h.code for h in hits):
            return hits
        anchor = self._given_region(doc) or self._score_home(doc, [h for h in hits if "|" not in h.code], [], "")
        assert self.vocab.gazetteer is not None   # only the gazetteer's matcher gives several codes
        return [Hit(h.start, h.end, self.vocab.gazetteer.closest(tuple(h.code.split("|")), anchor), h.raw)
                if "|" in h.code else h for h in hits]

    def _given_region(self, doc: Document) -> str:
        name = str(doc.front_matter.get("region") or "").strip()
        if not name:
            return ""
        if name in self.vocab.regions:
            return name
        term = normalise_term(name)
        found = self.regions.find(term, 0, len(term))
        return found[0].code.split("|")[0] if len(found) == 1 and found[0].end - found[0].start == len(term) \
            and not found[0].code.startswith("@") else "?" + name

    def _score_home(self, doc: Document, hits: list[Hit], asides: list[Hit], home_province: str) -> str:
        score: dict[str, float] = {}
        first: dict[str, int] = {}
        for h in asides:
            score[h.code] = score.get(h.code, 0) + 0.5
            first.setdefault(h.code, h.start)
        title = normalise_term(doc.title)
        venues = [m.span() for m in NOT_SUBJECT_PLACE.finditer(title)]
        for h in self.regions.find(title, 0, len(title)):
            if "|" in h.code:
                continue   # the title's ambiguous names wait for the text to decide
            if not h.code.startswith("@"):
                # a title's venue (…项目在拉萨集中签约) hints, the title's subject decides
                score[h.code] = score.get(h.code, 0) + (0.5 if _inside(h.start, venues) else 3)
        lead_end = doc.body_start + 300
        relative: list[tuple[str, float]] = []
        for h in hits:
            weight = 2 if h.start < lead_end else 1
            t = doc.match_text
            # 高于全区增速, 领跑全区, 居全省第二, 在全疆排列第一: a comparison's field is not the
            # bulletin's place
            if COMPARED_FIELD.search(t, max(0, h.start - 4), h.start) or COMPARED_FIELD_AFTER.match(t, h.end):
                continue
            if h.code.startswith("@"):
                relative.append((h.code[1:], weight))
                continue
            if home_province and self._is_funding_source(t, h, home_province) and (
                    self._names_home_province(t, h, hits, home_province)
                    or SOURCE_BEFORE.search(t, max(0, h.start - 2), h.start)):
                continue  # 山东钢铁…到新疆投资, 引进广东省资金: a partner, not what the bulletin is about
            if "|" in h.code or PARTNER_AFTER.match(t, h.end):
                continue
            if DESTINATION.search(t, max(0, h.start - 2), h.start) and DESTINATION_AFTER.match(t, h.end):
                weight += 2
            key = h.code or "?" + h.raw   # a place the vocabulary lacks still counts
            score[key] = score.get(key, 0) + weight
            first.setdefault(key, h.start)
        # 全区/我区 speak of the autonomous region, 全市 of the city: each relative reference
        # supports the named place, or its ancestor, at that level
        named = list(score)
        by_level: dict[str, float] = {}
        for level, weight in relative:
            by_level[level] = by_level.get(level, 0) + weight
        for level, weight in by_level.items():
            for node in {next((c for c in self.vocab.lineage(code) if self.vocab.level_class(c) == level), "")
                         for code in named} - {""}:
                score[node] = score.get(node, 0) + weight
                first.setdefault(node, first.get(node, 0))
            for key in named:  # 全市 supports an unknown 酒泉市, 全盟 an unknown 阿拉善盟
                if key.startswith("?") and UNKNOWN_LEVEL.get(key[-1]) == level:
                    score[key] += weight
        if not score:
            return self._home_from_url(doc.source_url) or self.default_home
        return max(score, key=lambda c: (score[c], -first.get(c, 0)))

    def _home_from_url(self, url: str) -> str:
        """A bulletin that names no place at all (全市完成…) may still carry it in its address:
        local papers file stories under the place's romanised name (…/xinxiang_1114/…)."""
        path = url.lower().split("//", 1)[-1]
        found = [code for code, r in self.vocab.regions.items()
                 if (word := r.name_en.split(" ")[0].lower()) and len(word) >= 5 and word in path]
        # Xinxiang is the city, Xinxiang County and its zones share the word: the highest of them
        top = min((len(self.vocab.lineage(c)) for c in found), default=0)
        found = [c for c in found if len(self.vocab.lineage(c)) == top]
        return found[0] if len(found) == 1 else ""

    def _is_funding_source(self, t: str, h: Hit, home_province: str) -> bool:
        """Another province named in a sentence about funds, without a metric of its own
        right after its name (甘肃省招商引资到位资金… is Gansu's own figure)."""
        if t is not self._funding_memo_text:  # held, so never a freed text's reused id
            self._funding_memo_text, self._funding_memo = t, {}
        key = (h.start, h.end, h.code, home_province)
        found = self._funding_memo.get(key)
        if found is None:
            found = self._funding_memo[key] = self._funding_source(t, h, home_province)
        return found

    def _funding_source(self, t: str, h: Hit, home_province: str) -> bool:
        province = self.vocab.province_of(h.code)
        if not home_province or not province or province == home_province:
            return False
        if self.metrics.pattern is not None and self.metrics.pattern.match(t, h.end) is not None \
                and not SOURCE_BEFORE.search(t, max(0, h.start - 2), h.start):
            return False  # 甘肃省招商引资到位资金… is Gansu's own; 引进广东省到位资金 is from Guangdong
        start = _sentence_start(t, 0, h.start)
        # 从资金来源看，…。北京市46.7亿元: the context may be set by the sentence before
        previous = _sentence_start(t, 0, max(0, start - 1)) if start and t[start - 1] != "\n" else start
        sentence = t[previous:_clause_end(t, h.end, "。！？!?\n")]
        return self.fund_words.search(sentence) is not None

    def _names_home_province(self, t: str, h: Hit, hits: list[Hit], home_province: str) -> bool:
        """Whether the sentence around `h` also names a place of the bulletin's province."""
        a, b = _sentence_start(t, 0, h.start), _clause_end(t, h.end, "。！？!?\n")
        return any(a <= o.start < b and not o.code.startswith("@")
                   and self.vocab.province_of(o.code) == home_province for o in hits)

    def _resolve_regions(self, t: str, hits: list[Hit], breakdowns: list[Hit],
                         home: str, home_raw: str = "") -> tuple[list[Hit], list[Hit]]:
        """Relative references become the home region at their level; another province named
        where funds are spoken of is where the money comes from (资金来源), not the subject,
        unless a metric follows its name directly."""
        lineage = self.vocab.lineage(home)
        home_province = self.vocab.province_of(home)
        regions: list[Hit] = []
        extra: list[Hit] = []
        for h in hits:
            if h.code.startswith("@"):
                level = h.code[1:]
                code = next((c for c in lineage if self.vocab.level_class(c) == level), "")
                if not code and level == "province" and home_province:
                    code = home_province
                regions.append(Hit(h.start, h.end, code or home, h.raw if code or home else home_raw or h.raw))
                continue
            if self._is_funding_source(t, h, home_province):
                extra.append(Hit(h.start, h.end, f"资金来源={self.vocab.region_name(h.code)}", h.raw))
                continue
            regions.append(h)
        merged = sorted(breakdowns + extra, key=lambda b: b.start)
        return regions, merged

    @staticmethod
    def _mask(t: str) -> list[bool]:
        """True inside brackets: asides such as (含吐鲁番、哈密) name no subject."""
        masked = [False] * (len(t) + 1)
        depth, opened = 0, 0
        for m in _BRACKET_OR_BREAK.finditer(t):
            ch, i = m.group(), m.start()
            if ch in "(（":
                if depth == 0:
                    opened = i
                depth += 1
            elif depth and (ch == "\n" or depth == 1):   # a closing bracket or the line's end
                masked[opened:i] = [True] * (i - opened)
                depth = 0 if ch == "\n" else depth - 1
            elif depth:
                depth -= 1
        if depth:
            masked[opened:len(t)] = [True] * (len(t) - opened)
        return masked

    @staticmethod
    def _denominator_spans(t: str, s_start: int, s_end: int) -> list[tuple[int, int]]:
        """Places named without being the subject of the numbers after them: what a share is
        taken of (from 占, or 比/较 of a comparison, to the number)."""
        spans = []
        for m in DENOMINATOR.finditer(t[s_start:s_end]):
            a = s_start + m.start()
            stop = DENOMINATOR_END.search(t[a:s_end])
            spans.append((a, a + (stop.start() if stop else s_end - a)))
        return spans

    def _measure(self, t: str, s_start: int, q: Quantity, local: str, prev: Mention | None,
                 prev_q: Quantity | None) -> tuple[str | None, int]:
        kind = "times" if q.is_times else ("percent" if q.unit == "percent" else ("pp" if q.unit == "pp" else "amount"))
        text = local.rstrip()
        if prev is not None and prev_q is not None and LIST_SEP.match(t[prev_q.end:q.start]) \
                and (prev_q.unit == q.unit or q.is_times or prev_q.is_times):
            # the next item of a list (53.87%、48.72%) has the measure of the first
            return prev.measure, 1 if prev.value >= 0 or prev.measure not in ("yoy_pct", "pp_change", "change") else -1
        # the words right before the number decide first, then what follows it, then the sentence
        actual = ACTUAL.search(text) is not None   # 计划新建1000个，已开工920个: what has happened is no plan
        sentence = t[s_start:q.start]
        for scope, where in (("goal", sentence), ("clause", text), ("after", t[q.end:q.end + 8]),
                             ("sentence", sentence)):
            if actual and scope in ("goal", "sentence"):
                continue
            for cue in self.cues[scope, kind]:
                if cue.pattern.search(where):
                    return cue.measure, cue.sign
        if kind == "amount":
            return "level", 1
        if kind == "pp":
            return "pp_change", 1
        if kind == "percent":
            return "level", 1
        return None, 1

    def _breakdown(self, t: str, hits: list[Hit], clause_start: int, s_start: int, q_start: int,
                   denominators: list[tuple[int, int]]) -> str:
        usable = [h for h in hits if s_start <= h.start < q_start and not _inside(h.start, denominators)]
        local = [h for h in usable if h.start >= clause_start]
        # the terms of this clause, else the list nearest before it (北京、重庆、广东…到位金额)
        chosen = local or _list_run(usable, t, q_start)
        seen: list[str] = []
        for h in chosen:
            if h.code not in seen:
                seen.append(h.code)
        return ";".join(seen)

    def _metric(self, t: str, hits: list[Hit], s_start: int, p_start: int, q: Quantity,
                denominators: list[tuple[int, int]], measure: str) -> Hit | None:
        before = [h for h in hits if s_start <= h.start and h.end <= q.start and not _inside(h.start, denominators)]
        if measure in ("level", "target", "change"):
            compatible = [h for h in before if self._unit_fits(h.code, q.unit)]
            if compatible:
                return compatible[-1]
            clause_end = _clause_end(t, q.end)
            after = [h for h in hits if q.end <= h.start < clause_end and self._unit_fits(h.code, q.unit)]
            if after:
                return after[0]
            return None
        if before:
            return before[-1]
        earlier = [h for h in hits if p_start <= h.start < s_start]
        return earlier[-1] if earlier else None

    def _unit_fits(self, metric_code: str, unit: str) -> bool:
        want = self.vocab.metrics.get(metric_code, {}).get("unit", "")
        money = {"CNY", "USD"}
        return want == unit or (want in money and unit in money)

    def _periods(self, t: str, body: int, doc: Document) -> list[tuple[int, int, Period, int]]:
        found: list[tuple[int, int, Period, int]] = []
        short = len(t) - body < 80   # a title: most phrases cannot start anywhere in it
        for phrase in self.vocab.periods:
            if short and phrase.starts is not None and phrase.starts.search(t, body) is None:
                continue
            for m in phrase.pattern.finditer(t, body):
                groups = {k: v for k, v in m.groupdict().items() if v}
                if phrase.end_month == "end":
                    end = _month(groups.get("end") or groups.get("end2"))
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
                    year = _year_for(end, phrase.kind, doc)
                found.append((m.start(), m.end(), Period(year, end, phrase.kind, m.start(),
                                                                  phrase.year in ("year", "prev") or phrase.end_month == "ref"),
                              phrase.priority))
        # where phrases overlap keep the higher priority (2023年1—8月 over 1—8月 over 2023年)
        found.sort(key=lambda f: (f[0], -f[3]))
        kept: list[tuple[int, int, Period, int]] = []
        for f in sorted(found, key=lambda f: (-f[3], f[0])):
            if not any(f[0] < k[1] and k[0] < f[1] for k in kept):
                kept.append(f)
        kept.sort(key=lambda f: f[0])
        return kept

    @staticmethod
    def _metric_words(t: str, clause_start: int, q: Quantity, regions: list[Hit], industries: list[Hit],
                      periods: list[tuple[int, int, Period, int]]) -> str:
        """What a figure with no known metric measures, as written: the clause's words between its
        subject or period and the number (全区实现{社会消费品零售总额}1609.8亿元), for the
        unresolved report."""
        start = clause_start
        for end in [h.end for h in regions + industries] + [p[1] for p in periods]:
            if clause_start <= end <= q.start:
                start = max(start, end)
        words = re.split(r"[\d()（）、%]", t[start:q.start])[-1]
        words = UNIT_VERBS.sub("", words).strip(" ，,：:“”\"\n")
        return words[-12:] if re.search(r"[\u4e00-\u9fff]{2}", words) else ""

    def _with_unknown(self, kind: str, t: str, body: int, known: list[Hit], masked: list[bool],
                      vocabulary_hits: list[Hit]) -> list[Hit]:
        """Add the names of `kind` that no vocabulary entry matched (`vocabulary_hits` are those
        it did), with an empty code."""
        pattern = self.unknown.get(kind)
        if pattern is None:
            return known
        taken = [(h.start, h.end) for h in vocabulary_hits]
        stop = set(self.vocab.name_suffixes.get("stop_start", ()))
        extra = []
        for m in pattern.finditer(t, body):
            start = m.start(1)
            if kind != "region":  # 全区低空经济产业集群: the place before the name is not part of it
                start = max([start] + [h.end for h in self.regions.find(t, start, m.end(1)) if h.start == start])
            if m.end(1) - start < 3 or any(masked[start:m.end(1)]) or t[start] in stop \
                    or any(a < m.end(1) and start < b for a, b in taken):
                continue
            extra.append(Hit(start, m.end(1), "", t[start:m.end(1)]))
        return sorted(known + extra, key=lambda h: h.start)

    def _parks(self, t: str, places: list[Hit], start: int) -> list[Hit]:
        """喀什经济开发区, 喀什中业产业园区: a place, up to six more characters, a park word."""
        if self.park_words is None or not places:
            return []
        out: list[Hit] = []
        ends = [h.end for h in places]
        for m in self.park_words.finditer(t, start):
            if out and m.start() < out[-1].end:
                continue
            i = bisect.bisect_right(ends, m.start()) - 1
            # the earliest place whose gap to the park word is all Chinese characters
            chosen = None
            while i >= 0 and m.start() - places[i].end <= 6:
                gap = t[places[i].end:m.start()]
                if all("\u4e00" <= c <= "\u9fff" for c in gap) and (not out or places[i].start >= out[-1].end):
                    chosen = places[i]
                i -= 1
            if chosen is not None:
                out.append(Hit(chosen.start, m.end(), f"园区={t[chosen.start:m.end()]}", t[chosen.start:m.end()]))
        return out

    def _title_park(self, doc: Document) -> str:
        """A bulletin titled after a park or zone (开发区招商局…, 喀什中业产业园区) speaks of it."""
        title = normalise_term(doc.title)
        named = self._parks(title, [h for h in self.regions.find(title, 0, len(title)) if not h.code.startswith("@")], 0)
        if named:
            return named[0].code
        terms = [h.code for h in self.breakdowns.find(title, 0, len(title)) if h.code.startswith("园区=")]
        return terms[0] if terms else ""

    @staticmethod
    def _subject_periods(t: str, hits: list[tuple[int, int, Period, int]], masked: list[bool],
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

    def _lead_period(self, doc: Document, period_hits: list[tuple[int, int, Period, int]],
                     sentences: list[tuple[int, int]], quantities: list[Quantity]) -> Period | None:
        """The bulletin's own period: its title's, else that of the first sentence stating a figure
        (not "2017年全区投资促进工作会议" in a lead that states none)."""
        title = normalise_term(doc.title)
        if title:
            titled = [h for h in self._periods(title, 0, doc) if h[2].kind in FLOW_KINDS]
            if titled:
                return Period(titled[0][2].year, titled[0][2].end_month, titled[0][2].kind, -1,
                              titled[0][2].explicit_year)
        with_figures = [(a, b) for a, b in sentences if any(a <= q.num_start < b for q in quantities)]
        for start, _, period, _ in period_hits:
            # 截至7月底，全州招商引资开工项目118个: a stock date opening the lead bounds its flows too
            if (period.kind in FLOW_KINDS or period.kind == "as_of" and period.end_month
                    and not doc.match_text.startswith(NOW, start)) \
                    and any(a <= start < b for a, b in with_figures):
                return period
        return None

    @staticmethod
    def _event_period(t: str, p_start: int, doc: Document) -> Period | None:
        end = _clause_end(t, p_start, "。！？!?\n")
        m = _LEAD_DATE.search(t, p_start, min(end, p_start + 20))
        if m is None or not EVENT.search(t, m.end(), end) or doc.reference_year is None:
            return None
        return Period(doc.reference_year, int(m[1]), "other", m.start(), False)

    @staticmethod
    def _period(hits: list[tuple[int, int, Period, int]], s_start: int, p_start: int, q: Quantity,
                doc: Document, carried: Period | None) -> Period | None:
        in_sentence = [h for h in hits if s_start <= h[0] and h[1] <= q.start]
        in_paragraph = [h for h in hits if p_start <= h[0] and h[1] <= s_start
                        and h[2].kind in FLOW_KINDS + ("as_of",)]
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
                     and h[0] < chosen.start]
            if named:
                return Period(named[-1].year, chosen.end_month, chosen.kind, chosen.start, True)
        return chosen

    def _respectively(self, t: str, s_start: int, s_end: int, qs: list[Quantity], regions: list[Hit],
                      industries: list[Hit], breakdowns: list[Hit]) -> dict[int, dict[str, object]]:
        """分别: the n values after it go to the n subjects listed before it, in order."""
        out: dict[int, dict[str, object]] = {}
        for m in re.finditer("分别|依次", t[s_start:s_end]):
            at = s_start + m.start()
            group: list[Quantity] = []
            for q in qs:
                if q.start < at:
                    continue
                # 分别下降2.5%、增长7.2%: each item of a list of changes may carry its own verb
                if group and (not (LIST_SEP.match(t[group[-1].end:q.start]) or LIST_SEP_VERB.match(t[group[-1].end:q.start]))
                              or q.unit != group[0].unit):
                    break
                if not group and _clause_start(t, s_start, q.start) > at:
                    break
                group.append(q)
            if len(group) < 2:
                continue
            # 一、二、三季度进出口分别为…: a list of quarters before 分别 gives each value its quarter
            quarters = [m for m in QUARTER_LIST.finditer(t, s_start, at)]
            if quarters and len(listed := re.findall("[一二三四]", quarters[-1].group())) == len(group):
                for q, n in zip(group, listed):
                    out[id(q)] = {"quarter": "一二三四".index(n) + 1}
                continue
            for key, hits in (("region", regions), ("industry", [h for h in industries if s_start <= h.start]),
                              ("breakdown", [h for h in breakdowns if s_start <= h.start])):
                run = _list_run([h for h in hits if h.end <= at], t, at)
                if len(run) == len(group):
                    for q, h in zip(group, run):
                        out[id(q)] = {key: (h if key != "breakdown" else h.code)}
                    break
        return out

    def _ratios(self, doc: Document, s_start: int, s_end: int, industry_hits: list[Hit], default_region: str,
                regions: list[Hit], period_hits: list[tuple[int, int, Period, int]], p_start: int,
                carried: Period | None) -> Iterable[Mention]:
        """三次产业结构 3.34:64.56:32.1 → one `other` row per part."""
        t = doc.match_text
        for m in RATIO.finditer(t, s_start, s_end):
            prefix = t[s_start:m.start()]
            if not (RATIO_CUE.search(prefix) or THREE_SECTORS.search(prefix[-8:])):   # 三次产业3.6:33.7:62.7
                continue
            parts = re.findall(r"\d+(?:\.\d+)?", m.group())
            sectors = ["PRIMARY", "SECONDARY", "TERTIARY"] if len(parts) == 3 and THREE_SECTORS.search(prefix) else []
            fake = _Pos(m.start())
            period = self._period(period_hits, s_start, p_start, fake, doc, carried) or \
                Period(doc.reference_year, doc.reference_month, "as_of")
            region = _last_before(regions, m.start())
            region_code = region.code if region else default_region
            pos = m.start()
            for i, part in enumerate(parts):
                a = t.index(part, pos)
                pos = a + len(part)
                code = sectors[i] if sectors else ""
                cs, ce = doc.span(a, pos)
                yield Mention(doc.doc_id, 0, doc.text[cs:ce], cs, ce, "other", float(part), "percent", part, "",
                              "", period.year, period.end_month, period.kind, "", "", "", region_code,
                              self.vocab.region_name(region_code), region.raw if region else "", code,
                              self.vocab.industries.get(code, ""), "", "", doc.source_url, doc.published, "ratio")


@dataclass(frozen=True)
class _Pos:
    start: int


def _unit_family(unit: str) -> str:
    return "money" if unit in ("CNY", "USD") else unit


def _with_headings(t: str, paragraphs: list[tuple[int, int]]) -> list[tuple[int, int]]:
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


def _spans(t: str, start: int, seps: str) -> list[tuple[int, int]]:
    spans, a = [], start
    for m in _separators(seps).finditer(t, start):
        i = m.start()
        if i + 1 > a:
            spans.append((a, i + 1))
        a = i + 1
    if a < len(t):
        spans.append((a, len(t)))
    return spans or [(start, len(t))]


@functools.lru_cache(maxsize=None)
def _separators(seps: str) -> re.Pattern[str]:
    return re.compile("[" + re.escape(seps) + "]")


def _sentence_start(t: str, p_start: int, pos: int) -> int:
    return max([p_start] + [t.rfind(c, p_start, pos) + 1 for c in "。！？!?"])


class _ClauseStarts:
    """_clause_start for every figure of a document: the separators are found once."""

    def __init__(self, t: str, body: int) -> None:
        self.t = t
        self.ends = [m.end() for m in CLAUSE_SEP.finditer(t, body)]

    def before(self, s_start: int, pos: int) -> int:
        if pos > s_start and self.t[pos - 1] == ":":
            return pos  # _clause_start sees no digit after a colon right before `pos`
        i = bisect.bisect_right(self.ends, pos) - 1
        return self.ends[i] if i >= 0 and self.ends[i] > s_start else s_start


def _clause_start(t: str, s_start: int, pos: int) -> int:
    last = s_start
    for m in CLAUSE_SEP.finditer(t, s_start, pos):
        last = m.end()
    return last


def _clause_end(t: str, pos: int, stops: str = "，,；;。！？!?\n") -> int:
    ends = [i for i in (t.find(c, pos) for c in stops) if i >= 0]
    return min(ends) if ends else len(t)


def _inside(pos: int, spans: list[tuple[int, int]]) -> bool:
    return any(a <= pos < b for a, b in spans)


def _last_before(hits: list[Hit], pos: int) -> Hit | None:
    before = [h for h in hits if h.end <= pos]
    return before[-1] if before else None


def _list_run(hits: list[Hit], t: str, at: int) -> list[Hit]:
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


_CN_MONTH = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10,
             "十一": 11, "十二": 12}


def _month(s: str | None) -> int | None:
    if not s:
        return None
    return int(s) if s.isdigit() else _CN_MONTH.get(s)


_LEAD_DATE = re.compile(r"(?<![\d年])(1[0-2]|[1-9])月(3[01]|[12]\d|[1-9])日")


def _dated_by_lead(doc: Document) -> Document:
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


def _year_for(end_month: int | None, kind: str, doc: Document) -> int | None:
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
