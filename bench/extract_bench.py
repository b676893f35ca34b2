"""Extraction throughput: one process and all cores, MB/s, documents/s, peak RSS.

    python -m bench.extract_bench --one {single,pool} CORPUS_DIR   # one measurement, JSON on stdout

Each measurement runs in a fresh interpreter (bench/run.py starts it), so its peak RSS
(getrusage ru_maxrss) is its own. Documents are streamed: each file is read, extracted and
its mentions dropped; nothing but counters is kept.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from multiprocessing import Pool
from pathlib import Path

from loaders.documents import DocumentError, ScriptConverter, load_document
from loaders.extraction import Extractor
from loaders.vocabulary import load_vocabulary


def corpus_paths(corpus: Path) -> list[Path]:
    return sorted(corpus.glob("*/*.md"))


_state: tuple[ScriptConverter, Extractor] | None = None


def _init() -> None:
    global _state
    _state = (ScriptConverter(), Extractor(load_vocabulary()))


def _one(path: Path) -> tuple[int, int]:
    """(bytes, mentions) of one document; (bytes, -1) when it is rejected."""
    assert _state is not None
    converter, extractor = _state
    size = path.stat().st_size
    try:
        doc = load_document(path, converter)
    except DocumentError:
        return size, -1
    return size, len(extractor.extract(doc))


def _rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux: KiB


def measure(mode: str, corpus: Path, workers: int | None = None) -> dict[str, object]:
    paths = corpus_paths(corpus)
    t0 = time.perf_counter()
    n_bytes = n_mentions = n_rejected = 0
    if mode == "single":
        _init()
        results = map(_one, paths)
        for size, n in results:
            n_bytes += size
            n_mentions += max(n, 0)
            n_rejected += n < 0
    else:
        workers = workers or os.cpu_count() or 1
        with Pool(workers, initializer=_init) as pool:
            for size, n in pool.imap_unordered(_one, paths, chunksize=64):
                n_bytes += size
                n_mentions += max(n, 0)
                n_rejected += n < 0
    seconds = time.perf_counter() - t0
    # pool: the parent's peak plus the largest worker's (ru_maxrss of children is their maximum)
    rss = _rss_mb(resource.RUSAGE_SELF) + (_rss_mb(resource.RUSAGE_CHILDREN) * (workers or 0)
                                           if mode == "pool" else 0)
    return {"tool": "tongbi", "mode": mode, "workers": workers or 1, "docs": len(paths),
            "bytes": n_bytes, "mentions": n_mentions, "rejected": n_rejected,
            "seconds": seconds, "mb_s": n_bytes / 2**20 / seconds, "docs_s": len(paths) / seconds,
            "peak_rss_mb": rss}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--one", choices=("single", "pool"), required=True)
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--workers", type=int)
    args = ap.parse_args(argv)
    json.dump(measure(args.one, args.corpus, args.workers), sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
