"""Figures in the tables of statistical communiqués.

A communiqué states some of its figures only in tables, copied into text as one row a line:

    指标          年末数（万人）   比重（%）
    全省总人口       3806        100.0
    其中：城镇       2352         61.8

or, taken from a web page, one cell a line (指标 / 产量 / 比上年增长% / 原煤 / 137000.1 / 3.8 …).

The numbers carry no unit of their own: the column's title says what they are (年末数 in 万人 is a
level in persons, 比重 in % a share, 比上年增长 in % a growth rate), else a 单位 column gives each
row's unit, a row's label its own (发电量（亿千瓦时）) or the table's caption one for all (单位：万吨).
A row's label names the part
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
# a cell's value: 3,806 with thousands separators, 5.2% with its sign; a blank (-, —, …, /)
# where the table states nothing
VALUE = re.compile(r"(?P<num>[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)\s*[%％]?")
BLANK = re.compile(r"[-—–…/／]+|")
RULE_LINE = re.compile(r"[\s|｜:：\-—–=+]*")   # |---|---| under a header, ==== lines
BRACKETED = re.compile(r"[(（]([^()（）]{1,8})[)）]")
SHARE_WORDS = re.compile(r"比重|占比|构成|占")
GROWTH_WORDS = re.compile(r"增长|增速|增幅|比上年|±|同比")
LABEL_PREFIX = re.compile(r"^(?:其中|内)[:：]?\s*|^[#*\s]+")
PERCENT_END = re.compile(r"[%％]\s*$")                      # 比上年增长%: the unit without brackets
UNIT_TITLE = re.compile(r"(?:计量)?单位")                    # a column of each row's unit
TITLE_UNIT = re.compile(r"单位[:：]\s*([^)）\s,，;；]{1,6})")  # 表3 …（单位：万吨）
LEVEL_TITLE = re.compile(r"绝对数|绝对值|总量|数量|产量|金额|总额|年末数|实绩|本年|本期|全年|数值|"
                         # a column titled by the period its levels cover (1-12月, 1—3季度, 累计)
                         r"1?\d?\s*[-—–~至]\s*1?\d月|[1-9]\d?月(?:份)?|1?\s*[-—–~至]\s*[1-4]季度|"
                         r"[一二三四]季度|前三季度|上半年|本月|当月|累计|本月止累计")
HEADER_FIRST = re.compile(r"指标(?:名称)?|项目|名称|产品名称|类别|分组|地区")
# the titles a stacked header may hold besides the columns read (比上年增长 in 万吨, 位次)
COLUMN_TITLE = re.compile(r"增长|增减|比上年|同比|位次|排位|比重|占|单位|绝对|指标|[(（][^)）]{1,8}[)）]")


@dataclass(frozen=True, slots=True)
class Column:
    measure: str       # level | share_pct | yoy_pct
    unit: str          # the normalised unit (count, CNY, percent, …)
    factor: float      # scale × unit factor (万人 → 10000)
    unit_raw: str


SINGLE_CJK = re.compile(r"\s*[\u4e00-\u9fff]\s*")
LONE_LAST = re.compile(r"(?:^|[^\u4e00-\u9fff])[\u4e00-\u9fff]$")   # 指, 其中：城 (of 城  镇)
SPACED = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")
UNIT_COLUMN = Column("unit", "", 0.0, "")    # 单位: each row's unit, read from its own cell
ROW_UNIT = Column("level", "", 0.0, "")      # a level column in the unit each row names


@dataclass(frozen=True, slots=True)
class Cell:
    label: str         # the row's label, its prefixes (其中：) dropped
    plain: str         # the label without the spaces padding it out (粮  食 → 粮食)
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
    cells = [(a, b, s) for a, b, s in out if s.strip()]
    # 指　　标, 粮　　食: a word spaced out to fill its column splits into single characters
    merged: list[tuple[int, int, str]] = []
    for a, b, s in cells:
        if merged and SINGLE_CJK.fullmatch(s) and LONE_LAST.search(merged[-1][2].rstrip()):
            start = merged[-1][0]
            merged[-1] = (start, b, line[start - offset:b - offset])
        else:
            merged.append((a, b, s))
    return merged


def squeeze(s: str) -> str:
    """The words of a cell without the spaces that pad them out (指  标 → 指标, 单 位 → 单位)."""
    return SPACED.sub("", s.strip())


def _column(title: str, vocab: Vocabulary, table_unit: str = "") -> Column | None:
    """What a column holds, from its title: the unit in its brackets (绝对数（亿元）), a bare %
    at its end (比上年增长%), else the unit the table's title gives (单位：万吨) to a column of
    levels. A 单位 column holds each row's unit (UNIT_COLUMN)."""
    title = squeeze(title)
    if UNIT_TITLE.fullmatch(title):
        return UNIT_COLUMN
    units = [u for u in BRACKETED.findall(title)]
    unit_raw = (units[-1] if units else "").strip()
    if not unit_raw and PERCENT_END.search(title):
        unit_raw = "%"
    if unit_raw in ("%", "％"):
        if SHARE_WORDS.search(title):
            return Column("share_pct", "percent", 1.0, unit_raw)
        if GROWTH_WORDS.search(title):
            return Column("yoy_pct", "percent", 1.0, unit_raw)
        return Column("level", "percent", 1.0, unit_raw)
    if GROWTH_WORDS.search(title):
        return None   # a change in a unit: not read
    if not unit_raw:
        if LEVEL_TITLE.fullmatch(title):
            # 绝对数, 产量: a level in the table's unit, or in each row's (a 单位 column)
            return _unit_column(table_unit, vocab) if table_unit else ROW_UNIT
        return None   # a column of counts in no unit: not read
    return _unit_column(unit_raw, vocab)


