"""Readers opening a DuckDB path while it is replaced, with every core busy: renaming files over
the path against swapping a symlink to immutable files (tongbi/run/publish.py).

    python -m bench.reader_stress [--mode rename|link|both] [--seconds 40] [--readers 4] [--open connect|attach]

Two small databases of different sizes are made under --work; the path `w.duckdb` is then
replaced, alternately by one and the other, as fast as the loop goes (a hard link renamed over
it, or a new symlink renamed over the link), while --readers processes open it read-only, run
two queries that must agree (the row count stored in `v` and the rows of `t`) and close it, in a
tight loop, and one busy loop per core keeps the CPUs saturated. Prints, per mode, the swaps,
the opens and the errors with examples. A failure here is rare per swap: a run needs thousands
of swaps (tens of seconds) to show it.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

READER = r'''
import json, os, sys
import duckdb
path, stop, out, how = sys.argv[1:5]
n, errors = 0, []
while not os.path.exists(stop):
    n += 1
    try:
        if how == "attach":
            con = duckdb.connect(":memory:")
            con.execute("attach '" + path + "' as w (read_only)")
            con.execute("use w")
        else:
            con = duckdb.connect(path, read_only=True)
        try:
            stored = con.execute("select n from v").fetchall()[0][0]
            counted = con.execute("select count(*) from t").fetchall()[0][0]
        finally:
            con.close()
        if stored != counted:
            errors.append(f"two versions in one connection: {stored} and {counted}")
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}"[:200])
json.dump({"opens": n, "errors": errors[:5], "n_errors": len(errors)}, open(out, "w"))
'''
BUSY = "import sys, time\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end:\n    pass\n"


def make_database(path: Path, rows: int, tables: int) -> None:
    import duckdb

    con = duckdb.connect(str(path))
    try:
        con.execute(f"create table t as select range as i, md5(range::varchar) as s from range({rows})")
        con.execute(f"create table v as select {rows} as n")
        for k in range(tables):
            con.execute(f"create table x{k} as select range as i from range({k * 100})")
        con.execute("checkpoint")
    finally:
        con.close()


def stress(work: Path, mode: str, seconds: float, n_readers: int, how: str) -> dict:
    folder = work / f"{mode}-{how}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    sources = [folder / "w.v1.duckdb", folder / "w.v2.duckdb"]
    make_database(sources[0], 100_000, 30)
    make_database(sources[1], 300_000, 10)
    path, tmp, stop = folder / "w.duckdb", folder / "w.tmp", folder / "stop"
    if mode == "link":
        os.symlink(sources[0].name, path)
    else:
        os.link(sources[0], path)
    busy = [subprocess.Popen([sys.executable, "-c", BUSY, str(seconds + 10)]) for _ in range(os.cpu_count() or 2)]
    readers = [subprocess.Popen([sys.executable, "-c", READER, str(path), str(stop), str(folder / f"r{i}.json"), how])
               for i in range(n_readers)]
    swaps = 0
    try:
        time.sleep(1.0)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            swaps += 1
            source = sources[swaps % 2]
            if mode == "link":
                os.symlink(source.name, tmp)
            else:
                os.link(source, tmp)
            os.replace(tmp, path)
            time.sleep(0.002)
    finally:
        stop.touch()
        for r in readers:
            r.wait(120)
        for b in busy:
            b.kill()
            b.wait()
    results = [json.loads((folder / f"r{i}.json").read_text()) for i in range(n_readers)]
    return {"mode": mode, "open": how, "seconds": seconds, "swaps": swaps,
            "opens": sum(r["opens"] for r in results), "errors": sum(r["n_errors"] for r in results),
            "examples": sorted({e for r in results for e in r["errors"]})[:3]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=["rename", "link", "both"], default="both")
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--readers", type=int, default=4)
    ap.add_argument("--open", dest="how", choices=["connect", "attach"], default="connect")
    ap.add_argument("--work", type=Path, default=None)
    args = ap.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="tongbi-reader-stress-"))
    modes = ["rename", "link"] if args.mode == "both" else [args.mode]
    for mode in modes:
        print(json.dumps(stress(work, mode, args.seconds, args.readers, args.how), ensure_ascii=False), flush=True)
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
