"""`ragmon report --serve`: the report's files over HTTP on localhost, read-only.

Only the files the report wrote are served (an allow-list of names in one directory),
never a listing, never another file of the directory (`--out .` may hold the config and
the history database), never through a symlink. Requests must name this server in their
``Host`` header (localhost, 127.0.0.1 or [::1] with the port, or the bound address), so a
web page elsewhere cannot read the report through DNS rebinding. A malformed request is
a 400 and is logged in one line. GET and HEAD only; ``/metrics`` answers with the
Prometheus exposition, computed afresh on each request by ``metrics``.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import stat
from collections.abc import Callable, Collection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LOCAL_NAMES = ("localhost", "127.0.0.1", "[::1]")


class _BadRequest(Exception):
    """The request target or its Host header cannot be used."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    directory: Path
    files: frozenset[str]
    hosts: frozenset[str]
    metrics: Callable[[], bytes]

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a traceback to stderr; one line in the log is enough.
        log.warning("report server: request from %s failed", client_address[0], exc_info=False)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "ragmon"
    sys_version = ""

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _refuse(self) -> None:
        self.send_error(405, "ragmon report --serve is read-only")

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse

    def _answer(self, *, body: bool) -> None:
        try:
            self._check_host()
            name = self._name()
        except _BadRequest as exc:
            self.send_error(400, str(exc))
            return
        if name == "metrics":
            self._send(200, self.server.metrics(), PROMETHEUS_CONTENT_TYPE, body=body)
            return
        content = self._read(name)
        if content is None:
            self.send_error(404, "Not a file of this report")
            return
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind in ("application/json", "text/javascript"):
            kind += "; charset=utf-8"
        self._send(200, content, kind, body=body)

    def _check_host(self) -> None:
        host = self.headers.get("Host")
        if host is None or host.strip().lower() not in self.server.hosts:
            raise _BadRequest("unexpected Host header: open the report through localhost")

    def _name(self) -> str:
        """The file name a request asks for: one name of the allow-list, or ``metrics``."""
        target = self.path
        if (
            not target.startswith("/")
            or target.startswith("//")
            or any(not 33 <= ord(c) <= 126 for c in target)  # RFC 9112: visible ASCII only
            or _bad_escape(target)
        ):
            raise _BadRequest("malformed request target")
        path = urlsplit(target).path
        try:
            name = unquote(path[1:], errors="strict")
        except UnicodeDecodeError:
            raise _BadRequest("malformed request target") from None
        if any(ord(c) < 32 for c in name):
            raise _BadRequest("malformed request target")
        return name or "index.html"

    def _read(self, name: str) -> bytes | None:
        if name not in self.server.files:
            return None
        path = self.server.directory / name
        try:
            # O_NOFOLLOW: a report file replaced by a symlink since is not followed.
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return None
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return None
            return handle.read()

    def _send(self, code: int, content: bytes, kind: str, *, body: bool) -> None:
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(content)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if body:
            self.wfile.write(content)

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)


def _bad_escape(path: str) -> bool:
    """A ``%`` not followed by two hex digits (``unquote`` would pass it through)."""
    index = path.find("%")
    while index != -1:
        pair = path[index + 1 : index + 3]
        if len(pair) < 2 or any(c not in "0123456789abcdefABCDEF" for c in pair):
            return True
        index = path.find("%", index + 1)
    return False


def make_server(
    directory: Path,
    metrics: Callable[[], bytes],
    *,
    files: Collection[str],
    host: str = "127.0.0.1",
    port: int = 8050,
) -> ThreadingHTTPServer:
    """A server for the report ``files`` (names in ``directory``; call ``serve_forever``).

    Port 0 picks a free one. Raises `OSError` when the address cannot be bound.
    """
    server = _Server((host, port), _Handler)
    bound = server.server_address[1]
    names = {*LOCAL_NAMES, host if ":" not in host else f"[{host}]"}
    server.directory = Path(directory)
    server.files = frozenset(n for n in files if "/" not in n and n not in ("", ".", ".."))
    server.hosts = frozenset(f"{n}:{bound}".lower() for n in names)
    server.metrics = metrics
    return server
