"""Incremental state of `tongbi run`: what the published warehouse was built from, and the
extracted rows of every document already seen.

* **Fingerprints.** `extractor_fingerprint()` hashes what extraction depends on (the extraction
  code, loaders/grammar/, the vocabulary seeds, the versions of OpenCC and cn2an);
  `build_fingerprint()` adds what the build depends on (models, macros, dbt_project.yml,
  profiles.yml, the expectation suites, the seed writer and the gate's code, the versions of
  dbt, DuckDB and Great Expectations). A run's `input_fingerprint` is the build fingerprint together with the bytes of
  the three seed files it would write: when it equals the fingerprint recorded in the published
  warehouse's `run_history`, a rebuild would give the same warehouse, so none is made.
* **The manifest** of a build is the `documents` table of the published warehouse (doc_id,
  path, sha256 of the file's bytes): comparing it with this run's documents gives the documents
  added, changed (same doc_id, other bytes) and removed. A changed document's rows replace its
  old ones and a removed document's rows leave the warehouse, because every build loads the
  seeds of exactly the documents present.
* **The extraction cache** (`runs/cache/extract/<extractor fingerprint>/`, beside the
  warehouse) holds one file per document (`<key[:2]>/<key>.entry`: its `documents` row as one
  line of JSON, then its raw_metrics rows as seed CSV lines, so a hit is copied into the seed
  without being parsed), keyed by the sha256 of its bytes, its path and the `--year` fallback:
  an unchanged document is not decoded or extracted again. A change to the
  extraction code or to the vocabulary changes the extractor fingerprint, so every document is
  extracted again (and older cache folders are removed).
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

import polars as pl

from .documents import MAX_BYTES
from .extraction import Mention
from .vocabulary import GRAMMAR_DIR, PROJECT_ROOT, SEEDS_DIR

LOADER_SEEDS = ("raw_metrics.csv", "documents.csv", "rejected_documents.csv", "document_texts.csv")
LOADERS = PROJECT_ROOT / "loaders"
EXTRACTION_CODE = ("documents.py", "numbers.py", "extraction.py", "corpus.py", "vocabulary.py", "schema.py",
                   "seeds.py",   # seeds.py: the cache holds rows formatted as seed lines
                   "formats/__init__.py", "formats/html.py", "formats/pdf.py", "formats/radicals.csv")
BUILD_CODE = ("seeds.py", "quality.py")   # what shapes the data and the gate's verdict; run bookkeeping does not
EXTRACTION_PACKAGES = ("opencc", "cn2an", "PyYAML", "charset-normalizer", "trafilatura", "pypdf")
BUILD_PACKAGES = ("dbt-core", "dbt-duckdb", "duckdb", "polars", "great-expectations")
CACHE_FORMAT = "2"   # 2: one file per document: its row as JSON, then its raw_metrics seed lines


# ------------------------------------------------------------------------------- fingerprints


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def _files(root: Path, patterns: Iterable[str]) -> list[Path]:
    out: set[Path] = set()
    for pattern in patterns:
        out.update(p for p in root.glob(pattern) if p.is_file() and "__pycache__" not in p.parts)
    return sorted(out)


def _hash_files(h: Any, files: Iterable[Path], root: Path = PROJECT_ROOT) -> None:
    for path in files:
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())


def vocabulary_files() -> list[Path]:
    return [p for p in sorted(SEEDS_DIR.glob("*.csv")) if p.name not in LOADER_SEEDS]


def extractor_fingerprint() -> str:
    """What an extraction result depends on, besides the document: code, grammar, vocabulary."""
    h = hashlib.sha256(b"tongbi extractor " + CACHE_FORMAT.encode() + b"\0")
    _hash_files(h, [LOADERS / name for name in EXTRACTION_CODE if (LOADERS / name).exists()])
    _hash_files(h, _files(GRAMMAR_DIR, ["**/*"]), GRAMMAR_DIR)
    _hash_files(h, vocabulary_files(), SEEDS_DIR)
    for package in EXTRACTION_PACKAGES:
        h.update(f"{package}=={_version(package)}\0".encode())
    return h.hexdigest()


def build_fingerprint(extractor_fp: str | None = None) -> str:
    """What a build depends on besides the loader seeds: the extractor, the dbt project, the
    expectation suites, the loader and gate code, and the versions of the tools."""
    h = hashlib.sha256(b"tongbi build\0" + (extractor_fp or extractor_fingerprint()).encode())
    _hash_files(h, [LOADERS / name for name in BUILD_CODE if (LOADERS / name).exists()])
    _hash_files(h, _files(PROJECT_ROOT, ["models/**/*.sql", "models/**/*.yml", "models/**/*.md",
                                         "macros/**/*.sql", "expectations/**/*.json", "dbt_project.yml",
                                         "profiles.yml"]))
    for package in BUILD_PACKAGES:
        h.update(f"{package}=={_version(package)}\0".encode())
    return h.hexdigest()


def seed_bytes(frames: dict[str, pl.DataFrame]) -> dict[str, bytes]:
    """The loader seeds as `seeds.write_csv` writes them (same options), in memory."""
    from .seeds import csv_bytes

    return {name: csv_bytes(df) for name, df in frames.items()}


def input_fingerprint(build_fp: str, seeds: dict[str, bytes]) -> str:
    return input_fingerprint_of_digests(build_fp, {name: hashlib.sha256(data).digest()
                                                  for name, data in seeds.items()})


def input_fingerprint_of_digests(build_fp: str, digests: dict[str, bytes]) -> str:
    """`input_fingerprint` from the sha256 digests of the seed files (a streaming run hashes
    them as it writes them, never holding their bytes)."""
    h = hashlib.sha256(b"tongbi input\0" + build_fp.encode())
    for name in sorted(digests):
        h.update(name.encode() + b"\0" + digests[name])
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

    def lookup(self, path: Path) -> tuple[dict[str, object], list[Mention]] | None:
        from .seeds import mentions_from_csv

        hit = self.lookup_csv(path)
        if hit is None:
            return None
        row, csv = hit
        return row, [Mention(**m) for m in mentions_from_csv(csv)]

    def store(self, path: Path, row: dict[str, object], mentions: list[Mention]) -> None:
        from .seeds import mentions_csv

        self.store_csv(path, row, mentions_csv(mentions))

    def prune(self) -> list[str]:
        """Remove the cache folders of other extractor versions (they can never be hit again)."""
        removed = []
        if self.root.is_dir():
            for child in self.root.iterdir():
                if child.is_dir() and child.name != self.folder.name:
                    shutil.rmtree(child, ignore_errors=True)
                    removed.append(child.name)
        return removed


def cache_root(warehouse: Path) -> Path:
    return warehouse.parent / "runs" / "cache" / "extract"


# ------------------------------------------------------------------------ the published state


@dataclass
class PublishedState:
    """What the published warehouse says it was built from (empty when there is none)."""

    exists: bool = False
    documents: dict[str, str] = field(default_factory=dict)       # doc_id -> sha256
    history: list[dict[str, Any]] = field(default_factory=list)   # run_history rows, oldest first
    input_fingerprint: str | None = None   # of the run that built the published data
    built_by: str | None = None            # that run's id
    table_rows: dict[str, int] = field(default_factory=dict)
    gate: dict[str, Any] = field(default_factory=dict)


@dataclass
class DocumentChanges:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {k: len(getattr(self, k)) for k in ("added", "changed", "removed", "unchanged")}


def compare(before: dict[str, str], now: Iterable[dict[str, object]]) -> DocumentChanges:
    changes = DocumentChanges()
    current = {str(r["doc_id"]): str(r.get("sha256") or "") for r in now}
    for doc_id, sha in sorted(current.items()):
        if doc_id not in before:
            changes.added.append(doc_id)
        elif before[doc_id] != sha:
            changes.changed.append(doc_id)
        else:
            changes.unchanged.append(doc_id)
    changes.removed = sorted(set(before) - set(current))
    return changes


def read_published(con: Any) -> PublishedState:
    """The state of a published warehouse, from an open (read-only) DuckDB connection."""
    state = PublishedState(exists=True)
    tables = {r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_schema = 'main'").fetchall()}
    if "documents" in tables:
        state.documents = {str(d): str(s or "") for d, s in
                           con.execute("select doc_id, sha256 from main.documents").fetchall()}
    if "run_history" in tables:
        cur = con.execute("select * from main.run_history order by started_at, run_id")
        cols = [d[0] for d in cur.description]
        state.history = [dict(zip(cols, row)) for row in cur.fetchall()]
        built = [r for r in state.history if r.get("status") == "published" and r.get("input_fingerprint")]
        if built:
            last = built[-1]
            state.input_fingerprint = str(last["input_fingerprint"])
            state.built_by = str(last["run_id"])
            try:
                state.table_rows = json.loads(last.get("table_rows") or "{}")
            except ValueError:
                state.table_rows = {}
            state.gate = {k: last.get(k) for k in ("gate_passed", "gate_checks", "gate_failed_error",
                                                   "gate_failed_warning")}
    return state
