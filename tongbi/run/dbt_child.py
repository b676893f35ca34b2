"""A dbt process started before its command is known: `python -m tongbi.run.dbt_child FD`.

Importing dbt takes about 3 s of a 10k incremental run's dbt stage. tongbi starts this process
when the run starts (tongbi/run/build.py, `EarlyDbt`), so the import happens while the run
extracts and prepares the staging file; then it sends, on the socket FD, the dbt arguments as
JSON together with the file descriptors the process must hold (the build lock, SCM_RIGHTS), and
this process runs them as the `dbt` command does. An empty message (the run needs no dbt) ends
it. Nothing of tongbi is imported here: the process is dbt's, as `dbt` started by hand would be.
"""
from __future__ import annotations

import json
import os
import socket
import sys


def main(argv: list[str]) -> int:
    sock = socket.socket(fileno=int(argv[0]))
    # what `dbt run` / `dbt build` import before and while loading the project; importing them
    # early changes no behaviour, only when the time is spent
    import dbt.adapters.duckdb  # noqa: F401
    import dbt.parser.manifest  # noqa: F401
    import dbt.task.build  # noqa: F401
    import dbt.task.run  # noqa: F401
    from dbt.cli.main import cli

    message, fds, _flags, _addr = socket.recv_fds(sock, 1 << 20, 8)
    if not message:
        return 0
    del fds   # never closed: the locks they hold stay held while this process lives
    args = json.loads(message.decode("utf-8"))
    os.environ.update(args.get("env", {}))
    sock.close()
    sys.argv = ["dbt", *args["argv"]]
    try:
        code = cli()
    except SystemExit as exc:   # click's standalone mode exits with dbt's code
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
