"""`ragmon report --serve` serves the report's own files and nothing else: no directory
listings, no other file of the output directory, no symlink out of it, only requests
addressed to localhost, and a malformed request is a 400, never a server traceback."""

from __future__ import annotations

import http.client
import logging
import socket
import threading

import pytest

from dashboards.serve import make_server
from jobs.report import build_report, prometheus_text
from monitor.config import config_from_dict
from monitor.history import HistoryStore


@pytest.fixture()
def served(tmp_path, capsys, caplog):
    """A report written into a directory that also holds a config, a history database, a
    subdirectory and symlinks out of it (as with `report --out .`), served on a free port."""
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "out"
    (tmp_path / "docs").mkdir()
    config = config_from_dict(
        {
            "store": {"path": "chroma"},
            "sources": {"root": "docs"},
            "history": {"url": f"sqlite:///{out / 'history.db'}"},
        },
        base_dir=tmp_path,
    )
    history = HistoryStore.open(config.history_url)
    files = build_report(config, history, out_dir=out)
    (out / "ragmon.toml").write_text('[store]\npath = "secret-place"\n')
    (out / "sub").mkdir()
    (out / "sub" / "note.txt").write_text("not part of the report\n")
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET\n")
    (out / "passwd").symlink_to("/etc/passwd")
    (out / "secret.txt").symlink_to(secret)
    (out / "up").symlink_to(tmp_path)
    server = make_server(out, lambda: prometheus_text(config, history), files=files.names, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], files
    finally:
        server.shutdown()
        server.server_close()
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert "Traceback" not in caplog.text


def _get(port: int, path: str, host: str | None = "default") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        if host is not None:
            conn.putheader("Host", f"127.0.0.1:{port}" if host == "default" else host)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_the_report_files_are_served(served):
    port, files = served
    assert set(files.names) >= {"index.html", "report.json", "plotly.min.js"}
    status, body = _get(port, "/")
    assert status == 200 and b"<html" in body.lower()
    for name in files.names:
        status, body = _get(port, f"/{name}")
        assert status == 200, name
        assert body == (files.index.parent / name).read_bytes()
    status, body = _get(port, "/index.html?x=1#top")
    assert status == 200
    status, body = _get(port, "/metrics")
    assert status == 200 and b"ragmon_job_overdue" in body


@pytest.mark.parametrize(
    "path",
    [
        "/ragmon.toml",
        "/history.db",
        "/sub/",
        "/sub",
        "/sub/note.txt",
        "/passwd",
        "/secret.txt",
        "/up/secret.txt",
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "//etc/passwd",
        "/index.html/",
        "/.index.html.tmp",
    ],
)
def test_nothing_else_is_served(served, path):
    port, _ = served
    status, body = _get(port, path)
    assert status == 404, (path, status)
    assert b"TOP SECRET" not in body and b"root:" not in body and b"secret-place" not in body
    assert b"Directory listing" not in body


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:{port}",
        "127.0.0.1:1",
        "localhost",
        "rebind.attacker.net:{port}",
    ],
)
def test_a_foreign_host_header_is_refused(served, host):
    port, _ = served
    status, _ = _get(port, "/index.html", host=host.format(port=port))
    assert status == 400


def test_a_missing_host_header_is_refused(served):
    port, _ = served
    assert _get(port, "/index.html", host=None)[0] == 400


@pytest.mark.parametrize("host", ["localhost:{port}", "127.0.0.1:{port}", "[::1]:{port}"])
def test_local_host_headers_are_accepted(served, host):
    port, _ = served
    assert _get(port, "/index.html", host=host.format(port=port))[0] == 200


@pytest.mark.parametrize(
    "target",
    [
        b"/%ff%fe",
        b"/index%00.html",
        b"/%zz",
        b"http://evil.example/index.html",
        b"*",
        b"index.html",
        b"/\xff",
    ],
)
def test_a_malformed_path_is_a_400(served, target):
    port, _ = served
    answer = _raw(port, b"GET " + target + f" HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode()
                  + b"Connection: close\r\n\r\n")  # fmt: skip
    assert answer.startswith(b"HTTP/1.0 400 ") or answer.startswith(b"HTTP/1.1 400 "), answer[:80]
