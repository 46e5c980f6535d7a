"""Calls to a Chroma server that cannot hang a run: a timeout on every request, and
retries with backoff for the failures that trying again may cure (a timeout, a refused
or dropped connection), then a `StoreError` saying what did not answer.

chromadb's objects stay in `monitor.stores.chroma`; this module only wraps calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from monitor.errors import StoreError

T = TypeVar("T")


ATTEMPTS = 3
"""Tries of a store call that timed out or lost its connection, before the run fails."""


def _transient(exc: BaseException) -> bool:
    """A failure that trying again may cure: a timeout, a refused or dropped connection."""
    import httpx

    return isinstance(exc, httpx.TransportError | TimeoutError | ConnectionError)


def with_retries(call: Callable[[], T], *, what: str, where: str, timeout: float | None) -> T:
    """``call()``, tried up to `ATTEMPTS` times with exponential backoff (0.5 s, 1 s, ...)
    while it fails transiently; then a `StoreError` that says what did not answer.
    Other errors propagate at once."""
    import httpx
    from tenacity import (
        RetryError,
        Retrying,
        retry_if_exception,
        stop_after_attempt,
        wait_exponential,
    )

    retrying = Retrying(
        stop=stop_after_attempt(ATTEMPTS),
        wait=wait_exponential(multiplier=0.5, max=4),
        retry=retry_if_exception(_transient),
    )
    try:
        return retrying(call)
    except RetryError as exc:
        last = exc.last_attempt.exception()
        if isinstance(last, httpx.TimeoutException | TimeoutError) and timeout is not None:
            raise StoreError(
                f"The Chroma server at {where} did not answer within {timeout:g} s "
                f"({ATTEMPTS} attempts) to {what}. Check that it is not stuck or overloaded, "
                "or raise store.timeout_seconds."
            ) from None
        raise StoreError(
            f"Chroma {what} failed on {where} ({ATTEMPTS} attempts): {type(last).__name__}: {last}"
        ) from None
