"""Built-in alert rules: declared by each signal's job, merged with the config's rules.

A job brings the rules that watch its own figures (`BuiltinRule`); the config may
override any key of one by naming it in ``[[alerts.rules]]``, turn it off with
``enabled = false``, or drop them all with ``[alerts] default_rules = false``. A rule
marked ``gate`` also decides its job's exit code, so one threshold serves both.

Older config keys stay as aliases: a rule may name a key of its job's own section
(``freshness.max_stale_share``) whose value, when the config sets it, becomes the rule's
threshold (or, for ``gate_key``, whether it is a gate).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from monitor.records import Severity


@dataclass(frozen=True, kw_only=True, slots=True)
class BuiltinRule:
    """A rule a job ships with (see `monitor.alerts.settings.RuleSettings` for the keys)."""

    name: str
    metric: str
    threshold: float | None
    """None: off until the config sets ``threshold_key``."""
    op: str = ">"
    labels: Mapping[str, str] = field(default_factory=dict)
    severity: Severity = Severity.WARNING
    gate: bool = False
    finding_kinds: tuple[str, ...] = ()
    description: str = ""
    change: str | None = None
    """Compare the change against ``baseline`` (``drop``, ``rise``, ...), not the value."""
    baseline: Mapping[str, Any] | None = None
    threshold_key: str | None = None
    """Dotted config key whose value, when set, is the threshold (an alias)."""
    gate_key: str | None = None
    """Dotted config key whose boolean, when set, says whether the rule is a gate."""


@dataclass(frozen=True, kw_only=True, slots=True)
class BuiltinRules:
    """Built-in rules as raw rule tables, ready to validate, and which keys aliases set."""

    rules: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    aliased: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Per rule, the rule keys an alias set, and the config key that set each."""


_MISSING = object()


def resolve_builtin_rules(
    by_job: Mapping[str, tuple[BuiltinRule, ...]], data: Mapping[str, Any]
) -> BuiltinRules:
    """The built-in rules of every job, with the aliases found in the raw config ``data``."""
    rules: dict[str, dict[str, Any]] = {}
    aliased: dict[str, dict[str, str]] = {}
    for job, declared in by_job.items():
        for rule in declared:
            raw: dict[str, Any] = {
                "metric": rule.metric,
                "labels": dict(rule.labels),
                "job": job,
                "op": rule.op,
                "threshold": 0 if rule.threshold is None else rule.threshold,
                "severity": rule.severity.value,
                "gate": rule.gate,
                "finding_kinds": list(rule.finding_kinds),
                "description": rule.description,
                "enabled": rule.threshold is not None,
            }
            if rule.change is not None:
                raw |= {"change": rule.change, "baseline": dict(rule.baseline or {})}
            for rule_key, config_key in (
                ("threshold", rule.threshold_key),
                ("gate", rule.gate_key),
            ):
                value = _lookup(data, config_key) if config_key else _MISSING
                if value is _MISSING:
                    continue
                raw[rule_key] = value
                if rule_key == "threshold":
                    raw["enabled"] = True
                aliased.setdefault(rule.name, {})[rule_key] = str(config_key)
            rules[rule.name] = raw
    return BuiltinRules(rules=rules, aliased=aliased)


def _lookup(data: Mapping[str, Any], dotted: str) -> Any:
    value: Any = data
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value
