"""The `document_texts` seed: each document's decoded text, the text its mentions' offsets
refer to (for a web page or a PDF file, the article text taken out of it).

Every raw_metrics row satisfies `quote == text[char_start:char_end]` (in SQL
`substr(text, char_start + 1, char_end - char_start)`) against its document's row here, so a
quote can be checked, and shown in its context, from the warehouse alone.
"""
from __future__ import annotations

from pathlib import Path

import polars as pl

from .documents import MAX_BYTES, TEXT_SUFFIXES, DocumentError, decode_bytes

DOCUMENT_TEXTS_SCHEMA: dict[str, pl.DataType] = {
    "doc_id": pl.String,   # file name without extension, as in documents and raw_metrics
    "text": pl.String,     # Document.text: what char_start/char_end index
}
SEED_NAME = "document_texts.csv"


def text_csv(doc_id: str, text: str) -> bytes:
    """One document's row of seeds/document_texts.csv (no header), formatted like every seed."""
    from .seeds import CSV_OPTIONS

    df = pl.DataFrame({"doc_id": [doc_id], "text": [text]}, schema=dict(DOCUMENT_TEXTS_SCHEMA))
    return df.write_csv(None, include_header=False, **CSV_OPTIONS).encode("utf-8")  # type: ignore[arg-type]


def header_csv() -> bytes:
    from .seeds import header_csv as header

    return header(DOCUMENT_TEXTS_SCHEMA)


def read_text(path: Path) -> str:
    """The decoded text of a document the extraction cache already holds (its rows, not its
    text): the same bytes give the same text as `load_document`, without extracting again."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(path, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise DocumentError(path, f"file too large ({len(data)} bytes > {MAX_BYTES})")
    if path.suffix.lower() in TEXT_SUFFIXES or path.suffix.lower() not in (".html", ".htm", ".pdf"):
        return decode_bytes(data, path)[0]
    from .formats import read_source

    return read_source(path, data).text
