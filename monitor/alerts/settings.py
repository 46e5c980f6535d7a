"""The ``[alerts]`` section of ``ragmon.toml``: rules, channels, cooldown, retries, defaults.

Validated once when the config is read. Errors inside a rule or a channel name it
(``rule 'stale-share': key 'threshold': expected a number ...``). Secrets are never in
the file: a channel names the environment variable holding its webhook URL or SMTP
password (``url_env``, ``password_env``), read only when a message is sent.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from monitor import validation
from monitor.alerts.builtin import BuiltinRules
from monitor.durations import parse_duration
from monitor.records import Severity

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
_M = TypeVar("_M", bound="BaseModel")


def _threshold(value: Any) -> Any:
    """A number, or a duration (``"7d"``) taken as seconds for ``*_seconds`` figures."""
    if isinstance(value, str):
        try:
            return parse_duration(value).total_seconds()
        except ValueError:
            raise ValueError(
                f"expected a number (or a duration such as '7d' for a *_seconds figure), "
                f"got {value!r}"
            ) from None
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Threshold = Annotated[float, BeforeValidator(_threshold)]
Op = Literal[">", ">=", "<", "<=", "==", "!="]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- rules --------------------------------------------------------------------


class BaselineSettings(_Section):
    """The reference a ``change`` is measured against: rolling, or pinned to a run or value."""

    rolling_runs: int | None = Field(default=None, ge=1, le=1000)
    """The median (or mean) of up to this many runs before the one evaluated."""
    run: int | None = Field(default=None, ge=1)
    """Pinned: the figure's value in this run id."""
    value: float | None = None
    """Pinned: a fixed reference value."""
    stat: Literal["median", "mean"] = "median"

    @model_validator(mode="after")
    def _exactly_one(self) -> BaselineSettings:
        given = [k for k in ("rolling_runs", "run", "value") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "set exactly one of baseline.rolling_runs (a rolling reference), "
                "baseline.run (pinned to a run id) or baseline.value (a pinned number)"
            )
        return self


class RuleSettings(_Section):
    """One rule: a figure (and labels), a comparison, a threshold, a severity."""

    name: str = Field(pattern=_NAME)
    """Identifies the rule; part of every alert's fingerprint."""
    metric: str = Field(min_length=1)
    """A figure name as stored in the history ``metrics`` table, e.g. ``stale_share``."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Only series whose labels include these; each matching series is its own alert."""
    job: str | None = None
    """Only runs of this job; default: the job of the newest run that stored the figure."""
    op: Op = ">"
    threshold: Threshold
    severity: Severity = Severity.WARNING
    for_runs: int = Field(default=1, ge=1, le=1000)
    """Fire only when the condition held in this many consecutive runs."""
    change: Literal["drop", "relative_drop", "rise", "relative_rise"] | None = None
    """Compare the change against ``baseline`` instead of the value itself."""
    baseline: BaselineSettings | None = None
    cooldown: Duration | None = None
    """Repeat interval of this rule while it fires; default ``alerts.cooldown``."""
    description: str = ""
    """What it means and what to do, added to every message."""
    finding_kinds: list[str] = Field(default_factory=list)
    """Which kinds of the run's findings to list in messages (empty: all)."""
    enabled: bool = True
    gate: bool = False
    """When it fires on a run of its job, that run ends with findings (exit code 1)."""

    @model_validator(mode="after")
    def _change_needs_baseline(self) -> RuleSettings:
        if (self.change is None) != (self.baseline is None):
            raise ValueError(
                "'change' and 'baseline' go together: change = \"relative_drop\" with "
                "baseline = { rolling_runs = 7 } (or { run = 42 }, or { value = 0.9 })"
            )
        return self


# -- channels -----------------------------------------------------------------


class _Channel(_Section):
    min_severity: Severity = Severity.INFO
    """Only alerts at least this severe go to this channel (tests always do)."""


