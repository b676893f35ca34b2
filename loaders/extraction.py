"""From a document to statistic mentions: each quantity gets a measure, period, subject and metric.

How a careful reader attributes a number, and so how this module does:
- the measure comes from the words right before the number in its clause (同比增长, 占…的, 完成…的);
- the subject (region, industry, breakdown) is the nearest one named before it in the sentence,
  leaving out what a share is taken of (占全区总量的) and asides in brackets (含吐鲁番、哈密);
  a sentence that names no region speaks of the paragraph's, else of the document's;
- the period is the nearest period phrase in the sentence, else in the paragraph, else the last
  flow period of the document; stocks with no period of their own are as of the publication date;
- "分别" lists give one value to each listed subject, in order.

The bulletin's home and what each place name stands for are `places.py`'s job, periods are
`periods.py`'s, and where sentences, clauses and lists begin and end is `matching.py`'s.
"""
from __future__ import annotations

import bisect
import datetime as dt
import re
from dataclasses import dataclass
from typing import Iterable

from .documents import Document, normalise_term
from .matching import (LIST_SEP, SENTENCE_SEP, ClauseStarts, Hit, TermMatcher, clause_end, clause_start, inside,
                       last_before, list_run, sentence_start, spans, with_headings)
from .literals import PrunedAlternation
from .numbers import Quantity, QuantityFinder
from .periods import CHANGED_TO, FLOW_KINDS, FROM_LAST_YEAR, NOW, Period, PeriodReader, dated_by_lead
from .plans import PlanWhole, part_of_plan, plan_period
from .parks import PROVINCE_SLOT, zone_part_for_zone
from .places import GOVERNMENT_BODY, NOT_SUBJECT_PLACE, ORGANISATION, HomeResolver, PlaceMatcher, compared_field
from .sectors import collective_before, expand_elliptical, sector_codes
from .tables import Table, find_tables
from .vocabulary import Vocabulary

LIST_SEP_VERB = re.compile(r"^\s*(?:、|和|及|与)\s*(?:增长|下降|提高|回落|减少|增加)\s*$")
QUARTER_LIST = re.compile(r"(?<![前上下])(?:第)?[一二三四](?:、[一二三四])+季度")
RECENT_YEARS = re.compile(r"近([两二三四五])年")
RECENT_COUNT = {"两": 2, "二": 2, "三": 3, "四": 4, "五": 5}
YEAR_LIST = re.compile(r"(?:19|20)\d\d年?(?:\s*[、和及与]\s*(?:19|20)\d\d年)+")   # 2022年、2023年 / 2022、2023年
# verbs and particles around a figure that are not part of what it measures
UNIT_VERBS = re.compile(r"^(?:共|累计|全年|共计|完成|实现|新增|达到|达|为|有|已)+|(?:共|累计|共计|达到|达|为|是|有|约|近|超过|超|逾)+$")
# a statement after a semicolon that starts with a verb goes on about the same subject
CONTINUES = re.compile(r"\s*(?:实现|完成|增长|下降|同比|比上年|较上年|其中|占|达到|累计|共|总产量|产量|亩产|单产)")
ACTUAL = re.compile(r"已|实际|累计")
SUBDIVISIONS = re.compile(r"(?:个)?(?:市州|州市|地州市|盟市|县市区|县市|县区|区县|市县|旗县|乡镇|市区|"
                          # 21个市（州）, 10个县（区）, 7个旗（县、区）: the level word and its kin in brackets
                          r"[市州县区旗盟](?:（[市州县区旗盟、]{1,7}）|\([市州县区旗盟、]{1,7}\)))")
BASE_YEAR = re.compile(r"(?:比|较|与|同)((?:19|20)\d\d)年(?:同期|全年)?(?:相比)?[^，,；;。\d]{0,6}$")
BASE_RATE = re.compile(r"增长率|增速|增幅|比重|占比")   # what a compared period's rate is a value of
PART_OF = re.compile(r"其中|按[^，,；;。]{1,8}?分")
SINCE_LAST_YEAR_END = re.compile(r"(?:比|较)(?:上年|去年)(?:末|底)")
# 紧盯“引进到位资金212亿元，同比增长15%”的目标任务: every figure of a quoted goal is a target
QUOTED_GOAL = re.compile(r"“([^“”]{1,80})”(?:的)?(?:目标任务|目标|任务|要求)")
PLANNED = re.compile(r"计划|力争|拟|目标|预计")
DENOMINATOR = re.compile(r"在[^，,；;。\d]{0,12}中(?=的?占)|占|(?:全疆|全区|全国|全省)(?=首|第一(?!产业)|率先|最)|"
                         r"(?:比|较|高于|低于|快于|慢于)(?=[^，,；;。\d]{0,12}(?:增长|增加|提高|下降|减少|回落|\d))|"
                         # a ranking names the field it ranks in: 居吉林省第4位, 保持全省9市州第2位, 位居五市第一
                         r"(?:居|位居|位列|位于|排名|排|列|保持)(?=[^，,；;。]{0,14}?(?:第[一二三四五六七八九十\d]|首位|前列|榜首))|"
                         # what a place is within a wider one: 是全疆棉花生产大区, 是全国重要的能源基地
                         r"(?:是|为|成为)(?=(?:全疆|全区|全国|全省|全市)[^，,；;。\d]{0,12}(?:大区|大县|大市|大省|之一|基地|中心|枢纽))")
