"""The peer: jionlp.extract_money over the same corpus, one process or a pool of all cores. Runs in the bench venv
(jionlp and its numpy/jiojio stay out of tongbi's own environment); needs only the stdlib and
jionlp, not tongbi.

    bench/.venv/bin/python bench/jionlp_bench.py CORPUS_DIR [single|pool]   # JSON on stdout

Each file is read and decoded, its front matter dropped, and the body handed to
`jionlp.ner.extract_money` (jionlp's import and dictionary loading are outside the timing).
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time
from multiprocessing import Pool
from pathlib import Path


def _one(path: Path) -> tuple[int, int]:
    import jionlp  # noqa: PLC0415 — imported once per process, before the timing

    data = path.read_bytes()
    text = data.decode("utf-8")
    if text.startswith("---"):
        text = text.split("---", 2)[2]
    return len(data), len(jionlp.ner.extract_money(text, with_parsing=True))


def _warm() -> None:
    import jionlp  # noqa: PLC0415

    jionlp.ner.extract_money("2024年全区区外资金到位9355.26亿元")  # loads its dictionaries


def main() -> int:
    corpus = Path(sys.argv[1])
    mode = sys.argv[2] if len(sys.argv) > 2 else "single"
    t_import = time.perf_counter()
    import jionlp  # noqa: PLC0415 — timed separately

    _warm()
    t_import = time.perf_counter() - t_import
    paths = sorted(corpus.glob("*/*.md"))
    workers = 1
    n_bytes = n_found = 0
    if mode == "single":
        t0 = time.perf_counter()
        for size, found in map(_one, paths):
            n_bytes += size
            n_found += found
    else:
        workers = os.cpu_count() or 1
        # the workers are forked after the dictionaries are loaded, and warmed before the clock
        with Pool(workers, initializer=_warm) as pool:
            pool.map(_warm_task, range(workers))
            t0 = time.perf_counter()
            for size, found in pool.imap_unordered(_one, paths, chunksize=64):
                n_bytes += size
                n_found += found
    seconds = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if mode != "single":
        rss += resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 * workers
    json.dump({"tool": "jionlp.ner.extract_money", "mode": mode, "workers": workers, "docs": len(paths),
               "bytes": n_bytes, "mentions": n_found, "rejected": 0, "seconds": seconds,
               "mb_s": n_bytes / 2**20 / seconds, "docs_s": len(paths) / seconds,
               "peak_rss_mb": rss, "import_s": t_import, "version": jionlp.__version__}, sys.stdout)
    print()
    return 0


def _warm_task(_: int) -> None:
    return None


if __name__ == "__main__":
    raise SystemExit(main())
