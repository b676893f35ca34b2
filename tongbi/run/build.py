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
import threading
from pathlib import Path
from typing import Any, Callable

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


PIPE_GRACE_S = 10.0   # after a command exits, how long its output may still come
CLOSE_WAIT_S = 5.0    # how long an idle worker is given to exit when asked


class DbtCommand:
    """A dbt command running in a fork of the `DbtWorker` (tongbi/run/dbt_child.py), with the
    part of `subprocess.Popen`'s interface `dbt_build` uses: `communicate`, `returncode`, `kill`."""

    def __init__(self, worker: "DbtWorker", pid: int, out_r: int, err_r: int) -> None:
        self._worker, self.pid, self.returncode = worker, pid, None
        self._out, self._err = out_r, err_r

    def communicate(self) -> tuple[str, str]:
        chunks: dict[int, list[bytes]] = {self._out: [], self._err: []}

        def drain(fd: int) -> None:
            try:
                while block := os.read(fd, 1 << 16):
                    chunks[fd].append(block)
            except OSError:
                pass

        readers = [threading.Thread(target=drain, args=(fd,), daemon=True) for fd in (self._out, self._err)]
        for r in readers:
            r.start()
        self.returncode = self._worker._reply("code")
        if self.returncode is None:   # the worker died with the command: as a killed dbt would
            self.returncode = -int(signal.SIGKILL)
        # the command has exited; a process it left behind must not keep its output open for ever
        for r in readers:
            r.join(PIPE_GRACE_S)
        for fd in (self._out, self._err):
            os.close(fd)
        return (b"".join(chunks[self._out]).decode("utf-8", "replace"),
                b"".join(chunks[self._err]).decode("utf-8", "replace"))

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def __enter__(self) -> "DbtCommand":
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is not None and self.returncode is None:
            self.kill()


class DbtWorker:
    """A process that imports dbt once and runs each command sent to it in a fork of itself
    (tongbi/run/dbt_child.py): started when a run starts, it imports dbt (about 3 s) while the run
    extracts, and `tongbi run --every` keeps it from one scheduled run to the next. Like the dbt
    `dbt_build` starts, it dies with tongbi (PR_SET_PDEATHSIG, and each command with it); a
    command holds the file descriptors sent with it (the run's locks) while it runs."""

    def __init__(self, reuse_manifest: bool = False) -> None:
        self.reuse_manifest = reuse_manifest   # parse the project once for all commands (dbt_child.Manifests)
        self._busy = False
        self._used = False
        self._closed = False
        self._sock, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._replies = self._sock.makefile("rb")
        try:
            preexec = _die_with_parent() if sys.platform.startswith("linux") else None
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tongbi.run.dbt_child", str(child.fileno())], cwd=PROJECT_ROOT,
                env=dict(os.environ, DBT_SEND_ANONYMOUS_USAGE_STATS="false"), stdin=subprocess.DEVNULL,
                preexec_fn=preexec, pass_fds=(child.fileno(),))
        finally:
            child.close()

    @property
    def alive(self) -> bool:
        return not self._closed and self.proc.poll() is None

    def _reply(self, key: str) -> int | None:
        try:
            line = self._replies.readline()
            value = json.loads(line)[key] if line else None
        except (OSError, ValueError, KeyError, TypeError):
            value = None
        if value is None:
            self._closed = True   # a worker that stopped answering is not sent another command
        self._busy = False if key == "code" or value is None else self._busy
        return None if value is None else int(value)

    def start(self, argv: list[str], env: dict[str, str], fds: tuple[int, ...]) -> DbtCommand | None:
        """Run one command; None when the worker is gone or busy (then dbt is started as usual)."""
        if self._busy or not self.alive:
            return None
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            socket.send_fds(self._sock, [json.dumps({"argv": argv, "env": env, "reuse_manifest": self.reuse_manifest}).encode("utf-8")],
                            [out_w, err_w, *fds])
        except OSError:
            for fd in (out_r, err_r):
                os.close(fd)
            self.close()
            return None
        finally:
            os.close(out_w)
            os.close(err_w)
        self._busy = self._used = True
        pid = self._reply("pid")
        if pid is None:
            for fd in (out_r, err_r):
                os.close(fd)
            return None
        return DbtCommand(self, pid, out_r, err_r)

    def close(self) -> None:
        """End the worker: at once if it never ran a command (it is only importing dbt); else
        asked to exit, so that what dbt's parse left (multiprocessing's semaphores) is cleaned up."""
        if self.proc.returncode is None:
            if self._used and not self._busy:
                try:
                    self._sock.shutdown(socket.SHUT_WR)
                    self.proc.wait(CLOSE_WAIT_S)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self._closed = True
        self._replies.close()
        self._sock.close()


def dbt_build(staging: Path, log_dir: Path, keep_fds: tuple[int, ...] = (),
              select: tuple[str, ...] = (), exclude: tuple[str, ...] = (),
              while_running: Callable[[], None] | None = None, worker: DbtWorker | None = None) -> None:
    """Run `dbt build` into the staging file; raise with dbt's own error lines on failure.
    With `select`, `dbt run` of those models only (an incremental run: tongbi/run/incremental.py).

    `keep_fds` (the run's lock files) are inherited by dbt: the locks stay held while dbt lives.
    `while_running` is called once dbt has started (never before: a thread started before the
    fork would make the child's preexec_fn unsafe). `worker`: a `DbtWorker` that runs the command
    with dbt already imported; without one, or when it is gone, dbt is started as a process.
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
    proc: Any = worker.start(args, _dbt_env(staging, log_dir), keep_fds) if worker is not None else None
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
