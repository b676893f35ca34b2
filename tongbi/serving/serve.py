"""`tongbi serve`: a local PostgreSQL serving copy of the warehouse that follows its publishes.

The command runs a PostgreSQL cluster of its own from the installed server binaries (Debian:
/usr/lib/postgresql/<major>/bin, from the `postgresql` package): initdb into a data folder beside
the warehouse (`.tongbi-pg/`) the first time, then the server as a child process that the command
starts and stops (SIGINT/SIGTERM: fast shutdown; if the command is killed outright, the kernel
sends the server SIGINT too, Linux PR_SET_PDEATHSIG). PostgreSQL refuses to run as root, so as
root the cluster runs as the system user `tongbi-pg` (created when missing; TONGBI_PG_USER names
another) and owns its data folder.

Who can connect:

* role `tongbi`, password from TONGBI_PASSWORD (the command refuses to start without it; it is
  reset at every start), to database `tongbi` only, with scram-sha-256, over TCP on `--host`
  (127.0.0.1 unless told otherwise) and the local socket. It can read the schemas `tongbi` and
  `bi` and nothing else: no CREATE on the database or any schema, no temporary tables, no large
  objects, and its transactions are read-only by default.
* role `tongbi_admin` (superuser), with no password, only through the local socket in a private
  folder (mode 0700) of the service user: the command itself publishes through it.

The server first runs on the private socket only (listen_addresses empty): the command creates the
role and publishes the current warehouse through it, and only then restarts the server listening
on `--host`/`--port`. A client that connects as soon as the port answers — a BI tool started
beside the server, a health check — finds the marts; while no warehouse can be published yet,
the port stays closed. Afterwards the command polls the warehouse (inode, size, mtime of the
version its link points to; every 2 s) and publishes again whenever `tongbi run` has replaced it:
each publish is one transaction, so readers keep their connections and see the old copy or the
new one, whole, on their next statement (see tongbi/serving/postgres.py).
"""
from __future__ import annotations

import ctypes
import glob
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from tongbi.errors import TongbiError
from tongbi.run.publish import published_path
from .postgres import PostgresPublishError, READER_ROLE, publish_to_postgres

PASSWORD_ENV = "TONGBI_PASSWORD"
SERVICE_USER = "tongbi-pg"
ADMIN_ROLE = "tongbi_admin"
DATABASE = "tongbi"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5433
POLL_S = 2.0
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
DATA_DIR_NAME = ".tongbi-pg"
FALLBACK_ROOT = Path("/var/lib/tongbi-pg")
# large-object functions any role may call: the only writes left to a role without privileges
LO_WRITERS = ("lo_create", "lo_creat", "lo_from_bytea", "lo_import", "lo_unlink", "lowrite", "lo_put",
              "lo_truncate", "lo_truncate64")


class ServeError(TongbiError):
    exit_code = 1


class NoPassword(ServeError):
    exit_code = 2


# ------------------------------------------------------------------------------- binaries, user


def find_bindir() -> Path | None:
    """The folder of `postgres` and `initdb`: TONGBI_PG_BINDIR, else Debian's newest
    /usr/lib/postgresql/<major>/bin, else wherever PATH finds both."""
    env = os.environ.get("TONGBI_PG_BINDIR")
    candidates = [Path(env)] if env else []
    debian = glob.glob("/usr/lib/postgresql/*/bin")
    debian.sort(key=lambda p: [int(x) for x in re.findall(r"\d+", Path(p).parent.name)] or [0], reverse=True)
    candidates += [Path(p) for p in debian]
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for c in candidates:
        if (c / "postgres").is_file() and (c / "initdb").is_file():
            return c
    return None


def server_version(bindir: Path) -> str:
    out = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True, text=True).stdout
    m = re.search(r"(\d+(?:\.\d+)?)", out)
    return m.group(1) if m else "?"


@dataclass
class ServiceUser:
    name: str
    uid: int
    gid: int


