"""A source that cannot be read is not a deleted source (issue 11, sections 1 and 2).

Every case makes a source really unreadable, as root too (see `tests.unreadable`): the
catalog reports it, the audit classes its chunks `unreadable` (never orphaned), and the
fix queue never says `delete` for them.
"""

from __future__ import annotations

import json
import os
import socket

import pytest
from click.testing import CliRunner

from jobs.cli import cli
from monitor.config import FreshnessConfig
from monitor.freshness.audit import audit
from monitor.freshness.results import to_result
from monitor.provenance import MetadataMapping
from monitor.sources.directory import DirectoryCatalog
from monitor.stores.chroma import ChromaStore
from tests.freshness_scenarios import langchain_index, long_doc, make_config, ragmon_index, write
from tests.unreadable import PATH_MAX, DeletesDuringRun, deep_root, move_into, unlistable_dir

# --- the catalog: every way a file or directory can be unreadable, as root ----------------


def _problems(catalog: DirectoryCatalog) -> dict[str, tuple[str, bool]]:
    return {p.path: (p.reason, p.directory) for p in catalog.problems}


def _scan(catalog: DirectoryCatalog) -> set[str]:
    return {d.id for d in catalog.documents()}


def test_fifo_socket_dangling_link_and_link_loop_are_unreadable_files(tmp_path):
    root = tmp_path / "docs"
    write(root, "ok.md", "fine")
    os.mkfifo(root / "pipe.md")  # reading it would block forever
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(root / "sock.md"))
        (root / "dangling.md").symlink_to(root / "nowhere.md")
        (root / "loop.md").symlink_to(root / "loop.md")
        catalog = DirectoryCatalog(root)
        assert _scan(catalog) == {"ok.md"}
    assert _problems(catalog) == {
        "pipe.md": ("not a regular file (a FIFO)", False),
        "sock.md": ("not a regular file (a socket)", False),
        "dangling.md": (f"broken link to {root / 'nowhere.md'}", False),
        "loop.md": ("a link loop (too many levels of symbolic links)", False),
    }


def test_file_larger_than_max_file_bytes_is_unreadable_not_read(tmp_path):
    root = tmp_path / "docs"
    write(root, "small.md", "x" * 100)
    write(root, "big.md", "y" * 101)
    catalog = DirectoryCatalog(root, max_file_bytes=100)
    assert _scan(catalog) == {"small.md"}
    assert _problems(catalog) == {
        "big.md": (
            "larger than sources.max_file_bytes (101 > 100 bytes); raise the limit or "
            "exclude the file",
            False,
        )
    }
    assert catalog.reads == 1


def test_undecodable_file_name_is_skipped_with_an_escaped_name(tmp_path):
    root = tmp_path / "docs"
    write(root, "ok.md", "fine")
    with open(os.path.join(os.fsencode(root), b"x\xff.md"), "wb") as f:
        f.write(b"text")
    catalog = DirectoryCatalog(root)
    assert _scan(catalog) == {"ok.md"}
    assert _problems(catalog) == {
        "x\\xff.md": ("the file name is not valid UTF-8; rename the file", False)
    }
    json.dumps([p.path for p in catalog.problems]).encode("utf-8")  # storable as is


def test_path_longer_than_path_max_skips_that_file_only(tmp_path):
    base = tmp_path / "docs"
    base.mkdir()
    write(base, "ok.md", "fine")
    deep = deep_root(base, PATH_MAX - 20)  # listable; a 30-character name in it is not
    move_into(
        write(tmp_path, "long-name-of-thirty-chars-x.md", "far"),
        deep,
        "long-name-of-thirty-chars-x.md",
    )
    catalog = DirectoryCatalog(base)
    assert _scan(catalog) == {"ok.md"}
    [(path, (reason, directory))] = _problems(catalog).items()
    assert path.endswith("/long-name-of-thirty-chars-x.md") and directory is False
    assert reason == "the path is longer than the system allows (PATH_MAX)"


def test_directory_that_cannot_be_listed_is_reported_as_a_directory(tmp_path):
    root = deep_root(tmp_path, PATH_MAX - 100)
    write(root, "ok.md", "fine")
    tree = tmp_path / "products"
    write(tree, "arm.md", "arm")
    name = unlistable_dir(root, tree, "products-" + "p" * 120)
    catalog = DirectoryCatalog(root)
    assert _scan(catalog) == {"ok.md"}
    assert _problems(catalog) == {
        name: ("cannot be listed: the path is longer than the system allows (PATH_MAX)", True)
    }


