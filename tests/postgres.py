"""A throw-away PostgreSQL server for the tests that run the history store on it.

Debian's ``postgresql`` package puts ``initdb`` and ``pg_ctl`` under
``/usr/lib/postgresql/<version>/bin`` (not on PATH); `.ci/run` installs it. Where neither
is found the PostgreSQL half of a test is skipped, except in CI (``CI`` set), where a
missing server is a failure: the suite must not pass there by testing SQLite alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port


def postgres_binary(name: str) -> str | None:
    """On PATH, or where Debian's postgresql package puts it."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(versions[-1]) if versions else None


@dataclass(frozen=True, kw_only=True)
class PostgresServer:
    """A running server on a Unix socket in ``socket_dir``, trusting the user ``ragmon``."""

    socket_dir: Path
    port: int

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql+psycopg://ragmon@/{database}?host={self.socket_dir}&port={self.port}"

    def new_database(self) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        import psycopg

        name = f"t{uuid.uuid4().hex[:16]}"
        admin = self.url().replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """Start a server in a temporary directory for the ``with`` block (skip or fail when
    PostgreSQL is not installed; see the module docstring)."""
    initdb, pg_ctl = postgres_binary("initdb"), postgres_binary("pg_ctl")
    if not (initdb and pg_ctl):
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL (initdb, pg_ctl) is not installed; .ci/run installs it")
        pytest.skip("PostgreSQL (initdb, pg_ctl) is not installed")
    import psycopg  # noqa: F401  (in the test extra; its absence is a real failure)

    root = Path(tempfile.mkdtemp(prefix="ragmon-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    data, log = root / "data", root / "server.log"
    subprocess.run(
        [*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "ragmon"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [*as_user, pg_ctl, "-D", str(data), "-l", str(log), "-w", "start", "-o",
         f"-k {root} -p {port} -c listen_addresses='' -c max_connections=200"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    try:
        yield PostgresServer(socket_dir=root, port=port)
    finally:
        subprocess.run(
            [*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)
