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
the child's pid, then its exit code. An empty message or a closed socket ends it. A worker that
serves many runs (`tongbi run --every`) also parses the project once and hands the manifest to
each fork while the project's files are unchanged (`Manifests`).

Nothing of tongbi is imported here: the process is dbt's, as `dbt` started by hand would be.
"""
from __future__ import annotations

import ctypes
import hashlib
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


# what dbt parses a project from (dbt_project.yml's paths); the seed files' contents are not among
# them: a seed is loaded from its file when it runs, and only its checksum, which nothing here
# compares, would differ
LOG_ONLY = ("DBT_LOG_PATH",)   # where dbt logs, not what it parses: a new folder every run
PARSED_FILES = ("dbt_project.yml", "profiles.yml")
PARSED_FOLDERS = ("models", "macros", "analyses", "dbt_tests", "snapshots")


def parse_inputs(project_dir: str, env: dict[str, str]) -> str:
    """A fingerprint of what a parsed manifest depends on: the project's files, the names (not
    the contents) of its seed files, and the environment dbt reads (DBT_*, TONGBI_*)."""
    h = hashlib.sha256()
    root = os.path.abspath(project_dir)
    for name in PARSED_FILES:
        _hash_file(h, root, os.path.join(root, name))
    for folder in PARSED_FOLDERS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, folder)):
            dirnames.sort()
            for name in sorted(filenames):
                _hash_file(h, root, os.path.join(dirpath, name))
    seeds = os.path.join(root, "seeds")
    for name in sorted(os.listdir(seeds)) if os.path.isdir(seeds) else []:
        if name.endswith((".yml", ".yaml")):
            _hash_file(h, root, os.path.join(seeds, name))
        elif name.endswith(".csv"):
            h.update(f"seed {name}\0".encode())
    merged = {**os.environ, **env}
    for key in sorted(k for k in merged if k.startswith(("DBT_", "TONGBI_")) and k not in LOG_ONLY):
        h.update(f"{key}={merged[key]}\0".encode())
    return h.hexdigest()


def _hash_file(h: "hashlib._Hash", root: str, path: str) -> None:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        data = b"\xff missing"
    h.update(os.path.relpath(path, root).encode() + b"\0" + hashlib.sha256(data).digest())


def _option(argv: list[str], name: str, default: str) -> str:
    return argv[argv.index(name) + 1] if name in argv[:-1] else default


class Manifests:
    """The project parsed once in this process and reused by every command forked after it, for
    as long as `parse_inputs` is unchanged: each command then skips dbt's loading of the project
    and its partial-parse file (≈ 2 s of an incremental run at 10k). Asked for per command
    (`reuse_manifest`): only a process that serves many runs gains from it."""

    def __init__(self) -> None:
        self.fingerprint = ""
        self.manifest: object | None = None

    def for_command(self, argv: list[str], env: dict[str, str]) -> object | None:
        if not argv or argv[0] not in ("run", "build"):
            return None
        project = _option(argv, "--project-dir", ".")
        fingerprint = parse_inputs(project, env)
        if fingerprint != self.fingerprint:
            self.manifest, self.fingerprint = self._parse(argv, env), fingerprint
        return self.manifest

    @staticmethod
    def _parse(argv: list[str], env: dict[str, str]) -> object | None:
        """`dbt parse` here, its output into `dbt_parse.log` in the command's log folder (not the
        command's pipes: nothing this process starts may hold them); None if it fails (the
        command then parses, and reports the error, itself) or leaves an adapter connection open
        (the forks would share it)."""
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
        from dbt.cli.main import dbtRunner

        args = ["parse", "--quiet"]
        for name in ("--project-dir", "--profiles-dir", "--target"):
            if name in argv[:-1]:
                args += [name, argv[argv.index(name) + 1]]
        saved_env = dict(os.environ)
        log_dir = env.get("DBT_LOG_PATH") or os.environ.get("DBT_LOG_PATH") or "."
        os.makedirs(log_dir, exist_ok=True)
        log = os.open(os.path.join(log_dir, "dbt_parse.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        saved = os.dup(1), os.dup(2)
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        try:
            os.environ.update(env)
            result = dbtRunner().invoke(args)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            os.environ.clear()
            os.environ.update(saved_env)
        if not result.success or DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager.close_all_connections()
            return None
        return result.result


def _run_command(args: dict[str, object], fds: list[int], parent: int, manifest: object | None = None) -> None:
    """In the forked child: stdout and stderr to the pipes sent, dbt, exit with its code (as the
    `dbt` command's: 0, 1 for failures, 2 for an error). With `manifest`, dbt runs on it instead
    of loading the project again."""
    _die_with(parent)
    out_fd, err_fd = fds[0], fds[1]
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    os.close(out_fd)
    os.close(err_fd)
    # the rest (the locks) stay open: they are held while this child lives
    os.environ.update({str(k): str(v) for k, v in dict(args.get("env") or {}).items()})
    sys.argv = ["dbt", *[str(a) for a in list(args["argv"])]]   # type: ignore[call-overload]
    from dbt.cli.main import cli, dbtRunner

    try:
        if manifest is not None:
            result = dbtRunner(manifest=manifest).invoke(sys.argv[1:])   # type: ignore[arg-type]
            code = 0 if result.success else (2 if result.exception is not None else 1)
        else:
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
    manifests = Manifests()
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
        manifest = None
        if args.get("reuse_manifest"):
            manifest = manifests.for_command([str(a) for a in args["argv"]], dict(args.get("env") or {}))
        pid = os.fork()
        if pid == 0:   # the command's process
            sock.close()
            _run_command(args, fds, me, manifest)
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
    # dbt's import leaves a large heap of long-lived objects that the cyclic collector walks
    # again and again at its default rate (every 700 net allocations); the forks inherit this
    import gc

    gc.set_threshold(50_000, 20, 100)
    # what `dbt run` / `dbt build` import before and while loading the project; importing them
    # before the first command changes no behaviour, only when the time is spent
    import dbt.adapters.duckdb  # noqa: F401
    import dbt.parser.manifest  # noqa: F401
    import dbt.task.build  # noqa: F401
    import dbt.task.run  # noqa: F401
    from dbt.cli.main import cli  # noqa: F401
    from multiprocessing import resource_tracker

    # dbt starts multiprocessing's resource tracker the first time it parses; started here, with
    # this process's own stdout and stderr, it never inherits a command's pipes (which it would
    # hold open past the command's end)
    resource_tracker.ensure_running()
    return serve(sock)


def _exit_without_teardown(code: int) -> None:
    """End the worker as its commands end (`_run_command`): the interpreter's teardown of dbt's
    modules takes ≈ 0.4 s, which tongbi would wait for at the end of every run. The atexit
    functions still run (multiprocessing's among them); the resource tracker cleans up what dbt's
    parse left when this process's end closes its pipe."""
    import atexit
    import logging

    atexit._run_exitfuncs()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    _exit_without_teardown(main(sys.argv[1:]))
