"""What only the Chroma adapter does: where a store is missing, where a server is down.

The behaviour every store shares is in `tests/test_store_contract.py`.
"""

from __future__ import annotations

import pytest

from monitor.config import StoreConfig
from monitor.errors import StoreError
from monitor.stores import open_store
from tests.conftest import free_port


def test_no_store_at_path_is_an_error_and_creates_nothing(tmp_path):
    config = StoreConfig(path=tmp_path / "typo", collection="docs")
    with pytest.raises(StoreError, match="No Chroma store at .*typo"), open_store(config):
        pass
    assert not (tmp_path / "typo").exists()


def test_unreachable_server_is_a_store_error():
    config = StoreConfig(host="127.0.0.1", port=free_port(), collection="docs")
    with (
        pytest.raises(StoreError, match="Cannot reach the Chroma server at http://127.0.0.1"),
        open_store(config),
    ):
        pass


def test_an_unknown_store_kind_names_the_kinds(tmp_path):
    from jobs.registry import config_from_dict
    from monitor.errors import ConfigError

    (tmp_path / "docs").mkdir()
    with pytest.raises(ConfigError) as caught:
        config_from_dict(
            {"store": {"kind": "qdrant", "path": "x"}, "sources": {"root": "docs"}},
            base_dir=tmp_path,
        )
    assert "key 'store': key 'kind': expected one of: chroma; got 'qdrant'" in str(caught.value)
    with pytest.raises(ConfigError, match="key 'kind': expected one of: chroma; got \\[\\]"):
        config_from_dict(
            {"store": {"kind": [], "path": "x"}, "sources": {"root": "docs"}}, base_dir=tmp_path
        )
