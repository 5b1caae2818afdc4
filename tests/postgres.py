"""A real PostgreSQL server for the tests, started from Debian's installed binaries.

initdb refuses to run as root (sessions and CI are root), so as root the server
runs as `nobody` via `runuser`, in a temp dir that user owns. It listens on a free
loopback port and a private unix socket dir; password auth over TCP (scram), so a
wrong password is refused exactly as on a deployed server.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg

PG_ROOT = Path("/usr/lib/postgresql")
USER, PASSWORD = "liqscope", "s3cret-Pa55"
RUN_AS = "nobody"


def binaries() -> Path | None:
    """The newest installed server's bin dir, or None."""
    found = sorted((p for p in PG_ROOT.glob("*/bin") if (p / "initdb").exists()), key=lambda p: int(p.parent.name))
    return found[-1] if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    """One throwaway cluster; `database()` hands out a fresh empty database URL per call."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="liqscope-pg-"))
        self.port = _free_port()
        self._names = itertools.count(1)
        self._as_user = ["runuser", "-u", RUN_AS, "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as_user, *args], check=True, capture_output=True, text=True, timeout=60)

    def start(self) -> None:
        """initdb (scram for TCP, trust on the private socket) and start on 127.0.0.1:port."""
        if self._as_user:
            shutil.chown(self.root, RUN_AS)
        (self.root / "pw").write_text(PASSWORD)
        data, log = self.root / "data", self.root / "log"
        self._run(
            str(self.bin_dir / "initdb"), "-D", str(data), "-U", USER, f"--pwfile={self.root / 'pw'}",
            "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start")

    def stop(self) -> None:
        """Stop the server at once and delete its files."""
        with contextlib.suppress(subprocess.SubprocessError):
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres", password: str = PASSWORD) -> str:
        return f"postgresql://{USER}:{password}@127.0.0.1:{self.port}/{database}"

    def database(self) -> str:
        """The URL of a new, empty database."""
        name = f"test_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return self.url(name)


@contextlib.contextmanager
def postgres_server(bin_dir: Path) -> Iterator[PostgresServer]:
    """A started server, stopped and deleted afterwards."""
    server = PostgresServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
