"""Reading chunk provenance from metadata: presets, auto-detection, overrides, proposals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.config import MappingConfig
from monitor.provenance import MetadataMapping, detect_preset, propose_mapping
from monitor.records import Chunk, Provenance

RAGMON_META = {
    "ragmon_source_id": "guide/intro.md",
    "ragmon_source_sha256": "a" * 64,
    "ragmon_chunk_sha256": "b" * 64,
    "ragmon_chunk_index": "3",
    "ragmon_embedded_at": "2024-05-01T12:30:00+00:00",
    "ragmon_embedding_model": "all-MiniLM-L6-v2",
    "ragmon_chunker": "semantic-text-splitter",
}


def chunk(metadata, cid: str = "c1", text: str | None = "chunk text") -> Chunk:
    return Chunk(id=cid, text=text, metadata=metadata)


def test_ragmon_preset_reads_every_field():
    prov = MetadataMapping(MappingConfig(preset="ragmon")).provenance(chunk(RAGMON_META))
    assert prov == Provenance(
        source="guide/intro.md",
        source_sha256="a" * 64,
        chunk_sha256="b" * 64,
        chunk_index=3,
        embedded_at=datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
        embedding_model="all-MiniLM-L6-v2",
    )
    assert isinstance(prov.chunk_index, int)
    assert prov.embedded_at.tzinfo is not None
    assert prov.embedded_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-05-01T12:30:00Z", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        ("2024-05-01T12:30:00", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),  # naive = UTC
        ("2024-05-01T14:30:00+02:00", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        (1714566600, datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),  # epoch seconds
        (1714566600.5, datetime(2024, 5, 1, 12, 30, 0, 500000, tzinfo=UTC)),
    ],
)
def test_embedded_at_is_an_aware_datetime(raw, expected):
    meta = {**RAGMON_META, "ragmon_embedded_at": raw}
    prov = MetadataMapping(MappingConfig(preset="ragmon")).provenance(chunk(meta))
    assert prov.embedded_at is not None
    assert prov.embedded_at.tzinfo is not None
    assert prov.embedded_at == expected


def test_chunk_index_given_as_int_and_bad_values():
    mapping = MetadataMapping(MappingConfig(preset="ragmon"))
    assert mapping.provenance(chunk({**RAGMON_META, "ragmon_chunk_index": 7})).chunk_index == 7
    bad = {**RAGMON_META, "ragmon_chunk_index": "seven", "ragmon_embedded_at": "yesterday"}
    prov = mapping.provenance(chunk(bad))
    assert prov.chunk_index is None
    assert prov.embedded_at is None
    assert prov.source == "guide/intro.md"


def test_empty_strings_count_as_absent():
    meta = {"ragmon_source_id": "a.md", "ragmon_source_sha256": "", "ragmon_chunk_index": ""}
    prov = MetadataMapping(MappingConfig(preset="ragmon")).provenance(chunk(meta))
    assert prov == Provenance(source="a.md")


def test_langchain_source():
    meta = {"source": "/data/docs/faq.md", "page": 2, "start_index": 140}
    prov = MetadataMapping(MappingConfig(preset="langchain")).provenance(chunk(meta))
    assert prov == Provenance(source="/data/docs/faq.md")


def test_llamaindex_prefers_file_path_then_ref_doc_id():
    mapping = MetadataMapping(MappingConfig(preset="llamaindex"))
    both = {"file_path": "/data/docs/a.md", "ref_doc_id": "doc-123", "file_name": "a.md"}
    assert mapping.provenance(chunk(both)).source == "/data/docs/a.md"
    only_ref = {"ref_doc_id": "doc-123"}
    assert mapping.provenance(chunk(only_ref)).source == "doc-123"
    empty_path = {"file_path": "", "ref_doc_id": "doc-456"}
    assert mapping.provenance(chunk(empty_path)).source == "doc-456"
    none_path = {"file_path": None, "ref_doc_id": "doc-789"}
    assert mapping.provenance(chunk(none_path)).source == "doc-789"


def test_source_values_are_stringified():
    prov = MetadataMapping(MappingConfig(preset="llamaindex")).provenance(chunk({"ref_doc_id": 42}))
    assert prov.source == "42"


def test_detect_preset_order():
    assert detect_preset(RAGMON_META) == "ragmon"
    # ragmon keys win even when a langchain-style key is also present
    assert detect_preset({**RAGMON_META, "source": "x"}) == "ragmon"
    assert detect_preset({"source": "x", "file_path": "y"}) == "langchain"
    assert detect_preset({"file_path": "y"}) == "llamaindex"
    assert detect_preset({"ref_doc_id": "z"}) == "llamaindex"
    assert detect_preset({"title": "t"}) is None
    assert detect_preset({}) is None


def test_auto_detects_the_convention_per_chunk():
    mapping = MetadataMapping()  # preset "auto" by default
    chunks = [
        chunk({"ragmon_source_id": "r.md", "ragmon_chunk_index": 1, "source": "ignored"}, "r"),
        chunk({"source": "lc.md", "ragmon_chunk_index": 5}, "l"),
        chunk({"ref_doc_id": "li-doc"}, "i"),
    ]
    provs = [mapping.provenance(c) for c in chunks]
    assert [p.source for p in provs] == ["r.md", "lc.md", "li-doc"]
    # the ragmon chunk index is read only for the chunk detected as ragmon
    assert [p.chunk_index for p in provs] == [1, None, None]
    assert mapping.keys_for(chunks[1].metadata).source == ("source",)
    assert mapping.keys_for(chunks[2].metadata).source == ("file_path", "ref_doc_id")


def test_explicit_keys_override_the_preset():
    config = MappingConfig(
        preset="langchain", source_key="doc_path", chunk_index_key="idx", embedded_at_key="ts"
    )
    meta = {"source": "wrong.md", "doc_path": "right.md", "idx": "4", "ts": "2024-01-02"}
    prov = MetadataMapping(config).provenance(chunk(meta))
    assert prov.source == "right.md"
    assert prov.chunk_index == 4
    assert prov.embedded_at == datetime(2024, 1, 2, tzinfo=UTC)


def test_explicit_key_overrides_only_that_key_of_the_ragmon_preset():
    config = MappingConfig(preset="ragmon", source_key="path")
    meta = {**RAGMON_META, "path": "other.md"}
    prov = MetadataMapping(config).provenance(chunk(meta))
    assert prov.source == "other.md"
    assert prov.chunk_index == 3
    assert prov.source_sha256 == "a" * 64


def test_explicit_source_key_applies_in_auto_mode_too():
    mapping = MetadataMapping(MappingConfig(source_key="doc"))
    prov = mapping.provenance(chunk({"source": "lc.md", "doc": "mine.md"}))
    assert prov.source == "mine.md"


def test_explicit_source_key_missing_means_untraceable():
    mapping = MetadataMapping(MappingConfig(preset="langchain", source_key="doc"))
    assert mapping.provenance(chunk({"source": "lc.md"})).source is None


@pytest.mark.parametrize("metadata", [{}, {"title": "Intro", "page": 1}, {"source": ""}])
def test_untraceable_chunk_has_no_source(metadata):
    prov = MetadataMapping().provenance(chunk(metadata))
    assert prov.source is None
    assert prov == Provenance(source=None)


def test_none_metadata_is_untraceable():
    prov = MetadataMapping().provenance(Chunk(id="x", text=None, metadata=None))  # type: ignore[arg-type]
    assert prov.source is None


def test_propose_mapping_picks_the_majority_and_counts_keys():
    chunks = [
        chunk({"source": "a.md", "page": 1}, "1"),
        chunk({"source": "b.md", "page": 2}, "2"),
        chunk({"source": "c.md"}, "3"),
        chunk({"ragmon_source_id": "d.md", "ragmon_chunk_index": 0}, "4"),
        chunk({"ref_doc_id": "e"}, "5"),
        chunk({"title": "no source"}, "6"),
        chunk({}, "7"),
    ]
    proposal = propose_mapping(iter(chunks))
    assert proposal.preset == "langchain"
    assert proposal.sampled == 7
    assert dict(proposal.conventions) == {"langchain": 3, "ragmon": 1, "llamaindex": 1, "none": 2}
    assert dict(proposal.key_counts) == {
        "source": 3,
        "page": 2,
        "ragmon_source_id": 1,
        "ragmon_chunk_index": 1,
        "ref_doc_id": 1,
        "title": 1,
    }


def test_propose_mapping_ignores_untraced_chunks_even_when_they_are_the_majority():
    chunks = [chunk({"title": str(i)}, str(i)) for i in range(5)]
    chunks.append(chunk({"file_path": "/x.md"}, "f"))
    chunks.append(chunk({"file_path": "/y.md"}, "g"))
    chunks.append(chunk({"source": "z.md"}, "h"))
    proposal = propose_mapping(chunks)
    assert proposal.preset == "llamaindex"
    assert proposal.conventions["none"] == 5
    assert proposal.key_counts["title"] == 5


def test_propose_mapping_with_nothing_traceable():
    proposal = propose_mapping([chunk({"title": "t"}), chunk({})])
    assert proposal.preset is None
    assert proposal.sampled == 2
    assert dict(proposal.conventions) == {"none": 2}
    empty = propose_mapping([])
    assert (empty.preset, empty.sampled, dict(empty.conventions), dict(empty.key_counts)) == (
        None,
        0,
        {},
        {},
    )
