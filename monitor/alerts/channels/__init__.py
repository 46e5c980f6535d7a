"""Alert channels, one adapter per file, and `build_channels` to make them from the config.

Secrets are read from the environment here, once, and only handed to the adapter that
needs them; the `Redactor` returned alongside masks them wherever text leaves ragmon.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from monitor.alerts.redact import Redactor
from monitor.alerts.settings import (
    ChannelSettings,
    ConsoleSettings,
    EmailSettings,
    JsonlSettings,
    SlackSettings,
    WebhookSettings,
)
from monitor.ports import AlertChannel


@dataclass
class ChannelSet:
    """The configured channels by name, and a redactor for every secret they hold."""

    channels: dict[str, AlertChannel] = field(default_factory=dict)
    redactor: Redactor = field(default_factory=Redactor)


def build_channels(
    settings: Mapping[str, ChannelSettings],
    *,
    base_dir: Path,
    env: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> ChannelSet:
    """Make every configured channel. A channel whose secret is missing from the
    environment becomes one that fails every delivery, saying which variable to set, so
    its notices wait in the outbox instead of being lost."""
    from monitor.alerts.channels.console import ConsoleChannel
    from monitor.alerts.channels.email import EmailChannel
    from monitor.alerts.channels.jsonl import JsonlChannel
    from monitor.alerts.channels.slack import SlackChannel
    from monitor.alerts.channels.unavailable import UnavailableChannel
    from monitor.alerts.channels.webhook import WebhookChannel

    env = os.environ if env is None else env
    out = ChannelSet()
    secrets: list[str] = []
    redactors: list[Redactor] = []
    for name, config in settings.items():
        channel: AlertChannel
        if isinstance(config, ConsoleSettings):
            stream = (stdout or sys.stdout) if config.stream == "stdout" else (stderr or sys.stderr)
            channel = ConsoleChannel(name, stream, label=config.stream)
        elif isinstance(config, JsonlSettings):
            channel = JsonlChannel(name, _under(base_dir, config.path))
        elif isinstance(config, WebhookSettings | SlackSettings):
            url = env.get(config.url_env, "")
            kind = WebhookChannel if isinstance(config, WebhookSettings) else SlackChannel
            if not url:
                channel = UnavailableChannel(name, config.kind, _unset(config.url_env))
            else:
                secrets.append(url)
                channel = kind(
                    name, url, timeout=config.timeout.total_seconds(), url_env=config.url_env
                )
        elif isinstance(config, EmailSettings):
            password = env.get(config.password_env, "") if config.password_env else None
            if config.password_env and not password:
                channel = UnavailableChannel(name, "email", _unset(config.password_env))
            else:
                redactors.append(Redactor.for_smtp(config.username, password))
                channel = EmailChannel(
                    name,
                    host=config.host,
                    port=config.effective_port,
                    security=config.security,
                    sender=config.from_,
                    to=list(config.to),
                    username=config.username,
                    password=password,
                    timeout=config.timeout.total_seconds(),
                    ca_file=_under(base_dir, config.ca_file) if config.ca_file else None,
                )
        else:  # pragma: no cover - the settings union is closed
            raise TypeError(f"unknown channel settings {type(config).__name__}")
        out.channels[name] = channel
    out.redactor = sum(redactors, Redactor(secrets))
    return out


def _under(base: Path, path: Path) -> Path:
    return path if path.is_absolute() else base / path


def _unset(variable: str) -> str:
    return f"environment variable {variable} is not set"