def test_directory_deleted_between_listing_and_descent_is_reported(tmp_path):
    root = tmp_path / "docs"
    write(root, "a.md", "alpha")
    write(root, "sub/b.md", "beta")
    catalog = DirectoryCatalog(root)
    docs = catalog.documents()
    assert next(docs).id == "a.md"
    (root / "sub" / "b.md").unlink()
    (root / "sub").rmdir()
    assert list(docs) == []
    assert _problems(catalog) == {"sub": ("cannot be listed: vanished during the run", True)}


def test_directory_replaced_by_a_file_between_listing_and_descent_is_reported(tmp_path):
    root = tmp_path / "docs"
    write(root, "a.md", "alpha")
    write(root, "sub/b.md", "beta")
    catalog = DirectoryCatalog(root)
    docs = catalog.documents()
    assert next(docs).id == "a.md"
    (root / "sub" / "b.md").unlink()
    (root / "sub").rmdir()
    (root / "sub").write_text("now a file")
    assert list(docs) == []
    [(path, (reason, directory))] = _problems(catalog).items()
    assert (path, directory) == ("sub", True)
    assert reason.startswith("cannot be listed: ")


def test_file_deleted_between_listing_and_hashing_vanished(tmp_path):
    root = tmp_path / "docs"
    write(root, "a.md", "alpha")
    b = write(root, "b.md", "beta")
    catalog = DirectoryCatalog(root)
    docs = catalog.documents()
    assert next(docs).id == "a.md"
    b.unlink()
    assert list(docs) == []
    assert _problems(catalog) == {"b.md": ("vanished during the run", False)}


# --- the audit ----------------------------------------------------------------------------


def _audit(config, catalog=None):
    store = ChromaStore.from_config(config.store)
    found = audit(
        catalog or DirectoryCatalog.from_config(config.sources),
        store,
        MetadataMapping(config.mapping),
        FreshnessConfig(embedding_sample=0, duplicates_sample=0),
        root=config.sources.root,
    )
    return to_result(found, FreshnessConfig(embedding_sample=0, duplicates_sample=0))


def _ragmon_corpus(tmp_path, embedder):
    docs = tmp_path / "docs"
    for name in ("a.md", "latin.md", "pipe.md", "gone.md", "big.md", "link.md"):
        write(docs, name, long_doc(name[:-3].title()))
    config = make_config(tmp_path, tmp_path / "chroma", "unreadable", docs)
    ragmon_index(config, embedder)
    return config, docs


def _unreadable_everything(docs):
    (docs / "latin.md").write_bytes((docs / "latin.md").read_bytes() + b"caf\xe9")
    (docs / "pipe.md").unlink()
    os.mkfifo(docs / "pipe.md")
    (docs / "gone.md").unlink()  # really deleted: orphaned, the control case
    (docs / "big.md").write_text("z" * 3_000_000)
    (docs / "link.md").unlink()
    (docs / "link.md").symlink_to(docs / "link.md")


def test_unreadable_sources_are_their_own_class_never_orphaned(tmp_path, embedder):
    config, docs = _ragmon_corpus(tmp_path, embedder)
    _unreadable_everything(docs)
    config = make_config(
        tmp_path, tmp_path / "chroma", "unreadable", docs, sources={"max_file_bytes": 1_000_000}
    )
    details = _audit(config).details
    by_doc = details["by_document"]
    for name in ("latin.md", "pipe.md", "big.md", "link.md"):
        assert by_doc[name]["status"] == "unreadable", name
        assert list(by_doc[name]["chunk_ids"]) == ["unreadable"], name
    assert by_doc["latin.md"]["reason"].startswith("not valid UTF-8 (byte 0xe9")
    assert by_doc["pipe.md"]["reason"] == "not a regular file (a FIFO)"
    assert by_doc["big.md"]["reason"].startswith("larger than sources.max_file_bytes")
    assert by_doc["link.md"]["reason"] == "a link loop (too many levels of symbolic links)"
    assert by_doc["gone.md"]["status"] == "orphaned"
    queue = {i["document"]: i for i in details["fix_queue"]}
    assert {d: i["action"] for d, i in queue.items()} == {
        "latin.md": "review",
        "pipe.md": "review",
        "big.md": "review",
        "link.md": "review",
        "gone.md": "delete",
    }
    assert queue["pipe.md"]["reason"] == (
        f"cannot be read (not a regular file (a FIFO)); its {queue['pipe.md']['chunks']} "
        "chunks are kept until it can be read"
    )
    counts = details["counts"]
    unreadable_chunks = sum(
        len(by_doc[n]["chunk_ids"]["unreadable"]) for n in queue if n != "gone.md"
    )
    assert counts["chunks"]["unreadable"] == unreadable_chunks
    assert counts["chunks"]["orphaned"] == len(by_doc["gone.md"]["chunk_ids"]["orphaned"])
    assert counts["documents"]["unreadable"] == 4


