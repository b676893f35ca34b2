"""Figures in the tables of statistical communiqués.

A communiqué states some of its figures only in tables, copied into text as one row a line:

    指标          年末数（万人）   比重（%）
    全省总人口       3806        100.0
    其中：城镇       2352         61.8

The numbers carry no unit of their own: the column's title says what they are (年末数 in 万人 is a
level in persons, 比重 in % a share, 比上年增长 in % a growth rate). A row's label names the part
(城镇 is a breakdown, 第一产业 an industry, a place a region); the figure's period is the one the
lines above the table name, else the bulletin's.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .vocabulary import Vocabulary

# cells are separated by tabs, two or more spaces (half or full width) or vertical bars
CELL_SEP = re.compile(r"\t+|[ \u3000\u00a0]{2,}|\s*[|｜]\s*")
NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
BRACKETED = re.compile(r"[(（]([^()（）]{1,8})[)）]")
SHARE_WORDS = re.compile(r"比重|占比|构成|占")
GROWTH_WORDS = re.compile(r"增长|增速|增幅|比上年|±|同比")
LABEL_PREFIX = re.compile(r"^(?:其中|内)[:：]?\s*|^[#*\s]+")


@dataclass(frozen=True, slots=True)
class Column:
    measure: str       # level | share_pct | yoy_pct
    unit: str          # the normalised unit (count, CNY, percent, …)
    factor: float      # scale × unit factor (万人 → 10000)
    unit_raw: str


@dataclass(frozen=True, slots=True)
class Cell:
    label: str         # the row's label, its prefixes (其中：) dropped
    label_start: int   # offsets in the text the table was read from
    start: int
    end: int
    raw: str
    value: float
    column: Column


@dataclass(frozen=True, slots=True)
class Table:
    title_start: int   # where the lines naming the table begin (for its period)
    header_start: int
    cells: tuple[Cell, ...]


def _cells(line: str, offset: int) -> list[tuple[int, int, str]]:
    out, pos = [], 0
    for m in CELL_SEP.finditer(line):
        if m.start() > pos:
            out.append((offset + pos, offset + m.start(), line[pos:m.start()]))
        pos = m.end()
    if pos < len(line):
        out.append((offset + pos, offset + len(line), line[pos:]))
    return [(a, b, s) for a, b, s in out if s.strip()]


def _column(title: str, vocab: Vocabulary) -> Column | None:
    units = [u for u in BRACKETED.findall(title)]
    unit_raw = (units[-1] if units else "").strip()
    if unit_raw in ("%", "％"):
        if SHARE_WORDS.search(title):
            return Column("share_pct", "percent", 1.0, unit_raw)
        if GROWTH_WORDS.search(title):
            return Column("yoy_pct", "percent", 1.0, unit_raw)
        return Column("level", "percent", 1.0, unit_raw)
    if not unit_raw or GROWTH_WORDS.search(title):
        return None   # a column of counts in no unit, or a change in a unit: not read
    scale = 1.0
    rest = unit_raw
    for prefix in sorted(vocab.scales, key=len, reverse=True):
        if rest.startswith(prefix) and rest[len(prefix):] in vocab.units:
            scale, rest = vocab.scales[prefix], rest[len(prefix):]
            break
    unit = vocab.units.get(rest)
    if unit is None or not unit.keep:
        return None
    return Column("level", unit.unit, scale * unit.factor, unit_raw)


def find_tables(text: str, start: int, vocab: Vocabulary) -> list[Table]:
    """Every table in `text[start:]`: a header line whose columns name their units, then the
    rows below it whose cells are bare numbers."""
    lines: list[tuple[int, str]] = []
    pos = start
    for line in text[start:].split("\n"):
        lines.append((pos, line))
        pos += len(line) + 1
    tables: list[Table] = []
    i = 0
    while i < len(lines):
        offset, line = lines[i]
        header = _cells(line, offset)
        columns = [_column(s, vocab) for _, _, s in header[1:]] if len(header) >= 2 else []
        if not any(columns):
            i += 1
            continue
        cells: list[Cell] = []
        j = i + 1
        while j < len(lines):
            row_offset, row = lines[j]
            parts = _cells(row, row_offset)
            if not row.strip():
                if cells:
                    break
                j += 1
                continue
            if len(parts) < 2 or NUMBER.fullmatch(parts[0][2].strip()) \
                    or not all(NUMBER.fullmatch(s.strip()) for _, _, s in parts[1:]):
                break
            label_start, _, label = parts[0]
            prefix = LABEL_PREFIX.match(label)
            if prefix:
                label_start, label = label_start + prefix.end(), label[prefix.end():]
            # a row with fewer cells than columns is aligned to the right (its label spans)
            for (a, b, raw), column in zip(parts[1:], columns[-(len(parts) - 1):]):
                if column is not None:
                    stripped = raw.strip()
                    lead = raw.index(stripped)
                    cells.append(Cell(label.strip(), label_start, a + lead, a + lead + len(stripped), stripped,
                                      float(stripped) * column.factor, column))
            j += 1
        if cells:
            title_start = lines[max(0, i - 2)][0]
            tables.append(Table(title_start, offset, tuple(cells)))
        i = max(j, i + 1)
    return tables
