"""Parks named by reference: the bare 自贸试验区 after one of its 片区 is named.

新疆自贸试验区乌鲁木齐片区建设取得一定成果，自贸试验区内已实施项目19个: the bare zone
right after a named part of it refers back to that part, not to the zone as a whole.
"""
from __future__ import annotations

from .matching import Hit

# A breakdown value naming the bulletin's province: seeds/breakdown_terms.csv maps the bare ways of
# naming a free-trade zone (自贸区 …) to 中国（{province}）自由贸易试验区, so a term whose value holds
# the slot is a bare zone.
PROVINCE_SLOT = "{province}"


def zone_part_for_zone(chosen: list[Hit], before: list[Hit]) -> list[Hit]:
    """The terms of a figure, with a bare zone replaced by the 片区 named before it in the sentence."""
    out: list[Hit] = []
    for h in chosen:
        if h.code.startswith("园区=") and PROVINCE_SLOT in h.code:
            part = [p for p in before if p.start < h.start and p.code.startswith("园区=") and p.code.endswith("片区")]
            if part:
                out.append(part[-1])
                continue
        out.append(h)
    return out
