"""Parks named by reference: the bare 自贸试验区 after one of its 片区 is named.

新疆自贸试验区乌鲁木齐片区建设取得一定成果，自贸试验区内已实施项目19个: the bare zone
right after a named part of it refers back to that part, not to the zone as a whole.
"""
from __future__ import annotations

from .matching import Hit

# the short ways of naming a free-trade zone without its province or its part
BARE_ZONE = ("自贸试验区", "自贸区", "自由贸易试验区")


def zone_part_for_zone(chosen: list[Hit], before: list[Hit]) -> list[Hit]:
    """The terms of a figure, with a bare zone replaced by the 片区 named before it in the sentence."""
    out: list[Hit] = []
    for h in chosen:
        if h.code.startswith("园区=") and h.raw in BARE_ZONE:
            part = [p for p in before if p.start < h.start and p.code.startswith("园区=") and p.code.endswith("片区")]
            if part:
                out.append(part[-1])
                continue
        out.append(h)
    return out
