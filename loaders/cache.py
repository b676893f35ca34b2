"""The extraction cache: the extracted rows of every document already seen, so that an
unchanged document is not decoded or extracted again.

* **The extractor's fingerprint.** `extractor_fingerprint()` hashes what an extraction result
  depends on besides the document: the code of `loaders/` (every module of this package is
  extraction code: decoding, numbers, vocabularies, extraction, the seed writer and its schema),
  loaders/grammar/, the vocabulary seeds, and the versions of OpenCC, cn2an, PyYAML and
  charset-normalizer. Any change to one of them changes the fingerprint, so every document is
  extracted again (and older cache folders are removed).
* **The entries** (`runs/cache/extract/<extractor fingerprint>/`, beside the warehouse): one
  file per document (`<key[:2]>/<key>.entry`: a line of JSON with its key, its `documents`
  row and the lengths of what follows, then its raw_metrics rows as seed CSV lines and its
  document_texts line, so a hit is copied into the seeds without being parsed or decoded),
  keyed by the sha256 of its bytes, its path and the `--year` fallback.
* **The index** (`index` in the same folder, loaders/cache_index.py), written at the end of a
  walk: each file's size, times and inode with the sha256 of its bytes, so an unchanged file is
  not read and hashed again, and where each entry is in the folder's packs (`packs/*.pack`,
  entries one after another), so a run reads a few files instead of one per document. It only
  saves time: an index or pack that is missing, damaged or out of date is ignored where it
  does not hold, and the files are hashed and the entry files read as without it.

What a build depends on besides the seeds, and what the published warehouse was built from, is
the run's business: tongbi/run/state.py.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

from .cache_index import FileStat, IndexWriter, LoadedIndex, load_index
from .documents import MAX_BYTES
from .schema import DOCUMENTS_SCHEMA
from .seeds import LOADER_SEEDS
from .vocabulary import GRAMMAR_DIR, PROJECT_ROOT, SEEDS_DIR

LOADERS = Path(__file__).resolve().parent
EXTRACTION_PACKAGES = ("opencc", "cn2an", "PyYAML", "charset-normalizer", "trafilatura", "pypdf", "ahocorasick-rs")
# 2: one file per document: its row as JSON, then its raw_metrics seed lines
# 3: the JSON line holds the key and the lengths; the document_texts line follows the rows
CACHE_FORMAT = "3"
# a file changed less than this before a run started may change again with the same times
# (a file system's clock ticks coarsely): the index does not vouch for it (see cache_index)
RACY_NS = 2_000_000_000
_DOC_COLUMNS = tuple(DOCUMENTS_SCHEMA)   # a documents row's keys (corpus.document_row)


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


def _sha256_file(path: str) -> str | None:
    try:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()
    except OSError:
        return None


def _date(value: object) -> dt.date | None:
    if value in (None, ""):
        return None
    return dt.date.fromisoformat(str(value))


def entry_bytes(key: str, row: dict[str, object], csv: bytes, text_csv: bytes | None) -> bytes:
    """An entry (file or pack): a JSON line, the raw_metrics lines, the document_texts line."""
    head = json.dumps({"key": key, "document": row, "csv": len(csv),
                       "text": None if text_csv is None else len(text_csv)},
                      ensure_ascii=False, default=str).encode("utf-8")
    return head + b"\n" + csv + (text_csv or b"")


def parse_entry(data: bytes, key: str) -> tuple[dict[str, object], bytes, bytes | None]:
    """The row, raw_metrics lines and document_texts line of an entry file; ValueError (or
    KeyError, TypeError) when it is not the whole entry of `key`."""
    end = data.index(b"\n")
    head = json.loads(data[:end])
    n_csv, n_text = head["csv"], head["text"]
    if head["key"] != key or type(n_csv) is not int or not (n_text is None or type(n_text) is int) \
            or len(data) != end + 1 + n_csv + (n_text or 0):
        raise ValueError("not this entry, or not all of it")
    row = head["document"]
    if type(row) is not dict:
        raise ValueError("no document row")
    csv = data[end + 1:end + 1 + n_csv]
    return row, csv, None if n_text is None else data[end + 1 + n_csv:]


def _holds(row: dict[str, object], sha: str, path: str) -> bool:
    """Whether an entry's row is of these bytes at this path (not a stale or misplaced one)."""
    return row.get("sha256") == sha and row.get("path") == path


