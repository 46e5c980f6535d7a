"""`ragmon report --serve`: the report directory over HTTP on localhost, read-only.

GET and HEAD only; ``/metrics`` answers with the Prometheus exposition, computed afresh
on each request by ``metrics``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Handler(SimpleHTTPRequestHandler):
    metrics: Callable[[], bytes]

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/metrics":
            body = self.metrics()
            self.send_response(200)
            self.send_header("Content-Type", PROMETHEUS_CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def _refuse(self) -> None:
        self.send_error(405, "ragmon report --serve is read-only")

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)


def make_server(
    directory: Path, metrics: Callable[[], bytes], *, host: str = "127.0.0.1", port: int = 8050
) -> ThreadingHTTPServer:
    """A server for ``directory`` (call ``serve_forever``); port 0 picks a free one."""
    handler = type("ReportHandler", (_Handler,), {"metrics": staticmethod(metrics)})
    return ThreadingHTTPServer((host, port), functools.partial(handler, directory=str(directory)))
