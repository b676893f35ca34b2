"""`dbt build` into the staging file, as a child that dies with tongbi and holds its locks."""
from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
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


def _dbt_env(staging: Path, log_dir: Path) -> dict[str, str]:
    return {"TONGBI_BUILD_PATH": str(staging.resolve()), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_LOG_PATH": str(log_dir)}


class EarlyDbt:
    """A dbt process started when the run starts, importing dbt (about 3 s) while the run
    extracts (tongbi/run/dbt_child.py); the first `dbt_build` of the run sends it its command
    instead of starting dbt then. Like the dbt `dbt_build` starts, it dies with tongbi and
    holds the run's locks: `keep_fds` from the start, the build lock sent with the command."""

    def __init__(self, staging: Path, log_dir: Path, keep_fds: tuple[int, ...] = ()) -> None:
        self.used = False
        self._sock, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            env = dict(os.environ, **_dbt_env(staging, log_dir))
            preexec = _die_with_parent() if sys.platform.startswith("linux") else None
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tongbi.run.dbt_child", str(child.fileno())], cwd=PROJECT_ROOT, env=env,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=preexec,
                pass_fds=(*keep_fds, child.fileno()))
        finally:
            child.close()

    def start(self, argv: list[str], env: dict[str, str], fds: tuple[int, ...]) -> subprocess.Popen[str] | None:
        """Send the command; None when the process is gone (then dbt is started as usual)."""
        if self.used:
            return None
        self.used = True
        try:
            socket.send_fds(self._sock, [json.dumps({"argv": argv, "env": env}).encode("utf-8")], list(fds))
        except OSError:
            self.close()
            return None
        finally:
            self._sock.close()
        return self.proc

    def close(self) -> None:
        """End the process if it was never given a command (the run needed no build, or failed
        before): killed at once, it has only been importing dbt."""
        if self.used:
            return
        self.used = True
        self._sock.close()
        self.proc.kill()
        self.proc.communicate()


def dbt_build(staging: Path, log_dir: Path, keep_fds: tuple[int, ...] = (),
              select: tuple[str, ...] = (), exclude: tuple[str, ...] = (),
              while_running: Callable[[], None] | None = None, early: EarlyDbt | None = None) -> None:
    """Run `dbt build` into the staging file; raise with dbt's own error lines on failure.
    With `select`, `dbt run` of those models only (an incremental run: tongbi/run/incremental.py).

    `keep_fds` (the run's lock files) are inherited by dbt: the locks stay held while dbt lives.
    `while_running` is called once dbt has started (never before: a thread started before the
    fork would make the child's preexec_fn unsafe). `early`: a dbt process already started
    (`EarlyDbt`), given this command if it has not had one.
    """
    env = dict(os.environ, **_dbt_env(staging, log_dir))
    command = "run" if select else "build"
    args = [command, "--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(PROJECT_ROOT),
            "--target", "build", "--no-use-colors"]
    if select:
        # manifest.json and run_results.json take dbt ~1.3 s to write at 10k, a tenth of an
        # incremental run's dbt; partial parsing keeps its own file (partial_parse.msgpack)
        args += ["--select", *select, "--no-write-json"]
    if exclude:
        args += ["--exclude", *exclude]
    proc = early.start(args, _dbt_env(staging, log_dir), keep_fds) if early is not None else None
    if proc is None:
        preexec = _die_with_parent() if sys.platform.startswith("linux") else None
        proc = subprocess.Popen([dbt_executable(), *args], cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, preexec_fn=preexec,
                                pass_fds=keep_fds if os.name == "posix" else ())
    with proc:
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
