"""Builders for alert tests: configs, stored runs, and real HTTP and SMTP servers on localhost."""

from __future__ import annotations

import json
import ssl
import threading
from collections import deque
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text

from jobs.registry import config_from_dict
from monitor.config import Config
from monitor.history import HistoryStore
from monitor.records import Finding, Metric, RunResult, RunStatus, Severity
from tests.conftest import free_port

FAST_RETRY = {"budget": "1h", "initial_backoff": "0.01s", "max_backoff": "0.02s", "max_attempts": 3}
"""Retry settings that end by their count, never by the clock: a failing delivery makes
exactly three attempts however busy the machine is (the budget is tested on its own, with
a `VirtualClock`)."""


class VirtualClock:
    """A monotonic clock that only moves when something sleeps on it (or `advance` is
    called): pass ``clock=vc.monotonic, sleep=vc.sleep`` where the code takes them, and a
    retry budget is spent by the backoffs alone, never by a slow machine."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        with self._lock:
            self.slept.append(seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def alert_config(
    tmp_path: Path,
    *,
    jobs: dict[str, Any] | None = None,
    freshness: dict[str, Any] | None = None,
    history_url: str | None = None,
    **alerts: Any,
) -> Config:
    """A config with an [alerts] section; store and sources exist but are never read.
    The history is a SQLite file in ``tmp_path`` unless ``history_url`` names another."""
    (tmp_path / "docs").mkdir(exist_ok=True)
    data: dict[str, Any] = {
        "store": {"path": str(tmp_path / "chroma"), "collection": "docs"},
        "sources": {"root": str(tmp_path / "docs")},
        "history": {"url": history_url or f"sqlite:///{tmp_path / 'history.db'}"},
        "alerts": {"retry": FAST_RETRY, **alerts},
        "jobs": jobs or {},
        "freshness": freshness or {},
    }
    return config_from_dict(data, base_dir=tmp_path)


def store_run(
    history: HistoryStore,
    metrics: dict[str, float] | list[Metric],
    *,
    job: str = "freshness",
    started_at: datetime | None = None,
    findings: tuple[Finding, ...] = (),
    labels: dict[str, str] | None = None,
    details: dict[str, Any] | None = None,
) -> int:
    """Record a completed run with these figures, as a job would."""
    if isinstance(metrics, dict):
        metrics = [
            Metric(name=k, value=v, labels=labels or {"collection": "docs"})
            for k, v in metrics.items()
        ]
    run_id = history.start_run(job, started_at=started_at)
    history.finish_run(
        run_id,
        RunResult(
            status=RunStatus.FINDINGS,
            summary="stored by a test",
            metrics=tuple(metrics),
            findings=findings,
            details=details or {},
        ),
    )
    return run_id


def empty_freshness_result() -> dict[str, Any]:
    """The stored result of a freshness audit of an empty store, for runs made by tests."""
    from monitor.freshness.results import (
        AgeStats,
        ClassCounts,
        FreshnessResult,
        Shares,
        TextCheck,
    )

    return FreshnessResult(
        collection="docs",
        store="chroma",
        audited_at=datetime(2026, 11, 24, tzinfo=UTC),
        chunks=0,
        documents=0,
        counts=ClassCounts(chunks={}, documents={}),
        shares=Shares(stale=0.0, orphaned=0.0, coverage=1.0),
        staleness_age_seconds=AgeStats(),
        newest_embedding=None,
        newest_source_change=None,
        text_check=TextCheck(
            rule="verbatim", loader_rewrote_text=False, checked=0, verbatim=0, aligned_closely=0
        ),
        models_in_metadata={},
        conflicts=(),
        untraceable=(),
        source_reads=0,
        source_problems=(),
    ).to_json()


def stale_finding(doc: str, chunks: int) -> Finding:
    return Finding(
        kind="stale",
        severity=Severity.WARNING,
        message=f"{chunks} of {chunks} chunks stale (source hash changed)",
        source_id=doc,
        chunk_ids=tuple(f"{doc}#{i}" for i in range(chunks)),
    )


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def every_row(history: HistoryStore) -> str:
    """Every row of every table of the history database, as one string."""
    out = []
    tables = inspect(history.engine).get_table_names()
    with history.engine.connect() as conn:
        for table in tables:
            for row in conn.execute(text(f'select * from "{table}"')):
                out.append(f"{table}: {tuple(row)!r}")
    return "\n".join(out)


def outbox(history: HistoryStore) -> list[dict[str, Any]]:
    with history.engine.connect() as conn:
        rows = conn.execute(
            text("select channel, kind, status, attempts, last_error from alert_outbox order by id")
        )
        return [dict(r._mapping) for r in rows]


# -- a webhook receiver -------------------------------------------------------


class WebhookServer:
    """A real HTTP server on a free localhost port that answers from a script.

    Each POST takes the next behaviour from ``script`` (then ``default``): ``"ok"`` (200),
    ``"error"`` (500), ``"bad"`` (400) or ``"hang"`` (no answer until the server stops, so
    the client's timeout always fires first, on a fast machine or a loaded one). Every
    request is recorded, accepted ones separately.
    """

    def __init__(self) -> None:
        self.script: deque[str] = deque()
        self.default = "ok"
        self.released = threading.Event()
        self.requests: list[dict[str, Any]] = []
        self.accepted: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                record = {
                    "path": self.path,
                    "content_type": self.headers.get("Content-Type"),
                    "json": json.loads(body),
                }
                with server.lock:
                    server.requests.append(record)
                    behaviour = server.script.popleft() if server.script else server.default
                if behaviour == "hang":
                    server.released.wait(60)
                code = {"ok": 200, "hang": 200, "error": 500, "bad": 400}[behaviour]
                try:
                    self.send_response(code)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    return  # the client gave up waiting
                if code == 200 and behaviour == "ok":
                    with server.lock:
                        server.accepted.append(record)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the path holds the secret token; keep stderr clean too

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> WebhookServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()


# -- an SMTP server -----------------------------------------------------------


class Inbox:
    """aiosmtpd handler: keeps every message; answers from ``script`` (``"ok"``,
    ``"busy"`` = 451, ``"reject"`` = 554), then ``default``."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.script: deque[str] = deque()
        self.default = "ok"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        behaviour = self.script.popleft() if self.script else self.default
        if behaviour == "busy":
            return "451 4.3.0 Try again later"
        if behaviour == "reject":
            return "554 5.6.0 Message rejected"
        self.messages.append(envelope)
        return "250 OK"


def smtp_server(
    inbox: Inbox,
    *,
    mode: str = "plain",
    tls: ssl.SSLContext | None = None,
    login: tuple[str, str] | None = None,
) -> Any:
    """A started aiosmtpd `Controller` on a free port: ``plain``, ``starttls`` or ``ssl``."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    kwargs: dict[str, Any] = {}
    if login is not None:
        user, password = login

        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any):
            ok = data.login == user.encode() and data.password == password.encode()
            return AuthResult(success=ok, handled=False)

        kwargs |= {"authenticator": authenticate, "auth_required": True}
    if mode == "starttls":
        kwargs |= {"tls_context": tls, "require_starttls": True}
    elif mode == "ssl":
        kwargs |= {"ssl_context": tls, "auth_require_tls": False}
    elif login is not None:
        kwargs |= {"auth_require_tls": False}
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller


def tls_pair(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context with a certificate for 127.0.0.1 from a throw-away CA, and the
    CA's PEM file for the client to trust."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    pem = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    return context, pem
