"""A TCP gate in front of a real server: connections wait until the test opens it.

It holds a job in the middle of its run (its store has not answered yet) for as long as a
test needs, decided by an event rather than by time.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class GatedProxy:
    """Accepts on a free localhost port; forwards to ``target`` once `open` is called."""

    def __init__(self, target: tuple[str, int]):
        self._target = target
        self._gate = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self.waiting = threading.Semaphore(0)
        """Released once per connection that arrived and is being held."""
        threading.Thread(target=self._accept, daemon=True).start()

    def open(self) -> None:
        self._gate.set()

    def close(self) -> None:
        self._gate.set()
        self._server.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        self.waiting.release()
        self._gate.wait()
        try:
            upstream = socket.create_connection(self._target)
        except OSError:
            client.close()
            return
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
