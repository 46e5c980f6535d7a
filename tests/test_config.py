"""Config loading: real TOML files, exact error messages naming file, key, line and kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import Config, config_from_dict, load_config
from monitor.errors import ConfigError

STORE_KEYS = (
    "kind, path, host, port, ssl, auth_token_env, collection, page_size, snapshot, timeout_seconds"
)


def write(tmp_path: Path, text: str, *, docs: bool = True, name: str = "ragmon.toml") -> Path:
    """Write ``text`` as the config file; create the ``docs`` directory it usually names."""
    if docs:
        (tmp_path / "docs").mkdir(exist_ok=True)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value


# --- errors --------------------------------------------------------------------------------


def test_unknown_key_in_a_table_names_it_and_lists_the_allowed_keys(tmp_path):
    path = write(
        tmp_path,
        '[sources]\nroot = "docs"\n\n[store]\npth = "x"\n',
    )
    exc = load_error(path)
    assert exc.key == "store.pth"
    assert exc.line == 5
    assert exc.file == str(path)
    assert str(exc) == (
        f"{path}, line 5: key 'store.pth': unknown key (expected one of: {STORE_KEYS})"
    )


def test_unknown_key_in_a_job_table_lists_the_job_keys(tmp_path):
    path = write(
        tmp_path,
        '[store]\npath = "db"\n[sources]\nroot = "docs"\n\n[jobs.freshness]\nschedul = "x"\n',
    )
    exc = load_error(path)
    assert str(exc) == (
        f"{path}, line 7: key 'jobs.freshness.schedul': "
        "unknown key (expected one of: schedule, enabled)"
    )


def test_unknown_top_level_table_is_reported_at_its_header(tmp_path):
    path = write(
        tmp_path,
        '[store]\npath = "db"\n[sources]\nroot = "docs"\n[stor]\nhost = "h"\n',
    )
    exc = load_error(path)
    assert exc.key == "stor"
    assert exc.line == 5
    assert "unknown key (expected one of: store, sources, mapping," in str(exc)
    # Fields excluded from the file format are not offered as keys.
    assert "base_dir" not in str(exc)
    assert "file" not in exc.problem


def test_wrong_type_names_the_key_and_the_expected_kind(tmp_path):
    path = write(
        tmp_path,
        '# comment\n[store]\nhost = "localhost"\nport = "abc"\n\n[sources]\nroot = "docs"\n',
    )
    exc = load_error(path)
    assert exc.key == "store.port"
    assert exc.line == 4
    assert str(exc) == f"{path}, line 4: key 'store.port': expected an integer, got 'abc'"


@pytest.mark.parametrize(
    ("line", "key", "problem"),
    [
        ('ssl = "maybe"', "store.ssl", "expected true or false, got 'maybe'"),
        ("collection = 5", "store.collection", "expected a string, got 5"),
        ("port = 80.5", "store.port", "expected a whole number, got 80.5"),
    ],
)
def test_other_wrong_types_say_what_was_expected(tmp_path, line, key, problem):
    path = write(tmp_path, f'[store]\nhost = "h"\n{line}\n[sources]\nroot = "docs"\n')
    exc = load_error(path)
    assert str(exc) == f"{path}, line 3: key '{key}': {problem}"


def test_literal_error_lists_the_choices(tmp_path):
    path = write(
        tmp_path,
        '[store]\npath = "db"\n[sources]\nroot = "docs"\n[mapping]\npreset = "haystack"\n',
    )
    exc = load_error(path)
    assert exc.key == "mapping.preset"
    assert exc.line == 6
    assert exc.problem == ("expected 'auto', 'ragmon', 'langchain' or 'llamaindex', got 'haystack'")


def test_missing_sources_table(tmp_path):
    path = write(tmp_path, '[store]\npath = "db"\n')
    exc = load_error(path)
    assert exc.key == "sources"
    assert exc.line is None
    assert str(exc) == f"{path}: key 'sources': is required but missing"


def test_missing_sources_root(tmp_path):
    path = write(tmp_path, '[store]\npath = "db"\n[sources]\ninclude = ["**/*.md"]\n')
    exc = load_error(path)
    assert exc.key == "sources.root"
    assert "sources.root" in str(exc)
    assert str(exc).endswith("key 'sources.root': is required but missing")
    assert str(exc).startswith(str(path))


def test_sources_root_that_does_not_exist(tmp_path):
    path = write(tmp_path, '[store]\npath = "db"\n\n[sources]\nroot = "nowhere"\n', docs=False)
    exc = load_error(path)
    missing = tmp_path.resolve() / "nowhere"
    assert exc.key == "sources.root"
    assert exc.line == 5
    assert str(exc) == (
        f"{path}, line 5: key 'sources.root': expected an existing directory of source "
        f"documents, but {missing} does not exist"
    )


def test_sources_root_that_is_a_file(tmp_path):
    (tmp_path / "notes.md").write_text("x")
    path = write(tmp_path, '[store]\npath = "db"\n[sources]\nroot = "notes.md"\n', docs=False)
    exc = load_error(path)
    assert exc.key == "sources.root"
    assert str(exc).endswith(f"but {tmp_path.resolve() / 'notes.md'} is not a directory")


def test_store_path_and_host_both_set(tmp_path):
    path = write(
        tmp_path,
        '[sources]\nroot = "docs"\n[store]\npath = "db"\nhost = "localhost"\n',
    )
    exc = load_error(path)
    assert exc.key == "store"
    assert exc.line == 3
    assert str(exc) == (
        f"{path}, line 3: key 'store': set exactly one of store.path (embedded Chroma) "
        "or store.host (Chroma server)"
    )


def test_store_with_neither_path_nor_host(tmp_path):
    path = write(tmp_path, '[store]\ncollection = "docs"\n[sources]\nroot = "docs"\n')
    exc = load_error(path)
    assert exc.key == "store"
    assert "set exactly one of store.path" in exc.problem


@pytest.mark.parametrize("overlap", [200, 250])
def test_overlap_not_below_max_tokens(tmp_path, overlap):
    path = write(
        tmp_path,
        '[store]\npath = "db"\n[sources]\nroot = "docs"\n'
        f"[chunking]\nmax_tokens = 200\noverlap_tokens = {overlap}\n",
    )
    exc = load_error(path)
    assert exc.key == "chunking"
    assert exc.line == 5
    assert str(exc) == (
        f"{path}, line 5: key 'chunking': "
        "chunking.overlap_tokens must be smaller than chunking.max_tokens"
    )


def test_overlap_just_below_max_tokens_is_accepted(tmp_path):
    path = write(
        tmp_path,
        '[store]\npath = "db"\n[sources]\nroot = "docs"\n'
        "[chunking]\nmax_tokens = 200\noverlap_tokens = 199\n",
    )
    config = load_config(path)
    assert (config.chunking.max_tokens, config.chunking.overlap_tokens) == (200, 199)


def test_invalid_toml_message_includes_the_line(tmp_path):
    path = write(tmp_path, '[store]\npath = "db"\nroot docs\n')
    exc = load_error(path)
    assert exc.key is None
    assert str(exc).startswith(str(path))
    assert "is not valid TOML" in str(exc)
    assert "line 3" in str(exc)


def test_invalid_toml_sets_the_error_line(tmp_path):
    # ConfigError.line (and the "<file>, line N:" prefix) should carry the TOML error line.
    path = write(tmp_path, '[store]\npath = "db"\nroot docs\n')
    exc = load_error(path)
    assert exc.line == 3
    assert str(exc).startswith(f"{path}, line 3: is not valid TOML")


def test_nonexistent_config_file_suggests_init(tmp_path):
    path = tmp_path / "missing.toml"
    exc = load_error(path)
    assert exc.key is None
    assert exc.line is None
    assert str(exc) == f"{path}: no such file. Write a starter config with `ragmon init`."


def test_config_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "ragmon.toml"
    path.write_bytes(b'[store]\npath = "caf\xe9"\n')
    exc = load_error(path)
    assert str(exc).startswith(f"{path}: cannot be read (")


def test_line_is_found_in_the_right_table_only(tmp_path):
    # A same-named key earlier in another table must not be taken for the one at fault.
    path = write(
        tmp_path,
        "[jobs.freshness]\n"
        'schedule = "0 * * * *"\n'
        "[embedding]\n"
        "batch_size = 8\n"
        "[store]\n"
        'host = "h"\n'
        "\n"
        "  batch_size = 3\n",
    )
    exc = load_error(path)
    # sources is missing, but store.batch_size is reported first (store comes first).
    assert exc.key == "store.batch_size"
    assert exc.line == 8


def test_line_is_none_when_the_key_is_not_written_as_a_plain_line(tmp_path):
    path = write(
        tmp_path,
        'store = { host = "h", port = "abc" }\n[sources]\nroot = "docs"\n',
    )
    exc = load_error(path)
    assert exc.key == "store.port"
    assert exc.line is None
    assert str(exc) == f"{path}: key 'store.port': expected an integer, got 'abc'"


def test_config_from_dict_without_file_labels_errors_config(tmp_path):
    with pytest.raises(ConfigError) as info:
        config_from_dict({"store": {"path": "db", "pth": 1}}, base_dir=tmp_path)
    assert str(info.value) == (
        f"config: key 'store.pth': unknown key (expected one of: {STORE_KEYS})"
    )


def test_auth_token_env_naming_an_unset_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("RAGMON_TEST_TOKEN_UNSET", raising=False)
    path = write(
        tmp_path,
        '[store]\nhost = "h"\nauth_token_env = "RAGMON_TEST_TOKEN_UNSET"\n'
        '[sources]\nroot = "docs"\n',
    )
    config = load_config(path)  # the variable is read only when the token is needed
    with pytest.raises(ConfigError) as info:
        config.store.auth_token()
    assert info.value.key == "store.auth_token_env"
    assert str(info.value) == (
        "environment: key 'store.auth_token_env': "
        "environment variable RAGMON_TEST_TOKEN_UNSET is not set"
    )
    monkeypatch.setenv("RAGMON_TEST_TOKEN_UNSET", "")
    with pytest.raises(ConfigError):
        config.store.auth_token()
    monkeypatch.setenv("RAGMON_TEST_TOKEN_UNSET", "s3cret")
    assert config.store.auth_token() == "s3cret"


def test_no_auth_token_env_means_no_token(tmp_path):
    config = load_config(write(tmp_path, '[store]\nhost = "h"\n[sources]\nroot = "docs"\n'))
    assert config.store.auth_token() is None


# --- success ---------------------------------------------------------------------------------


def test_relative_paths_resolve_against_the_config_directory(tmp_path, monkeypatch):
    conf_dir = tmp_path / "project"
    conf_dir.mkdir()
    path = write(conf_dir, '[store]\npath = "data/chroma"\n[sources]\nroot = "docs"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(path)
    base = conf_dir.resolve()
    assert config.base_dir == base
    assert config.file == path
    assert config.sources.root == base / "docs"
    assert config.store.path == base / "data" / "chroma"
    assert config.sources.root.is_absolute()
    assert config.store.path.is_absolute()


def test_relative_config_path_is_resolved_too(tmp_path, monkeypatch):
    write(tmp_path, '[store]\npath = "db"\n[sources]\nroot = "docs"\n')
    monkeypatch.chdir(tmp_path)
    config = load_config("ragmon.toml")
    assert config.sources.root == tmp_path.resolve() / "docs"
    assert config.store.path == tmp_path.resolve() / "db"


def test_absolute_paths_are_kept(tmp_path):
    docs = tmp_path / "abs-docs"
    docs.mkdir()
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    path = write(
        conf_dir,
        f'[store]\npath = "{tmp_path / "abs-db"}"\n[sources]\nroot = "{docs}"\n',
        docs=False,
    )
    config = load_config(path)
    assert config.sources.root == docs
    assert config.store.path == tmp_path / "abs-db"


def test_defaults(tmp_path):
    config = load_config(write(tmp_path, '[store]\nhost = "h"\n[sources]\nroot = "docs"\n'))
    assert isinstance(config, Config)
    assert config.embedding.batch_size == 64
    assert config.embedding.model == ""
    assert config.chunking.max_tokens == 200
    assert config.chunking.overlap_tokens == 20
    assert config.store.page_size == 1000
    assert config.store.port == 8000
    assert config.store.collection == "docs"
    assert config.store.path is None
    assert config.mapping.preset == "auto"
    assert config.sources.include == ["**/*.md", "**/*.txt", "**/*.rst", "**/*.html", "**/*.htm"]
    assert config.sources.exclude == []
    assert config.jobs == {}


def test_default_history_url_is_sqlite_under_the_config_dir(tmp_path):
    config = load_config(write(tmp_path, '[store]\npath = "db"\n[sources]\nroot = "docs"\n'))
    expected = tmp_path.resolve() / ".ragmon" / "history.db"
    assert config.history_url == f"sqlite:///{expected}"


def test_explicit_history_url_wins(tmp_path):
    config = load_config(
        write(
            tmp_path,
            '[store]\npath = "db"\n[sources]\nroot = "docs"\n'
            '[history]\nurl = "postgresql://u@h/db"\n',
        )
    )
    assert config.history_url == "postgresql://u@h/db"


def test_job_table_parses(tmp_path):
    config = load_config(
        write(
            tmp_path,
            '[store]\npath = "db"\n[sources]\nroot = "docs"\n'
            '[jobs.freshness]\nschedule = "0 * * * *"\n'
            "[jobs.drift]\nenabled = false\n",
        )
    )
    assert set(config.jobs) == {"freshness", "drift"}
    assert config.jobs["freshness"].schedule == "0 * * * *"
    assert config.jobs["freshness"].enabled is True
    assert config.jobs["drift"].schedule is None
    assert config.jobs["drift"].enabled is False


def test_config_from_dict_resolves_against_base_dir(tmp_path):
    (tmp_path / "docs").mkdir()
    config = config_from_dict(
        {"store": {"path": "db"}, "sources": {"root": "docs", "exclude": ["drafts/**"]}},
        base_dir=tmp_path,
    )
    assert config.sources.root == tmp_path / "docs"
    assert config.store.path == tmp_path / "db"
    assert config.sources.exclude == ["drafts/**"]
    assert config.file is None