def _unit_column(unit_raw: str, vocab: Vocabulary) -> Column | None:
    if unit_raw in ("%", "％"):
        return Column("level", "percent", 1.0, unit_raw)
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


def _lines(text: str, start: int) -> list[tuple[int, str]]:
    lines: list[tuple[int, str]] = []
    pos = start
    for line in text[start:].split("\n"):
        lines.append((pos, line))
        pos += len(line) + 1
    return lines


def _table_unit(lines: list[tuple[int, str]], i: int) -> str:
    """单位：万吨 in the table's title or on a line of its own just above its header."""
    for _, line in lines[max(0, i - 2):i]:
        m = TITLE_UNIT.search(line)
        if m:
            return m.group(1)
    return ""


def _read_row(parts: list[tuple[int, int, str]], columns: list[Column | None], vocab: Vocabulary) -> list[Cell] | None:
    """The cells of one row under its columns, or None when it is no row of the table (a line
    of prose, a label alone, a value that is not a number)."""
    if len(parts) < 2 or NUMBER.fullmatch(parts[0][2].strip()):
        return None
    values = parts[1:]
    # a row with fewer cells than columns is aligned to the right (its label spans)
    columns = columns[-len(values):] if len(values) <= len(columns) else []
    if not columns:
        return None
    row_unit: Column | None = None
    numbers = 0
    for (_, _, raw), column in zip(values, columns):
        if column is UNIT_COLUMN:
            row_unit = _unit_column(squeeze(raw), vocab)
        elif VALUE.fullmatch(raw.strip()):
            numbers += 1
        elif not BLANK.fullmatch(raw.strip()):
            return None
    if not numbers:
        return None
    label_start, _, label = parts[0]
    prefix = LABEL_PREFIX.match(label)
    if prefix:
        label_start, label = label_start + prefix.end(), label[prefix.end():]
    # 发电量（亿千瓦时） in a table of 万吨: the row names its own unit
    own = BRACKETED.findall(label)
    own_unit = _unit_column(own[-1].strip(), vocab) if own else None
    cells: list[Cell] = []
    for (a, _, raw), column in zip(values, columns):
        if column is UNIT_COLUMN or column is None:
            continue
        if column is ROW_UNIT or own_unit is not None and column.measure == "level" and column.unit != "percent":
            column = row_unit or own_unit
            if column is None:
                continue
        value = VALUE.fullmatch(raw.strip())
        if value is None:
            continue   # a blank cell
        number = value["num"]
        lead = raw.index(number)
        cells.append(Cell(label.strip(), squeeze(label), label_start, a + lead, a + lead + len(number), number,
                          float(f"{float(number.replace(',', '')) * column.factor:.10g}"), column))
    return cells


def _stacked_header(lines: list[tuple[int, str]], i: int, vocab: Vocabulary,
                    table_unit: str) -> tuple[list[Column | None], int]:
    """A table copied one cell a line (指标 / 单位 / 产量 / 比上年增长%): its columns and the
    line its rows start on; no columns when line i does not open such a table."""
    if not HEADER_FIRST.fullmatch(squeeze(lines[i][1])):
        return [], i
    columns: list[Column | None] = []
    j = i + 1
    while j < len(lines) and len(columns) < 6:
        title = squeeze(lines[j][1])
        if not title or len(_cells(lines[j][1], 0)) != 1 or NUMBER.fullmatch(title):
            break
        column = _column(title, vocab, table_unit)
        if column is None and not COLUMN_TITLE.search(title):
            break
        columns.append(column)
        j += 1
    return (columns, j) if any(c is not None and c is not UNIT_COLUMN for c in columns) else ([], i)


def find_tables(text: str, start: int, vocab: Vocabulary) -> list[Table]:
    """Every table in `text[start:]`: a header line whose columns name their units, then the
    rows below it whose cells are bare numbers; or the same copied one cell a line."""
    lines = _lines(text, start)
    tables: list[Table] = []
    i = 0
    while i < len(lines):
        offset, line = lines[i]
        table_unit = _table_unit(lines, i)
        cells: list[Cell] = []
        stacked, j = _stacked_header(lines, i, vocab, table_unit)
        if stacked:
            width = len(stacked) + 1
            while j + width <= len(lines):
                group = lines[j:j + width]
                parts = [(o, o + len(ln), ln) for o, ln in group]
                if any(len(_cells(ln, 0)) != 1 for _, ln in group):
                    break
                row = _read_row(parts, stacked, vocab)
                if row is None:
                    break
                cells.extend(row)
                j += width
        else:
            header = _cells(line, offset)
            columns = [_column(s, vocab, table_unit) for _, _, s in header] if header else []
            if columns and columns[0] is None or len(header) < 2:
                columns = columns[1:]   # the first cell names the rows (指标), not a column
            if not any(c is not None and c is not UNIT_COLUMN for c in columns):
                i += 1
                continue
            j = i + 1
            while j < len(lines):
                row_offset, row_text = lines[j]
                if not row_text.strip() or RULE_LINE.fullmatch(row_text):
                    if cells and not row_text.strip():
                        break
                    j += 1
                    continue
                row = _read_row(_cells(row_text, row_offset), columns, vocab)
                if row is None:
                    break
                cells.extend(row)
                j += 1
        if cells:
            title_start = lines[max(0, i - 2)][0]
            tables.append(Table(title_start, offset, tuple(cells)))
        i = max(j, i + 1)
    return tables
