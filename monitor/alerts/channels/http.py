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

from monitor import __version__
from monitor.alerts.redact import Redactor
from monitor.errors import DeliveryError


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirected POST would be replayed as a GET without its body: fail instead."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def post_json(url: str, payload: Any, *, timeout: float, channel: str) -> None:
    """POST ``payload``; raise `DeliveryError` unless the answer is 2xx.

    Timeouts, refused connections, HTTP 5xx, 408 and 429 are retryable; other answers
    are not (the request itself is wrong and will be retried next run, after a fix).
    """
    redact = Redactor([url])
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
        raise DeliveryError(channel, redact(f"connection failed: {exc.reason}")) from None
    except TimeoutError:
        raise DeliveryError(channel, f"timed out after {timeout:g} s") from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise DeliveryError(channel, redact(f"{type(exc).__name__}: {exc}")) from None
