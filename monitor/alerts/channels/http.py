"""POST a JSON body to a webhook URL, with errors that never contain the URL.

The standard library is used on purpose: it logs nothing, so the URL (a secret for Slack
and most webhooks) cannot leak through an HTTP client's debug or info logging.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from monitor import __version__
from monitor.alerts.redact import Redactor
from monitor.errors import DeliveryError


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirected POST would be replayed as a GET without its body: fail instead."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be used for a webhook, or None when it can.

    The answer never quotes the URL (it is a secret). A webhook URL is read from the
    environment when a message is sent, so a bad one fails its own channel, permanently,
    instead of stopping the evaluation.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a non-numeric or out-of-range port)
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return f"expected an http:// or https:// URL, got scheme {parts.scheme or 'none'!r}"
    if not parts.hostname:
        return "the URL names no host"
    if parts.username is not None or parts.password is not None:
        # urllib sends no Basic auth from the URL: it would try to resolve "user:pw@host".
        return "user:password in the URL is not supported; put the token in the URL path"
    return None


def post_json(url: str, payload: Any, *, timeout: float, channel: str) -> None:
    """POST ``payload``; raise `DeliveryError` unless the answer is 2xx.

    Timeouts, refused connections, HTTP 5xx, 408 and 429 are retryable; other answers
    are not (the request itself is wrong and will be retried next run, after a fix).
    """
    redact = Redactor([url])
    problem = url_problem(url)
    if problem is not None:
        raise DeliveryError(channel, f"unusable URL: {problem}", retryable=False)
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": f"ragmon/{__version__}"},
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        retryable = exc.code >= 500 or exc.code in (408, 429)
        reason = redact(f"HTTP {exc.code} {exc.reason}")
        raise DeliveryError(channel, reason, retryable=retryable) from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise DeliveryError(channel, f"timed out after {timeout:g} s") from None
        # "unknown url type" and the like: the request cannot work, however often tried.
        permanent = isinstance(exc.reason, str | ValueError)
        raise DeliveryError(
            channel, redact(f"connection failed: {exc.reason}"), retryable=not permanent
        ) from None
    except TimeoutError:
        raise DeliveryError(channel, f"timed out after {timeout:g} s") from None
    except ValueError as exc:  # http.client.InvalidURL and urllib's own refusals
        reason = redact(f"{type(exc).__name__}: {exc}")
        raise DeliveryError(channel, reason, retryable=False) from None
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryError(channel, redact(f"{type(exc).__name__}: {exc}")) from None
