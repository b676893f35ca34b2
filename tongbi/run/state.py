"""What `tongbi run` compares against: the published warehouse's state and the fingerprints.

* **Fingerprints.** `build_fingerprint()` adds to the extractor's (loaders/cache.py) what the
  build depends on: models, macros, dbt_project.yml, profiles.yml, the expectation suites, the
  seed writer and the gate's code (tongbi/gate/), the versions of dbt, DuckDB, polars and Great
  Expectations. A run's input fingerprint is the build fingerprint together with the bytes of
  the three seed files it would write (and the quarantine policy: --strict, --max-quarantine): when it equals the fingerprint recorded in the published
  warehouse's `run_history`, a rebuild would give the same warehouse, so none is made. The
  build fingerprint with the quarantine policy (`run_history.build_fingerprint`) is what an
  incremental build must share with the published one (tongbi/run/incremental.py).
* **The manifest** of a build is the `documents` table of the published warehouse (doc_id,
  path, sha256 of the file's bytes): comparing it with this run's documents gives the documents
  added, changed (same doc_id, other bytes) and removed. A changed document's rows replace its
  old ones and a removed document's rows leave the warehouse, because every build loads the
  seeds of exactly the documents present.
"""
from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from loaders.cache import extractor_fingerprint, files_matching, hash_files, package_version
from loaders.vocabulary import PROJECT_ROOT
from tongbi.errors import WarehouseInUse

GATE_CODE = Path(__file__).resolve().parent.parent / "gate"
BUILD_PACKAGES = ("dbt-core", "dbt-duckdb", "duckdb", "polars", "great-expectations")


def build_code() -> list[Path]:
    """The code that shapes the data and the gate's verdict (run bookkeeping does not): the seed
    writer, the gate's modules and the quarantine (which documents reach the marts)."""
    import loaders.seeds

    here = Path(__file__).resolve().parent
    return [Path(loaders.seeds.__file__).resolve(), here / "quarantine.py", here / "incremental.py",
            *files_matching(GATE_CODE, ["**/*.py"])]


def cache_root(warehouse: Path) -> Path:
    """The extraction cache of a warehouse's runs (loaders/cache.py)."""
    return warehouse.parent / "runs" / "cache" / "extract"


# ------------------------------------------------------------------------------- fingerprints


def build_fingerprint(extractor_fp: str | None = None) -> str:
    """What a build depends on besides the loader seeds: the extractor, the dbt project, the
    expectation suites, the loader and gate code, and the versions of the tools."""
    h = hashlib.sha256(b"tongbi build\0" + (extractor_fp or extractor_fingerprint()).encode())
    hash_files(h, build_code())
    hash_files(h, files_matching(PROJECT_ROOT, ["models/**/*.sql", "models/**/*.yml", "models/**/*.md",
                                         "macros/**/*.sql", "expectations/**/*.json", "dbt_project.yml",
                                         "profiles.yml"]))
    for package in BUILD_PACKAGES:
        h.update(f"{package}=={package_version(package)}\0".encode())
    return h.hexdigest()


def input_fingerprint_of_digests(build_fp: str, digests: dict[str, bytes]) -> str:
    """The run's input fingerprint, from the build fingerprint and the sha256 digests of the
    seed files (a streaming run hashes them as it writes them, never holding their bytes)."""
    h = hashlib.sha256(b"tongbi input\0" + build_fp.encode())
    for name in sorted(digests):
        h.update(name.encode() + b"\0" + digests[name])
    return h.hexdigest()


# ------------------------------------------------------------------------ the published state


@dataclass
class PublishedState:
    """What the published warehouse says it was built from (empty when there is none)."""

    exists: bool = False
    documents: dict[str, str] = field(default_factory=dict)       # doc_id -> sha256
    history: list[dict[str, Any]] = field(default_factory=list)   # run_history rows, oldest first
    input_fingerprint: str | None = None   # of the run that built the published data
    build_fingerprint: str | None = None   # its build fingerprint with the quarantine policy (incremental.py)
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
            state.build_fingerprint = str(last["build_fingerprint"]) if last.get("build_fingerprint") else None
            state.built_by = str(last["run_id"])
            try:
                state.table_rows = json.loads(last.get("table_rows") or "{}")
            except ValueError:
                state.table_rows = {}
            state.gate = {k: last.get(k) for k in ("gate_passed", "gate_checks", "gate_failed_error",
                                                   "gate_failed_warning")}
    return state


def read_previous(warehouse: Path) -> PublishedState:
    """The published warehouse's documents and run history (read-only, like any reader)."""
    import duckdb

    if not warehouse.exists():
        return PublishedState()
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.IOException as exc:
        message = " ".join(str(exc).split())
        if "lock" in message.lower():
            raise WarehouseInUse(f"{warehouse} is open for writing by another process, which blocks "
                                 f"every reader ({message}); open it read-only (read_only=True, "
                                 "access_mode=READ_ONLY) and run again") from None
        return _unreadable(warehouse, message)
    except duckdb.Error as exc:
        return _unreadable(warehouse, " ".join(str(exc).split()))
    try:
        return read_published(con)
    except duckdb.Error as exc:
        return _unreadable(warehouse, " ".join(str(exc).split()))
    finally:
        con.close()


def _unreadable(warehouse: Path, reason: str) -> PublishedState:
    """A published file DuckDB cannot read: nothing is known of it, so this run builds
    everything and, if its gate passes, replaces it (its run_history is lost; runs/history.jsonl
    keeps the runs)."""
    print(f"  {warehouse.name} cannot be read ({reason}); building everything", file=sys.stderr, flush=True)
    return PublishedState(exists=True)
