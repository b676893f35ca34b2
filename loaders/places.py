"""Which place a bulletin is about and which place each name in it is: the gazetteer's matches
disambiguated by the bulletin's home, relative references (全省, 我州) resolved at their level,
partners and funding sources told from subjects, venues and organisations kept as hints."""
from __future__ import annotations

import bisect
import datetime as dt
import re

import ahocorasick_rs

from .documents import Document, normalise_term
from .gazetteer import RegionMatcher
from .matching import HEADING, Hit, TermMatcher, clause_end, inside, sentence_start
from .vocabulary import Vocabulary

# what may follow the place a section heading names (一、东源县, （二）和平县经济运行情况)
PLACE_HEADING = re.compile(r"[\u4e00-\u9fff]{0,8}\s*\n?")
DISTRICT_WORDS = ("全区", "我区", "本区", "该区")
UNKNOWN_LEVEL = {"市": "prefecture", "州": "prefecture", "盟": "prefecture", "区": "prefecture",
                 "县": "county", "旗": "county"}   # an unknown name's level, by its last character
SOURCE_BEFORE = re.compile(r"(?:引进|来自|从)$")   # where money comes from
# An event's venue (在乌鲁木齐举行) and a distance's reference point (东距乌鲁木齐170公里) name a
# place that is never the subject of a statistic, nor what the bulletin is about.
NOT_SUBJECT_PLACE = re.compile(r"在[^，,；;。\d]{1,10}?(?:举行|召开|举办|开幕|闭幕|集中签约|签约|启动)|[东西南北]?距(?:离)?[^，,；;。\d]{1,12}|"
                               r"(?:网|社|报|台|新闻)[\u4e00-\u9fff]{2,8}?\d{1,2}月\d{1,2}日\s*(?:电|讯)|"
                               r"(?:^|(?<=\n))[\u4e00-\u9fff]{2,4}讯(?=[(（])|"
                               # 自治区下达的…目标任务, 自治区考核的区外到位资金: who sets a target or
                               # assesses a figure is not whom it is for
                               r"[\u4e00-\u9fff]{1,8}?下达(?:的)?|[\u4e00-\u9fff]{1,6}?(?:考核|设定|核定)的|"
                               # 对香港地区出口, 对台湾地区进口: a trade partner, not who trades
                               r"对[^，,；;。、\d]{1,10}?(?=进出口|出口|进口)")
ORGANISATION = re.compile(r"[\u4e00-\u9fff]{0,4}?(?:集团|公司|钢铁|银行|证券|大学|学院|医院|日报|电视台)|"
                          r"(?:地委|市委|县委|州委|区委|省委|盟委|旗委|党委|委|人民政府|政府)(?!会)")
# 信阳市统计局, 和田地区招商局, 自治区商务厅, 乌鲁木齐海关: a government body speaks for its place (it tells where
# the bulletin is from) but is not the subject of the figures after it (经河南省、信阳市统计局核算)
GOVERNMENT_BODY = re.compile(r"[\u4e00-\u9fff]{0,6}?(?<![格布大结开全新当时变])(?:局|厅)(?![面势部限])|海关")
# 天津援疆, 广东对口帮扶: the province that gives aid is a partner of the bulletin's place
PARTNER_AFTER = re.compile(r"援[疆藏青川黔滇甘宁蒙桂]|对口(?:支援|帮扶|援助)|帮扶")
# 援疆项目, 来疆投资, 入疆游客: a verb before a province's one-character short name makes the
# province where aid, money or people go, which in a bulletin of one of its parts is that part
TOWARDS_SHORT_NAME = re.compile(r"[援来入到赴进][\u4e00-\u9fff]")
# 到新疆投资, 对广西投资, 落户和田: where money goes is the bulletin's place
DESTINATION = re.compile(r"(?:到|对|来|赴|落户|进)$")
DESTINATION_AFTER = re.compile(r"(?:投资|兴业|考察|发展)")
COMPARED_FIELD = re.compile(r"(?:高于|低于|快于|慢于|领跑|领先|居|位居|位列|占|比|较|超过|超出|落后于?|与)$")
RANKED_IN = re.compile(r"(?:高于|低于|快于|慢于|领跑|领先|居|位居|位列|超过|超出|落后于?)$")
COMPARED_FIELD_AFTER = re.compile(r"[^，,；;。\d]{0,6}?(?:第[一二三四五六七八九十\d]|首位|前列|榜首|平均)")
# …第二 is a rank; …第二产业, 第二届, 第二批 name a sector, an event or a group of its own, which a
# figure may be about (乌鲁木齐市第一产业到位资金), though none of them tells where a bulletin is from
RANKED_AFTER = re.compile(r"[^，,；;。\d]{0,6}?(?:第[一二三四五六七八九十\d]+(?![一二三四五六七八九十\d]|产业|届|次|批|期|轮|季度|师)|首位|前列|榜首|平均)")
LEVEL_WORDS = "省市县区旗州盟"
NOT_A_LEVEL = ("外", "内", "级", "委", "直", "属", "域")   # 新疆区外资金, 市直部门: the level word is another word


