"""Keeping secrets (webhook URLs, SMTP passwords) out of logs, errors and the history store."""

from __future__ import annotations

import base64
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
            forms |= _url_parts(secret)
        self._forms = sorted((f for f in forms if len(f) >= _MIN_LENGTH), key=len, reverse=True)

    @classmethod
    def for_smtp(cls, username: str | None, password: str | None) -> Redactor:
        """A redactor for an SMTP password and the base64 forms AUTH sends it in
        (``LOGIN``: the password alone; ``PLAIN``: ``\\0user\\0password``), so a server
        that echoes the exchange in its error cannot put the password in our output."""
        if not password:
            return cls()
        user = username or ""
        raw = [password.encode(), f"\0{user}\0{password}".encode()]
        raw.append(f"{user}\0{user}\0{password}".encode())
        encoded = [base64.b64encode(r).decode() for r in raw]
        # A server may echo the blob without its padding.
        return cls([password, *encoded, *(e.rstrip("=") for e in encoded)])

    def __call__(self, text: str) -> str:
        for form in self._forms:
            text = text.replace(form, MASK)
        return text

    def __add__(self, other: Redactor) -> Redactor:
        joined = Redactor()
        joined._forms = sorted({*self._forms, *other._forms}, key=len, reverse=True)
        return joined


def _url_parts(secret: str) -> set[str]:
    """The secret parts of a URL: its path and query, and a password in its userinfo.

    A string that does not parse as a URL adds nothing (it is still masked whole): the
    redactor must never fail, since it runs on the way to reporting a failure.
    """
    try:
        parts = urlsplit(secret)
        password = parts.password
    except ValueError:
        return set()
    forms: set[str] = set()
    if password:
        forms |= {password, f"{parts.username}:{password}"}
    if parts.scheme and parts.netloc:
        tail = parts.path + (f"?{parts.query}" if parts.query else "")
        if len(tail) >= 8:
            forms.add(tail)
    return forms
