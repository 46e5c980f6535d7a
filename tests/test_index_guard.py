"""`ragmon index` never deletes what it could not read, and refuses mass deletes (issue 11)."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from jobs.cli import cli
from monitor.config import ChunkingConfig
from monitor.errors import MassDeleteError
from monitor.ingest import index_sources, plan_index
from monitor.sources.directory import DirectoryCatalog
from monitor.stores.chroma import ChromaIndexTarget, ChromaStore
from tests.freshness_scenarios import long_doc, make_config, ragmon_index, write
from tests.unreadable import PATH_MAX, DeletesDuringRun, deep_root, move_into

NAMES = [f"doc{i}.md" for i in range(6)]


def _world(tmp_path, embedder, **sections):
    docs = tmp_path / "docs"
    for name in NAMES:
        write(docs, name, long_doc(name[:-3].title()))
    config = make_config(tmp_path, tmp_path / "chroma", "guard", docs, **sections)
    ragmon_index(config, embedder)
    path = tmp_path / "ragmon.toml"
    path.write_text(
        f'[store]\npath = "chroma"\ncollection = "guard"\n[sources]\nroot = "docs"\n'
        f'[history]\nurl = "sqlite:///{tmp_path / "history.db"}"\n'
        "[chunking]\nmax_tokens = 48\noverlap_tokens = 0\n",
        encoding="utf-8",
    )
    return config, path, docs


def _ids(config):
    store = ChromaStore.from_config(config.store)
    return sorted(c.id for page in store.pages(include_text=False) for c in page)


def _invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_index_of_an_empty_directory_deletes_nothing_and_says_why(tmp_path, embedder):
    config, path, _docs = _world(tmp_path, embedder)
    before = _ids(config)
    empty = tmp_path / "unmounted"
    empty.mkdir()
    result = _invoke("-c", str(path), "index", str(empty))
    assert result.exit_code == 2
    n = len(before)
    assert result.output == (
        f"Error: ragmon index would delete {n} of {n} chunks (100%) in one run, more than "
        "index.max_delete_share (20%): 6 documents are gone from the sources. If they were "
        "really removed, run again with --allow-mass-delete; if the sources are on a share, "
        "check that it is mounted.\n"
    )
    assert _ids(config) == before


def test_allow_mass_delete_deletes(tmp_path, embedder):
    config, path, _docs = _world(tmp_path, embedder)
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _invoke("-c", str(path), "index", str(empty), "--allow-mass-delete")
    assert result.exit_code == 0, result.output
    assert _ids(config) == []


def test_a_delete_below_the_share_goes_ahead(tmp_path, embedder):
    config, path, docs = _world(tmp_path, embedder)
    (docs / "doc0.md").unlink()  # one document of six: below 20%
    result = _invoke("-c", str(path), "index")
    assert result.exit_code == 0, result.output
    assert not any(i.startswith("doc0.md#") for i in _ids(config))


def test_the_share_is_configurable(tmp_path, embedder):
    _config, path, docs = _world(tmp_path, embedder)
    with path.open("a") as f:
        f.write("[index]\nmax_delete_share = 0.5\n")
    for name in NAMES[:2]:
        (docs / name).unlink()
    result = _invoke("-c", str(path), "index")
    assert result.exit_code == 0, result.output
    for name in NAMES[2:]:
        (docs / name).unlink()
    result = _invoke("-c", str(path), "index")
    assert result.exit_code == 2
    assert "more than index.max_delete_share (50%)" in result.output


def test_dry_run_says_the_run_would_be_refused(tmp_path, embedder):
    _config, path, _docs = _world(tmp_path, embedder)
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _invoke("-c", str(path), "index", str(empty), "--dry-run")
    assert result.exit_code == 1
    assert (
        "0 new, 0 changed, 6 deleted, 0 unchanged documents since the last index." in result.output
    )
    assert "ragmon index would refuse this run without --allow-mass-delete" in result.output


def test_index_keeps_the_chunks_of_sources_it_cannot_read(tmp_path, embedder):
    config, path, docs = _world(tmp_path, embedder)
    before = _ids(config)
    (docs / "doc1.md").write_bytes(b"caf\xe9")
    (docs / "doc2.md").unlink()
    os.mkfifo(docs / "doc2.md")
    dry = _invoke("-c", str(path), "index", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "deleted  doc1.md" not in dry.output and "deleted  doc2.md" not in dry.output
    assert "0 new, 0 changed, 0 deleted, 4 unchanged documents since the last index." in dry.output
    assert "  kept     doc2.md (" in dry.output and "): not a regular file (a FIFO)" in dry.output
    result = _invoke("-c", str(path), "index")
    assert result.exit_code == 0, result.output
    assert _ids(config) == before


def test_index_keeps_the_chunks_under_a_directory_it_cannot_list(tmp_path, embedder):
    staging = tmp_path / "staging"
    write(staging, "a.md", long_doc("A"))
    long_name = "products-" + "p" * 120
    write(staging, f"{long_name}/arm.md", long_doc("Arm"))
    write(staging, f"{long_name}/grip.md", long_doc("Grip"))
    config = make_config(tmp_path, tmp_path / "chroma", "guard", staging)
    ragmon_index(config, embedder)
    before = _ids(config)
    root = move_into(staging, deep_root(tmp_path, PATH_MAX - 100 - len("/docs")), "docs")
    config = make_config(tmp_path, tmp_path / "chroma", "guard", root)
    catalog = DirectoryCatalog.from_config(config.sources)
    plan = plan_index(catalog, ChromaStore.from_config(config.store))
    assert plan.removed == {}
    assert sorted(plan.unreadable) == [f"{long_name}/arm.md", f"{long_name}/grip.md"]
    report = index_sources(
        DirectoryCatalog.from_config(config.sources),
        ChromaIndexTarget.from_config(config.store),
        embedder,
        ChunkingConfig(max_tokens=48, overlap_tokens=0),
        allow_mass_delete=True,
    )
    assert report.chunks_deleted == 0 and report.removed == []
    assert _ids(config) == before


def test_a_file_that_vanishes_while_indexing_keeps_its_chunks_and_the_run_goes_on(
    tmp_path, embedder
):
    config, _path, docs = _world(tmp_path, embedder)
    for name in ("doc3.md", "doc4.md"):  # changed, so both must be read again
        (docs / name).write_text(long_doc(name[:-3].title(), "One new sentence."))
    before = _ids(config)
    catalog = DeletesDuringRun(
        DirectoryCatalog.from_config(config.sources), after_listing=[docs / "doc3.md"]
    )
    report = index_sources(
        catalog,
        ChromaIndexTarget.from_config(config.store),
        embedder,
        ChunkingConfig(max_tokens=48, overlap_tokens=0),
    )
    assert report.indexed == ["doc4.md"]
    assert [(p.path, p.reason) for p in report.problems] == [("doc3.md", "vanished during the run")]
    after = _ids(config)
    assert [i for i in after if i.startswith("doc3.md#")] == [
        i for i in before if i.startswith("doc3.md#")
    ]


def test_index_survives_an_undecodable_file_name(tmp_path, embedder):
    config, path, docs = _world(tmp_path, embedder)
    with open(os.path.join(os.fsencode(docs), b"x\xff.md"), "wb") as f:
        f.write(b"# X\n\nA file whose name is not UTF-8.\n")
    write(docs, "zzz.md", "# Z\n\nIndexed after the bad name.\n")
    result = _invoke("-c", str(path), "index")
    assert result.exit_code == 0, result.output
    assert "skipped x\\xff.md: the file name is not valid UTF-8; rename the file" in result.output
    assert "zzz.md#0" in _ids(config)


def test_mass_delete_error_message():
    exc = MassDeleteError(deleting=30, total=40, documents=3, limit=0.2)
    assert "would delete 30 of 40 chunks (75%)" in str(exc)
    assert "--allow-mass-delete" in str(exc)


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_max_delete_share_is_validated(tmp_path, share):
    (tmp_path / "docs").mkdir()
    path = tmp_path / "ragmon.toml"
    path.write_text(
        f'[store]\npath = "c"\n[sources]\nroot = "docs"\n[index]\nmax_delete_share = {share}\n'
    )
    result = CliRunner().invoke(cli, ["-c", str(path), "status"])
    assert result.exit_code == 2
    assert "key 'index.max_delete_share'" in result.output
