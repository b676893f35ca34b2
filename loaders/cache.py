"""The extraction cache: the extracted rows of every document already seen, so that an
unchanged document is not decoded or extracted again.

* **The extractor's fingerprint.** `extractor_fingerprint()` hashes what an extraction result
  depends on besides the document: the code of `loaders/` (every module of this package is
  extraction code: decoding, numbers, vocabularies, extraction, the seed writer and its schema),
  loaders/grammar/, the vocabulary seeds, and the versions of OpenCC, cn2an, PyYAML and
  charset-normalizer. Any change to one of them changes the fingerprint, so every document is
  extracted again (and older cache folders are removed).
* **The cache** (`runs/cache/extract/<extractor fingerprint>/`, beside the warehouse) holds one
  file per document (`<key[:2]>/<key>.entry`: its `documents` row as one line of JSON, then its
  raw_metrics rows as seed CSV lines, so a hit is copied into the seed without being parsed),
  keyed by the sha256 of its bytes, its path and the `--year` fallback.

What a build depends on besides the seeds, and what the published warehouse was built from, is
the run's business: tongbi/run/state.py.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

from .documents import MAX_BYTES
from .seeds import LOADER_SEEDS
from .vocabulary import GRAMMAR_DIR, PROJECT_ROOT, SEEDS_DIR

LOADERS = Path(__file__).resolve().parent
EXTRACTION_PACKAGES = ("opencc", "cn2an", "PyYAML", "charset-normalizer", "trafilatura", "pypdf", "ahocorasick-rs")
CACHE_FORMAT = "2"   # 2: one file per document: its row as JSON, then its raw_metrics seed lines


# ------------------------------------------------------------------------------- fingerprints


def package_version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def files_matching(root: Path, patterns: Iterable[str]) -> list[Path]:
    out: set[Path] = set()
    for pattern in patterns:
        out.update(p for p in root.glob(pattern) if p.is_file() and "__pycache__" not in p.parts)
    return sorted(out)


def hash_files(h: Any, files: Iterable[Path], root: Path = PROJECT_ROOT) -> None:
    """Each file's path (relative to `root`) and the sha256 of its bytes, into the hash `h`."""
    for path in files:
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())


def extraction_code() -> list[Path]:
    """The Python modules of this package: all of them are extraction code (its grammar is
    hashed on its own, from GRAMMAR_DIR)."""
    return files_matching(LOADERS, ["**/*.py", "formats/*.csv"])   # formats/radicals.csv maps PDF text


def vocabulary_files() -> list[Path]:
    return [p for p in sorted(SEEDS_DIR.glob("*.csv")) if p.name not in LOADER_SEEDS]


def extractor_fingerprint() -> str:
    """What an extraction result depends on, besides the document: code, grammar, vocabulary."""
    h = hashlib.sha256(b"tongbi extractor " + CACHE_FORMAT.encode() + b"\0")
    hash_files(h, extraction_code(), LOADERS.parent)
    hash_files(h, files_matching(GRAMMAR_DIR, ["**/*"]), GRAMMAR_DIR)
    hash_files(h, vocabulary_files(), SEEDS_DIR)
    for package in EXTRACTION_PACKAGES:
        h.update(f"{package}=={package_version(package)}\0".encode())
    return h.hexdigest()


# ---------------------------------------------------------------------------- extraction cache


def _sha256_file(path: Path) -> str | None:
    try:
        if path.stat().st_size > MAX_BYTES:
            return None  # refused unread by load_document; never cached
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()
    except OSError:
        return None


def _date(value: object) -> dt.date | None:
    if value in (None, ""):
        return None
    return dt.date.fromisoformat(str(value))


@dataclass
class DocumentCache:
    """Extracted rows by document bytes (see the module docstring); counts hits and misses."""

    root: Path
    extractor_fp: str
    default_year: int | None = None
    enabled: bool = True   # False (--force): everything is extracted again, and stored
    hits: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    @property
    def folder(self) -> Path:
        return self.root / self.extractor_fp[:20]

    def _key(self, path: Path, content_sha: str) -> str:
        raw = f"{content_sha}\0{path}\0{self.default_year}"
        return hashlib.sha256(raw.encode()).hexdigest()

    def _entry(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.entry"

    def lookup_csv(self, path: Path) -> tuple[dict[str, object], bytes] | None:
        """The document row and raw_metrics lines (seeds.mentions_csv) of an unchanged file."""
        sha = _sha256_file(path)
        if sha is None or not self.enabled:
            self.misses.append(str(path))
            return None
        try:
            data = self._entry(self._key(path, sha)).read_bytes()
            head, sep, csv = data.partition(b"\n")
            if not sep:
                raise ValueError("truncated entry")
            row = json.loads(head)["document"]
            if row.get("sha256") != sha or row.get("path") != str(path):
                raise ValueError("stale entry")
            row["published"] = _date(row.get("published"))
        except (OSError, ValueError, KeyError, TypeError):
            self.misses.append(str(path))
            return None
        self.hits.append(str(path))
        return row, csv

    def store_csv(self, path: Path, row: dict[str, object], csv: bytes) -> None:
        sha = str(row.get("sha256") or "")
        if not sha:
            return
        entry = self._entry(self._key(path, sha))
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_name(f"{entry.name}.{os.getpid()}.tmp")
        head = json.dumps({"document": row}, ensure_ascii=False, default=str).encode("utf-8")
        tmp.write_bytes(head + b"\n" + csv)
        os.replace(tmp, entry)

    def prune(self) -> list[str]:
        """Remove the cache folders of other extractor versions (they can never be hit again)."""
        removed = []
        if self.root.is_dir():
            for child in self.root.iterdir():
                if child.is_dir() and child.name != self.folder.name:
                    shutil.rmtree(child, ignore_errors=True)
                    removed.append(child.name)
        return removed
