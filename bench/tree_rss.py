"""Peak resident memory of a process and all its descendants, sampled from /proc.

`ru_maxrss` of RUSAGE_CHILDREN is the largest single child, not the sum of a tree that runs
tongbi, dbt and the gate's DuckDB at once; this polls the tree (every 0.2 s, Linux only) and
keeps the largest sum it saw.
"""
from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_mib(pid: int) -> float:
    kids = _children()
    tree, i = [pid], 0
    while i < len(tree):
        tree.extend(kids.get(tree[i], []))
        i += 1
    return sum(_rss_kib(p) for p in tree) / 1024


def run_measured(cmd: list[str], interval: float = 0.2, **kwargs: object) -> tuple[subprocess.CompletedProcess, float]:
    """subprocess.run(cmd, capture_output=True, text=True, **kwargs), and the peak RSS (MiB) of
    its process tree; 0.0 where /proc is not there."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)  # type: ignore[call-overload]
    peak = PeakRss(proc, interval)
    out, err = proc.communicate()
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err), peak.stop()


class PeakRss:
    """The largest RSS of `proc`'s tree, sampled every `interval` s in a thread until `stop()`
    or until the process ends (nothing where /proc is not there)."""

    def __init__(self, proc: subprocess.Popen, interval: float = 0.2) -> None:   # type: ignore[type-arg]
        self.peak = 0.0
        self._proc, self._interval, self._done = proc, interval, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        if Path("/proc/self/status").exists():
            self._thread.start()

    def _sample(self) -> None:
        while not self._done.is_set() and self._proc.poll() is None:
            self.peak = max(self.peak, tree_rss_mib(self._proc.pid))
            self._done.wait(self._interval)

    def stop(self) -> float:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()
        return round(self.peak, 1)
