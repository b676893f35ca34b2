"""Extraction over many documents: one walk (`iter_corpus`) for `tongbi run`, which streams it
into the seed files, and for `tongbi extract`, which collects it (`extract_corpus`). Each file
is read and extracted on its own, so a bad file is reported (with its path and line) and the
others still load."""
from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

from .documents import Document, DocumentError, ScriptConverter, iter_document_paths, load_document
from .extraction import Extractor, Mention
from .vocabulary import Vocabulary


@dataclass
class CorpusResult:
    mentions: list[Mention] = field(default_factory=list)
    documents: list[dict[str, object]] = field(default_factory=list)
    rejected: list[dict[str, object]] = field(default_factory=list)
    # each document's raw_metrics lines (seeds.mentions_csv), for writing the file without
    # building a frame of every mention again
    csv_parts: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def n_mentions(self) -> int:
        return len(self.mentions)


def document_row(doc: Document, n_mentions: int) -> dict[str, object]:
    return {
        "doc_id": doc.doc_id, "path": doc.path, "title": doc.title, "source_url": doc.source_url,
        "published": doc.published, "reference_year": doc.reference_year,
        "reference_year_source": doc.reference_source, "encoding": doc.encoding,
        "is_traditional": doc.is_traditional, "n_chars": len(doc.text), "sha256": doc.sha256,
        "n_mentions": n_mentions,
    }


class ExtractionCache(Protocol):
    """Extracted rows of documents already seen (loaders/cache.py): `lookup_csv` returns the
    document row, raw_metrics rows (seed CSV lines) and document_texts line (None when not
    kept) of an unchanged file, or None; `store_csv` keeps a fresh result; `save` is called
    once every file was looked up (what a later walk of the same files needs)."""

    def lookup_csv(self, path: Path) -> tuple[dict[str, object], bytes, bytes | None] | None: ...

    def store_csv(self, path: Path, row: dict[str, object], csv: bytes, text_csv: bytes | None = None) -> None: ...

    def save(self) -> None: ...


# --------------------------------------------------------------------- one document at a time


@dataclass
class Extracted:
    """One document of a streaming run: its `documents` row and its raw_metrics rows as seed
    CSV lines (seeds.mentions_csv: sorted by mention_seq, no header), or its rejection."""

    path: Path
    row: dict[str, object] | None = None
    csv: bytes = b""
    rejected: dict[str, object] | None = None
    text: str | None = None   # the decoded text of a document extracted for iter_corpus
    # the document's line of seeds/document_texts.csv (document_texts.text_row of its text), for
    # the seed and the cache; None for extract_corpus, which keeps no texts, and for a cache
    # entry without it
    text_csv: bytes | None = None
    # the Mention objects `csv` was written from, when extracted in this process for a caller
    # that keeps them (extract_corpus); None otherwise
    mentions: list[Mention] | None = None


class _DocumentExtractor:
    """Decode and extract one uncached document (in this process or in a pool worker)."""

    def __init__(self, vocab: Vocabulary, default_year: int | None, keep_mentions: bool = False) -> None:
        self.converter = ScriptConverter()
        self.keep_mentions = keep_mentions
        self.vocab = vocab
        self.default_year = default_year
        self.extractor: Extractor | None = None   # built on the first readable document

    def __call__(self, path: Path) -> Extracted:
        from .seedlines import mentions_csv

        try:
            if not path.exists():
                raise DocumentError(path, "no such file")
            doc = load_document(path, self.converter, self.default_year)
        except DocumentError as exc:
            return Extracted(path, rejected={"path": exc.path, "line": exc.line, "reason": exc.reason})
        self.extractor = self.extractor or Extractor(self.vocab)
        mentions = self.extractor.extract(doc)
        # extract_corpus (keep_mentions) keeps the mentions and no text: a pool worker need not
        # send the text back
        return Extracted(path, document_row(doc, len(mentions)), mentions_csv(mentions),
                         text=None if self.keep_mentions else doc.text,
                         mentions=_as_read_back(mentions) if self.keep_mentions else None)


def _as_read_back(mentions: list[Mention]) -> list[Mention]:
    """`mentions` in mention_seq order, as `mentions_from_csv` would give them back from their
    seed lines (a whole number in the float column is a float): a fresh document and a cached
    one give equal rows, without parsing what was just written."""
    for m in mentions:
        if type(m.value) is int:
            m.value = float(m.value)
    return sorted(mentions, key=lambda m: m.mention_seq)


_WORKER: _DocumentExtractor | None = None


def _init_worker(vocab: Vocabulary, default_year: int | None, keep_mentions: bool = False) -> None:
    global _WORKER
    _WORKER = _DocumentExtractor(vocab, default_year, keep_mentions)


def _extract_in_worker(path: Path) -> Extracted:
    assert _WORKER is not None
    return _WORKER(path)


CHUNK_FILES = 512          # files looked up, then extracted, per step of a streaming run
PARALLEL_MIN_MISSES = 64   # fewer uncached documents in a step are extracted in this process


