"""The extraction cache's index and packs (loaders/cache_index.py): a walk of unchanged files
reads and hashes none of them, a file changed in any way is extracted again (its size, its
times or its inode differ, or it changed too recently to be vouched for), and an index or pack
that is missing or damaged costs only time: the seeds are byte for byte the same."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from loaders import cache_index
from loaders.cache import DocumentCache
from loaders.corpus import extract_corpus
from loaders.schema import DOCUMENTS_SCHEMA
from tongbi.run.seeding import extract_to_seeds

PROJECT = Path(__file__).resolve().parent.parent
SAMPLES = PROJECT / "data" / "bulletins"
DOC = "xj-invest-2025q1.md"
COLUMNS = tuple(DOCUMENTS_SCHEMA)
RACY_NS = 50_000_000   # the walks below vouch for files unchanged for 50 ms, not 2 s


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    shutil.copytree(SAMPLES, folder)
    time.sleep(2 * RACY_NS / 1e9)   # older than the racy window of the walks that follow
    return folder


def cache(tmp_path: Path, **kw) -> DocumentCache:
    return DocumentCache(tmp_path / "cache", "fp-test", **{"racy_ns": RACY_NS, **kw})


def walk(tmp_path: Path, corpus: Path, vocab, **kw):
    c = cache(tmp_path, **kw)
    return c, extract_corpus([corpus], vocab, None, None, c)


def seeds(tmp_path: Path, corpus: Path, name: str, **kw) -> tuple[DocumentCache, dict[str, bytes]]:
    c = cache(tmp_path, **kw)
    out = tmp_path / name
    extract_to_seeds([corpus], None, None, c, out)
    return c, {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def index_file(c: DocumentCache) -> Path:
    return c.folder / cache_index.INDEX_NAME


def packs(c: DocumentCache) -> list[Path]:
    return sorted((c.folder / cache_index.PACKS).glob("*.pack"))


def test_unchanged_files_are_neither_read_nor_hashed_and_the_seeds_are_the_same(tmp_path, corpus) -> None:
    first, fresh = seeds(tmp_path, corpus, "fresh")
    n = len(first.misses)
    assert n > 5 and not first.hits and first.hashed == n
    assert index_file(first).is_file() and len(packs(first)) == 1
    again, cached = seeds(tmp_path, corpus, "cached")
    assert (len(again.hits), len(again.misses), again.hashed) == (n, 0, 0)
    assert cached == fresh
    # nothing new to say: the index is not written again
    before = index_file(again).stat().st_mtime_ns
    third, _ = seeds(tmp_path, corpus, "third")
    assert index_file(third).stat().st_mtime_ns == before and third.hashed == 0


@pytest.mark.parametrize("restore_mtime", [True, False])
def test_a_file_edited_in_place_is_extracted_again(tmp_path, corpus, vocab, restore_mtime: bool) -> None:
    """Same size, same inode, and (restore_mtime) the old mtime: the ctime still moves."""
    first, before = walk(tmp_path, corpus, vocab)
    doc = corpus / DOC
    st = doc.stat()
    data = doc.read_bytes()
    assert b"1616.27" in data
    with open(doc, "r+b") as fh:   # in place: the inode stays
        fh.write(data.replace(b"1616.27", b"1717.27"))
    if restore_mtime:
        os.utime(doc, ns=(st.st_atime_ns, st.st_mtime_ns))
    after_st = doc.stat()
    assert (after_st.st_size, after_st.st_ino) == (st.st_size, st.st_ino)
    assert (after_st.st_mtime_ns == st.st_mtime_ns) == restore_mtime
    again, after = walk(tmp_path, corpus, vocab)
    assert again.misses == [str(doc)] and again.hashed == 1
    quotes = " ".join(m.quote for m in after.mentions if m.doc_id == doc.stem)
    assert "1717.27" in quotes and "1616.27" not in quotes
    assert "1616.27" in " ".join(m.quote for m in before.mentions if m.doc_id == doc.stem)
    # the new bytes are cached in turn
    third, _ = walk(tmp_path, corpus, vocab)
    assert not third.misses and third.hashed == 1   # changed under RACY_NS ago: hashed, not trusted


def test_a_file_changed_just_before_a_walk_is_not_vouched_for(tmp_path, corpus, vocab) -> None:
    """Git's racy case: a file written within a clock tick of its hashing could be written
    again with the same times; the index leaves out files changed within racy_ns of a walk."""
    doc = corpus / DOC
    doc.write_bytes(doc.read_bytes())          # changed now, the others 100 ms ago
    c, _ = walk(tmp_path, corpus, vocab)
    index = cache_index.load_index(c.folder, COLUMNS)
    assert str(doc) not in index.files and len(index.files) == len(c.misses) - 1
    index.close()
    again, _ = walk(tmp_path, corpus, vocab)
    assert again.hashed == 1 and not again.misses


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "flipped":
        i = len(data) * 2 // 3
        path.write_bytes(data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:])
    elif how == "garbage":
        path.write_bytes(b"\x00" * len(data))
    else:
        path.unlink()


@pytest.mark.parametrize("what", ["index", "pack"])
@pytest.mark.parametrize("how", ["missing", "truncated", "flipped", "garbage"])
def test_a_damaged_index_or_pack_costs_time_not_correctness(tmp_path, corpus, what: str, how: str) -> None:
    first, fresh = seeds(tmp_path, corpus, "fresh")
    n = len(first.misses)
    damage(index_file(first) if what == "index" else packs(first)[0], how)
    again, cached = seeds(tmp_path, corpus, "cached")
    assert cached == fresh
    assert (len(again.hits), len(again.misses)) == (n, 0)   # the entry files are still there
    assert again.hashed == (n if what == "index" else 0)
    # and the next walk has an index and a pack again
    third, _ = seeds(tmp_path, corpus, "third")
    assert (len(third.hits), third.hashed) == (n, 0)
    index = cache_index.load_index(third.folder, COLUMNS)
    assert len(index.entries) == n and all(index.entry(key) is not None for key in index.entries)
    index.close()


def test_entries_without_a_text_line_still_give_the_same_seeds(tmp_path, corpus, vocab) -> None:
    """extract_corpus keeps no texts: a run hitting its entries decodes the files again."""
    walk(tmp_path, corpus, vocab)
    c, cached = seeds(tmp_path, corpus, "cached")
    assert not c.misses
    _, fresh = seeds(tmp_path / "other", corpus, "fresh")
    assert cached == fresh


def test_packs_stay_few_as_documents_come_and_go(tmp_path, corpus, vocab) -> None:
    walk(tmp_path, corpus, vocab)
    src = (corpus / DOC).read_bytes()
    for i in range(2 * cache_index.MAX_PACKS + 3):
        (corpus / f"added-{i}.md").write_bytes(src.replace(b"1616.27", f"{1000 + i}.27".encode()))
        if i >= 2:
            (corpus / f"added-{i - 2}.md").unlink()
        c, result = walk(tmp_path, corpus, vocab)
        assert c.misses == [str(corpus / f"added-{i}.md")]
        assert len(packs(c)) <= cache_index.MAX_PACKS
        index = cache_index.load_index(c.folder, COLUMNS)
        assert len(index.entries) == len(result.documents)
        index.close()
    assert not list(c.folder.glob(f"{cache_index.INDEX_NAME}.*.tmp"))
