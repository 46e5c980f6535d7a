"""`AlertChannel` to email over SMTP: plain, STARTTLS or implicit TLS, optional AUTH."""

from __future__ import annotations

import re
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Literal

from monitor.alerts.messages import email_message
from monitor.alerts.redact import MASK, Redactor
from monitor.errors import DeliveryError
from monitor.records import Notification

_BLOB = re.compile(r"(?<![A-Za-z0-9+/=])(?=[A-Za-z0-9+/]*[0-9+/=])[A-Za-z0-9+/]{12,}={0,2}")
"""A base64 blob (with a digit, ``+``, ``/`` or padding, so plain words are kept)."""


class EmailChannel:
    """Sends each notice as one plain-text email to every address in ``to``.

    ``security``: ``starttls`` (upgrade a plain connection, port 587), ``ssl`` (TLS from
    the first byte, port 465) or ``none``. The server certificate is verified against the
    system's CAs, or against ``ca_file``. The password only ever goes to ``login``.
    """

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int,
        security: Literal["starttls", "ssl", "none"],
        sender: str,
        to: list[str],
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        ca_file: Path | None = None,
    ):
        self._name = name
        self.host = host
        self.port = port
        self.security = security
        self.sender = sender
        self.to = to
        self._username = username
        self._password = password
        self.timeout = timeout
        self.ca_file = ca_file
        self._redact = Redactor.for_smtp(username, password)

    @property
    def name(self) -> str:
        return self._name

    def describe(self) -> str:
        auth = f", AUTH as {self._username}" if self._username else ""
        return f"email via {self.host}:{self.port} ({self.security}{auth}) to {', '.join(self.to)}"

    def send(self, notification: Notification) -> None:
        message = email_message(notification, sender=self.sender, to=self.to)
        try:
            refused = self._deliver(message)
        except smtplib.SMTPResponseException as exc:
            text = (
                exc.smtp_error.decode("utf-8", "replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            if isinstance(exc, smtplib.SMTPAuthenticationError):
                # A server may echo the AUTH exchange: mask every base64 blob, not only
                # the encodings of the password we know of.
                text = _BLOB.sub(MASK, text)
            raise DeliveryError(
                self._name,
                self._redact(f"SMTP {exc.smtp_code} {text}"),
                retryable=400 <= exc.smtp_code < 500,
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(
                self._name, f"every recipient refused: {sorted(exc.recipients)}", retryable=False
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(self._name, self._redact(str(exc)), retryable=False) from None
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryError(
                self._name,
                f"server certificate not trusted: {exc.verify_message}",
                retryable=False,
            ) from None
        except TimeoutError:
            raise DeliveryError(self._name, f"timed out after {self.timeout:g} s") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(self._name, self._redact(f"{type(exc).__name__}: {exc}")) from None
        if refused:
            raise DeliveryError(
                self._name, f"recipients refused: {sorted(refused)}", retryable=False
            )

    def _deliver(self, message: EmailMessage) -> dict[str, tuple[int, bytes]]:
        context = ssl.create_default_context(
            cafile=str(self.ca_file) if self.ca_file is not None else None
        )
        client: smtplib.SMTP
        if self.security == "ssl":
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with client:
            if self.security == "starttls":
                client.starttls(context=context)
            if self._username is not None and self._password is not None:
                client.login(self._username, self._password)
            return client.send_message(message)
