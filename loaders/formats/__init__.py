"""Bulletins saved as web pages or PDF files: the text a reader sees, taken out of the file.

Each reader turns a file's bytes into a `SourceText`: the article's text (what offsets,
quotes and `document_texts` refer to), and the title and publication date the file states.
A file that holds no readable article raises DocumentError with the reason.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

HTML_SUFFIXES = (".html", ".htm")
PDF_SUFFIXES = (".pdf",)
SUFFIXES = HTML_SUFFIXES + PDF_SUFFIXES


@dataclass(frozen=True)
class SourceText:
    text: str
    title: str = ""
    published: dt.date | None = None
    source_url: str = ""
    encoding: str = "utf-8"       # the page's charset; "pdf" for a PDF's text layer


def read_source(path: Path, data: bytes) -> SourceText:
    """The text of a web page or PDF file (by its suffix)."""
    suffix = path.suffix.lower()
    if suffix in HTML_SUFFIXES:
        from .html import read_html

        return read_html(data, path)
    if suffix in PDF_SUFFIXES:
        from .pdf import read_pdf

        return read_pdf(data, path)
    raise ValueError(f"not a web page or PDF file: {path}")
