"""Hypothesis fuzzing (issue 11): hostile source files and names, hostile chunk metadata.

Zero crashes is the property, plus the invariants that make the audit safe to act on:
every chunk is counted in exactly one class, a chunk is orphaned only when no file of its
source's name exists, JSON and CSV output encode as UTF-8, and the console shows every
name literally on one line. Example counts are kept small enough for a loaded 2-core
machine; the figures are in the README's Reliability section.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from monitor.config import FreshnessConfig, MappingConfig, StoreConfig
from monitor.freshness.audit import audit
from monitor.freshness.fixqueue import write_fix_queue_csv
from monitor.freshness.results import FreshnessResult, to_result
from monitor.provenance import PRESETS, MetadataMapping
from monitor.records import Chunk
from monitor.sources.directory import DirectoryCatalog
from monitor.stores.chroma import ChromaStore, open_client
from monitor.text import sha256_text

SETTINGS = FreshnessConfig(embedding_sample=0, duplicates_sample=50)
FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,  # the same examples on every run: a failure reproduces
)

# --- hostile names and contents ------------------------------------------------------------

SPECIAL_NAMES = [
    b"notes[/draft].md",
    b"[red]name.md",
    b"[/bold].md",
    b"two\nlines.md",
    b"tab\there.md",
    b"cr\rname.md",
    b"esc\x1b[31mred.md",
    b"x\xff.md",
    b"latin\xe9.md",
    b":warning:.md",
    b"=1+1.md",
    "caf\u00e9.md".encode(),
    "cafe\u0301.md".encode(),
    "line\u2028sep.md".encode(),
    b"a" * 250 + b".md",
    b"sub/[b]deep/x.md",
    b"sub/\xfe/inside.md",
]

NAME_BYTES = st.binary(min_size=1, max_size=40).map(
    lambda b: b.replace(b"/", b"_").replace(b"\x00", b"_").lstrip(b".") or b"x"
)
NAMES = st.one_of(
    st.sampled_from(SPECIAL_NAMES),
    NAME_BYTES.map(lambda b: b + b".md"),
    st.text(min_size=1, max_size=30)
    .map(lambda t: t.replace("/", "_").replace("\x00", "_"))
    .map(lambda t: os.fsencode(t.lstrip(".") or "y") + b".txt"),
)
TEXT_CONTENT = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        [
            "A sentence containing [/bold] and [red]colour[/red].",
            "Employees get 20 days of paid vacation per year.",
            "<html><body><p>[link=file:///etc/passwd]x[/link]</p><script>alert(1)</script>",
            "\ufeffBOM then text",
            "",
        ]
    ),
)
CONTENT = st.one_of(
    TEXT_CONTENT.map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.binary(max_size=300),
    st.integers(min_value=1, max_value=3).map(lambda n: b"word " * (n * 100_000)),  # 0.5-1.5 MB
)
KINDS = st.sampled_from(["file", "file", "file", "fifo", "dangling", "loop"])


def _make(root: bytes, name: bytes, content: bytes, kind: str) -> bool:
    """Create one entry; False when the file system refuses the name (too long, ...)."""
    path = os.path.join(root, name)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.lexists(path):
            return False
        if kind == "fifo":
            os.mkfifo(path)
        elif kind == "dangling":
            os.symlink(b"/nonexistent/" + os.path.basename(name), path)
        elif kind == "loop":
            os.symlink(os.path.basename(path), path)
        else:
            with open(path, "wb") as f:
                f.write(content)
    except OSError:
        return False
    return True


# A store built once, as other tools build one: LangChain-style (text, `source`), and
# ragmon-style (hashes), naming sources that the fuzzed trees may or may not hold.
RECORDED = [
    "notes[/draft].md",
    "[red]name.md",
    "two\nlines.md",
    "x\\xff.md",
    "caf\u00e9.md",
    "sub/[b]deep/x.md",
    "a" * 250 + ".md",
    "never-there.md",
]


@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz-chroma")
    config = StoreConfig(path=path, collection="fuzz-sources")
    collection = open_client(config, create=True).get_or_create_collection(
        config.collection, embedding_function=None, metadata={"hnsw:space": "cosine"}
    )
    ids, docs, metas = [], [], []
    for n, source in enumerate(RECORDED):
        ids += [f"lc-{n}", f"rg-{n}"]
        docs += [f"A sentence containing [/bold] number {n}.", "word word word"]
        metas += [
            {"source": source},
            {"ragmon_source_id": source, "ragmon_source_sha256": "0" * 64, "ragmon_chunk_index": 0},
        ]
    collection.add(
        ids=ids,
        documents=docs,
        metadatas=metas,
        embeddings=[[float(i % 7 + 1), 1.0, float(i % 3)] for i in range(len(ids))],
    )
    return ChromaStore.from_config(config)


def _check_result(result: Any, total: int) -> None:
    details = result.details
    counts = details["counts"]["chunks"]
    assert sum(counts.values()) == total  # every chunk in exactly one class
    json.dumps(details, allow_nan=False).encode("utf-8")
    record = FreshnessResult.from_json(details)  # what fix-queue and the report read back
    csv_text = io.StringIO()
    write_fix_queue_csv(csv_text, record.fix_queue)
    csv_text.getvalue().encode("utf-8")
    _render(result)


def _render(result: Any) -> None:
    """Print the findings and the fix queue as the CLI does: no MarkupError, one line each."""
    from rich.console import Console

    from jobs.ui import literal, render_findings

    out = Console(file=io.StringIO(), width=10_000, highlight=False, emoji=False)
    render_findings(out, result.findings, limit=1000)
    lines = out.file.getvalue().splitlines()
    shown = [f for f in result.findings][:1000]
    assert len(lines) == len(shown) + (1 if len(result.findings) > 1000 else 0)
    for finding in shown:
        if finding.source_id:
            assert literal(finding.source_id).replace("\\[", "[") in out.file.getvalue()


@settings(FUZZ, max_examples=120)
@given(
    entries=st.lists(st.tuples(NAMES, CONTENT, KINDS), min_size=1, max_size=8),
    max_bytes=st.sampled_from([1_000_000, 10_000_000]),
)
def test_fuzzed_source_trees_never_crash_the_catalog_or_the_audit(fuzz_store, entries, max_bytes):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "docs"
        root.mkdir()
        made = [
            name for name, content, kind in entries if _make(os.fsencode(root), name, content, kind)
        ]
        catalog = DirectoryCatalog(root, max_file_bytes=max_bytes)
        docs = {d.id: d for d in catalog.documents()}
        for problem in catalog.problems:
            problem.path.encode("utf-8")  # storable and printable
        for doc in docs.values():
            catalog.read_text(doc)  # hashed, so readable
        found = audit(
            DirectoryCatalog(root, max_file_bytes=max_bytes),
            fuzz_store,
            MetadataMapping(MappingConfig()),
            SETTINGS,
            root=root,
        )
        result = to_result(found, SETTINGS)
        _check_result(result, fuzz_store.count())
        on_disk = {os.fsdecode(name) for name in made}
        for doc_id, state in result.details["by_document"].items():
            if state["status"] == "orphaned":
                assert doc_id not in on_disk, (doc_id, state)


# --- hostile chunk metadata ----------------------------------------------------------------

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(
        ODD_STRINGS := [
            "2024-05-01T12:30:00Z",
            "2024-13-45T99:99:99",
            "yesterday",
            "1714566600",
            "-1e300",
            "9999-12-31T23:59:59+14:00",
            "0001-01-01T00:00:00-12:00",
            "NaN",
            "",
            " ",
            "[/bold]",
            "a\nb.md",
        ]
    ),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
MAPPED_KEYS = sorted(
    {
        k
        for preset in PRESETS.values()
        for k in (
            *preset.source,
            preset.source_sha256,
            preset.chunk_sha256,
            preset.chunk_index,
            preset.embedded_at,
            preset.embedding_model,
        )
        if k
    }
)
METADATA = st.dictionaries(st.sampled_from(MAPPED_KEYS), JSON_VALUES, max_size=len(MAPPED_KEYS))


@settings(FUZZ, max_examples=1000)
@given(metadata=METADATA, preset=st.sampled_from(["auto", "ragmon", "langchain", "llamaindex"]))
# Found by this test before the fix: a list as timestamp (TypeError), a bool as index.
@example(metadata={"ragmon_embedded_at": []}, preset="auto")
@example(metadata={"ragmon_chunk_index": False}, preset="auto")
def test_provenance_of_any_json_metadata_never_crashes(metadata, preset):
    prov = MetadataMapping(MappingConfig(preset=preset)).provenance(
        Chunk(id="c", text="t", metadata=metadata)
    )
    assert prov.source is None or (isinstance(prov.source, str) and prov.source)
    assert prov.chunk_index is None or (type(prov.chunk_index) is int and prov.chunk_index >= 0)
    assert prov.embedded_at is None or prov.embedded_at.tzinfo is not None
    for value in (prov.source_sha256, prov.chunk_sha256, prov.embedding_model):
        assert value is None or isinstance(value, str)


# What Chroma itself stores: str, int (64-bit), float, bool (and None, which drops the key).
CHROMA_VALUES = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(ODD_STRINGS),
)
A_TEXT = "Employees get 20 days of paid vacation per year.\n"
CHROMA_METADATA = st.dictionaries(st.sampled_from(MAPPED_KEYS), CHROMA_VALUES, min_size=1)


@pytest.fixture(scope="module")
def metadata_world(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz-meta-docs")
    (root / "a.md").write_text(A_TEXT)
    (root / "[red]b.md").write_text("A sentence containing [/bold] and more.\n")
    client = open_client(StoreConfig(path=root.parent / "fuzz-meta-chroma"), create=True)
    return root, client


@settings(FUZZ, max_examples=80)
@given(metas=st.lists(CHROMA_METADATA, min_size=1, max_size=6))
# Found by fuzzing before the fix: a fresh chunk with index -1 divided by zero.
@example(
    metas=[
        {
            "ragmon_source_id": "a.md",
            "ragmon_source_sha256": sha256_text(A_TEXT),
            "ragmon_chunk_index": -1,
        }
    ]
)
def test_audit_of_chunks_with_any_metadata_never_crashes(metadata_world, metas):
    root, client = metadata_world
    name = f"m{uuid.uuid4().hex[:12]}"
    collection = client.create_collection(name, embedding_function=None)
    try:
        texts = ["Employees get 20 days of paid vacation per year.", "and more", "", "[/bold]"]
        collection.add(
            ids=[f"c{i}" for i in range(len(metas))],
            documents=[texts[i % len(texts)] for i in range(len(metas))],
            metadatas=[dict(m) for m in metas],
            embeddings=[[1.0, float(i), 0.5] for i in range(len(metas))],
        )
        store = ChromaStore(client, name)
        found = audit(
            DirectoryCatalog(root), store, MetadataMapping(MappingConfig()), SETTINGS, root=root
        )
        result = to_result(found, SETTINGS)
        _check_result(result, len(metas))
        for metric in result.metrics:
            assert not math.isnan(metric.value) and not math.isinf(metric.value), metric
    finally:
        client.delete_collection(name)


def test_fuzz_helpers_make_what_they_say(tmp_path):
    root = os.fsencode(tmp_path)
    assert _make(root, b"x\xff.md", b"t", "file")
    assert _make(root, b"p.md", b"", "fifo") and os.path.exists(tmp_path / "p.md")
    assert _make(root, b"l.md", b"", "loop") and os.path.islink(tmp_path / "l.md")
    assert not _make(root, b"a" * 300 + b".md", b"t", "file")  # over NAME_MAX: refused