def compared_field(t: str, h: Hit, strict: bool = False) -> bool:
    """高于全区增速, 领跑全区, 居全省第二, 在全疆排列第一: the field a figure is ranked or compared
    in is not the bulletin's place. `strict`: only a ranking or an outpacing, which is not a
    figure's subject either (与崇左市签订 names a party, 占全区 a whole: those stay)."""
    before, after = (RANKED_IN, RANKED_AFTER) if strict else (COMPARED_FIELD, COMPARED_FIELD_AFTER)
    return before.search(t, max(0, h.start - 4), h.start) is not None or after.match(t, h.end) is not None


class PlaceMatcher:
    """The gazetteer's matcher behind the TermMatcher interface. A name of several places (鼓楼区)
    keeps all of them, joined by "|", until the bulletin's home decides (`HomeResolver.disambiguate`)."""

    def __init__(self, matcher: RegionMatcher) -> None:
        self.matcher = matcher

    def find(self, text: str, start: int, end: int, on: dt.date | None = None) -> list[Hit]:
        # 青川 before 旗 is not 青川县 but a banner of another name: a short form followed by a
        # level word of its own names a place the gazetteer does not know
        return [Hit(h.start, h.end, "|".join(h.codes), h.raw) for h in self.matcher.find(text, start, end, on)
                if h.raw[-1] in LEVEL_WORDS or h.end >= len(text) or text[h.end] not in LEVEL_WORDS
                or text.startswith(NOT_A_LEVEL, h.end + 1) or h.codes[0].startswith("@")]


