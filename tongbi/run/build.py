"""`dbt build` into the staging file, as a child that dies with tongbi and holds its locks."""
from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Callable

from loaders.vocabulary import PROJECT_ROOT
from tongbi.errors import BuildError


# ------------------------------------------------------------------------------------------ dbt


def dbt_executable() -> str:
    found = shutil.which("dbt", path=str(Path(sys.executable).parent)) or shutil.which("dbt")
    if not found:
        raise BuildError("dbt is not installed in this environment (pip install -e .)")
    return found


def _die_with_parent():
    """A preexec_fn: the child is sent SIGKILL when this process dies (Linux prctl
    PR_SET_PDEATHSIG), so a killed run leaves no dbt writing into its staging file. None where
    prctl is not available. libc is looked up here, in the parent: the child only calls it."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def dbt_build(staging: Path, log_dir: Path, keep_fds: tuple[int, ...] = (),
              select: tuple[str, ...] = (), exclude: tuple[str, ...] = (),
              while_running: Callable[[], None] | None = None) -> None:
    """Run `dbt build` into the staging file; raise with dbt's own error lines on failure.
    With `select`, `dbt run` of those models only (an incremental run: tongbi/run/incremental.py).

    `keep_fds` (the run's lock files) are inherited by dbt: the locks stay held while dbt lives.
    `while_running` is called once dbt has started (never before: a thread started before the
    fork would make the child's preexec_fn unsafe).
    """
    env = dict(os.environ, TONGBI_BUILD_PATH=str(staging.resolve()),
               DBT_SEND_ANONYMOUS_USAGE_STATS="false", DBT_LOG_PATH=str(log_dir))
    command = "run" if select else "build"
    cmd = [dbt_executable(), command, "--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(PROJECT_ROOT),
           "--target", "build", "--no-use-colors"]
    if select:
        # manifest.json and run_results.json take dbt ~1.3 s to write at 10k, a tenth of an
        # incremental run's dbt; partial parsing keeps its own file (partial_parse.msgpack)
        cmd += ["--select", *select, "--no-write-json"]
    if exclude:
        cmd += ["--exclude", *exclude]
    preexec = _die_with_parent() if sys.platform.startswith("linux") else None
    with subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, preexec_fn=preexec, pass_fds=keep_fds if os.name == "posix" else ()) as proc:
        if while_running is not None:
            while_running()
        stdout, stderr = proc.communicate()
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / "dbt_build.log").write_text(stdout + stderr, encoding="utf-8")
    if proc.returncode != 0:
        failing = [ln.strip() for ln in stdout.splitlines()
                   if ("ERROR" in ln or "FAIL" in ln) and "Done." not in ln][:8]
        if not failing:  # dbt died before its summary (a parse error, a signal): its last words
            failing = [ln.strip() for ln in (stdout + stderr).splitlines() if ln.strip()][-3:]
        detail = "; ".join(failing) or f"exit code {proc.returncode}, no output"
        raise BuildError(f"dbt {command} failed ({log_dir / 'dbt_build.log'}): {detail}")