class ConsoleSettings(_Channel):
    kind: Literal["console"]
    stream: Literal["stdout", "stderr"] = "stderr"
    """stderr by default, so `--json` output on stdout stays parseable."""


class JsonlSettings(_Channel):
    kind: Literal["jsonl"]
    path: Path
    """File to append one JSON object per notification to; relative to the config file."""


class WebhookSettings(_Channel):
    kind: Literal["webhook"]
    url_env: str = Field(min_length=1)
    """Environment variable holding the URL (URLs of webhooks are secrets)."""
    timeout: Duration = timedelta(seconds=5)


class SlackSettings(_Channel):
    kind: Literal["slack"]
    url_env: str = Field(min_length=1)
    """Environment variable holding the Slack incoming-webhook URL."""
    timeout: Duration = timedelta(seconds=5)


class EmailSettings(_Channel):
    kind: Literal["email"]
    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)
    """Default: 587 with starttls, 465 with ssl, 25 with none."""
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password_env: str | None = None
    """Environment variable holding the SMTP password."""
    from_: str = Field(alias="from", min_length=3)
    to: list[str] = Field(min_length=1)
    timeout: Duration = timedelta(seconds=10)
    ca_file: Path | None = None
    """PEM bundle to trust instead of the system's (a private CA); relative to the config."""

    @field_validator("host")
    @classmethod
    def _host_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9._-]+|\[?[0-9A-Fa-f:.]+\]?", value):
            raise ValueError(f"expected a host name or IP address, got {value!r}")
        return value

    @model_validator(mode="after")
    def _auth_pair(self) -> EmailSettings:
        if (self.username is None) != (self.password_env is None):
            raise ValueError("set both 'username' and 'password_env' for SMTP AUTH, or neither")
        return self

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return {"starttls": 587, "ssl": 465, "none": 25}[self.security]


ChannelSettings = ConsoleSettings | JsonlSettings | WebhookSettings | SlackSettings | EmailSettings
CHANNEL_KINDS: dict[str, type[_Channel]] = {
    "console": ConsoleSettings,
    "jsonl": JsonlSettings,
    "webhook": WebhookSettings,
    "slack": SlackSettings,
    "email": EmailSettings,
}


# -- the section --------------------------------------------------------------


class RetrySettings(_Section):
    """Retries of a failed delivery within one run; what is left is retried next run."""

    budget: Duration = timedelta(seconds=10)
    """Time spent retrying one channel per run (plus the attempt in flight)."""
    initial_backoff: Duration = timedelta(seconds=0.5)
    max_backoff: Duration = timedelta(seconds=5)
    max_attempts: int = Field(default=5, ge=1, le=100)


class DeadMansSwitchSettings(_Section):
    """Alerts about silence: an overdue job, an ingest pipeline that stopped writing."""

    jobs: bool = True
    """Alert when a job has not completed successfully within its schedule's interval."""
    grace: Duration = timedelta(minutes=10)
    """How late past its slot a job may be before it counts as overdue."""
    job_severity: Severity = Severity.CRITICAL
    ingestion: bool = True
    """Alert when no new embedding was written for a while although sources changed."""
    ingestion_stalled_after: Duration = timedelta(days=7)
    ingestion_severity: Severity = Severity.WARNING


