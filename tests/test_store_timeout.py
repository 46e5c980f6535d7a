"""A Chroma server that accepts connections but never answers cannot hang a run: every
store call has a timeout (`[store] timeout_seconds`), transient failures are retried
with backoff, and what still fails is a `StoreError`, exit 3, with the lock released.

The servers are real sockets: one that accepts and never answers, and a proxy in front
of a real `chroma run` that swallows the first connection and forwards the others.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from jobs.cli import cli
from monitor.config import StoreConfig
from monitor.errors import StoreError
from monitor.history import HistoryStore
from monitor.stores.chroma import ChromaStore
from tests.conftest import fill_collection


class SilentServer:
    """Accepts every TCP connection, reads what comes, and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        self.sock.settimeout(0.05)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.append(conn)

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self.accepted:
            conn.close()
        self.sock.close()


class SwallowFirstProxy:
    """Forwards TCP to ``upstream``, except the first ``swallow`` connections, which are
    accepted and left without an answer (a server stuck on one request)."""

    def __init__(self, upstream: tuple[str, int], *, swallow: int = 1) -> None:
        self.upstream = upstream
        self.swallow = swallow
        self.silent = SilentServer()  # reuse its listening socket and bookkeeping
        self.port = self.silent.port
        self.connections = 0
        self._threads: list[threading.Thread] = []

    def _accept(self) -> None:
        server = self.silent
        server.sock.settimeout(0.05)
        while not server._stop.is_set():
            try:
                conn, _ = server.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            server.accepted.append(conn)
            if self.connections <= self.swallow:
                continue
            upstream = socket.create_connection(self.upstream)
            server.accepted.append(upstream)
            for a, b in ((conn, upstream), (upstream, conn)):
                thread = threading.Thread(target=_pump, args=(a, b), daemon=True)
                thread.start()
                self._threads.append(thread)

    def __enter__(self) -> SwallowFirstProxy:
        self.silent._thread = threading.Thread(target=self._accept, daemon=True)
        self.silent._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.silent.__exit__()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


@pytest.fixture()
def silent() -> Iterator[SilentServer]:
    with SilentServer() as server:
        yield server


def _config_file(tmp_path: Path, port: int, *, timeout: float = 0.3) -> Path:
    (tmp_path / "docs").mkdir(exist_ok=True)
    (tmp_path / "docs" / "a.md").write_text("# A\n\nSome text.\n")
    path = tmp_path / "ragmon.toml"
    path.write_text(
        f'[store]\nhost = "127.0.0.1"\nport = {port}\ncollection = "docs"\n'
        f"timeout_seconds = {timeout}\n"
        '[sources]\nroot = "docs"\n[freshness]\nembedding_sample = 0\n'
        "[alerts]\nenabled = false\n",
        encoding="utf-8",
    )
    return path


def test_an_audit_against_a_silent_store_exits_3_and_releases_its_lock(tmp_path, silent):
    path = _config_file(tmp_path, silent.port)

    result = CliRunner().invoke(cli, ["-c", str(path), "run", "freshness"])

    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 3, result.output
    assert (
        f"Chroma server at http://127.0.0.1:{silent.port} did not answer within 0.3 s "
        "(3 attempts)" in result.output
    )
    assert len(silent.accepted) == 3  # each attempt reached the server, none was answered
    history = HistoryStore.open(f"sqlite:///{tmp_path / '.ragmon' / 'history.db'}")
    (run,) = history.runs("freshness")
    assert str(run.status) == "failed" and "did not answer" in (run.error or "")
    # the lock was released: the next run starts (and fails the same way) instead of exit 4
    again = CliRunner().invoke(cli, ["-c", str(path), "run", "freshness"])
    assert again.exit_code == 3


def test_index_dry_run_against_a_silent_store_exits_3(tmp_path, silent):
    path = _config_file(tmp_path, silent.port)
    result = CliRunner().invoke(cli, ["-c", str(path), "index", "--dry-run"])
    assert result.exit_code == 3
    assert "did not answer within 0.3 s" in result.output


def test_the_timeout_is_a_setting_with_a_default():
    assert StoreConfig(host="h").timeout_seconds == 30
    assert StoreConfig(host="h", timeout_seconds=2.5).timeout_seconds == 2.5
    with pytest.raises(ValueError):
        StoreConfig(host="h", timeout_seconds=0)


def test_a_call_that_hangs_once_is_retried_and_succeeds(chroma_server):
    config = StoreConfig(
        host=chroma_server[0], port=chroma_server[1], collection="retried", timeout_seconds=0.5
    )
    fill_collection(config, ["a", "b", "c"], documents=["x", "y", "z"])
    with SwallowFirstProxy(chroma_server, swallow=1) as proxy:
        store = ChromaStore.from_config(config.model_copy(update={"port": proxy.port}))
        assert store.count() == 3
        assert sorted(c.id for page in store.pages() for c in page) == ["a", "b", "c"]
    assert proxy.connections >= 2  # the swallowed one, then the retry


def test_a_store_call_that_hangs_after_connecting_times_out(chroma_server):
    """The client is made through the proxy; later calls hang, and time out as StoreError."""
    config = StoreConfig(
        host=chroma_server[0], port=chroma_server[1], collection="hangs", timeout_seconds=0.5
    )
    fill_collection(config, ["a"], documents=["x"])
    with SwallowFirstProxy(chroma_server, swallow=0) as proxy:
        store = ChromaStore.from_config(config.model_copy(update={"port": proxy.port}))
        proxy.swallow = 10**6  # from now on no connection is answered ...
        for conn in list(proxy.silent.accepted):  # ... and open ones are cut off upstream
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        with pytest.raises(StoreError) as failed:
            store.count()
    assert "(3 attempts)" in str(failed.value)
