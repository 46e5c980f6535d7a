"""Fuzzing the config file: whatever is in ragmon.toml, `ragmon status` exits 0, 1 or 2,
and a 2 says what is wrong (a key or a line), never with a traceback.

Three kinds of file: valid TOML with random keys, values and types in the known sections
(keys taken from the config model itself, plus unknown ones); valid files with random
characters inserted; and random bytes. The number of files tried is written to
``test-output/config-fuzz.txt`` for the README's Reliability section.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from jobs.cli import cli
from monitor.alerts.settings import CHANNEL_KINDS, RetrySettings, RuleSettings
from monitor.config import Config, JobConfig
from monitor.history import HistoryStore

EXAMPLES = int(os.environ.get("RAGMON_FUZZ_EXAMPLES", "400"))
OUTPUT = Path(os.environ.get("RAGMON_TEST_OUTPUT", "test-output"))

_WORK = Path(tempfile.mkdtemp(prefix="ragmon-config-fuzz-"))
_HISTORY = f"sqlite:///{_WORK / 'history.db'}"
TRIED = {"valid": 0, "mutated": 0, "bytes": 0, "exit": {0: 0, 1: 0, 2: 0}}


def _keys(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items() if not f.exclude]


def _section_model(name: str) -> type[BaseModel] | None:
    annotation = Config.model_fields[name].annotation
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


SECTIONS = {name: _section_model(name) for name in _keys(Config)}
WORDS = [
    "docs", "chroma", "sqlite:///h.db", "sqlite://", "notaurl", "http://[::1/x",
    "https://reports.example.com/", "1h", "7d", "0.5s", "-1s", "*/5 * * * *", "0 * * * *",
    "61 * * * *", "* * * * * * *", "0 0 31 2 *", "mon-fri", "info", "warning", "critical",
    "webhook", "slack", "email", "jsonl", "console", "auto", "ragmon", "langchain",
    "starttls", "ssl", "none", ">", "<=", "drop", "relative_drop", "median", "stale_share",
    "", " ", "\\", '"', "[bold]x[/]", "../..", "/", "\n", "\x7f", "é",
]  # fmt: skip
KEY_NAMES = sorted(
    {
        *(k for m in SECTIONS.values() if m for k in _keys(m)),
        *_keys(RuleSettings),
        *_keys(RetrySettings),
        *(k for m in CHANNEL_KINDS.values() for k in _keys(m)),
        *_keys(JobConfig),
        "freshness", "report", "alerts", "mail", "hook", "from", "to", "url",
    }
)  # fmt: skip

scalars = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(),  # beyond 64 bits: not valid TOML once written
    st.floats(),
    st.booleans(),
    st.sampled_from(WORDS),
    st.text(max_size=12),
    st.datetimes(timezones=st.sampled_from([None, UTC])),
    st.dates(),
    st.times(),
)
keys = st.one_of(st.sampled_from(KEY_NAMES), st.text(min_size=1, max_size=8))
plausible = st.one_of(
    st.integers(min_value=-2, max_value=100_000),
    st.floats(min_value=-1, max_value=2),
    st.booleans(),
    st.sampled_from(WORDS),
    st.lists(st.sampled_from(WORDS), max_size=3),
)
"""Values of the types the known keys take, so that more files get past the first check."""
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def config_documents(draw: st.DrawFn) -> dict[str, Any]:
    """The smallest valid config, then random keys and values in random known sections."""
    doc: dict[str, Any] = {
        "store": {"path": "chroma"},
        "sources": {"root": "docs"},
        "history": {"url": _HISTORY},
    }
    for section in draw(st.lists(st.sampled_from(sorted(SECTIONS)), max_size=4, unique=True)):
        model = SECTIONS[section]
        if model is None or draw(st.integers(0, 9)) == 0:
            doc[section] = draw(values)  # a list, a number ... where a table belongs
            continue
        table = doc.setdefault(section, {})
        if not isinstance(table, dict):
            continue
        known = st.sampled_from(_keys(model))
        for key in draw(st.lists(st.one_of(known, keys), min_size=1, max_size=4, unique=True)):
            table[key] = draw(st.one_of(plausible, values))
        if section == "alerts" and draw(st.booleans()):
            kind = draw(st.sampled_from([*CHANNEL_KINDS, "pager"]))
            names = st.sampled_from(_keys(CHANNEL_KINDS.get(kind, CHANNEL_KINDS["email"])))
            fields = st.dictionaries(st.one_of(names, keys), st.one_of(plausible, values))
            channel = {"kind": kind, **draw(fields)}
            table["channels"] = {draw(st.sampled_from(["hook", "mail", "bad name"])): channel}
        if section == "alerts" and draw(st.booleans()):
            names = st.sampled_from(_keys(RuleSettings))
            rule = st.dictionaries(st.one_of(names, keys), st.one_of(plausible, values), max_size=5)
            table["rules"] = draw(st.lists(rule, max_size=2))
    if draw(st.booleans()):
        job = draw(st.sampled_from(["freshness", "report", "alerts", "nosuchjob"]))
        fields = st.sampled_from(["schedule", "enabled", "x"])
        doc["jobs"] = {job: draw(st.dictionaries(fields, st.one_of(plausible, values), max_size=2))}
    return doc


def _toml(doc: dict[str, Any]) -> bytes | None:
    try:
        return tomlkit.dumps(doc).encode("utf-8", "surrogatepass")
    except Exception:  # a value tomlkit cannot write (e.g. a naive time in a table key)
        return None


files = st.one_of(
    config_documents().map(lambda d: ("valid", _toml(d))),
    st.tuples(config_documents(), st.integers(0, 10_000), st.text(min_size=1, max_size=4)).map(
        lambda t: ("mutated", _mutate(_toml(t[0]), t[1], t[2]))
    ),
    st.binary(max_size=300).map(lambda b: ("bytes", b)),
)


def _mutate(text: bytes | None, at: int, insert: str) -> bytes | None:
    if text is None:
        return None
    at %= len(text) + 1
    return text[:at] + insert.encode("utf-8", "surrogatepass") + text[at:]


def _names_a_key_or_a_line(output: str) -> bool:
    return any(
        part in output for part in ("key '", ", line ", "is not valid TOML", "cannot be read")
    )


@pytest.fixture(scope="module", autouse=True)
def _work_dir():
    (_WORK / "docs").mkdir(exist_ok=True)
    HistoryStore.open(_HISTORY).engine.dispose()  # migrated once; each status only checks it
    yield
    shutil.rmtree(_WORK, ignore_errors=True)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(files)
def test_status_never_crashes_on_any_config_file(case: tuple[str, bytes | None]) -> None:
    kind, content = case
    if content is None:
        return
    path = _WORK / "ragmon.toml"
    path.write_bytes(content)
    result = CliRunner().invoke(cli, ["-c", str(path), "status"])
    TRIED[kind] += 1
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}\n--- file ---\n"
        + content.decode("utf-8", "replace")
    )
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 1, 2), result.output
    TRIED["exit"][result.exit_code] += 1
    if result.exit_code == 2:
        assert result.output.startswith("Error: "), result.output
        assert _names_a_key_or_a_line(result.output), result.output


def test_zz_record_how_many_files_were_tried() -> None:
    """Runs after the fuzz test (file order): writes the figures for the README."""
    total = TRIED["valid"] + TRIED["mutated"] + TRIED["bytes"]
    if total == 0:
        return  # the fuzz test did not run in this session
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "config-fuzz.txt").write_text(
        f"config files tried: {total} (valid TOML with random keys and values "
        f"{TRIED['valid']}, with inserted characters {TRIED['mutated']}, random bytes "
        f"{TRIED['bytes']}); exit 0: {TRIED['exit'][0]}, 1: {TRIED['exit'][1]}, "
        f"2: {TRIED['exit'][2]}; crashes: 0\n",
        encoding="utf-8",
    )
