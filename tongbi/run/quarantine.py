"""Quarantine: a bulletin that breaks an error-level rule is kept out of the marts, the rest publishes.

When the gate fails, each failing error-level check is traced to the documents whose figures
break it (its offending rows carry `doc_id`, and `other_doc_id` for a rule spanning two
documents). Those documents are **quarantined**: their rows are filtered out of the
`raw_metrics` seed, dbt builds again and the gate audits again without them, until it passes
(at most `MAX_ROUNDS` rebuilds). Their `documents` rows stay: the manifest still knows their
bytes, so a document whose bytes are unchanged stays quarantined at the next run without a
rebuild loop, and leaves quarantine when it changes or is removed.

Not quarantined, the run fails as before (exit 4, the published file untouched):

* a failing check no document can be blamed for: a missing column, an unreadable table, a
  check that raised (`SCHEMA_LEVEL`), or offending rows without a document id;
* more than `--max-quarantine` of the run's documents (default 20 %): a systemic fault, not a
  bad page;
* any error at all with `--strict`.

Cross-document policy (`cross_document_blame`). A rule that compares two documents (the same
statistic stated with two figures in two bulletins of the same date) names both. Per
statistic, the documents the failing pairs name are grouped by their figure; when one figure
is stated by more documents than any other (a strict majority group), the documents stating
the other figures are quarantined (`minority value`); when no figure leads (two documents, one
each), every document of the dispute is quarantined (`no majority`): no publication order or
count says which stands. Documents that agree with both sides within the rounding tolerance
are in no failing pair and count for neither.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

import duckdb

from .history import replace_documented_table

DEFAULT_MAX_SHARE = 0.20
MAX_ROUNDS = 5
# check types and pseudo-checks that judge a table's shape, never a document's figures
SCHEMA_LEVEL = frozenset({"read_dataset", "expect_table_columns_to_match_set",
                          "expect_table_columns_to_match_ordered_list", "expect_column_to_exist",
                          "expect_table_row_count_to_be_between"})
# columns of an offending row that belong to one side of a pair, not to the statistic's key
_SIDE_COLUMNS = frozenset({"doc_id", "other_doc_id", "mention_seq", "other_mention_seq", "quote",
                           "other_quote", "value", "other_value", "value_raw", "other_value_raw",
                           "published", "other_published", "abs_diff", "tolerance", "evidence"})
_PROVENANCE = frozenset({"doc_id", "quote", "other_doc_id", "other_quote", "evidence"})

SINGLE, MINORITY, NO_MAJORITY = "single document", "minority value", "no majority"


@dataclass(frozen=True)
class Offence:
    """One document breaking one rule (one offending row of a failing check)."""

    doc_id: str
    suite: str
    check: str
    severity: str
    description: str
    policy: str                       # SINGLE | MINORITY | NO_MAJORITY
    quote: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)   # the row's keys and figures
    other_doc_id: str | None = None
    other_quote: str | None = None
    char_start: int | None = None
    char_end: int | None = None


@dataclass
class Verdict:
    """What the failing checks of one gate run blame: the offences, and the blocking checks
    that no document can be blamed for (which fail the run)."""

    offences: list[Offence] = field(default_factory=list)
    untraceable: list[str] = field(default_factory=list)   # suite.check

    @property
    def doc_ids(self) -> set[str]:
        return {o.doc_id for o in self.offences}


# ------------------------------------------------------------------------------------ policy


def _figure(value: Any) -> Any:
    """A figure as a grouping key: 1778 and 1778.0 are one figure."""
    try:
        return round(float(value), 9)
    except (TypeError, ValueError):
        return value


def cross_document_blame(pairs: Iterable[tuple[str, Any, str, Any]]) -> dict[str, str]:
    """The documents to quarantine for one statistic, from its failing pairs (doc, figure,
    other doc, other figure): doc_id → MINORITY or NO_MAJORITY (see the module docstring)."""
    figure_of: dict[str, Any] = {}
    for doc, value, other, other_value in pairs:
        figure_of.setdefault(doc, _figure(value))
        figure_of.setdefault(other, _figure(other_value))
    groups: dict[Any, set[str]] = defaultdict(set)
    for doc, figure in figure_of.items():
        groups[figure].add(doc)
    sizes = sorted((len(docs) for docs in groups.values()), reverse=True)
    if len(sizes) > 1 and sizes[0] > sizes[1]:
        majority = max(groups.values(), key=len)
        return {doc: MINORITY for doc in sorted(figure_of) if doc not in majority}
    return {doc: NO_MAJORITY for doc in sorted(figure_of)}


def _row_values(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in _PROVENANCE}


def _row_doc(row: Mapping[str, Any]) -> str | None:
    if row.get("doc_id"):
        return str(row["doc_id"])
    for mention in row.get("evidence") or []:
        if isinstance(mention, dict) and mention.get("doc_id"):
            return str(mention["doc_id"])
    return None


def blame(results: Iterable[Any]) -> Verdict:
    """Trace the blocking checks of a gate run (CheckResult) to documents."""
    verdict = Verdict()
    for r in results:
        if not r.blocking:
            continue
        name = f"{r.suite}.{r.expectation}"
        rows = list(r.failing_rows or [])
        if (r.expectation_type in SCHEMA_LEVEL or str(r.observed).startswith("exception:") or not rows
                or any(_row_doc(row) is None for row in rows)):
            verdict.untraceable.append(name)
            continue
        common = dict(suite=r.suite, check=r.expectation, severity=r.severity, description=r.description)
        disputes: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for row in rows:
            if row.get("other_doc_id") and row.get("other_doc_id") != row.get("doc_id"):
                key = json.dumps({k: v for k, v in row.items() if k not in _SIDE_COLUMNS},
                                 sort_keys=True, ensure_ascii=False, default=str)
                disputes[key].append(row)
                continue
            verdict.offences.append(Offence(doc_id=str(_row_doc(row)), policy=SINGLE, quote=row.get("quote"),
                                            values=_row_values(row), **common))
        for pair_rows in disputes.values():
            blamed = cross_document_blame((str(p["doc_id"]), p.get("value"), str(p["other_doc_id"]),
                                           p.get("other_value")) for p in pair_rows)
            for doc, policy in blamed.items():
                for p in pair_rows:   # the doc's own side of each of its pairs
                    if doc == p["doc_id"]:
                        quote, other, other_quote = p.get("quote"), p["other_doc_id"], p.get("other_quote")
                    elif doc == p["other_doc_id"]:
                        quote, other, other_quote = p.get("other_quote"), p["doc_id"], p.get("quote")
                    else:
                        continue
                    verdict.offences.append(Offence(doc_id=doc, policy=policy, quote=quote, values=_row_values(p),
                                                    other_doc_id=str(other), other_quote=other_quote, **common))
                    break
    return verdict


def too_many(n_quarantined: int, n_documents: int, max_share: float) -> bool:
    return n_documents > 0 and n_quarantined / n_documents > max_share


def parse_share(text: str) -> float:
    """`--max-quarantine`: a share (0.2) or a percentage (20%)."""
    raw = text.strip()
    value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    if not 0 <= value <= 1:
        raise ValueError(f"--max-quarantine must be between 0 and 1 (or 0% and 100%), not {text!r}")
    return value


# ------------------------------------------------------------------------------------ seeds


def filter_raw_metrics(source: Path, target: Path, excluded: set[str]) -> None:
    """Write `source` (the raw_metrics seed) to `target` without the rows of `excluded`
    documents, atomically (a reader or dbt never sees half a file). Every column is kept as
    text: the rows that stay are written as they were read."""
    import polars as pl

    from loaders.seeds import CSV_OPTIONS

    tmp = target.with_name(target.name + ".tmp")
    opts = {k: v for k, v in CSV_OPTIONS.items() if k in ("null_value", "line_terminator")}
    (pl.scan_csv(source, infer_schema=False)
     .filter(~pl.col("doc_id").is_in(sorted(excluded)))
     .sink_csv(tmp, **opts))
    os.replace(tmp, target)


def keep_originals(staged: Path, names: Iterable[str]) -> Path:
    """Hard links to this run's seed files (free: the same bytes), so that a rebuild without
    quarantined documents starts again from them whatever seeds/ holds by then."""
    keep = staged / "originals"
    keep.mkdir(parents=True, exist_ok=True)
    for name in names:
        dst = keep / name
        if dst.exists():
            dst.unlink()
        try:
            os.link(staged / name, dst)
        except OSError:   # no hard links here: a copy
            shutil.copyfile(staged / name, dst)
    return keep


# ------------------------------------------------------------------------ the quarantine table


# (column, DuckDB type, comment)
QUARANTINE_COLUMNS: list[tuple[str, str, str]] = [
    ("doc_id", "VARCHAR", "The quarantined document: none of its figures is in the marts."),
    ("sha256", "VARCHAR", "sha256 of its bytes when quarantined: it stays quarantined while they are unchanged."),
    ("path", "VARCHAR", "Its file, as the run was given it."),
    ("source_url", "VARCHAR", "Its URL (front matter)."),
    ("title", "VARCHAR", "Its title."),
    ("suite", "VARCHAR", "The expectation suite of the broken rule."),
    ("rule", "VARCHAR", "The broken rule (the check's name in its suite)."),
    ("severity", "VARCHAR", "Always error: warnings never quarantine."),
    ("description", "VARCHAR", "What the rule means."),
    ("policy", "VARCHAR", "Why this document: single document (the rule names it alone), minority value "
                          "(it disagrees with the majority of the documents stating the statistic), no "
                          "majority (every document of the dispute is quarantined)."),
    ("quote", "VARCHAR", "The sentence of this document the offending figure was read from."),
    ("char_start", "BIGINT", "Offset of the quote in the document's text (quote = text[char_start:char_end])."),
    ("char_end", "BIGINT", "End offset of the quote."),
    ("offending_values", "VARCHAR", "The offending row's keys and figures, as a JSON object."),
    ("other_doc_id", "VARCHAR", "For a rule spanning documents: the document it disagrees with."),
    ("other_quote", "VARCHAR", "That document's quote."),
    ("run_id", "VARCHAR", "The run that quarantined it."),
    ("quarantined_at", "TIMESTAMP", "When (UTC)."),
    ("last_run_id", "VARCHAR", "The run that published this file (a carried row keeps its first run_id)."),
]
_NAMES = [c for c, _, _ in QUARANTINE_COLUMNS]


def read_quarantine(warehouse: Path) -> list[dict[str, Any]]:
    """The published warehouse's quarantine rows (none when it has no such table)."""
    if not warehouse.exists():
        return []
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error:
        return []
    try:
        present = con.execute("select count(*) from information_schema.tables "
                              "where table_schema = 'main' and table_name = 'quarantine'").fetchall()[0][0]
        if not present:
            return []
        cur = con.execute("select * from main.quarantine order by doc_id, suite, rule")
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row)) for row in cur.fetchall()]
    except duckdb.Error:
        return []
    finally:
        con.close()