def service_user(log: Callable[[str], None] = print) -> ServiceUser | None:
    """None when not root (the cluster runs as ourselves); as root, the unprivileged system user
    the cluster runs as, created when missing."""
    if os.name != "posix" or os.geteuid() != 0:
        return None
    import pwd

    name = os.environ.get("TONGBI_PG_USER", SERVICE_USER)
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        proc = subprocess.run([useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                               "--shell", "/usr/sbin/nologin", "--comment", "tongbi serve (PostgreSQL)", name],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise ServeError(f"running as root, and could not create the system user {name} to run PostgreSQL "
                             f"({proc.stderr.strip() or proc.returncode}); create it, or set TONGBI_PG_USER")
        log(f"created the system user {name} to run PostgreSQL (it refuses to run as root)")
        pw = pwd.getpwnam(name)
    if pw.pw_uid == 0:
        raise ServeError(f"TONGBI_PG_USER={name} is root; PostgreSQL refuses to run as root")
    return ServiceUser(name, pw.pw_uid, pw.pw_gid)


def _traversable(path: Path, user: ServiceUser) -> bool:
    """Whether `user` can reach `path` (search permission on it and every folder above it)."""
    p = path.resolve()
    for d in [*reversed(p.parents), p]:
        try:
            st = d.stat()
        except OSError:
            return False
        if st.st_uid == user.uid:
            bit = 0o100
        elif st.st_gid == user.gid:
            bit = 0o010
        else:
            bit = 0o001
        if not st.st_mode & bit:
            return False
    return True


def default_data_dir(warehouse: Path, user: ServiceUser | None) -> Path:
    """`.tongbi-pg/` beside the warehouse; as root, when the service user cannot reach that
    folder (a home directory of mode 0700), /var/lib/tongbi-pg/<name>-<hash of the path>."""
    beside = warehouse.parent / DATA_DIR_NAME
    if user is None or _traversable(warehouse.parent, user):
        return beside
    digest = hashlib.sha1(str(warehouse).encode()).hexdigest()[:10]
    return FALLBACK_ROOT / f"{warehouse.stem}-{digest}"


def _child_setup(sig: int):
    """A preexec_fn: the child gets `sig` when this process dies (Linux PR_SET_PDEATHSIG; it runs
    after the switch to the service user, which would clear it)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(1, int(sig), 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:
            os._exit(1)

    return preexec


# ------------------------------------------------------------------------------------ cluster


class Cluster:
    """A PostgreSQL cluster in `folder/data`, run as a child of this process.

    `with Cluster(...) as c:` initialises it when needed, starts the server and waits until it
    accepts connections; leaving the block stops it (fast shutdown).
    """

    def __init__(self, folder: Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                 bindir: Path | None = None, user: ServiceUser | None = None,
                 log: Callable[[str], None] = print) -> None:
        found = bindir or find_bindir()
        if found is None:
            raise ServeError("PostgreSQL server binaries not found (postgres, initdb): on Debian "
                             "`apt-get install postgresql`, or set TONGBI_PG_BINDIR")
        self.bindir = found
        self.folder = Path(folder).resolve()
        self.data = self.folder / "data"
        self.logfile = self.folder / "postgres.log"
        self.host = host
        self.port = port
        self.user = user
        self.log = log
        self.socket_dir: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.listen_at_start = True

    # -- running things as the service user

    def _as_service(self) -> dict[str, Any]:
        env = {k: v for k, v in os.environ.items() if k != PASSWORD_ENV and not k.startswith("PG")}
        kw: dict[str, Any] = {"env": env, "cwd": str(self.folder)}
        if self.user is not None:
            kw.update(user=self.user.uid, group=self.user.gid, extra_groups=[])
        return kw

    def _own(self, path: Path) -> None:
        if self.user is not None:
            os.chown(path, self.user.uid, self.user.gid)

    # -- lifecycle

    def initdb(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        major = server_version(self.bindir).split(".")[0]
        version_file = self.data / "PG_VERSION"
        if version_file.exists() and version_file.read_text().strip() != major:
            self.log(f"the data folder {self.data} is of PostgreSQL {version_file.read_text().strip()}, "
                     f"the server is {major}: it is a copy, so it is rebuilt")
            shutil.rmtree(self.data)
        if not version_file.exists():
            if self.data.exists() and not any(self.data.iterdir()):
                self.data.rmdir()
            self.data.mkdir(mode=0o700)
            self._own(self.data)
            proc = subprocess.run([str(self.bindir / "initdb"), "-D", str(self.data), "-U", ADMIN_ROLE,
                                   "--auth=trust", "-E", "UTF8", "--no-locale"],
                                  capture_output=True, text=True, **self._as_service())
            if proc.returncode != 0:
                shutil.rmtree(self.data, ignore_errors=True)
                raise ServeError(f"initdb failed: {(proc.stderr or proc.stdout).strip()[-800:]}")
            self.log(f"initialised a PostgreSQL {major} cluster in {self.data}")
        self._write_hba()

    def _write_hba(self) -> None:
        loopback = self.host in ("127.0.0.1", "localhost", "::1")
        lines = [
            "# Written by `tongbi serve` at every start: edits here are lost.",
            "# The admin role only through the private socket folder; the reader role with a password.",
            f"local   all      {ADMIN_ROLE}                  trust",
            f"local   {DATABASE}   {READER_ROLE}                       scram-sha-256",
            f"host    {DATABASE}   {READER_ROLE}   127.0.0.1/32        scram-sha-256",
            f"host    {DATABASE}   {READER_ROLE}   ::1/128             scram-sha-256",
        ]
        if not loopback:
            lines += [f"host    {DATABASE}   {READER_ROLE}   0.0.0.0/0           scram-sha-256",
                      f"host    {DATABASE}   {READER_ROLE}   ::/0                scram-sha-256"]
        hba = self.data / "pg_hba.conf"
        hba.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self._own(hba)
        hba.chmod(0o600)

    def start(self, listen: bool = True) -> None:
        """Start the server and wait until it accepts connections on its private socket; with
        `listen` False it accepts none over TCP (listen_addresses empty)."""
        # a socket path is limited to 107 bytes: in our folder when it fits, else in /tmp
        inside = self.folder / "socket"
        if len(str(inside / f".s.PGSQL.{self.port}.lock")) <= 100:
            inside.mkdir(mode=0o700, exist_ok=True)
            self.socket_dir = inside
        else:
            self.socket_dir = Path(tempfile.mkdtemp(prefix="tongbi-pg-"))
        self._own(self.socket_dir)
        self.socket_dir.chmod(0o700)
        log = open(self.logfile, "ab")
        cmd = [str(self.bindir / "postgres"), "-D", str(self.data),
               "-c", f"listen_addresses={self.host if listen else ''}", "-c", f"port={self.port}",
               "-c", f"unix_socket_directories={self.socket_dir}", "-c", "unix_socket_permissions=0700",
               "-c", "password_encryption=scram-sha-256", "-c", "logging_collector=off",
               "-c", "log_line_prefix=%m [%p] %q%u@%d "]
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True, preexec_fn=_child_setup(signal.SIGINT),
                                         **self._as_service())
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        import psycopg

        while True:
            if self.proc.poll() is not None:
                self._cleanup_socket()
                raise ServeError(f"PostgreSQL did not start (exit {self.proc.returncode}): {self.log_tail()}")
            try:
                psycopg.connect(self.admin_dsn("postgres"), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise ServeError(f"PostgreSQL did not accept connections within {START_TIMEOUT_S:.0f}s: "
                                     f"{self.log_tail()}") from None
                time.sleep(0.2)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int | None:
        """Fast shutdown (SIGINT: clients are disconnected, the cluster is left consistent); then
        immediate shutdown, then SIGKILL, if it does not end in time. Returns the exit code."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            for sig, wait in ((signal.SIGINT, STOP_TIMEOUT_S), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
                try:
                    proc.send_signal(sig)
                except ProcessLookupError:
                    break
                try:
                    proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self._cleanup_socket()
        return proc.returncode if proc is not None else None

    def _cleanup_socket(self) -> None:
        if self.socket_dir is not None:
            if self.socket_dir.parent != self.folder:  # ours in /tmp; the one in our folder is reused
                shutil.rmtree(self.socket_dir, ignore_errors=True)
            self.socket_dir = None

    def log_tail(self, n: int = 8) -> str:
        try:
            lines = self.logfile.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return f"(no log at {self.logfile})"
        return " | ".join(lines[-n:]) + f" (log: {self.logfile})"

    def restart(self, listen: bool = True) -> None:
        self.stop()
        self.start(listen)

    def __enter__(self) -> "Cluster":
        self.initdb()
        self.start(listen=self.listen_at_start)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- connections and roles

    def admin_dsn(self, dbname: str = DATABASE) -> str:
        if self.socket_dir is None:
            raise ServeError("the cluster is not running")
        return f"host={self.socket_dir} port={self.port} user={ADMIN_ROLE} dbname={dbname}"

    def reader_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        host = "127.0.0.1" if host in ("0.0.0.0", "*", "[::]") else host
        return f"postgresql://{READER_ROLE}@{host}:{self.port}/{DATABASE}"

    def setup(self, password: str) -> None:
        """The database and the read-only role, with `password` (sent as a SCRAM verifier made
        by libpq: the password itself never reaches the server or its log)."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.admin_dsn("postgres"), autocommit=True) as pg:
            if not pg.execute("select 1 from pg_roles where rolname = %s", [READER_ROLE]).fetchone():
                pg.execute(sql.SQL("create role {}").format(sql.Identifier(READER_ROLE)))
            verifier = pg.pgconn.encrypt_password(password.encode(), READER_ROLE.encode(), b"scram-sha-256")
            pg.execute(sql.SQL("alter role {} login nosuperuser nocreatedb nocreaterole noreplication nobypassrls "
                               "connection limit -1 password {}").format(
                sql.Identifier(READER_ROLE), sql.Literal(verifier.decode())))
            pg.execute(sql.SQL("alter role {} set default_transaction_read_only = on").format(
                sql.Identifier(READER_ROLE)))
            pg.execute(sql.SQL("alter role {} set search_path = tongbi, bi").format(sql.Identifier(READER_ROLE)))
            if not pg.execute("select 1 from pg_database where datname = %s", [DATABASE]).fetchone():
                pg.execute(sql.SQL("create database {} owner {}").format(
                    sql.Identifier(DATABASE), sql.Identifier(ADMIN_ROLE)))
        with psycopg.connect(self.admin_dsn(DATABASE), autocommit=True) as pg:
            db, role = sql.Identifier(DATABASE), sql.Identifier(READER_ROLE)
            pg.execute(sql.SQL("revoke all on database {} from public").format(db))
            pg.execute(sql.SQL("grant connect on database {} to {}").format(db, role))
            pg.execute("revoke create on schema public from public")
            for (fn,) in pg.execute("select oid::regprocedure::text from pg_proc where proname = any(%s)",
                                    [list(LO_WRITERS)]).fetchall():
                pg.execute(sql.SQL("revoke execute on function {} from public").format(sql.SQL(fn)))


# -------------------------------------------------------------------------------------- serve


@dataclass
class ServeOptions:
    warehouse: Path = Path("warehouse.duckdb")
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    data_dir: Path | None = None
    poll_s: float = POLL_S


def _identity(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = path.stat()  # through the link: the version it points to now
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


def serve(opts: ServeOptions) -> int:
    """Run the cluster, publish the warehouse, then listen, republish on every change, until
    SIGINT/SIGTERM."""
    password = os.environ.get(PASSWORD_ENV, "")
    if not password:
        raise NoPassword(f"set {PASSWORD_ENV} to the password of the read-only role {READER_ROLE!r}; "
                         "tongbi serve does not start without one")

    def say(msg: str) -> None:
        print(msg, flush=True)

    warehouse = published_path(opts.warehouse)   # the link, followed at every poll
    user = service_user(say)
    folder = (opts.data_dir.resolve() if opts.data_dir else default_data_dir(warehouse, user))
    stopping: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        if stopping:  # a second signal: stop now, even mid-publish
            raise KeyboardInterrupt
        stopping.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        cluster = Cluster(folder, opts.host, opts.port, user=user, log=say)
        cluster.listen_at_start = False
        with cluster:
            cluster.setup(password)
            say(f"PostgreSQL {server_version(cluster.bindir)} serving {warehouse}")
            say(f"  data folder {cluster.folder}" + (f" (runs as {user.name})" if user else ""))
            follower = _Follower(cluster, warehouse, say)
            if _first_publish(follower, opts.poll_s, stopping, say):
                cluster.restart(listen=True)
                say(f"  connect: {cluster.reader_url()}  (password: ${PASSWORD_ENV}; schemas tongbi, bi)")
                _follow(follower, opts.poll_s, stopping)
            say("stopping PostgreSQL …")
        say("stopped")
        return 0
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@dataclass
class _Follower:
    """Publishes the warehouse whenever the version it names changes; reports a failing version
    once (it is retried at every poll)."""

    cluster: Cluster
    warehouse: Path
    say: Callable[[str], None]
    published: tuple[int, int, int, int] | None = None
    reported: tuple[int, int, int, int] | None = None

    def poll(self) -> None:
        current = _identity(self.warehouse)
        if current is not None and current != self.published:
            try:
                publish_to_postgres(self.warehouse, self.cluster.admin_dsn(), log=self.say)
                self.published = current
            except PostgresPublishError as exc:
                if self.reported != current:
                    print(f"tongbi serve: {exc}", file=sys.stderr, flush=True)
                    self.reported = current
        if not self.cluster.alive():
            raise ServeError(f"PostgreSQL stopped unexpectedly: {self.cluster.log_tail()}")


def _sleep(poll_s: float, stopping: list[int]) -> None:
    deadline = time.monotonic() + poll_s
    while not stopping and time.monotonic() < deadline:
        time.sleep(0.1)


def _first_publish(follower: _Follower, poll_s: float, stopping: list[int], say: Callable[[str], None]) -> bool:
    """Publish over the private socket until one copy is in place; False when stopped first."""
    if _identity(follower.warehouse) is None:
        say(f"waiting for {follower.warehouse} (tongbi run --warehouse {follower.warehouse}); "
            "the port opens once it is published")
    while not stopping:
        follower.poll()
        if follower.published is not None:
            return True
        _sleep(poll_s, stopping)
    return False


def _follow(follower: _Follower, poll_s: float, stopping: list[int]) -> None:
    while not stopping:
        _sleep(poll_s, stopping)
        if not stopping:
            follower.poll()
