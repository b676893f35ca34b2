"""Planned figures and their parts: what a plan covers, and the 其中 that splits it.

A prefecture's project report states the quarter's plan (2022年一季度，…计划完成投资32.2亿元)
and then splits it by class (其中：基础设施类项目146个，完成投资8.6亿元；…). The parts repeat
the plan's verb without 计划, and are parts of the plan, not investment already made.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .periods import Period

if TYPE_CHECKING:
    from .extraction import Mention

# words of a plan for the year as a whole: such a plan is the year's, whatever the sentence's period
YEARLY = re.compile(r"全年|年度|目标|任务|预算")
PLANNED_VERB = re.compile(r"计划(?!总投资)")
# the words naming what a part measures: Chinese characters only
_WORDS = re.compile(r"[\u4e00-\u9fff]+")


@dataclass
class PlanWhole:
    """The last plan stated outside a 其中 sentence, by paragraph and unit family."""
    paragraph: int
    mention: "Mention"


def plan_period(period: Period, sentence: str, own_period: bool, reference_year: int | None) -> Period:
    """The period of a target: the year of its plan, or the quarter a 计划 is made for.

    2022年一季度，…计划完成投资32.2亿元 plans the quarter; 完成全年目标任务, 年度计划投资 and a
    target with no period of its own in the sentence plan the year.
    """
    year = period.year if period.year and period.explicit_year else reference_year
    if own_period and period.kind in ("ytd", "quarter") and period.end_month in (3, 6, 9) \
            and PLANNED_VERB.search(sentence) and not YEARLY.search(sentence):
        return Period(period.year or year, period.end_month, "plan")
    return Period(year or period.year, 12, "plan")


def part_of_plan(whole: PlanWhole | None, paragraph: int, local: str) -> "Mention | None":
    """The plan a level in a 其中 sentence is part of, when it repeats the plan's words.

    其中：…，完成投资8.6亿元 after 计划完成投资32.2亿元: 完成投资 is the plan's own verb.
    """
    if whole is None or whole.paragraph != paragraph or whole.mention.measure != "target":
        return None
    words = _WORDS.findall(local)
    if not words or len(words[-1]) < 2:
        return None
    quote = whole.mention.quote
    stated = re.search(re.escape(words[-1]) + r"(?:为|达|约)?\d", quote)
    return whole.mention if stated and quote[:stated.start()].endswith("计划") else None