PROGRESS = re.compile(r"完成[^，,；;。]{0,8}?(?:计划|目标|任务)")   # progress reported against a plan
DENOMINATOR_END = re.compile(r"[，,；;。]|\d")
_BRACKET_OR_BREAK = re.compile(r"[(（)）\n]")
RATIO = re.compile(r"(?<![\d.:])(\d+(?:\.\d+)?)(?:\s*:\s*(\d+(?:\.\d+)?)){2,}(?![\d.:])")
RATIO_CUE = re.compile(r"(?:结构|比例|之比|比为)")
THREE_SECTORS = re.compile(r"三次产业|一二三产|三产业")
AREA_NOUN = re.compile(r"[园城市景社片厂矿辖库校街镇]区")   # nouns ending in 区 (园区, 城区, 景区 …)
URBAN_RURAL = re.compile(r"城乡(?:常住)?居民(?![^，,；;。]{0,12}?(?:比|之比|差距))")
URBAN_RURAL_PARTS = ("城乡=城镇", "城乡=农村")
# a share's change against a year before, stated after the share (…，较去年同期提高26.26%)
SHARE_CHANGE = re.compile(r"^[，,]?\s*(?:比|较)(?:去年|上年)(?:同期|末|底)?(?:提高|提升|上升|增加|下降|降低|回落|减少)(?:了)?$")
RANGE_SEP = re.compile(r"^\s*(?:—|–|-|~|～|至|到)\s*$")
# 汽车、家电等: names listed as examples, not the subject of what follows
EXAMPLES_AFTER = re.compile(r"[^，,；;。\d]{0,12}?等")
# 其中，亿元以上项目28个: a sentence that opens with 其中 goes on about part of what was just stated
PART_OPENING = re.compile(r"\s*其中")
# A paragraph opening with 分区域看 / 从行业看 / 其中 breaks down the statistic before it: it keeps
# that statistic's metric where another paragraph starts afresh.
BREAKDOWN_OPENING = re.compile(r"\s*(?:分[^，,。；：:]{1,6}看|从[^，,。；：:]{1,8}(?:看|来看)|其中)\s*[，,：:]")


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
        # every field is a str, number, date or None: asdict's deep copy buys nothing
        return {name: getattr(self, name) for name in self.__slots__}

    def __reduce__(self) -> tuple[type, tuple[object, ...]]:
        # pool workers send back thousands: the fields as a tuple pickle twice as fast as the
        # slots' state
        return Mention, tuple(getattr(self, name) for name in self.__slots__)


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
        self.industries = TermMatcher(vocab.industry_aliases)
        self.sector_codes = sector_codes(vocab.industry_aliases)
        self.metrics = TermMatcher(vocab.metric_aliases)
        self.places = HomeResolver(vocab, self.regions, self.metrics, default_home)
        self.periods = PeriodReader(vocab)
        self.breakdowns = TermMatcher({k: f"{a}={b}" for k, (a, b) in vocab.breakdown_terms.items()})
        self.not_subject = PrunedAlternation(NOT_SUBJECT_PLACE)   # only the venues a text can name
        # the cues that apply to each kind of figure, in the grammar's order, for each scope
        self.cues = {(scope, kind): [c for c in vocab.cues if c.scope == scope and c.applies_to in (kind, "any")]
                     for scope in ("goal", "goal_after", "clause", "sentence", "after")
                     for kind in ("times", "percent", "pp", "amount")}

    # -- document level ---------------------------------------------------------------------
    def extract(self, doc: Document) -> list[Mention]:
        doc = dated_by_lead(doc)
        t = doc.match_text
        body = doc.body_start
        paragraphs = with_headings(t, spans(t, body, "\n"))
        sentences = spans(t, body, SENTENCE_SEP)
        para_starts = [s for s, _ in paragraphs]
        masked = self._mask(t)
        goals = [m.span(1) for m in QUOTED_GOAL.finditer(t, body)]
        on = doc.published or (dt.date(doc.reference_year, doc.reference_month or 12, 1) if doc.reference_year else None)
        all_regions = self.places.nested(self.places.disambiguate(doc, self.regions.find(t, body, len(t), on)))
        all_industries = expand_elliptical(t, self.industries.find(t, body, len(t)), self.sector_codes, body)
        # names in brackets are asides, never subjects, but still hint at where the bulletin is
        bracketed = [h for h in all_regions if masked[h.start] and not h.code.startswith("@")]
        parks = self._parks(t, [h for h in all_regions if not h.code.startswith("@")], body)
        # 城镇化率 is a rate of the whole place, not a figure of its towns
        breakdown_hits = [b for b in self.breakdowns.find(t, body, len(t))
                          if not any(p.start <= b.start < p.end for p in parks)
                          and not (b.code.startswith("城乡=") and t.startswith("化", b.end))
                          # 园区内, 城区内, 景区内: the 区 ends another noun, it is no 区内 (within the region)
                          and not (t.startswith("区", b.start) and AREA_NOUN.match(t, max(0, b.start - 1)))]
        covered = [(b.start, b.end) for b in breakdown_hits]  # 乌鲁木齐片区 is a park, not 乌鲁木齐市
        venues = [m.span() for m in self.not_subject.finditer(t, body)]
        # 山东钢铁, 兰州日报: a place at the head of an organisation's name
        venues += [(h.start, h.end) for h in all_regions if not h.code.startswith("@") and ORGANISATION.match(t, h.end)]
        # 经河南省、信阳市统计局统一核算: a government body, and every place listed before it
        places = [h for h in all_regions if not h.code.startswith("@")]
        bodies = {h for h in places if GOVERNMENT_BODY.match(t, h.end)}
        for h, nxt in reversed(list(zip(places, places[1:]))):
            if nxt in bodies and LIST_SEP.match(t[h.end:nxt.start]):
                bodies.add(h)
        # a venue, a dateline's city or an organisation's place is never a subject, but hints at
        # where the bulletin is
        bracketed += [h for h in all_regions if not masked[h.start] and not h.code.startswith("@")
                      and inside(h.start, venues)]
        for a, b in covered + venues:
            masked[a:b] = [True] * (b - a)
        region_hits = [h for h in all_regions if not masked[h.start]]
        # a named park keeps the place its name starts with as the region (喀什经济开发区 → 喀什)
        breakdown_hits = sorted(breakdown_hits + parks, key=lambda b: b.start)
        unknown_places = self._with_unknown("region", t, body, [], masked, all_regions)
        home = self.places.home_region(doc, region_hits + unknown_places, bracketed)
        home_raw = ""
        if home.startswith("?"):
            # the bulletin is about a place the vocabulary lacks (阿拉善盟): its figures stay
            # unresolved under that name rather than defaulting to Xinjiang
            home, home_raw = "", home[1:]
        region_hits = [h for h in region_hits if h not in bodies]
        region_hits, breakdown_hits = self.places.resolve_regions(t, region_hits, breakdown_hits, home, home_raw)
        region_hits = sorted(region_hits + unknown_places, key=lambda h: h.start)
        industry_hits = [h for h in all_industries if not masked[h.start]]
        industry_hits = self._with_unknown("industry", t, body, industry_hits, masked, all_industries)
        metric_hits = self.metrics.find(t, body, len(t))
        found_periods = self.periods.find(t, body, doc)
        period_hits = self.periods.subject_periods(t, found_periods, masked, doc)
        # 比1-7月20.44%上升2个百分点: the rate right after a compared period is that period's
        compared_ends = {f[1]: f[2] for f in found_periods if t[max(0, f[0] - 1):f[0]] in ("比", "较")}
        default_region = home

        tables = find_tables(t, body, self.vocab)
        # a table's cells are read under its columns: a unit cell (万吨) is no figure of its own
        rows = sorted({(c.label_start, max(o.end for o in table.cells if o.label_start == c.label_start))
                       for table in tables for c in table.cells})
        row_starts = [a for a, _ in rows]
        quantities = [q for q in self.quantities.find(t, body) if q.is_statistic
                      and not ((k := bisect.bisect_right(row_starts, q.num_start) - 1) >= 0 and q.num_start < rows[k][1])]
        mentions: list[Mention] = []
        # the lead's period is the bulletin's: a later "2021年，夏粮…" is an aside
        title_park = self._title_park(doc)
        lead_period = self.periods.lead_period(doc, period_hits, sentences, quantities)
        last_metric = ""
        last_stated: tuple[int, str] | None = None   # the paragraph and breakdown of the last figure
        metric_by_unit: dict[str, str] = {}
        plan_wholes: dict[str, PlanWhole] = {}   # the last plan stated, by unit family
        # Every rule looks at most from the paragraph start to the sentence end: cut each list
        # to that window once per sentence instead of scanning the whole document.
        index = {name: [h.start for h in hits] for name, hits in (
            ("region", region_hits), ("industry", industry_hits), ("breakdown", breakdown_hits),
            ("metric", metric_hits))}
        period_starts = [p[0] for p in period_hits]
        q_starts = [q.num_start for q in quantities]

        def window(hits: list, starts: list[int], a: int, b: int) -> list:
            return hits[bisect.bisect_left(starts, a):bisect.bisect_left(starts, b)]

        clause_starts = ClauseStarts(t, body)
        topics = self.places.section_topics(t, paragraphs, region_hits, home)
        current_paragraph = -1
        for (s_start, s_end) in sentences:
            p_index = bisect.bisect_right(para_starts, s_start) - 1
            p_start, p_end = paragraphs[p_index]
            if p_start != current_paragraph:
                # "the last metric measured in this unit", and the last metric at all, hold within a
                # paragraph only, but for a paragraph that breaks the one before down
                current_paragraph, metric_by_unit = p_start, {}
                if not BREAKDOWN_OPENING.match(t, p_start):
                    last_metric = ""
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
            # a part (其中…) is of the breakdown of the whole stated just before it (a sentence's
            # own industry names the part better than the whole's: 其中，神华…销售煤炭)
            part_of = last_stated if last_stated is not None and last_stated[0] == p_start \
                and PART_OPENING.match(t, s_start) else None
            denominators = self._denominator_spans(t, s_start, s_end)
            # the topic of the paragraph's earlier sentences: the same for every figure of the
            # sentence, so found once, when a figure first needs it
            earlier_topic: Hit | None = None
            earlier_found = False
            subj_regions = [h for h in region_hits_w if s_start <= h.start < s_end
                            and not inside(h.start, denominators) and not compared_field(t, h, strict=True)]
            assigned = self._respectively(t, s_start, s_end, qs, subj_regions, industry_hits_w, breakdown_hits_w,
                                          doc.reference_year)
            for q in qs:
                clause_start = clause_starts.before(s_start, q.start)
                local = t[clause_start:q.start]
                measure, sign, offset = self._measure(t, s_start, q, local, prev, prev_q)
                if measure is None:
                    continue
                if measure == "yoy_pct" and prev is not None and prev.measure == "share_pct" \
                        and SHARE_CHANGE.search(local) and not any(clause_start <= h.start < q.start for h in metric_hits_w):
                    # 占…的62.73%，较去年同期提高26.26%: the share rose, by percentage points
                    measure = "pp_change"
                if measure != "completion_pct" and inside(q.start, goals):
                    measure = "target"
                # subject: explicit in the sentence before the number, else carried
                region = last_before(subj_regions, q.start)
                subdivisions = q.unit == "count" and SUBDIVISIONS.match(t, q.end) is not None
                if subdivisions:
                    # 10个市州超过序时进度: a count of the home's parts is the home's (or that of the
                    # place its clause names: 全州8县市), never that of a place listed before it
                    region = last_before([h for h in subj_regions if h.start >= clause_start], q.start)
                elif region is None:
                    # the topic (first place named) of the latest earlier sentence of the paragraph
                    # not a place an earlier sentence ranks or compares in (增速居全省第3位。…)
                    # nor the whole it took a share of: those were no subject there either
                    if not earlier_found:
                        earlier_topic, earlier_found = self._earlier_topic(t, p_start, s_start, region_hits_w), True
                    region = earlier_topic if earlier_topic is not None else topics.get(p_start)
                if region is not None and region.code == home and (topic := topics.get(p_start)) is not None \
                        and self.vocab.relative_regions.get(region.raw) == self.vocab.level_class(topic.code):
                    # 三、龙川县 …全县规模以上工业增加值: a reference below the home's level, in the
                    # section of a place at that level, is that place
                    region = Hit(region.start, region.end, topic.code, region.raw)
                # 第一产业增加值增长6.1%、建筑业增加值增长20.1%、社会消费品零售总额增长13.1%: an item
                # of a list that names its own metric starts its own subject
                item_start = clause_start
                if prev_q is not None and clause_start <= prev_q.end <= q.start and t.startswith("、", prev_q.end) \
                        and any(prev_q.end <= h.start and h.end <= q.start for h in metric_hits_w):
                    item_start = prev_q.end
                industry = last_before([h for h in industry_hits_w if item_start <= h.start < q.start
                                         and not inside(h.start, denominators)], q.start)
                if industry is None and measure in ("level", "target", "change"):
                    # 12个二产项目: a count names what it counts right after its classifier
                    industry = next((h for h in industry_hits_w if h.start == q.end), None)
                if industry is not None and "等" in t[industry.end:q.start]:
                    industry = None  # 旅游开发等7大类、总投资1166亿元: the figure sums the listed kinds
                if industry is None and item_start == clause_start:
                    # earlier clauses of the statement; a semicolon starts another statement
                    statement = max(s_start, t.rfind("；", s_start, clause_start) + 1, t.rfind(";", s_start, clause_start) + 1)
                    if CONTINUES.match(t, statement):
                        statement = s_start  # ；实现利润715.09亿元: the same subject goes on
                    industry = last_before([h for h in industry_hits_w if statement <= h.start < clause_start
                                             and not inside(h.start, denominators)], q.start)
                    if industry is not None and EXAMPLES_AFTER.match(t, industry.end):
                        # the examples of an earlier clause (得益于汽车、家电等…补贴，…社会消费品零售
                        # 总额; 汽车制造业、…医药制造业等六大重点行业…，合计增长) are no subject
                        industry = None
                breakdown = self._breakdown(t, breakdown_hits_w, clause_start, s_start, q.start, denominators,
                                            subj_regions)
                if title_park and "园区=" not in breakdown:
                    breakdown = ";".join(filter(None, [breakdown, title_park]))
                metric = self._metric(t, metric_hits_w, s_start, p_start, q, denominators, measure)
                # 餐饮收入122222万元，增长1.2%: the growth of the figure just stated, not of a metric
                # named in an earlier sentence (which may still imply the industry)
                follow_prev = metric is not None and metric.start < s_start and prev is not None \
                    and measure not in ("level", "target", "change")
                override = assigned.get(id(q), {})
                region = override.get("region", region)
                industry = override.get("industry", industry)
                if "breakdown" in override:
                    breakdown = override["breakdown"]
                if follow_prev:
                    metric_code = prev.metric_code
                elif metric:
                    metric_code = metric.code
                elif measure in ("level", "target", "change"):
                    # 区外资金到位9355.26亿元 after 4391个项目: the last metric measured in this unit; not
                    # a part named by its own words (其中，民生支出532100万元; 按消费类型分，餐饮收入…),
                    # which is no second value of the whole's metric
                    own_part = industry is None and not breakdown \
                        and PART_OF.search(t, max(0, s_start - 1), q.start) is not None \
                        and self._metric_words(t, clause_start, q, region_hits_w, industry_hits_w, period_hits_w)
                    # a rate named by words of its own (研发经费投入强度提升至2.3%) is no other rate
                    # stated before it (城镇化率)
                    own_rate = q.unit == "percent" and not own_part \
                        and self._metric_words(t, clause_start, q, region_hits_w, industry_hits_w, period_hits_w)
                    metric_code = "" if own_part or own_rate else metric_by_unit.get(_unit_family(q.unit), "")
                else:
                    metric_code = prev.metric_code if prev else last_metric
                metric_raw = prev.metric_raw if follow_prev else metric.raw if metric else (
                    self._metric_words(t, clause_start, q, region_hits_w, industry_hits_w, period_hits_w)
                    if measure in ("level", "target", "change") and not metric_code else "")
                period = self.periods.choose(period_hits_w, s_start, p_start, q, doc, lead_period)
                if not any(p_start <= h[0] and h[1] <= q.start for h in period_hits_w):
                    # 8月25日，…集中签约大会召开。大会…签约项目共45个: an event's figures are of its
                    # month, unless their paragraph names a period of its own
                    period = self.periods.event_period(t, p_start, doc) or period
                period = self.periods.named_event_period(t, s_start, p_end, q, local, doc) or period
                base = compared_ends.get(q.start) if q.unit == "percent" else None
                if base is not None and (rate := BASE_RATE.search(t, s_start, q.start)) is not None:
                    measure, sign, offset = ("share_pct" if rate[0] in ("比重", "占比") else "yoy_pct"), 1, 0.0
                    period = base
                kind_of_metric = self.vocab.metrics.get(metric_code, {}).get("kind", "flow")
                own_period = any(s_start <= h[0] and h[1] <= q.start for h in period_hits_w)
                if period is None or not own_period and kind_of_metric == "stock" and period.kind != "as_of":
                    # a stock takes a date carried from before (年末…。其中，男性…), never a flow's span:
                    # compared with the end of last year (城镇化率…，比上年末提高), as of the end of the
                    # year the bulletin reports on (the year just ended when it appeared); else as
                    # of the bulletin's date
                    period = Period(lead_period.year, 12, "as_of") \
                        if lead_period is not None and lead_period.kind == "year" and lead_period.year \
                        and doc.reference_year and doc.reference_year - 1 <= lead_period.year <= doc.reference_year \
                        and SINCE_LAST_YEAR_END.search(t, s_start, s_end) \
                        else Period(doc.reference_year, doc.reference_month, "as_of")
                elif kind_of_metric != "stock" and lead_period is not None and lead_period.kind in FLOW_KINDS \
                        and period is not lead_period and period.kind == "as_of" and period.year == lead_period.year \
                        and t.startswith(NOW, period.start):
                    # 一季度…。目前已引进的109个项目中，新建项目47个: "now" in a report on a period is
                    # that period, for what flows (a stock stays as of now)
                    period = lead_period
                implied = self.vocab.metrics.get(metric.code if metric else metric_code, {}).get("industry_code", "")
                if industry is None and implied in self.vocab.industries:
                    industry = Hit(q.start, q.start, implied, "")  # 接待游客 is tourism
                if part_of is not None and not breakdown:
                    breakdown = part_of[1]
                if "year" in override:
                    period = Period(int(override["year"]), 12, "year", period.start, True)
                if "quarter" in override:
                    period = Period(period.year, int(override["quarter"]) * 3, "quarter", period.start, period.explicit_year)
                if lead_period is not None and period.start > 0 and t[period.start - 1] == "由" \
                        and CHANGED_TO.search(t, period.start, q.start):
                    period = lead_period
                if period.year and FROM_LAST_YEAR.search(local):
                    period = Period(period.year - 1, period.end_month, period.kind, period.start, True)
                if q.ordinal:
                    period = Period(period.year, period.end_month if period.kind != "ytd" else doc.reference_month,
                                    "since")
                whole = part_of_plan(plan_wholes.get(_unit_family(q.unit)), p_start, local) \
                    if measure == "level" and part_of is not None else None
                if whole is not None:
                    measure = "target"   # 其中…，完成投资8.6亿元 after 计划完成投资32.2亿元: a part of the plan
                if measure == "target":
                    # a plan's 全年 is the year it is made in, even in a mid-year bulletin
                    period = Period(whole.period_year, whole.period_end_month, "plan") if whole is not None \
                        else plan_period(period, t[s_start:q.start], own_period, doc.reference_year)
                if measure == "yoy_pct" and period.year and (named := BASE_YEAR.search(local)) is not None \
                        and int(named[1]) != period.year - 1:
                    measure = "other"   # 比2014年增长5.7倍 in 2017, 比2019年同期: not year over year
                region_code = region.code if region else default_region
                value = q.value * sign + offset
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
                last_stated = (p_start, breakdown)
                if measure in ("level", "target") and part_of is None:
                    plan_wholes[_unit_family(q.unit)] = PlanWhole(p_start, m)
                last_metric = metric_code or last_metric
                if metric_code and measure in ("level", "target", "change"):
                    metric_by_unit[_unit_family(q.unit)] = metric_code
            mentions.extend(self._ratios(doc, s_start, s_end, industry_hits_w, default_region,
                                         subj_regions, period_hits_w, p_start, lead_period))
        mentions.extend(self._table_mentions(doc, tables, region_hits, industry_hits, breakdown_hits, period_hits,
                                             default_region, lead_period, mentions))
        # 自贸试验区 in a bulletin names its own province's free-trade zone (中国（四川）自由贸易试验区)
        province = self.vocab.province_of(home) if home else ""
        zone = self.vocab.short_name(province) if province else ""
        for m in mentions:
            if PROVINCE_SLOT in m.breakdown:
                m.breakdown = m.breakdown.replace(f"（{PROVINCE_SLOT}）" if not zone else PROVINCE_SLOT, zone)
        mentions.sort(key=lambda m: (m.char_start, m.char_end, m.measure, m.value))
        for i, m in enumerate(mentions, 1):
            m.mention_seq = i
        return mentions

    # -- pieces -------------------------------------------------------------------------------


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

    def _earlier_topic(self, t: str, p_start: int, s_start: int, region_hits: list[Hit]) -> Hit | None:
        """The topic (first place named) of the latest earlier sentence of the paragraph, not a
        place an earlier sentence ranks or compares in (增速居全省第3位。…) nor the whole it took a
        share of: those were no subject there either."""
        fields = self._denominator_spans(t, p_start, s_start)
        earlier = [h for h in region_hits if p_start <= h.start < s_start
                   and not inside(h.start, fields) and not compared_field(t, h, strict=True)]
        if not earlier:
            return None
        topic_sentence = max(sentence_start(t, p_start, h.start) for h in earlier)
        return next(h for h in earlier if h.start >= topic_sentence)

    def _measure(self, t: str, s_start: int, q: Quantity, local: str, prev: Mention | None,
                 prev_q: Quantity | None) -> tuple[str | None, int, float]:
        kind = "times" if q.is_times else ("percent" if q.unit == "percent" else ("pp" if q.unit == "pp" else "amount"))
        text = local.rstrip()
        if prev is not None and prev_q is not None and LIST_SEP.match(t[prev_q.end:q.start]) \
                and (prev_q.unit == q.unit or q.is_times or prev_q.is_times):
            # the next item of a list (53.87%、48.72%) has the measure of the first
            return prev.measure, 1 if prev.value >= 0 or prev.measure not in ("yoy_pct", "pp_change", "change") else -1, 0.0
        if prev is not None and prev_q is not None and prev_q.unit == q.unit and RANGE_SEP.match(t[prev_q.end:q.start]):
            # 增长5%—6%: the end of a range measures what its start does
            return prev.measure, 1 if prev.value >= 0 or prev.measure not in ("yoy_pct", "pp_change", "change") else -1, 0.0
        # the words right before the number decide first, then what follows it, then the sentence
        actual = ACTUAL.search(text) is not None or "到位" in text and PLANNED.search(text) is None
        # 计划新建1000个，已开工920个; 计划总投资…，到位资金41亿元: what has happened (money that has
        # arrived) is no plan
        sentence = t[s_start:q.start]
        after = t[q.end:q.end + 8]
        for scope, where in (("goal", sentence), ("goal_after", t[q.end:q.end + 30]), ("clause", text), ("after", after),
                             ("sentence", sentence)):
            if actual and scope in ("goal", "sentence"):
                continue
            for cue in self.cues[scope, kind]:
                if cue.pattern.search(where):
                    if cue.measure == "none":
                        return None, 1, 0.0
                    if cue.measure == "level_or_target":
                        rest = t[q.end:clause_end(t, q.end, "。！？!?\n")]
                        return ("target" if PROGRESS.search(rest) else "level"), cue.sign, cue.offset
                    return cue.measure, cue.sign, cue.offset
        if kind == "amount":
            return "level", 1, 0.0
        if kind == "pp":
            return "pp_change", 1, 0.0
        if kind == "percent":
            return "level", 1, 0.0
        return None, 1, 0.0

    def _breakdown(self, t: str, hits: list[Hit], clause_start: int, s_start: int, q_start: int,
                   denominators: list[tuple[int, int]], regions: list[Hit] = ()) -> str:
        # a place named after where money came from starts another subject (引进粤港澳大湾区到位
        # 资金…，全区共引进…到位资金…，同比增长…): the source is not carried past it (a park is a
        # place of its own, and stays)
        since = max([s_start] + [h.start for h in regions if h.start < q_start])
        usable = [h for h in hits if s_start <= h.start < q_start and not inside(h.start, denominators)]
        local = [h for h in usable if h.start >= clause_start]
        usable = [h for h in usable if h.start >= since or h.code.startswith("园区=")]
        # the terms of this clause, else the list nearest before it (北京、重庆、广东…到位金额)
        chosen = local or list_run(usable, t, q_start)
        seen: list[str] = []
        for h in zone_part_for_zone(chosen, [h for h in hits if s_start <= h.start < q_start]):
            if h.code not in seen:
                seen.append(h.code)
        return ";".join(seen)

    def _metric(self, t: str, hits: list[Hit], s_start: int, p_start: int, q: Quantity,
                denominators: list[tuple[int, int]], measure: str) -> Hit | None:
        before = [h for h in hits if s_start <= h.start and h.end <= q.start and not inside(h.start, denominators)]
        if measure in ("level", "target", "change"):
            compatible = [h for h in before if self._unit_fits(h.code, q.unit)]
            if compatible:
                return compatible[-1]
            end = clause_end(t, q.end)
            after = [h for h in hits if q.end <= h.start < end and self._unit_fits(h.code, q.unit)]
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
        words = self.vocab.name_suffixes.get("word", ())
        extra = []
        for m in pattern.finditer(t, body):
            start = m.start(1)
            if kind != "region":  # 全区低空经济产业集群: the place before the name is not part of it
                start = max([start] + [h.end for h in self.regions.find(t, start, m.end(1)) if h.start == start])
            if m.end(1) - start < 3 or any(masked[start:m.end(1)]) or t[start] in stop \
                    or t.startswith(words, m.end(1) - 1) \
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


    def _respectively(self, t: str, s_start: int, s_end: int, qs: list[Quantity], regions: list[Hit],
                      industries: list[Hit], breakdowns: list[Hit],
                      reference_year: int | None = None) -> dict[int, dict[str, object]]:
        """分别: the n values after it go to the n subjects listed before it, in order."""
        out: dict[int, dict[str, object]] = {}
        self._collective(t, s_start, qs, out)
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
                if not group and clause_start(t, s_start, q.start) > at:
                    break
                group.append(q)
            if len(group) < 2:
                continue
            # 一、二、三季度进出口分别为…: a list of quarters before 分别 gives each value its quarter
            # 2022年、2023年，进出口分别增长57%和45.9%: a list of years does the same for years
            years = [m for m in YEAR_LIST.finditer(t, s_start, at)]
            if years and len(listed := re.findall(r"(?:19|20)\d\d", years[-1].group())) == len(group):
                for q, y in zip(group, listed):
                    out[id(q)] = {"year": int(y)}
                continue
            # 近两年，进出口总额分别增长57%、45.9%: the last n whole years, oldest first
            recent = RECENT_YEARS.search(t, s_start, at)
            if recent and reference_year and RECENT_COUNT[recent[1]] == len(group):
                for k, q in enumerate(group):
                    out[id(q)] = {"year": reference_year - len(group) + k}
                continue
            quarters = [m for m in QUARTER_LIST.finditer(t, s_start, at)]
            if quarters and len(listed := re.findall("[一二三四]", quarters[-1].group())) == len(group):
                for q, n in zip(group, listed):
                    out[id(q)] = {"quarter": "一二三四".index(n) + 1}
                continue
            for key, hits in (("region", regions), ("industry", [h for h in industries if s_start <= h.start]),
                              ("breakdown", [h for h in breakdowns if s_start <= h.start])):
                run = list_run([h for h in hits if h.end <= at], t, at)
                if len(run) == len(group):
                    for q, h in zip(group, run):
                        out[id(q)] = {key: (h if key != "breakdown" else h.code)}
                    break
            else:
                # 城乡居民人均可支配收入分别为45230元和21560元: 城乡 names town and country, in that order
                if len(group) == 2 and URBAN_RURAL.search(t, s_start, at):
                    for q, part in zip(group, URBAN_RURAL_PARTS):
                        out[id(q)] = {"breakdown": part}
        return out

    def _collective(self, t: str, s_start: int, qs: list[Quantity], out: dict[int, dict[str, object]]) -> None:
        """三大产业分布为2.8%、67.7%和29.5%: three listed values are the three sectors'."""
        for i in range(len(qs) - 2):
            group = qs[i:i + 3]
            if not collective_before(t, s_start, group[0].start):
                continue
            if all(LIST_SEP.match(t[a.end:b.start]) and a.unit == b.unit for a, b in zip(group, group[1:])) \
                    and (i + 3 == len(qs) or not LIST_SEP.match(t[group[-1].end:qs[i + 3].start])):
                for q, n in zip(group, "一二三"):
                    code = self.sector_codes[n]
                    out[id(q)] = {"industry": Hit(q.start, q.start, code, "")}
            return

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
            period = self.periods.choose(period_hits, s_start, p_start, fake, doc, carried) or \
                Period(doc.reference_year, doc.reference_month, "as_of")
            region = last_before(regions, m.start())
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

    def _table_mentions(self, doc: Document, tables: list[Table], regions: list[Hit], industries: list[Hit],
                        breakdowns: list[Hit],
                        periods: list[tuple[int, int, Period, int]], default_region: str,
                        lead_period: Period | None, found: list[Mention]) -> Iterable[Mention]:
        """The bare numbers of a communiqué's tables, each under its column's measure and unit."""
        taken = {(m.char_start, m.char_end) for m in found}
        for table in tables:
            named = [p[2] for p in periods if table.title_start <= p[0] < table.header_start]
            period = named[-1] if named else lead_period or Period(doc.reference_year, doc.reference_month, "as_of")
            for cell in table.cells:
                label_end = cell.label_start + len(cell.label)
                region = next((h for h in regions if cell.label_start <= h.start < label_end), None)
                industry = next((h for h in industries if cell.label_start <= h.start < label_end), None)
                breakdown = ";".join(h.code for h in breakdowns if cell.label_start <= h.start < label_end)
                if cell.plain != cell.label:
                    # 粮  食: a label spaced out to fill its column is looked up without its spaces
                    industry = industry or next(iter(self.industries.find(cell.plain, 0, len(cell.plain))), None)
                    breakdown = breakdown or ";".join(h.code for h in self.breakdowns.find(cell.plain, 0, len(cell.plain)))
                cs, ce = doc.span(cell.label_start, cell.end)
                if (cs, ce) in taken:
                    continue
                region_code = region.code if region and region.code and not region.code.startswith("@") \
                    else default_region
                yield Mention(doc.doc_id, 0, doc.text[cs:ce], cs, ce, cell.column.measure, cell.value,
                              cell.column.unit, cell.raw, cell.column.unit_raw, "", period.year, period.end_month,
                              period.kind, "", "", cell.label, region_code, self.vocab.region_name(region_code),
                              region.raw if region else "", industry.code if industry else "",
                              self.vocab.industries.get(industry.code, "") if industry else "",
                              industry.raw if industry else "", breakdown, doc.source_url, doc.published, "table")


@dataclass(frozen=True)
class _Pos:
    start: int


def _unit_family(unit: str) -> str:
    return "money" if unit in ("CNY", "USD") else unit