class AlertsSettings(_Section):
    """The ``[alerts]`` section."""

    enabled: bool = True
    """Evaluate rules after every job run (false: no evaluation, no messages)."""
    cooldown: Duration = timedelta(hours=24)
    """A firing, unacknowledged alert is repeated at most this often."""
    report_url: str | None = None
    """Path or URL of the HTML report, linked from every message when set."""
    top_findings: int = Field(default=5, ge=0, le=50)
    default_rules: bool = True
    rules: list[RuleSettings] = Field(default_factory=list, validate_default=True)
    """The built-in rules of the registered jobs (unless ``default_rules = false``), merged
    with the configured ones. The built-ins come in through the validation context
    (``builtin_rules``), so this module needs no knowledge of the jobs."""
    channels: dict[str, ChannelSettings] = Field(default_factory=dict)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    dead_mans_switch: DeadMansSwitchSettings = Field(default_factory=DeadMansSwitchSettings)

    @field_validator("report_url")
    @classmethod
    def _report_url(cls, value: str | None) -> str | None:
        if value and "://" in value:
            problem = _url_problem(value)
            if problem:
                raise ValueError(f"expected a URL (or a path), but {problem}")
        return value

    @field_validator("rules", mode="before")
    @classmethod
    def _with_defaults(cls, value: Any, info: ValidationInfo) -> list[RuleSettings]:
        if not isinstance(value, list):
            raise ValueError("expected a list of rules ([[alerts.rules]] tables)")
        builtin: BuiltinRules = (info.context or {}).get("builtin_rules") or BuiltinRules()
        defaults = builtin.rules if info.data.get("default_rules", True) else {}
        merged: dict[str, dict[str, Any]] = {n: {"name": n, **r} for n, r in defaults.items()}
        overridden: set[str] = set()
        for number, raw in enumerate(value, start=1):
            if isinstance(raw, RuleSettings):
                raw = raw.model_dump(by_alias=True, exclude_unset=True)
            if not isinstance(raw, dict):
                raise ValueError(f"rule #{number}: expected a table, got {raw!r}")
            name = raw.get("name")
            key = name if isinstance(name, str) else f"#{number}"
            if key in overridden or (key in merged and key not in defaults):
                raise ValueError(f"rule {key!r} is declared twice")
            if key in defaults:
                overridden.add(key)
                for rule_key, config_key in builtin.aliased.get(key, {}).items():
                    if rule_key in raw:
                        raise ValueError(
                            f"rule {key!r}: its {rule_key} is set twice, by {config_key} and "
                            f"by [[alerts.rules]]; keep one of them"
                        )
                merged[key] = {**merged[key], **raw}
                if "threshold" in raw and "enabled" not in raw:
                    merged[key]["enabled"] = True  # a built-in that is off until given one
            else:
                merged[key] = raw
        return [_validate(RuleSettings, raw, f"rule {key!r}") for key, raw in merged.items()]

    @field_validator("channels", mode="before")
    @classmethod
    def _typed_channels(cls, value: Any) -> dict[str, _Channel]:
        if not isinstance(value, dict):
            raise ValueError("expected a table of channels ([alerts.channels.NAME])")
        channels: dict[str, _Channel] = {}
        for name, raw in value.items():
            if not re.match(_NAME, name):
                raise ValueError(f"channel name {name!r}: use letters, digits, '-', '_', '.'")
            if isinstance(raw, _Channel):
                channels[name] = raw
                continue
            if not isinstance(raw, dict):
                raise ValueError(f"channel {name!r}: expected a table, got {raw!r}")
            kind = raw.get("kind")
            if not isinstance(kind, str) or kind not in CHANNEL_KINDS:
                expected = f"expected one of: {', '.join(CHANNEL_KINDS)}"
                raise ValueError(
                    f"channel {name!r}: key 'kind' is required but missing ({expected})"
                    if kind is None
                    else f"channel {name!r}: key 'kind': {expected}; got {kind!r}"
                )
            channels[name] = _validate(CHANNEL_KINDS[kind], raw, f"channel {name!r}")
        return channels


def _url_problem(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError as exc:
        return f"{url!r} does not parse ({exc})"
    if not parts.scheme or (not parts.hostname and parts.scheme != "file"):
        return f"{url!r} names no host"
    return None


def _validate(model: type[_M], raw: dict[str, Any], what: str) -> _M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        # An unknown key is most often a typo of a required one: name it first.
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        allowed = [f.alias or n for n, f in model.model_fields.items()]
        raise ValueError(f"{what}: {validation.keyed(errors[0], allowed)}") from None
