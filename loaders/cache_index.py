"""The extraction cache's index (loaders/cache.py): what one walk of the corpus learnt, so the
next walk of the same files reads a few files instead of hashing every document and opening
one entry file per document. One file, `index` in the cache folder, written (to a temporary
file, then renamed over the old one) when a walk ends:

* **files**: each file's path, size, mtime, ctime and inode, with the sha256 of its bytes. A
  file whose four values are unchanged is taken to hold the same bytes, as git's index does,
  and is not read. Git's racy case: a file written, hashed, then written again within one tick
  of the file system's clock keeps its times. So a file is indexed only when its mtime and
  ctime are older than the start of the walk by more than a tick (`racy_ns`, in
  DocumentCache): any later write gives it a later ctime, and nobody can set a ctime back (an
  edit that keeps the size and restores the mtime still changes the ctime).
* **entries**: each entry's `documents` row (its values, in the order of `columns`), and where
  its raw_metrics lines and document_texts
  line are in the folder's packs (`packs/*.pack`: one entry's after another), with their
  lengths and CRC-32. The index's own JSON carries its CRC-32 too.

A pack is written once and never changed: a walk adds at most one (the entries it extracted
or read from their files), flushed to disk before an index names it. When more than
MAX_PACKS would be named, or a pack is mostly entries no walk uses any more, the entries still
used of the smaller or emptier packs are copied into the walk's new pack, and the old packs
are removed once the new index no longer names them.

Nothing here is needed for a correct result: an index that cannot be read names nothing; a
file whose values differ is hashed again; an entry whose pack is gone, or whose bytes fail
their CRC, is read from its file instead. The index holds the files of the last walk only: a
walk of other folders with the same cache replaces it (those files are hashed again next time).
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, NamedTuple

INDEX_NAME = "index"
PACKS = "packs"
_MAGIC = b"tongbi extraction cache index 1"   # then the CRC-32 of the JSON after the line
MAX_PACKS = 8
WINDOW = 1 << 21   # bytes of a pack read at once (the entries of a few hundred documents)
# a pack or temporary index that no index names, older than this, is a dead run's leftover
# (younger, it may be the pack of a walk still running beside this one)
LEFTOVER_S = 3600
_PACK_NAME = re.compile(r"[0-9a-f]+-[0-9]+\.pack")


class FileStat(NamedTuple):
    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int


class Entry(NamedTuple):
    """Where an entry's raw_metrics lines and document_texts line are (one after the other),
    and its `documents` row: the values of the index's columns, as JSON has them (the date a
    string)."""
    pack: int      # the pack's place in the index's list
    offset: int
    n_csv: int
    n_text: int | None   # None: the entry has no document_texts line
    crc: int       # zlib.crc32 of the bytes
    row: list[object]


@dataclass
class Pack:
    """An open pack, read a window at a time: a walk asks for its entries in the order they
    were written, and one read of WINDOW bytes serves hundreds of them."""
    name: str
    file: BinaryIO
    start: int = 0
    window: bytes = b""

    def read(self, offset: int, n: int) -> bytes:
        at = offset - self.start
        if at < 0 or at + n > len(self.window):
            self.start, self.window = offset, os.pread(self.file.fileno(), max(n, WINDOW), offset)
            at = 0
        return self.window[at:at + n]


@dataclass
class LoadedIndex:
    """The index of the last walk, its packs open; empty when there is none (or it cannot be
    read)."""

    columns: tuple[str, ...] = ()
    files: dict[str, tuple[FileStat, str]] = field(default_factory=dict)
    entries: dict[str, Entry] = field(default_factory=dict)
    packs: list[Pack | None] = field(default_factory=list)

    def entry(self, key: str) -> tuple[dict[str, object], bytes, bytes | None] | None:
        """The row (a copy), raw_metrics lines and document_texts line of entry `key`, if a
        pack holds them whole."""
        e = self.entries.get(key)
        pack = self.packs[e.pack] if e is not None else None
        if e is None or pack is None:
            return None
        n = e.n_csv + (e.n_text or 0)
        try:
            data = pack.read(e.offset, n)
        except (OSError, ValueError, OverflowError):
            return None
        if len(data) != n or zlib.crc32(data) != e.crc:
            return None
        return dict(zip(self.columns, e.row)), data[:e.n_csv], None if e.n_text is None else data[e.n_csv:]

    def close(self) -> None:
        for pack in self.packs:
            if pack is not None:
                pack.file.close()
        self.packs = []
        self.entries = {}


def _open_pack(folder: Path, name: object) -> Pack | None:
    if not isinstance(name, str) or not _PACK_NAME.fullmatch(name):
        return None
    try:
        return Pack(name, open(folder / PACKS / name, "rb", buffering=0))
    except OSError:
        return None


def load_index(folder: Path, columns: tuple[str, ...]) -> LoadedIndex:
    """The index in `folder`, if its rows have these columns."""
    index = LoadedIndex(columns)
    try:
        with open(folder / INDEX_NAME, "rb") as fh:
            raw = fh.read()
    except OSError:
        return index
    try:
        line, _, body = raw.partition(b"\n")
        magic, _, crc = line.rpartition(b" ")
        if magic != _MAGIC or int(crc) != zlib.crc32(body):
            raise ValueError("not an index, or not all of one")
        doc = json.loads(body)
        if doc["columns"] != list(columns):
            raise ValueError("rows of other columns")
        index.packs = [_open_pack(folder, name) for name in doc["packs"]]
        index.files = {path: (FileStat(size, mtime, ctime, ino), sha)
                       for path, size, mtime, ctime, ino, sha in doc["files"]}
        for key, number, offset, n_csv, n_text, crc, row in doc["entries"]:
            if type(number) is int and type(offset) is int and type(n_csv) is int and type(crc) is int \
                    and (n_text is None or type(n_text) is int) and type(row) is list and len(row) == len(columns) \
                    and 0 <= number < len(index.packs) and offset >= 0 and n_csv >= 0 and (n_text or 0) >= 0:
                index.entries[key] = Entry(number, offset, n_csv, n_text, crc, row)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        index.close()
        return LoadedIndex(columns)
    return index


class IndexWriter:
    """What the next index will say: the files of this walk that may be trusted, the entries
    it used where they already are (`keep`), the others appended to a new pack (`add`)."""

    def __init__(self, folder: Path, old: LoadedIndex) -> None:
        self.folder = folder
        self.old = old
        self.files: dict[str, tuple[FileStat, str]] = {}
        self.kept: dict[str, Entry] = {}
        self.added: dict[str, Entry] = {}   # pack -1: the new pack
        self._pack: BinaryIO | None = None
        self._pack_name = ""
        self._size = 0
        self.failed = False   # the new pack could not be written: no index is written either

    def keep(self, key: str, entry: Entry) -> None:
        if key not in self.added:
            self.kept[key] = entry

    def add(self, key: str, row: dict[str, object], csv: bytes, text_csv: bytes | None) -> None:
        columns = self.old.columns
        if self.failed or key in self.added or key in self.kept or len(row) != len(columns):
            return
        try:
            values = [row[c] for c in columns]
        except KeyError:   # a row of other columns: its entry file serves it
            return
        data = csv + (text_csv or b"")
        try:
            if self._pack is None:
                (self.folder / PACKS).mkdir(parents=True, exist_ok=True)
                self._pack_name = f"{time.time_ns():x}-{os.getpid()}.pack"
                self._pack = open(self.folder / PACKS / self._pack_name, "xb")
            self._pack.write(data)
        except OSError:
            self.failed = True
            return
        n_text = None if text_csv is None else len(text_csv)
        self.added[key] = Entry(-1, self._size, len(csv), n_text, zlib.crc32(data), values)
        self._size += len(data)

    def _compact(self) -> set[int]:
        """The old packs whose used entries move into the new pack: the ones mostly unused,
        then, past MAX_PACKS, all but the one holding the most."""
        live: dict[int, int] = {}
        for e in self.kept.values():
            live[e.pack] = live.get(e.pack, 0) + e.n_csv + (e.n_text or 0)
        sizes: dict[int, int] = {}
        for n in live:
            pack = self.old.packs[n]
            try:
                sizes[n] = os.fstat(pack.file.fileno()).st_size if pack is not None else 0
            except OSError:
                sizes[n] = 0
        rewrite = {n for n, used in live.items() if not sizes[n] or 2 * used < sizes[n]}
        rest = set(live) - rewrite
        if len(rest) + bool(self.added or rewrite) > MAX_PACKS:
            rewrite |= rest - {max(rest, key=lambda n: live[n])}
        return rewrite

    def _unchanged(self) -> bool:
        return not self.added and self.files == self.old.files and self.kept == self.old.entries

    def save(self) -> None:
        """Write the index (if it would say something new) and remove the packs it no longer
        names. Never raises for the file system: without an index a walk only costs more."""
        named = False
        try:
            if not self.failed and not self._unchanged():
                named = self._save()
        except (OSError, ValueError, TypeError):
            pass
        finally:
            if self._pack is not None:
                self._pack.close()
                if not named:   # no index names it
                    with contextlib.suppress(OSError):
                        os.unlink(self.folder / PACKS / self._pack_name)
            self.old.close()

    def _save(self) -> bool:
        """Whether the new pack (if any) is named by the index written."""
        rewrite = self._compact()
        for key, e in list(self.kept.items()):
            if e.pack in rewrite:
                del self.kept[key]
                if (found := self.old.entry(key)) is not None:
                    self.add(key, found[0], found[1], found[2])
        if self.failed:
            return False
        used = sorted({e.pack for e in self.kept.values()})
        names = [self.old.packs[n].name for n in used]  # type: ignore[union-attr]  # (_compact: none is missing)
        number = {n: i for i, n in enumerate(used)}
        entries = [[key, number[e.pack], *e[1:]] for key, e in self.kept.items()]
        if self._pack is not None:
            self._pack.flush()
            os.fsync(self._pack.fileno())   # on disk before an index names it
            entries += [[key, len(names), *e[1:]] for key, e in self.added.items()]
            names.append(self._pack_name)
        files = [[path, *stat, sha] for path, (stat, sha) in self.files.items()]
        body = json.dumps({"columns": self.old.columns, "packs": names, "files": files, "entries": entries},
                          ensure_ascii=False, default=str).encode("utf-8")
        tmp = self.folder / f"{INDEX_NAME}.{os.getpid()}.tmp"
        tmp.write_bytes(_MAGIC + b" %d\n" % zlib.crc32(body) + body)
        os.replace(tmp, self.folder / INDEX_NAME)
        self._remove_unnamed(set(names))
        return True

    def _remove_unnamed(self, named: set[str]) -> None:
        """Remove the packs the old index named and the new one does not (their entries were
        copied or are no longer used), and dead runs' leftovers."""
        superseded = {p.name for p in self.old.packs if p is not None}
        stale = time.time() - LEFTOVER_S
        try:
            leftovers = list(os.scandir(self.folder / PACKS)) + \
                [e for e in os.scandir(self.folder) if e.name.startswith(f"{INDEX_NAME}.") and e.name.endswith(".tmp")]
        except OSError:
            return
        for e in leftovers:
            try:
                if e.name not in named and (e.name in superseded or e.stat().st_mtime < stale):
                    os.unlink(e.path)
            except OSError:
                pass