class HomeResolver:
    """The bulletin's home region and the place each region name stands for."""

    def __init__(self, vocab: Vocabulary, regions: TermMatcher | PlaceMatcher, metrics: TermMatcher,
                 default_home: str = "") -> None:
        self.vocab = vocab
        self.regions = regions
        self.metrics = metrics
        self.default_home = default_home
        # is_funding_source asks the same of a name while finding the home region and again
        # while resolving names: answers are kept for the document being extracted
        self._funding_memo_text = ""
        self._funding_memo: dict[tuple[int, int, str, str], bool] = {}
        self.fund_words = re.compile(r"资金|投资|引资|到位|注入|来源")
        # _home_from_url's words, once: a look-up over every region of the gazetteer per bulletin
        self._url_words = [(word, code) for code, r in vocab.regions.items()
                           if (word := r.name_en.split(" ")[0].lower()) and len(word) >= 5]
        self._url_automaton = ahocorasick_rs.AhoCorasick(sorted({w for w, _ in self._url_words})) \
            if self._url_words else None
        self._url_entries: dict[str, list[int]] = {}
        for i, (word, _) in enumerate(self._url_words):
            self._url_entries.setdefault(word, []).append(i)


    def home_region(self, doc: Document, hits: list[Hit], asides: list[Hit]) -> str:
        """The place a bulletin is about: the one its front matter names (`region:`), else the
        one named in its title, first lines and most often."""
        given = self.given_region(doc)
        if given:
            return given
        # Which province's bulletin this is decides whether another province named beside funds
        # is a partner (山东钢铁…到新疆投资) or the subject: decide it first without that rule.
        provisional = self._score_home(doc, hits, asides, "")
        return self._score_home(doc, hits, asides, self.vocab.province_of(provisional))

    def section_topics(self, t: str, paragraphs: list[tuple[int, int]], hits: list[Hit],
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
                head = a
                a = t.find("\n", a, b) + 1 or b   # the paragraph proper starts below its heading
                # 一、东源县: a heading that names one place below the home opens its section
                named = hits[bisect.bisect_left(starts, head):bisect.bisect_left(starts, a)]
                if len(named) == 1 and self._below(named[0], home) \
                        and PLACE_HEADING.fullmatch(t, named[0].end, a):
                    topic = topics[head] = named[0]
                while a < b and t[a].isspace():
                    a += 1
            if not sectioned:
                continue
            i = bisect.bisect_left(starts, a)
            lead = hits[i] if i < len(hits) and hits[i].start < min(b, a + 12) else None
            if lead is None or any(c in "。！？" for c in t[a:lead.start]):
                continue
            topic = lead if self._below(lead, home) else None
        return topics

    def _below(self, h: Hit, home: str) -> bool:
        return bool(h.code) and not h.code.startswith("@") and h.code != home and home in self.vocab.lineage(h.code)

    def nested(self, hits: list[Hit]) -> list[Hit]:
        """内蒙古自治区包头市, 新疆喀什地区: a place written with its province before it is the place."""
        return [h for h, nxt in zip(hits, hits[1:] + [None])
                if not (nxt is not None and nxt.start == h.end and h.code and not h.code.startswith("@")
                        and h.code in self.vocab.lineage(nxt.code)[1:])]

    def disambiguate(self, doc: Document, hits: list[Hit]) -> list[Hit]:
        """A name of several places (鼓楼区, 朝阳) is the one nearest the places the bulletin
        names unambiguously: the one sharing most ancestors with the provisional home."""
        if not any("|" in h.code for h in hits):
            return hits
        anchor = self.given_region(doc) or self._score_home(doc, [h for h in hits if "|" not in h.code], [], "")
        assert self.vocab.gazetteer is not None   # only the gazetteer's matcher gives several codes
        return [Hit(h.start, h.end, self.vocab.gazetteer.closest(tuple(h.code.split("|")), anchor), h.raw)
                if "|" in h.code else h for h in hits]

    def given_region(self, doc: Document) -> str:
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
                score[h.code] = score.get(h.code, 0) + (0.5 if inside(h.start, venues) else 3)
        lead_end = doc.body_start + 300
        relative: list[tuple[Hit, float]] = []
        for h in hits:
            weight = 2 if h.start < lead_end else 1
            t = doc.match_text
            # 高于全区增速, 领跑全区, 居全省第二, 在全疆排列第一: a comparison's field is not the
            # bulletin's place
            if compared_field(t, h):
                continue
            if h.code.startswith("@"):
                relative.append((h, weight))
                continue
            if home_province and self.is_funding_source(t, h, home_province) and (
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
        by_level: dict[tuple[str, bool, bool], float] = {}
        for h, weight in relative:
            key = (h.code[1:], h.raw in DISTRICT_WORDS, h.raw.endswith("市"))
            by_level[key] = by_level.get(key, 0) + weight
        for (level, district, city), weight in by_level.items():
            for node in {self._supported(code, level, city, named)
                         for code in named if not (district and not self.autonomous(code))} - {""}:
                score[node] = score.get(node, 0) + weight
                first.setdefault(node, first.get(node, 0))
            for key in named:  # 全市 supports an unknown 酒泉市, 全盟 an unknown 阿拉善盟
                if key.startswith("?") and UNKNOWN_LEVEL.get(key[-1]) == level:
                    score[key] += weight
        if not score:
            return self._home_from_url(doc.source_url) or self.default_home
        home = max(score, key=lambda c: (score[c], -first.get(c, 0)))
        # a statistical grouping or a zone (北疆地区, 兰州新区) is a part a bulletin reports on, not
        # where it is from: its home is the administrative region the part lies in
        while self.vocab.level_class(home) in ("grouping", "zone") and self.vocab.region_parent(home):
            home = self.vocab.region_parent(home)
        return home

    def _supported(self, code: str, level: str, city: bool, named: list[str]) -> str:
        """The place a relative reference at `level` supports for a named place: its ancestor at
        that level; a county-level city (汉川市) for 全市 when its prefecture is not named, since
        its own bulletins call it 全市."""
        if city and self._city_of_county_level(code, level) and self.vocab.region_parent(code) not in named:
            return code
        return next((c for c in self.vocab.lineage(code) if self.vocab.level_class(c) == level), "")

    def _city_of_county_level(self, code: str, level: str) -> bool:
        return level == "prefecture" and self.vocab.level_class(code) == "county" \
            and self.vocab.region_name(code).endswith("市")

    def autonomous(self, code: str) -> bool:
        """Whether the place lies in an autonomous region (新疆, 广西 …), whose bulletins call it 全区."""
        return self.vocab.region_name(self.vocab.province_of(code)).endswith("自治区")

    def relative_level(self, h: Hit, home: str) -> str:
        """全区/我区 is the autonomous region in its bulletins; elsewhere it is a city's district,
        the home itself when the home is one, never the province (全区 in a 汕头 bulletin)."""
        level = h.code[1:]
        if level == "province" and h.raw in DISTRICT_WORDS and home and not self.autonomous(home):
            return "county"
        # 全市 in a bulletin of a county-level city (昆山市, 库尔勒市) is that city, not its prefecture
        if h.raw.endswith("市") and self._city_of_county_level(home, level):
            return "county"
        return level

    def _home_from_url(self, url: str) -> str:
        """A bulletin that names no place at all (全市完成…) may still carry it in its address:
        local papers file stories under the place's romanised name (…/xinxiang_1114/…)."""
        path = url.lower().split("//", 1)[-1]
        # every word the address contains (one automaton pass), the regions in gazetteer order
        words = self._url_automaton.find_matches_as_strings(path, overlapping=True) if self._url_automaton else []
        found = [self._url_words[i][1] for i in sorted({i for w in words for i in self._url_entries[w]})]
        # Xinxiang is the city, Xinxiang County and its zones share the word: the highest of them
        top = min((len(self.vocab.lineage(c)) for c in found), default=0)
        found = [c for c in found if len(self.vocab.lineage(c)) == top]
        return found[0] if len(found) == 1 else ""

    def is_funding_source(self, t: str, h: Hit, home_province: str) -> bool:
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
        start = sentence_start(t, 0, h.start)
        # 从资金来源看，…。北京市46.7亿元: the context may be set by the sentence before
        previous = sentence_start(t, 0, max(0, start - 1)) if start and t[start - 1] != "\n" else start
        sentence = t[previous:clause_end(t, h.end, "。！？!?\n")]
        return self.fund_words.search(sentence) is not None

    def _names_home_province(self, t: str, h: Hit, hits: list[Hit], home_province: str) -> bool:
        """Whether the sentence around `h` also names a place of the bulletin's province."""
        a, b = sentence_start(t, 0, h.start), clause_end(t, h.end, "。！？!?\n")
        return any(a <= o.start < b and not o.code.startswith("@")
                   and self.vocab.province_of(o.code) == home_province for o in hits)

    def resolve_regions(self, t: str, hits: list[Hit], breakdowns: list[Hit],
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
                level = self.relative_level(h, home)
                code = next((c for c in lineage if self.vocab.level_class(c) == level), "")
                if not code and level == "province" and home_province:
                    code = home_province
                if not code and level == "prefecture" and self.vocab.region_name(home_province).endswith("市"):
                    code = home_province   # 全市 in a district of 北京市 or 重庆市 is the municipality
                regions.append(Hit(h.start, h.end, code or home, h.raw if code or home else home_raw or h.raw))
                continue
            if h.code == home_province and home and home != home_province and TOWARDS_SHORT_NAME.fullmatch(h.raw):
                continue   # 全州实施援疆项目126个 in 伊犁州's bulletin: the projects are the prefecture's
            if self.is_funding_source(t, h, home_province):
                extra.append(Hit(h.start, h.end, f"资金来源={self.vocab.region_name(h.code)}", h.raw))
                continue
            regions.append(h)
        merged = sorted(breakdowns + extra, key=lambda b: b.start)
        return regions, merged