def carried(previous: list[dict[str, Any]], documents: Mapping[str, str]) -> list[dict[str, Any]]:
    """Previous quarantine rows whose document is still given with the same bytes."""
    return [r for r in previous if r.get("doc_id") in documents and documents[r["doc_id"]] == r.get("sha256")]


def locate(db: Path, offences: list[Offence]) -> list[Offence]:
    """Add the character offsets of each offence's quote, from the build that failed (its
    raw_metrics still holds the quarantined documents' rows)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = []
        for o in offences:
            found = con.execute("select char_start, char_end from raw_metrics where doc_id = ? and quote = ? "
                                "order by mention_seq limit 1", [o.doc_id, o.quote]).fetchall() if o.quote else []
            out.append(replace(o, char_start=found[0][0], char_end=found[0][1]) if found else o)
        return out
    finally:
        con.close()


def offence_rows(offences: list[Offence], run_id: str, at: dt.datetime) -> list[dict[str, Any]]:
    """One row per document and broken rule (the first offending row of each)."""
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for o in offences:
        rows.setdefault((o.doc_id, o.suite, o.check), {
            "doc_id": o.doc_id, "suite": o.suite, "rule": o.check, "severity": o.severity,
            "description": o.description, "policy": o.policy, "quote": o.quote,
            "char_start": o.char_start, "char_end": o.char_end,
            "offending_values": json.dumps(o.values, ensure_ascii=False, sort_keys=True, default=str),
            "other_doc_id": o.other_doc_id, "other_quote": o.other_quote, "run_id": run_id,
            "quarantined_at": at.astimezone(dt.timezone.utc).replace(tzinfo=None),
        })
    return list(rows.values())


def write_quarantine(db: Path, rows: list[dict[str, Any]], run_id: str) -> None:
    """(Re)create `quarantine` in the DuckDB file `db`; path, URL, title and sha256 come from
    its `documents` table."""
    con = duckdb.connect(str(db))
    try:
        docs = {d: (p, u, t, s) for d, p, u, t, s in
                con.execute("select doc_id, path, source_url, title, sha256 from main.documents").fetchall()}
        values = []
        for r in sorted(rows, key=lambda r: (str(r["doc_id"]), str(r["suite"]), str(r["rule"]))):
            path, url, title, sha = docs.get(r["doc_id"], (None, None, None, None))
            full = {**r, "path": path, "source_url": url, "title": title, "sha256": sha, "last_run_id": run_id}
            values.append(tuple(full.get(c) for c in _NAMES))
        replace_documented_table(con, "quarantine", QUARANTINE_COLUMNS, values,
                                 "One row per quarantined document and broken error-level rule: its figures "
                                 "are kept out of the marts until the document changes or is removed.")
    finally:
        con.close()


def summary_of(rows: list[dict[str, Any]], n_documents: int, max_share: float, strict: bool,
               rounds: int, new: set[str]) -> dict[str, Any]:
    """The run summary's `quarantine` section."""
    docs = sorted({str(r["doc_id"]) for r in rows})
    return {
        "documents": len(docs), "share": round(len(docs) / n_documents, 4) if n_documents else 0.0,
        "max_share": max_share, "strict": strict, "rebuilds": rounds, "doc_ids": docs,
        "new_doc_ids": sorted(new), "carried_doc_ids": sorted(set(docs) - new),
        "rows": [{k: r.get(k) for k in ("doc_id", "suite", "rule", "policy", "quote", "other_doc_id", "run_id")}
                 for r in rows],
    }
