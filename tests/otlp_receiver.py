"""A local OTLP/HTTP trace receiver that writes what the collector's file exporter writes:
one ``{"resourceSpans": [...]}`` JSON object per export request, one per line, hex ids."""

from __future__ import annotations

import base64
import gzip
import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

_ID_KEYS = ("traceId", "spanId", "parentSpanId")


def _hex_ids(node: Any) -> Any:
    """protobuf's JSON mapping writes bytes as base64; the collector writes ids as hex."""
    if isinstance(node, dict):
        return {
            k: base64.b64decode(v).hex() if k in _ID_KEYS and isinstance(v, str) else _hex_ids(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_hex_ids(v) for v in node]
    return node


class Receiver:
    """Appends each export to ``self.target`` (which a test may switch between requests)."""

    def __init__(self, target: Path):
        self.target = target
        self.requests = 0
        self._lock = threading.Lock()

    def write(self, body: bytes, content_type: str) -> None:
        request = ExportTraceServiceRequest()
        if content_type.startswith("application/json"):
            payload = json.loads(body)
        else:
            request.ParseFromString(body)
            payload = MessageToDict(request, use_integers_for_enums=True)
        line = json.dumps(_hex_ids(payload), separators=(",", ":"))
        with self._lock:
            with self.target.open("a", encoding="utf-8") as out:
                out.write(line + "\n")
            self.requests += 1


@contextmanager
def otlp_receiver(target: Path) -> Iterator[tuple[Receiver, str]]:
    """Start the receiver on a free localhost port; yield it and its /v1/traces URL."""
    receiver = Receiver(target)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            receiver.write(body, self.headers.get("Content-Type", ""))
            reply = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver, f"http://127.0.0.1:{server.server_port}/v1/traces"
    finally:
        server.shutdown()
        server.server_close()
