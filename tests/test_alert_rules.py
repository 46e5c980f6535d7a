"""Alert rules over stored figures: defaults, labels, streaks, baselines, config errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobs import registry
from jobs.registry import load_config
from monitor.alerts.engine import collect
from monitor.alerts.figures import fingerprint
from monitor.errors import ConfigError
from monitor.history import HistoryStore
from monitor.history.alerts import AlertStore
from monitor.records import Metric, Severity
from tests.alerting import alert_config, stale_finding, store_run

WARN = Severity.WARNING
T0 = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


@pytest.fixture()
def history(tmp_path):
    store = HistoryStore.open(f"sqlite:///{tmp_path / 'history.db'}")
    yield store
    store.engine.dispose()


def _evaluate(config, history, now=T0):
    evaluations, broken = collect(config.alerts, AlertStore(history), history, now=now)
    assert broken == set()
    return {(e.rule, tuple(sorted(e.labels.items()))): e for e in evaluations}


def _firing(config, history, now=T0):
    return sorted(
        (rule, dict(labels))
        for (rule, labels), e in _evaluate(config, history, now).items()
        if e.firing
    )


def test_built_in_rules_cover_staleness_and_can_be_overridden_or_disabled(tmp_path):
    default = alert_config(tmp_path)
    freshness = [
        (r.name, r.metric, dict(r.labels), r.op, r.threshold, r.severity, r.gate, r.enabled)
        for r in default.alerts.rules
        if r.job == "freshness"
    ]
    assert freshness == [
        ("stale-share", "stale_share", {}, ">", 0.05, Severity.WARNING, True, True),
        ("orphans", "orphaned_chunks", {}, ">", 0.0, Severity.WARNING, True, True),
        ("unreadable-sources", "chunks", {"class": "unreadable"}, ">", 0.0, WARN, True, True),
        ("missing-documents", "documents", {"class": "missing"}, ">", 0.0, WARN, True, False),
        (
            "staleness-age",
            "staleness_age_seconds",
            {"stat": "p95"},
            ">",
            604800.0,
            WARN,
            False,
            True,
        ),
    ]
    # The vector check is the daily `embeddings` job's, and so is its rule.
    embeddings = [
        (r.name, r.metric, r.op, r.threshold, r.severity, r.gate)
        for r in default.alerts.rules
        if r.job == "embeddings"
    ]
    assert embeddings == [("model-mismatch", "model_mismatch", ">=", 1.0, Severity.CRITICAL, True)]
    # Every registered job's rules are there, each naming its job, in registry order.
    declared = [(spec.name, r.name) for spec in registry.all_jobs().values() for r in spec.rules]
    assert [(r.job, r.name) for r in default.alerts.rules] == declared
    assert {job for job, _ in declared} >= {"freshness", "chunking", "embeddings"}

    tuned = alert_config(
        tmp_path,
        rules=[
            {"name": "stale-share", "threshold": 0.2, "severity": "critical"},
            {"name": "orphans", "enabled": False},
            {"name": "staleness-age", "threshold": "3d"},
        ],
    )
    rules = {r.name: r for r in tuned.alerts.rules}
    assert (rules["stale-share"].metric, rules["stale-share"].threshold) == ("stale_share", 0.2)
    assert rules["stale-share"].severity is Severity.CRITICAL
    assert rules["orphans"].enabled is False
    assert rules["staleness-age"].threshold == 3 * 86400

    none = alert_config(tmp_path, default_rules=False)
    assert none.alerts.rules == []


def test_old_freshness_keys_are_aliases_of_the_built_in_rules(tmp_path):
    config = alert_config(
        tmp_path,
        freshness={"max_stale_share": 0.3, "max_missing": 2, "fail_on_model_mismatch": False},
    )
    rules = {r.name: r for r in config.alerts.rules}
    assert rules["stale-share"].threshold == 0.3
    assert (rules["missing-documents"].enabled, rules["missing-documents"].threshold) == (True, 2)
    assert rules["model-mismatch"].gate is False

    with pytest.raises(ConfigError) as raised:
        alert_config(
            tmp_path,
            freshness={"max_stale_share": 0.3},
            rules=[{"name": "stale-share", "threshold": 0.1}],
        )
    assert "its threshold is set twice, by freshness.max_stale_share" in str(raised.value)


def test_default_rules_fire_on_freshness_figures(tmp_path, history):
    config = alert_config(tmp_path)
    store_run(
        history,
        [
            Metric(name="stale_share", value=0.22, labels={"collection": "docs"}),
            Metric(name="orphaned_chunks", value=5, labels={"collection": "docs"}),
            Metric(name="chunks", value=40, labels={"collection": "docs", "class": "fresh"}),
            Metric(
                name="staleness_age_seconds",
                value=9 * 86400,
                labels={"collection": "docs", "stat": "p95"},
            ),
            Metric(
                name="staleness_age_seconds",
                value=12 * 86400,
                labels={"collection": "docs", "stat": "max"},
            ),
        ],
    )

    # The model check is the daily embeddings job's.
    store_run(
        history,
        [Metric(name="model_mismatch", value=0, labels={"collection": "docs"})],
        job="embeddings",
    )

    evaluations = _evaluate(config, history)

    assert _firing(config, history) == [
        ("orphans", {"collection": "docs"}),
        ("stale-share", {"collection": "docs"}),
        ("staleness-age", {"collection": "docs", "stat": "p95"}),
    ]
    stale = evaluations[("stale-share", (("collection", "docs"),))]
    assert stale.summary == "stale_share{collection=docs} = 22% (threshold > 5%)"
    assert stale.fingerprint == fingerprint("stale-share", {"collection": "docs"})
    age = evaluations[("staleness-age", (("collection", "docs"), ("stat", "p95")))]
    assert age.summary == (
        "staleness_age_seconds{collection=docs,stat=p95} = 9 days (threshold > 7 days)"
    )
    assert evaluations[("model-mismatch", (("collection", "docs"),))].firing is False


def test_each_matching_series_is_its_own_alert_with_a_stable_fingerprint(tmp_path, history):
    config = alert_config(
        tmp_path,
        default_rules=False,
        rules=[
            {
                "name": "recall",
                "metric": "recall_at_5",
                "op": "<",
                "threshold": 0.85,
                "labels": {"probes": "labelled"},
            }
        ],
    )
    for value_a, value_b in ((0.80, 0.90), (0.70, 0.95)):
        store_run(
            history,
            [
                Metric(
                    name="recall_at_5",
                    value=value_a,
                    labels={"probes": "labelled", "collection": "a"},
                ),
                Metric(
                    name="recall_at_5",
                    value=value_b,
                    labels={"probes": "labelled", "collection": "b"},
                ),
                Metric(
                    name="recall_at_5", value=0.1, labels={"probes": "sampled", "collection": "a"}
                ),
            ],
            job="relevance",
        )

    evaluations = _evaluate(config, history)

    assert sorted(
        (dict(k[1])["collection"], e.firing, e.value) for k, e in evaluations.items()
    ) == [
        ("a", True, 0.70),
        ("b", False, 0.95),
    ]
    firing = next(e for e in evaluations.values() if e.firing)
    assert firing.fingerprint == fingerprint("recall", {"probes": "labelled", "collection": "a"})
    assert firing.job == "relevance"


def test_for_consecutive_runs_needs_an_unbroken_streak(tmp_path, history):
    config = alert_config(
        tmp_path,
        default_rules=False,
        rules=[{"name": "stale", "metric": "stale_share", "threshold": 0.1, "for_runs": 3}],
    )
    states = []
    for value in (0.2, 0.2, 0.05, 0.2, 0.2, 0.3):
        store_run(history, {"stale_share": value})
        states.append(bool(_firing(config, history)))
    assert states == [False, False, False, False, False, True]
    (evaluation,) = _evaluate(config, history).values()
    assert evaluation.summary == "stale_share{collection=docs} = 30% (threshold > 10% for 3 runs)"


def test_a_series_missing_from_the_newest_run_is_not_firing(tmp_path, history):
    config = alert_config(tmp_path)
    store_run(
        history,
        [
            Metric(
                name="staleness_age_seconds",
                value=9e6,
                labels={"collection": "docs", "stat": "p95"},
            )
        ],
    )
    assert _firing(config, history) == [("staleness-age", {"collection": "docs", "stat": "p95"})]
    store_run(history, {"stale_share": 0.0})  # nothing stale: no age figures at all
    assert _firing(config, history) == []


def test_relative_drop_against_a_rolling_median(tmp_path, history):
    config = alert_config(
        tmp_path,
        default_rules=False,
        rules=[
            {
                "name": "recall-drop",
                "metric": "recall_at_5",
                "change": "relative_drop",
                "baseline": {"rolling_runs": 3},
                "threshold": 0.1,
                "severity": "critical",
            }
        ],
    )
    for value in (0.90, 0.95, 0.92, 0.91):
        store_run(history, {"recall_at_5": value}, job="relevance")
    assert _firing(config, history) == []  # 0.91 against median(0.90, 0.95, 0.92) = 0.92

    store_run(history, {"recall_at_5": 0.81}, job="relevance")
    (evaluation,) = _evaluate(config, history).values()
    assert evaluation.firing
    assert evaluation.summary == (
        "recall_at_5{collection=docs} = 0.81: relative drop 12% against the median of 3 runs "
        "before (0.92) (threshold > 10%)"
    )


def test_absolute_drop_against_a_pinned_run_and_a_pinned_value(tmp_path, history):
    first = store_run(history, {"coverage": 0.95})
    store_run(history, {"coverage": 0.90})
    store_run(history, {"coverage": 0.88})
    pinned_run = alert_config(
        tmp_path,
        default_rules=False,
        rules=[
            {
                "name": "coverage-drop",
                "metric": "coverage",
                "change": "drop",
                "baseline": {"run": first},
                "threshold": 0.05,
            }
        ],
    )
    (evaluation,) = _evaluate(pinned_run, history).values()
    assert evaluation.firing  # 0.95 - 0.88 = 0.07
    assert evaluation.summary == (
        f"coverage{{collection=docs}} = 88%: drop 7% against the run {first} (95%) (threshold > 5%)"
    )

    pinned_value = alert_config(
        tmp_path,
        default_rules=False,
        rules=[
            {
                "name": "coverage-drop",
                "metric": "coverage",
                "change": "drop",
                "baseline": {"value": 0.9},
                "threshold": 0.05,
            }
        ],
    )
    (evaluation,) = _evaluate(pinned_value, history).values()
    assert not evaluation.firing  # 0.90 - 0.88 = 0.02


def test_top_findings_of_the_run_go_with_a_firing_alert(tmp_path, history):
    config = alert_config(tmp_path, top_findings=2)
    store_run(
        history,
        {"stale_share": 0.5},
        findings=(
            stale_finding("a.md", 2),
            stale_finding("b.md", 7),
            stale_finding("c.md", 4),
        ),
    )
    (stale,) = [e for e in _evaluate(config, history).values() if e.firing]
    assert stale.findings == (
        "b.md: 7 of 7 chunks stale (source hash changed)",
        "c.md: 4 of 4 chunks stale (source hash changed)",
    )


def test_only_completed_runs_of_the_rules_job_count(tmp_path, history):
    config = alert_config(tmp_path)
    store_run(history, {"stale_share": 0.5})
    failed = history.start_run("freshness", started_at=T0 + timedelta(hours=1))
    history.fail_run(failed, "Chroma unreachable")
    store_run(history, {"stale_share": 0.9}, job="another-job")
    (stale,) = [e for e in _evaluate(config, history).values() if e.rule == "stale-share"]
    assert (stale.value, stale.job) == (0.5, "freshness")


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[alerts]\ncooldown = "soon"\n',
            "line 6: key 'alerts.cooldown': expected a duration such as '30s', '15m', '4h' or "
            "'7d' (or a number of seconds), got 'soon'",
        ),
        (
            '[[alerts.rules]]\nname = "r"\nmetric = "m"\nthreshold = "lots"\n',
            "key 'alerts.rules': rule 'r': key 'threshold': expected a number (or a duration "
            "such as '7d' for a *_seconds figure), got 'lots'",
        ),
        (
            '[[alerts.rules]]\nname = "r"\nmetric = "m"\nthreshold = 1\nseverity = "page"\n',
            "key 'alerts.rules': rule 'r': key 'severity': expected 'info', 'warning' or "
            "'critical', got 'page'",
        ),
        (
            '[[alerts.rules]]\nname = "r"\nmetric = "m"\nthreshold = 1\nchange = "drop"\n',
            "rule 'r': 'change' and 'baseline' go together",
        ),
        (
            '[[alerts.rules]]\nname = "stale-share"\nthreshhold = 0.1\n',
            "key 'alerts.rules': rule 'stale-share': unknown key 'threshhold' (expected one of: "
            "name, metric, labels, job, op, threshold, severity, for_runs, change, baseline, "
            "cooldown, description, finding_kinds, enabled, gate)",
        ),
        (
            '[alerts.channels.ops]\nkind = "sms"\n',
            "key 'alerts.channels': channel 'ops': key 'kind': expected one of: console, jsonl, "
            "webhook, slack, email; got 'sms'",
        ),
        (
            '[alerts.channels.ops]\nkind = "slack"\nurl = "https://hooks.slack.com/x"\n',
            "channel 'ops': unknown key 'url' (expected one of: min_severity, kind, url_env, "
            "timeout)",
        ),
        (
            '[alerts.channels.mail]\nkind = "email"\nhost = "smtp"\nfrom = "a@b.c"\n'
            'to = ["d@e.f"]\nusername = "ragmon"\n',
            "channel 'mail': set both 'username' and 'password_env' for SMTP AUTH, or neither",
        ),
        (
            "[alerts]\ncooldwn = 3\n",
            "key 'alerts.cooldwn': unknown key (expected one of: enabled, cooldown, report_url, "
            "top_findings, default_rules, rules, channels, retry, dead_mans_switch)",
        ),
    ],
)
def test_config_errors_name_the_rule_or_channel_and_the_key(tmp_path, toml, message):
    (tmp_path / "docs").mkdir()
    path = tmp_path / "ragmon.toml"
    path.write_text('[store]\npath = "c"\n[sources]\nroot = "docs"\n' + toml)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert message in str(caught.value)


def test_every_commented_alerts_key_of_the_starter_config_is_valid():
    """Uncomment the [alerts] part of what `ragmon init` writes: it must load as is."""
    import re
    import tomllib

    from jobs.registry import builtin_rules
    from jobs.setup import render_config
    from monitor.alerts.settings import AlertsSettings

    text = render_config(
        store_path="chroma",
        host=None,
        port=8000,
        collection="docs",
        sources_root="docs",
        preset="auto",
    )
    lines = []
    for line in text[text.index("\n[alerts]") :].splitlines():
        if line.startswith("[alerts]"):
            lines.append(line)
        elif match := re.match(r"^# (\[\[?alerts[^\]]*\]\]?|[a-z_]+ = .*)$", line):
            lines.append(match.group(1).split("  #")[0])
    raw = tomllib.loads("\n".join(lines))
    settings = AlertsSettings.model_validate(
        raw["alerts"], context={"builtin_rules": builtin_rules(raw)}
    )
    assert sorted(settings.channels) == ["console", "log", "oncall", "ops", "team"]
    declared = [r.name for spec in registry.all_jobs().values() for r in spec.rules]
    assert [r.name for r in settings.rules] == [*declared, "coverage-drop"]
    assert {k for k in AlertsSettings.model_fields} <= {line.split(" = ")[0] for line in lines} | {
        "rules",
        "channels",
        "retry",
        "dead_mans_switch",
    }