def test_unreadable_figures_and_findings(tmp_path, embedder):
    config, docs = _ragmon_corpus(tmp_path, embedder)
    (docs / "latin.md").write_bytes(b"caf\xe9")
    result = _audit(config)
    n = result.details["counts"]["chunks"]["unreadable"]
    assert n > 0
    figures = {(m.name, m.labels.get("class")): m.value for m in result.metrics}
    assert figures[("chunks", "unreadable")] == n
    assert figures[("documents", "unreadable")] == 1
    assert figures[("chunks", "orphaned")] == 0
    [finding] = [f for f in result.findings if f.kind == "unreadable"]
    assert finding.source_id == "latin.md" and len(finding.chunk_ids) == n
    assert str(finding.severity) == "warning"
    # The gate (rule unreadable-sources) turns this into exit 1: see the CLI test below.


def test_unlistable_directory_makes_every_chunk_under_it_unreadable(tmp_path, embedder):
    staging = tmp_path / "staging"
    write(staging, "a.md", long_doc("A"))
    long_name = "products-" + "p" * 120
    for name in ("arm.md", "grip.md", "deeper/cable.md"):
        write(staging, f"{long_name}/{name}", long_doc(name.split("/")[-1][:-3].title()))
    config = make_config(tmp_path, tmp_path / "chroma", "dir", staging)
    ragmon_index(config, embedder)
    under = [c for c in _chunk_sources(config) if c.startswith(long_name + "/")]
    assert len(under) > 6

    root = move_into(staging, deep_root(tmp_path, PATH_MAX - 100 - len("/docs")), "docs")
    config = make_config(tmp_path, tmp_path / "chroma", "dir", root)
    details = _audit(config).details

    assert details["source_problems"] == [
        {
            "path": long_name,
            "reason": "cannot be listed: the path is longer than the system allows (PATH_MAX)",
            "directory": True,
        }
    ]
    by_doc = details["by_document"]
    for name in ("arm.md", "grip.md", "deeper/cable.md"):
        state = by_doc[f"{long_name}/{name}"]
        assert state["status"] == "unreadable"
        assert state["reason"] == (
            f"in {long_name}, which cannot be listed: the path is longer than the system "
            "allows (PATH_MAX)"
        )
    assert details["counts"]["chunks"]["unreadable"] == len(under)
    assert details["counts"]["chunks"]["orphaned"] == 0
    assert "delete" not in {i["action"] for i in details["fix_queue"]}
    assert "a.md" not in by_doc  # the readable part is still audited: fresh


def _chunk_sources(config):
    store = ChromaStore.from_config(config.store)
    return [
        c.metadata["ragmon_source_id"] for page in store.pages(include_text=False) for c in page
    ]


def _langchain_world(tmp_path, embedder):
    docs = tmp_path / "docs"
    for name in ("a.md", "b.md", "c.md"):
        write(docs, name, long_doc(name[:-3].title()))
    config = make_config(
        tmp_path, tmp_path / "chroma", "langchain", docs, mapping={"preset": "langchain"}
    )
    ids = langchain_index(config.store, docs, embedder, recorded_prefix="")
    return config, docs, ids


def test_file_deleted_after_the_scan_while_its_text_is_checked(tmp_path, embedder):
    # No stored hashes (a LangChain store): the audit must read b.md after the scan saw it.
    config, docs, ids = _langchain_world(tmp_path, embedder)
    catalog = DeletesDuringRun(
        DirectoryCatalog.from_config(config.sources), after_listing=[docs / "b.md"]
    )
    details = _audit(config, catalog).details
    b = details["by_document"]["b.md"]
    assert b["status"] == "unreadable"
    assert b["reason"] == "vanished during the run"
    assert b["chunk_ids"] == {"unreadable": sorted(ids["b.md"])}
    assert details["counts"]["chunks"]["orphaned"] == 0
    assert "a.md" not in details["by_document"] and "c.md" not in details["by_document"]


