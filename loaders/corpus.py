"""Extraction over many documents: each file is read and extracted on its own, so a bad file is
reported (with its path and line) and the others still load."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from .documents import Document, DocumentError, ScriptConverter, iter_document_paths, load_document
from .extraction import Extractor, Mention
from .vocabulary import Vocabulary


@dataclass
class CorpusResult:
    mentions: list[Mention] = field(default_factory=list)
    documents: list[dict[str, object]] = field(default_factory=list)
    rejected: list[dict[str, object]] = field(default_factory=list)


def document_row(doc: Document, n_mentions: int) -> dict[str, object]:
    return {
        "doc_id": doc.doc_id, "path": doc.path, "title": doc.title, "source_url": doc.source_url,
        "published": doc.published, "reference_year": doc.reference_year,
        "reference_year_source": doc.reference_source, "encoding": doc.encoding,
        "is_traditional": doc.is_traditional, "n_chars": len(doc.text), "sha256": doc.sha256,
        "n_mentions": n_mentions,
    }


class ExtractionCache(Protocol):
    """Extracted rows of documents already seen (loaders/manifest.py): `lookup` returns the
    document row and mentions of an unchanged file, or None; `store` keeps a fresh result."""

    def lookup(self, path: Path) -> tuple[dict[str, object], list[Mention]] | None: ...

    def store(self, path: Path, row: dict[str, object], mentions: list[Mention]) -> None: ...


def extract_corpus(paths: list[Path], vocab: Vocabulary, default_year: int | None = None,
                   progress: Callable[[int, int, Path], None] | None = None,
                   cache: ExtractionCache | None = None) -> CorpusResult:
    files = iter_document_paths(paths)
    converter = ScriptConverter()
    extractor: Extractor | None = None  # built on the first document the cache does not hold
    result = CorpusResult()
    seen: dict[str, str] = {}
    for i, path in enumerate(files, 1):
        if progress:
            progress(i, len(files), path)
        hit = cache.lookup(path) if cache is not None else None
        if hit is not None:
            row, mentions = hit
            doc_id, doc_path = str(row["doc_id"]), str(row["path"])
        try:
            if hit is None:
                if not path.exists():
                    raise DocumentError(path, "no such file")
                doc = load_document(path, converter, default_year)
                doc_id, doc_path = doc.doc_id, doc.path
            if doc_id in seen:
                raise DocumentError(path, f"document id {doc_id!r} already used by {seen[doc_id]}")
        except DocumentError as exc:
            result.rejected.append({"path": exc.path, "line": exc.line, "reason": exc.reason})
            continue
        seen[doc_id] = doc_path
        if hit is None:
            extractor = extractor or Extractor(vocab)
            mentions = extractor.extract(doc)
            row = document_row(doc, len(mentions))
            if cache is not None:
                cache.store(path, row, mentions)
        result.mentions.extend(mentions)
        result.documents.append(row)
    return result


UNRESOLVED_COLUMNS = ("name_kind", "raw_name", "n_mentions", "n_documents", "example_doc_id", "example_quote")


def unresolved_report(mentions: list[Mention]) -> list[dict[str, object]]:
    """Names found in the text that no vocabulary entry resolves, most frequent first: the work
    list for growing seeds/*_aliases.csv (the dbt model unresolved_names holds the same)."""
    groups: dict[tuple[str, str], list[Mention]] = {}
    for m in mentions:
        for kind, code, raw in (("region", m.region_code, m.region_raw), ("industry", m.industry_code, m.industry_raw),
                                ("metric", m.metric_code, m.metric_raw)):
            if raw and not code:
                groups.setdefault((kind, raw), []).append(m)
    rows = [{"name_kind": kind, "raw_name": raw, "n_mentions": len(ms),
             "n_documents": len({m.doc_id for m in ms}), "example_doc_id": ms[0].doc_id,
             "example_quote": ms[0].quote.replace("\n", " ")}
            for (kind, raw), ms in groups.items()]
    return sorted(rows, key=lambda r: (-int(r["n_mentions"]), str(r["name_kind"]), str(r["raw_name"])))
