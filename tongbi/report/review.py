"""The report's review parts: the data-quality summary of the last gate run, the conflicts
between mentions, and the provenance appendix every figure links to.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass

from .data import Row
from .sections import Context, measure_unit
from .view import (CONFLICT_KINDS, Cell, Column, MEASURES, Table, doc_anchor, fmt_exact, fmt_fixed,
                   parse_breakdown, period_label, scaled, unit_display, web_url)


# ---------------------------------------------------------------- quality, conflicts, provenance


@dataclass
class Quality:
    run_id: str
    checked_at: str
    n_checks: int
    n_passed: int
    n_failed_error: int
    n_failed_warning: int
    failing: Table | None
    all_checks: Table | None
    unresolved: Table | None
    n_unresolved: int
    rejected: Table | None
    quarantined: Table | None = None
    n_quarantined: int = 0


def build_quality(ctx: Context) -> Quality | None:
    results = ctx.wh.rows("audit_results")
    by_doc_seq = {(m["doc_id"], m["mention_seq"]): m["mention_id"] for m in ctx.wh.rows("fct_metric_mentions")}
    by_doc_quote = {(m["doc_id"], m["quote"]): m["mention_id"] for m in ctx.wh.rows("fct_metric_mentions")}

    def samples(raw: str | None) -> Cell:
        try:
            items = json.loads(raw) if raw else []
        except ValueError:
            return Cell(str(raw)[:200])
        cells: list[Cell] = []
        for item in items[:3] if isinstance(items, list) else []:
            if not isinstance(item, dict):
                cells.append(Cell(str(item)[:120]))
                continue
            doc, quote = item.get("doc_id"), item.get("quote")
            mention = by_doc_seq.get((doc, item.get("mention_seq"))) or by_doc_quote.get((doc, quote))
            text = f"{doc}: {quote}" if doc and quote else json.dumps(item, ensure_ascii=False)[:160]
            cells.append(ctx.link(text, mention, "sample"))
        return Cell(parts=cells, css="samples")

    quality_tables: dict[str, Table | None] = {"failing": None, "all": None}
    if results:
        failing = [r for r in results if not r["success"]]
        cols = [Column("级别", "Severity"), Column("套件", "Suite"), Column("检查", "Expectation"),
                Column("不符行数", "Unexpected", True), Column("观测", "Observed")]
        quality_tables["failing"] = Table("quality-failing", "未通过的检查", "Failing checks",
                                          cols + [Column("样例", "Examples")], [
            [Cell(r["severity"], None, f"sev-{r['severity']}"), Cell(r["suite"]), Cell(r["expectation"]),
             Cell(str(r["unexpected_count"]), None, "num"), Cell(r.get("observed") or ""),
             samples(r.get("sample_json"))] for r in failing])
        quality_tables["all"] = Table("quality-all", "全部检查", "All checks", cols + [Column("结果", "Result")], [
            [Cell(r["severity"], None, f"sev-{r['severity']}"), Cell(r["suite"]), Cell(r["expectation"]),
             Cell(str(r["unexpected_count"]), None, "num"), Cell(r.get("observed") or ""),
             Cell("通过 pass" if r["success"] else "未通过 fail", None, "ok" if r["success"] else "flag")]
            for r in results])
    unresolved_rows = ctx.wh.rows("unresolved_names")
    unresolved = Table("quality-unresolved", "未识别的名称", "Names the vocabularies lack (most frequent)", [
        Column("类型", "Kind"), Column("名称", "Name"), Column("次数", "Mentions", True),
        Column("文件数", "Documents", True), Column("例句", "Example")], [
        [Cell(u["name_kind"]), Cell(u["raw_name"]), Cell(str(u["n_mentions"]), None, "num"),
         Cell(str(u.get("n_documents") or ""), None, "num"),
         ctx.link(f"{u.get('example_doc_id')}: {u.get('example_quote')}", u.get("example_mention_id"), "sample")]
        for u in unresolved_rows[:20]]) if unresolved_rows else None
    rejected_rows = ctx.wh.rows("rejected_documents")
    rejected = Table("quality-rejected", "未能读取的文件", "Rejected documents",
                     [Column("文件", "Path"), Column("行", "Line"), Column("原因", "Reason")],
                     [[Cell(str(r.get("path"))), Cell(str(r.get("line") or "")), Cell(str(r.get("reason")))]
                      for r in rejected_rows]) if rejected_rows else None
    quarantine_rows = ctx.wh.rows("quarantine")
    quarantined = Table("quality-quarantine", "隔离的文件", "Quarantined documents (kept out of the marts)", [
        Column("文件", "Document"), Column("规则", "Rule"), Column("依据", "Policy"), Column("原文", "Quote"),
        Column("位置", "Offsets"), Column("运行", "Run")], [
        [Cell(str(q["doc_id"]), q.get("source_url")), Cell(f"{q['suite']}.{q['rule']}"),
         Cell(str(q["policy"]) + (f" vs {q['other_doc_id']}" if q.get("other_doc_id") else "")),
         Cell(str(q.get("quote") or ""), None, "sample"),
         Cell(f"{q['char_start']}–{q['char_end']}" if q.get("char_start") is not None else ""),
         Cell(str(q.get("run_id") or ""))]
        for q in quarantine_rows]) if quarantine_rows else None
    if not results and unresolved is None and rejected is None and quarantined is None:
        return None
    return Quality(
        run_id=results[0]["run_id"] if results else "",
        checked_at=str(results[0]["checked_at"])[:19] if results else "",
        n_checks=len(results), n_passed=sum(1 for r in results if r["success"]),
        n_failed_error=sum(1 for r in results if not r["success"] and r["severity"] == "error"),
        n_failed_warning=sum(1 for r in results if not r["success"] and r["severity"] != "error"),
        failing=quality_tables["failing"], all_checks=quality_tables["all"],
        unresolved=unresolved, n_unresolved=len(unresolved_rows), rejected=rejected,
        quarantined=quarantined, n_quarantined=len({q["doc_id"] for q in quarantine_rows}),
    )


@dataclass
class Conflicts:
    counts: list[tuple[str, str, str, int, bool]]     # kind, label zh, explanation, count, to review
    review: Table | None
    expected: Table | None


def build_conflicts(ctx: Context) -> Conflicts | None:
    if not ctx.wh.has("conflicts"):
        return None
    rows = ctx.wh.rows("conflicts")
    counts = Counter(r["conflict_kind"] for r in rows)

    def table(id_: str, zh: str, en: str, selected: list[Row]) -> Table | None:
        if not selected:
            return None
        out = []
        for r in selected:
            unit = unit_display(r.get("unit"))
            zh_m, _ = MEASURES.get(r["measure"], (r["measure"], ""))
            out.append([
                Cell(r.get("metric_name_zh") or r.get("metric_code") or ""),
                Cell(r.get("region_name_zh") or r.get("region_code") or ""),
                Cell(period_label(r.get("period_year"), r.get("period_end_month"), r.get("period_kind"))
                     + ("" if r.get("breakdown") in (None, "none") else f" · {r['breakdown']}")
                     + ("" if r.get("industry_code") in (None, "TOTAL") else f" · {r['industry_code']}")),
                Cell(f"{zh_m}（{unit.zh}）"),
                ctx.link(fmt_exact(scaled(r.get("chosen_value"), unit)), r.get("chosen_mention_id")),
                ctx.link(fmt_exact(scaled(r.get("other_value"), unit)), r.get("other_mention_id")),
                Cell(fmt_fixed(r.get("value_gap_pct"), 1, signed=True), None, "num"),
                Cell("同文" if r.get("is_same_document") else "", None, ""),
                Cell(CONFLICT_KINDS.get(r["conflict_kind"], (r["conflict_kind"],))[0]),
            ])
        return Table(id_, zh, en, [
            Column("指标", "Metric"), Column("地区", "Region"), Column("期间", "Period"), Column("度量", "Measure"),
            Column("采用值", "Chosen", True), Column("其他值", "Other", True), Column("差 %", "Gap", True),
            Column("同文", "Same doc"), Column("类型", "Kind")], out)

    review = [r for r in rows if CONFLICT_KINDS.get(r["conflict_kind"], ("", "", True))[2]]
    expected = [r for r in rows if not CONFLICT_KINDS.get(r["conflict_kind"], ("", "", True))[2]]
    return Conflicts(
        counts=[(k, CONFLICT_KINDS.get(k, (k, "", True))[0], CONFLICT_KINDS.get(k, ("", "", True))[1], n,
                 CONFLICT_KINDS.get(k, ("", "", True))[2]) for k, n in counts.most_common()],
        review=table("conflicts-review", "待核查的冲突", "Conflicts to review", review),
        expected=table("conflicts-expected", "预期的差异", "Expected differences (revisions, roundings)", expected),
    )


@dataclass
class ProvenanceMention:
    anchor: str
    mention_id: str
    doc_id: str
    before: str
    figure: str
    after: str
    char_start: int | None
    char_end: int | None
    source_url: str | None
    what: str
    value: str
    is_chosen: bool
    linked: bool


@dataclass
class ProvenanceDocument:
    anchor: str
    doc_id: str
    title: str
    published: str
    source_url: str | None
    mentions: list[ProvenanceMention]


def split_quote(quote: str, value_raw: str | None) -> tuple[str, str, str]:
    """The quote with its figure set apart (the last occurrence: figures end their quotes)."""
    if value_raw and value_raw in quote:
        i = quote.rfind(value_raw)
        return quote[:i], value_raw, quote[i + len(value_raw):]
    return quote, "", ""


def build_provenance(ctx: Context) -> list[ProvenanceDocument]:
    docs_meta = {d["doc_id"]: d for d in ctx.wh.rows("documents")}
    by_doc: dict[str, list[Row]] = defaultdict(list)
    for m in ctx.wh.rows("fct_metric_mentions"):
        by_doc[m["doc_id"]].append(m)
    out = []
    for doc_id, mentions in by_doc.items():
        first = mentions[0]
        meta = docs_meta.get(doc_id, {})
        items = []
        for m in sorted(mentions, key=lambda m: m.get("mention_seq") or 0):
            before, figure, after = split_quote(m.get("quote") or "", m.get("value_raw"))
            unit = measure_unit(m.get("measure") or "", unit_display(m.get("unit")))
            if m.get("unit"):
                unit = unit_display(m["unit"])
            zh, en = MEASURES.get(m.get("measure") or "", (m.get("measure") or "", ""))
            what = " · ".join(x for x in (
                m.get("metric_name_zh") or (f"〔{m['metric_raw']}〕" if m.get("metric_raw") else "〔未识别 unresolved〕"),
                m.get("region_name_zh") or m.get("region_raw") or "",
                m.get("industry_name_zh") or "",
                " ".join(f"{k}={v}" for k, v in parse_breakdown(m.get("breakdown"))),
                period_label(m.get("period_year"), m.get("period_end_month"), m.get("period_kind")),
                zh) if x)
            value = (f"{'≈' if m.get('is_approximate') else ''}{fmt_exact(scaled(m.get('value'), unit))} {unit.zh}"
                     if m.get("value") is not None else "")
            items.append(ProvenanceMention(
                anchor=ctx.anchors.by_mention[m["mention_id"]], mention_id=m["mention_id"], doc_id=doc_id,
                before=before, figure=figure, after=after, char_start=m.get("char_start"),
                char_end=m.get("char_end"), source_url=web_url(m.get("source_url")), what=what, value=value,
                is_chosen=bool(m.get("is_chosen")), linked=m["mention_id"] in ctx.linked))
        out.append(ProvenanceDocument(
            anchor=doc_anchor(doc_id), doc_id=doc_id,
            title=meta.get("title") or first.get("document_title") or doc_id,
            published=str(meta.get("published") or first.get("published") or "")[:10],
            source_url=web_url(meta.get("source_url") or first.get("source_url")), mentions=items))
    return out
