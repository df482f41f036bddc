"""A throw-away PostgreSQL server for the test session (the recipe from PEERS.md). Its test
databases are copies of one migrated template database (``CREATE DATABASE … TEMPLATE``), made on
first use: see tests/support/databases.py."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.ports import free_port

__all__ = ["PostgresServer", "free_port", "pg_bin"]


def pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class PostgresServer:
    def __init__(self) -> None:
        bindir = pg_bin()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="hub-pg-"))
        self.port = free_port()
        self._counter = 0
        self._template: str | None = None

    def _run(self, *args: str) -> None:
        cmd = [str(a) for a in args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)

    def start(self) -> PostgresServer:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(self.bindir / "initdb", "-D", self.dir / "pg", "-A", "trust", "-U", "hub",
                  "--no-sync")
        self._run(self.bindir / "pg_ctl", "-D", self.dir / "pg", "-w", "-t", "30", "-o",
                  f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                  "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                  "-l", self.dir / "log", "start")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"PostgreSQL did not start; see {self.dir / 'log'}")

    def url(self, name: str) -> str:
        return f"postgresql+asyncpg://hub@127.0.0.1:{self.port}/{name}"

    def _createdb(self, name: str, *options: str) -> None:
        self._run(self.bindir / "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "hub",
                  *options, name)

    def new_database(self, *, migrated: bool = True) -> str:
        """A new database: a copy of the migrated template, or (``migrated=False``) empty."""
        self._counter += 1
        name = f"hub_test_{self._counter}"
        if not migrated:
            self._createdb(name)
            return self.url(name)
        if self._template is None:
            from tests.support.databases import migrate_url

            self._createdb("hub_template")
            migrate_url(self.url("hub_template"))  # the whole migration history, on PostgreSQL
            self._template = "hub_template"
        self._createdb(name, "-T", self._template)
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run(self.bindir / "pg_ctl", "-D", self.dir / "pg", "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
