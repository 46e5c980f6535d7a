"""Read the next pages of a store in a thread while the current one is measured.

chromadb's reads release the GIL for most of their time, so on two cores reading and
measuring overlap: a job takes about the longer of the two instead of their sum (the
chunking job, the freshness audit).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


def prefetched(pages: Iterator[T], *, depth: int = 2) -> Iterator[T]:
    """Yield what ``pages`` yields, read up to ``depth`` items ahead in a thread.

    An error raised while reading is raised here, in the consumer. When the consumer stops
    early, the reader stops at its next page.
    """
    ready: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def read() -> None:
        try:
            for page in pages:
                while not stop.is_set():
                    try:
                        ready.put(page, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ready.put(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            ready.put(exc)

    reader = threading.Thread(target=read, name="ragmon-prefetch", daemon=True)
    reader.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        reader.join(timeout=5)
