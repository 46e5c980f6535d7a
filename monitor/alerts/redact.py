"""Keeping secrets (webhook URLs, SMTP passwords) out of logs, errors and the history store."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote, urlsplit

MASK = "***"
_MIN_LENGTH = 4
"""Shorter strings are not masked: they would mask ordinary words too."""


class Redactor:
    """Replaces every known secret, and the forms it may take in a message, by ``***``.

    A URL is also masked by its path and query alone (the secret part of a Slack or
    webhook URL), and percent-encoded forms are masked too.
    """

    def __init__(self, secrets: Iterable[str] = ()):
        forms: set[str] = set()
        for secret in secrets:
            if not secret:
                continue
            forms |= {secret, quote(secret, safe=""), quote(secret)}
            parts = urlsplit(secret)
            if parts.scheme and parts.netloc:
                tail = parts.path + (f"?{parts.query}" if parts.query else "")
                if len(tail) >= 8:
                    forms.add(tail)
        self._forms = sorted((f for f in forms if len(f) >= _MIN_LENGTH), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            text = text.replace(form, MASK)
        return text

    def __add__(self, other: Redactor) -> Redactor:
        joined = Redactor()
        joined._forms = sorted({*self._forms, *other._forms}, key=len, reverse=True)
        return joined