def default_workers() -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    try:
        return max(1, int(os.environ.get("TONGBI_WORKERS", n)))
    except ValueError:
        return max(1, n)


def _pool_context() -> Any:
    """fork for a process with no other thread (`tongbi extract`: the workers start with the
    vocabulary already loaded, in milliseconds instead of an import each); spawn otherwise, since
    a fork of a process whose threads (polars, DuckDB) may hold locks can hang."""
    try:
        single = len(os.listdir("/proc/self/task")) == 1
    except OSError:   # not Linux: no cheap way to know
        single = False
    if single and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def iter_corpus(paths: list[Path], vocab: Vocabulary | Callable[[], Vocabulary], default_year: int | None = None,
                progress: Callable[[int, int, Path], None] | None = None,
                cache: ExtractionCache | None = None, workers: int | None = None,
                keep_mentions: bool = False) -> Iterator[Extracted]:
    """The documents of `paths` in file order, one at a time, without keeping any document's
    mentions: each file read and extracted on its own (a bad file is rejected with its path and
    line, the others still load), a second file with the same document id rejected.

    Cached documents come from `cache.lookup_csv`; uncached ones are extracted in a pool of
    `workers` processes (one Extractor each) when a step has many of them, in this process
    otherwise; results keep the file order whatever the pool does, so the output is the same.
    `vocab` may be a function that loads it: it is then called only when a document is not in
    the cache (loading it is a fifth of a run where every document is).
    """
    files = iter_document_paths(paths)
    loaded: list[Vocabulary] = []

    def vocabulary() -> Vocabulary:
        if isinstance(vocab, Vocabulary):
            return vocab
        if not loaded:
            loaded.append(vocab())
        return loaded[0]

    workers = default_workers() if workers is None else max(1, workers)
    local: _DocumentExtractor | None = None
    pool: Any = None
    seen: dict[str, str] = {}
    try:
        for start in range(0, len(files), CHUNK_FILES):
            chunk = files[start:start + CHUNK_FILES]
            hits = [cache.lookup_csv(path) if cache is not None else None for path in chunk]
            misses = [path for path, hit in zip(chunk, hits) if hit is None]
            fresh: Iterator[Extracted] | None = None
            if workers > 1 and len(misses) >= PARALLEL_MIN_MISSES:
                if pool is None:
                    pool = ProcessPoolExecutor(workers, mp_context=_pool_context(),
                                               initializer=_init_worker,
                                               initargs=(vocabulary(), default_year, keep_mentions))
                try:
                    fresh = iter(list(pool.map(_extract_in_worker, misses, chunksize=8)))
                except BrokenProcessPool as exc:
                    # workers that cannot start (a script calling tongbi without the
                    # `if __name__ == "__main__":` guard that spawn needs): extract here instead
                    print(f"tongbi: extraction workers failed ({exc}); extracting in one process",
                          file=sys.stderr, flush=True)
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool, workers = None, 1
            if fresh is None:
                if misses:
                    local = local or _DocumentExtractor(vocabulary(), default_year, keep_mentions)
                fresh = map(local, misses) if local is not None else iter(())
            for i, (path, hit) in enumerate(zip(chunk, hits), start + 1):
                if progress:
                    progress(i, len(files), path)
                item = Extracted(path, hit[0], hit[1], text_csv=hit[2]) if hit is not None else next(fresh)
                if item.row is not None:
                    doc_id, doc_path = str(item.row["doc_id"]), str(item.row["path"])
                    if doc_id in seen:
                        exc = DocumentError(path, f"document id {doc_id!r} already used by {seen[doc_id]}")
                        item = Extracted(path, rejected={"path": exc.path, "line": exc.line, "reason": exc.reason})
                    else:
                        seen[doc_id] = doc_path
                        if hit is None and item.text is not None:
                            # formatted here, not in a pool worker: it needs polars' module
                            from .document_texts import text_row

                            item.text_csv = text_row(doc_id, item.text)
                        if hit is None and cache is not None:
                            cache.store_csv(path, item.row, item.csv, item.text_csv)
                yield item
        if cache is not None:
            cache.save()
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def extract_corpus(paths: list[Path], vocab: Vocabulary, default_year: int | None = None,
                   progress: Callable[[int, int, Path], None] | None = None,
                   cache: ExtractionCache | None = None, workers: int = 1) -> CorpusResult:
    """Every document's mentions in memory (`tongbi extract`, tests): `iter_corpus`, the walk
    `tongbi run` streams, collected, so both commands read, reject and extract alike. One
    process by default: a pool's start-up costs more than a few hundred documents take."""
    result = CorpusResult()
    for item in iter_corpus(paths, vocab, default_year, progress, cache, workers, keep_mentions=True):
        if item.row is None:
            result.rejected.append(item.rejected or {})
            continue
        result.documents.append(item.row)
        result.csv_parts.append((str(item.row["doc_id"]), item.csv))
        if item.mentions is not None:
            result.mentions.extend(item.mentions)
        else:
            from .seeds import mentions_from_csv   # polars: only for rows that came as seed lines

            result.mentions.extend(Mention(**m) for m in mentions_from_csv(item.csv))
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
