"""The run's extraction: the corpus streamed into the three loader seed files of the run's
folder, then moved into seeds/ under the build lock."""
from __future__ import annotations

import ctypes
import gc
import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from loaders import document_texts
from loaders.document_texts import text_row
from loaders.cache import DocumentCache
from loaders.corpus import iter_corpus
from loaders.schema import DOCUMENTS_SCHEMA, RAW_METRICS_SCHEMA
from loaders.seeds import SortedCsvWriter, csv_bytes, header_csv, rejected_frame
from loaders.vocabulary import load_vocabulary


def write_bytes(data: bytes, path: Path) -> None:
    """Write atomically: a reader (or dbt) never sees half a seed file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def move_into_place(src: Path, dst: Path) -> None:
    """Move a staged seed file over `dst` atomically (a rename when both are on one filesystem;
    else a copy to `dst`.tmp first): a reader (or dbt) never sees half a seed file."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.move(str(src), str(tmp))
    tmp.replace(dst)


_DOC_COLUMNS = tuple(DOCUMENTS_SCHEMA)
_SHA = _DOC_COLUMNS.index("sha256")


@dataclass
class CorpusCounts:
    """What a streaming extraction keeps: the documents' rows (as tuples in DOCUMENTS_SCHEMA
    order, a third of the memory of dicts at 100k documents), the rejected rows, and a count of
    the raw_metrics rows (those went to the seed file)."""

    rows: list[tuple[object, ...]] = field(default_factory=list)
    rejected: list[dict[str, object]] = field(default_factory=list)
    n_mentions: int = 0
    n_documents: int = 0

    @property
    def documents(self) -> list[dict[str, str]]:
        """doc_id and sha256 of each document (what `compare` and the summary read)."""
        return [{"doc_id": str(r[0]), "sha256": str(r[_SHA] or "")} for r in self.rows]

    def release(self) -> None:
        """Drop the document rows and give the freed memory back to the system before dbt
        runs beside this process."""
        self.n_documents = len(self.rows)
        self.rows = []
        gc.collect()
        try:
            ctypes.CDLL(None).malloc_trim(0)   # glibc keeps freed small blocks otherwise
        except (OSError, AttributeError):  # pragma: no cover - not glibc
            pass


def extract_to_seeds(paths: list[Path], year: int | None, progress: Any, cache: DocumentCache,
                      staged: Path) -> tuple[CorpusCounts, dict[str, bytes]]:
    """Extract the corpus into the four loader seed files in `staged` (document_texts among them), streaming: each
    document's rows go to raw_metrics.csv as they come (in doc_id order at the end), so memory
    does not grow with the corpus' mentions. Returns what was read and the sha256 digest of
    each file (the run's input fingerprint). The files are byte for byte what
    `seeds.write_csv` of the whole frames writes."""
    result = CorpusCounts()
    writer = SortedCsvWriter(staged / "raw_metrics.csv", header_csv(RAW_METRICS_SCHEMA))
    texts = SortedCsvWriter(staged / document_texts.SEED_NAME, document_texts.header_csv())
    try:
        # the vocabulary is loaded only if some document is not in the cache
        for item in iter_corpus(paths, load_vocabulary, year, progress, cache):
            if item.row is None:
                result.rejected.append(item.rejected or {})
                continue
            n = int(item.row.get("n_mentions") or 0)
            result.rows.append(tuple(map(item.row.get, _DOC_COLUMNS)))
            result.n_mentions += n
            doc_id = str(item.row["doc_id"])
            writer.add(doc_id, item.csv, n)
            # the cache keeps each document's line; an entry without it: the file is decoded again
            line = item.text_csv if item.text_csv is not None else text_row(doc_id, document_texts.read_text(item.path))
            texts.add(doc_id, line, 1)
        digests = {"raw_metrics.csv": bytes.fromhex(writer.finish()),
                   document_texts.SEED_NAME: bytes.fromhex(texts.finish())}
    except BaseException:
        writer.abort()
        texts.abort()
        raise
    result.n_documents = len(result.rows)
    documents = pl.DataFrame(result.rows, schema=dict(DOCUMENTS_SCHEMA), orient="row").sort("doc_id")
    for name, df in (("documents.csv", documents), ("rejected_documents.csv", rejected_frame(result.rejected))):
        data = csv_bytes(df)
        write_bytes(data, staged / name)
        digests[name] = hashlib.sha256(data).digest()
    del documents
    return result, digests
