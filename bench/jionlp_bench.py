"""The peer: jionlp.extract_money over the same corpus, one process. Runs in the bench venv
(jionlp and its numpy/jiojio stay out of tongbi's own environment); needs only the stdlib and
jionlp, not tongbi.

    .venv-bench/bin/python bench/jionlp_bench.py CORPUS_DIR    # JSON on stdout

Each file is read and decoded, its front matter dropped, and the body handed to
`jionlp.ner.extract_money` (jionlp's import and dictionary loading are outside the timing).
"""
from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path


def main() -> int:
    corpus = Path(sys.argv[1])
    t_import = time.perf_counter()
    import jionlp  # noqa: PLC0415 — timed separately

    jionlp.ner.extract_money("2024年全区区外资金到位9355.26亿元")  # loads its dictionaries
    t_import = time.perf_counter() - t_import
    paths = sorted(corpus.glob("*/*.md"))
    t0 = time.perf_counter()
    n_bytes = n_found = 0
    for path in paths:
        data = path.read_bytes()
        n_bytes += len(data)
        text = data.decode("utf-8")
        if text.startswith("---"):
            text = text.split("---", 2)[2]
        n_found += len(jionlp.ner.extract_money(text, with_parsing=True))
    seconds = time.perf_counter() - t0
    json.dump({"tool": "jionlp.ner.extract_money", "mode": "single", "workers": 1, "docs": len(paths),
               "bytes": n_bytes, "mentions": n_found, "rejected": 0, "seconds": seconds,
               "mb_s": n_bytes / 2**20 / seconds, "docs_s": len(paths) / seconds,
               "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               "import_s": t_import, "version": jionlp.__version__}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