def test_file_deleted_between_listing_and_hashing_is_unreadable_in_that_run(tmp_path, embedder):
    config, docs, _ids = _langchain_world(tmp_path, embedder)
    catalog = DeletesDuringRun(
        DirectoryCatalog.from_config(config.sources), after_first=[docs / "c.md"]
    )
    details = _audit(config, catalog).details
    c = details["by_document"]["c.md"]
    assert (c["status"], c["reason"]) == ("unreadable", "vanished during the run")
    assert details["counts"]["chunks"]["orphaned"] == 0
    # The next run, with the file still gone, calls it what it is: deleted.
    again = _audit(config).details
    assert again["by_document"]["c.md"]["status"] == "orphaned"


def test_unindexed_file_deleted_while_moves_are_searched(tmp_path, embedder):
    # new.md is a move candidate (no chunks) and vanishes before its text is read.
    config, docs, _ids = _langchain_world(tmp_path, embedder)
    (docs / "a.md").rename(docs / "new.md")
    write(docs, "later.md", "# Later\n\nAlso unindexed.\n")
    catalog = DeletesDuringRun(
        DirectoryCatalog.from_config(config.sources), after_listing=[docs / "later.md"]
    )
    details = _audit(config, catalog).details
    assert details["by_document"]["a.md"]["status"] == "moved"
    later = details["by_document"]["later.md"]
    assert (later["status"], later["reason"]) == ("unreadable", "vanished during the run")


# --- the CLI: the scenario, end to end ----------------------------------------------


def _cli_world(tmp_path, embedder, root_name="docs"):
    docs = tmp_path / root_name
    write(docs, "a.md", long_doc("A"))
    write(docs, "b.md", long_doc("B"))
    config = make_config(tmp_path, tmp_path / "chroma", "cli", docs)
    ragmon_index(config, embedder)
    path = tmp_path / "ragmon.toml"
    path.write_text(
        f'[store]\npath = "chroma"\ncollection = "cli"\n[sources]\nroot = "{docs}"\n'
        f'[history]\nurl = "sqlite:///{tmp_path / "history.db"}"\n'
        "[freshness]\nembedding_sample = 0\n",
        encoding="utf-8",
    )
    return path, docs


def _invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_cli_audit_of_an_undecodable_source_keeps_its_chunks(tmp_path, embedder):
    config, docs = _cli_world(tmp_path, embedder)
    (docs / "b.md").write_bytes(b"caf\xe9\n")
    result = _invoke("-c", str(config), "run", "freshness", "--json")
    assert result.exit_code == 1
    body = json.loads(result.stdout)["result"]
    assert body["by_document"]["b.md"]["status"] == "unreadable"
    assert body["counts"]["chunks"]["orphaned"] == 0
    queue = _invoke("-c", str(config), "fix-queue", "--format", "json")
    assert [(i["document"], i["action"]) for i in json.loads(queue.stdout)] == [("b.md", "review")]


def test_cli_audit_survives_an_undecodable_file_name(tmp_path, embedder):
    config, docs = _cli_world(tmp_path, embedder)
    with open(os.path.join(os.fsencode(docs), b"x\xff.md"), "wb") as f:
        f.write(b"# X\n\nA file whose name is not UTF-8.\n")
    result = _invoke("-c", str(config), "run", "freshness", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)["result"]
    assert body["source_problems"] == [
        {
            "path": "x\\xff.md",
            "reason": "the file name is not valid UTF-8; rename the file",
            "directory": False,
        }
    ]
    assert body["counts"]["chunks"]["orphaned"] == 0


@pytest.mark.parametrize("runs", [2])
def test_cli_audit_survives_a_path_longer_than_path_max(tmp_path, embedder, runs):
    config, docs = _cli_world(tmp_path, embedder)
    deep = deep_root(docs, PATH_MAX - 20)
    move_into(
        write(tmp_path, "long-name-of-thirty-chars-x.md", "far"),
        deep,
        "long-name-of-thirty-chars-x.md",
    )
    for _ in range(runs):  # the second run starts from the first one's stamps
        result = _invoke("-c", str(config), "run", "freshness", "--json")
        assert result.exit_code == 0, result.output[-2000:]
        body = json.loads(result.stdout)["result"]
        [problem] = body["source_problems"]
        assert problem["reason"] == "the path is longer than the system allows (PATH_MAX)"
