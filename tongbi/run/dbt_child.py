"""A dbt process that imports dbt once and runs every command it is sent in a fork of itself:
`python -m tongbi.run.dbt_child FD`.

Importing dbt takes about 3 s of a 10k incremental run's dbt stage. tongbi starts this process
when a run starts (tongbi/run/build.py, `DbtWorker`), so the import happens while the run
extracts; a scheduled `tongbi run --every` keeps it between runs, so later runs do not import
dbt at all. Each command comes on the socket FD as JSON (the dbt arguments and environment)
together with the file descriptors the command must hold — the build lock and the write ends
of its stdout and stderr pipes (SCM_RIGHTS) — and runs in a child forked for it, as the `dbt`
command would run it: a fresh process state each time (dbt's flags, its adapter's open DuckDB
file, its logging), nothing carried from one command to the next. This process replies with
the child's pid, then its exit code. An empty message or a closed socket ends it.

Nothing of tongbi is imported here: the process is dbt's, as `dbt` started by hand would be.
"""
from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import sys

PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> None:
    """SIGKILL this process when its parent dies (Linux), so no dbt outlives the run."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return
    if os.getppid() != parent:
        os._exit(1)


def _run_command(args: dict[str, object], fds: list[int], parent: int) -> None:
    """In the forked child: stdout and stderr to the pipes sent, dbt's cli, exit with its code."""
    _die_with(parent)
    out_fd, err_fd = fds[0], fds[1]
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    os.close(out_fd)
    os.close(err_fd)
    # the rest (the locks) stay open: they are held while this child lives
    os.environ.update({str(k): str(v) for k, v in dict(args.get("env") or {}).items()})
    sys.argv = ["dbt", *[str(a) for a in list(args["argv"])]]   # type: ignore[call-overload]
    from dbt.cli.main import cli

    try:
        code = cli()
    except SystemExit as exc:   # click's standalone mode exits with dbt's code
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:   # noqa: BLE001 - dbt's crash, reported as the dbt command reports it
        import traceback

        traceback.print_exc()
        code = 2
    # what a normal exit does that matters: dbt-duckdb closes its database at exit (atexit), so
    # the file is checkpointed before the run opens it; then no interpreter teardown
    import atexit
    import logging

    atexit._run_exitfuncs()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(code or 0))


def serve(sock: socket.socket) -> int:
    """Run each command sent on `sock` in a fork; return when the socket says there are no more."""
    me = os.getpid()
    while True:
        try:
            message, fds, _flags, _addr = socket.recv_fds(sock, 1 << 20, 16)
        except OSError:
            return 0
        if not message:
            for fd in fds:
                os.close(fd)
            return 0
        args = json.loads(message.decode("utf-8"))
        if len(fds) < 2:
            for fd in fds:
                os.close(fd)
            sock.sendall(json.dumps({"error": "a command needs its stdout and stderr pipes"}).encode() + b"\n")
            continue
        pid = os.fork()
        if pid == 0:   # the command's process
            sock.close()
            _run_command(args, fds, me)
        for fd in fds:   # the child holds them now
            os.close(fd)
        try:
            sock.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        except OSError:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        try:
            sock.sendall(json.dumps({"code": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
        except OSError:
            return 0


def main(argv: list[str]) -> int:
    sock = socket.socket(fileno=int(argv[0]))
    # what `dbt run` / `dbt build` import before and while loading the project; importing them
    # before the first command changes no behaviour, only when the time is spent
    import dbt.adapters.duckdb  # noqa: F401
    import dbt.parser.manifest  # noqa: F401
    import dbt.task.build  # noqa: F401
    import dbt.task.run  # noqa: F401
    from dbt.cli.main import cli  # noqa: F401

    return serve(sock)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