@dataclass
class DocumentCache:
    """Extracted rows by document bytes (see the module docstring); counts hits and misses."""

    root: Path
    extractor_fp: str
    default_year: int | None = None
    enabled: bool = True   # False (--force): everything is extracted again, and stored
    hits: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)
    # when the walk started: the index vouches only for files last changed RACY_NS before it
    started_ns: int = field(default_factory=time.time_ns)
    racy_ns: int = RACY_NS
    hashed: int = 0        # files read and hashed (the index did not vouch for them)
    _index: LoadedIndex | None = field(default=None, init=False, repr=False)
    _writer: IndexWriter | None = field(default=None, init=False, repr=False)

    @property
    def folder(self) -> Path:
        return self.root / self.extractor_fp[:20]

    def _key(self, path: str, content_sha: str) -> str:
        raw = f"{content_sha}\0{path}\0{self.default_year}"
        return hashlib.sha256(raw.encode()).hexdigest()

    def _entry(self, key: str) -> str:
        return f"{self.folder}/{key[:2]}/{key}.entry"

    def _open(self) -> tuple[LoadedIndex, IndexWriter]:
        if self._index is None or self._writer is None:
            self._index = load_index(self.folder, _DOC_COLUMNS)
            self._writer = IndexWriter(self.folder, self._index)
        return self._index, self._writer

    def lookup_csv(self, path: Path) -> tuple[dict[str, object], bytes, bytes | None] | None:
        """The document row, raw_metrics lines (seeds.mentions_csv) and document_texts line
        (None if the entry has none) of an unchanged file."""
        spath = str(path)
        index, writer = self._open()
        try:
            st = os.stat(spath)
        except OSError:
            st = None
        if st is None or st.st_size > MAX_BYTES:   # refused unread by load_document; never cached
            self.misses.append(spath)
            return None
        stat = FileStat(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        known = index.files.get(spath)
        if known is not None and known[0] == stat:
            sha: str | None = known[1]
        else:
            sha = _sha256_file(spath)
            self.hashed += 1
            if sha is None:
                self.misses.append(spath)
                return None
        if max(st.st_mtime_ns, st.st_ctime_ns) < self.started_ns - self.racy_ns:
            writer.files[spath] = (stat, sha)
        if not self.enabled:
            self.misses.append(spath)
            return None
        key = self._key(spath, sha)
        try:
            hit = index.entry(key)
            if hit is not None and _holds(hit[0], sha, spath):
                writer.keep(key, index.entries[key])
            else:   # not in a pack: its own file
                with open(self._entry(key), "rb") as fh:
                    hit = parse_entry(fh.read(), key)
                if not _holds(hit[0], sha, spath):
                    raise ValueError("stale entry")
                writer.add(key, *hit)
            hit[0]["published"] = _date(hit[0].get("published"))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self.misses.append(spath)
            return None
        self.hits.append(spath)
        return hit

    def store_csv(self, path: Path, row: dict[str, object], csv: bytes, text_csv: bytes | None = None) -> None:
        sha = str(row.get("sha256") or "")
        if not sha:
            return
        key = self._key(str(path), sha)
        entry = Path(self._entry(key))
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_name(f"{entry.name}.{os.getpid()}.tmp")
        data = entry_bytes(key, row, csv, text_csv)
        tmp.write_bytes(data)
        os.replace(tmp, entry)
        self._open()[1].add(key, row, csv, text_csv)

    def save(self) -> None:
        """Write the index of this walk's files and entries (loaders/cache_index.py)."""
        if self._writer is not None:
            self._writer.save()
        self._index = self._writer = None

    def prune(self) -> list[str]:
        """Remove the cache folders of other extractor versions (they can never be hit again)."""
        removed = []
        if self.root.is_dir():
            for child in self.root.iterdir():
                if child.is_dir() and child.name != self.folder.name:
                    shutil.rmtree(child, ignore_errors=True)
                    removed.append(child.name)
        return removed
