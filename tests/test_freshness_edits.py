"""Chunk-level verdicts on real Chroma collections built with LangChain's and LlamaIndex's
conventions: every word change is stale with its diff; what loaders change is not."""

from __future__ import annotations

import re

import pytest

from monitor.sources.directory import html_to_text
from tests.freshness_scenarios import (
    audit_and_store,
    langchain_index,
    llamaindex_index,
    make_config,
    write,
)

FILLER = (
    "This paragraph stays exactly as it was written, so its chunk stays fresh and the "
    "document keeps most of its text."
)
LINK = "Caching is described in http://example.org/en/stable/cache.html for every backend."
CODE = "To read the settings, call load_config() with the path of the file you want."
TYPO = "Members recieve the newsletter every month, and the archive keeps older issues."
TAGGED = (
    "Press <kbd>Ctrl</kbd> and <b>reload</b> to refresh the dashboard; "
    'see <a href="http://example.org/help">the help page</a> for more.'
)


def _doc(title: str, middle: str) -> str:
    return f"# {title}\n\n{FILLER}\n\n{middle}\n\n{FILLER.replace('This', 'That')}\n"


def _corpus(docs):
    write(docs, "link.md", _doc("Link", LINK))
    write(docs, "code.md", _doc("Code", CODE))
    write(docs, "typo.md", _doc("Typo", TYPO))
    write(docs, "reflow.md", _doc("Reflow", TYPO.replace("Members", "Readers")))
    write(docs, "tags.md", _doc("Tags", TAGGED))


def _strip_tags(_text, pieces):
    """What an HTML-aware loader stores: the text without its tags."""
    return [html_to_text(p) for p in pieces]


def _edit(docs):
    (docs / "link.md").write_text(
        _doc("Link", LINK.replace("http://example.org/en/stable/cache.html", ":ref:`cache`"))
    )
    (docs / "code.md").write_text(_doc("Code", CODE.replace("load_config()", "read_settings()")))
    (docs / "typo.md").write_text(_doc("Typo", TYPO.replace("recieve", "receive")))
    reflow = docs / "reflow.md"
    reflow.write_text(re.sub(r" (?=\w)", "\n  ", reflow.read_text(), count=12))


@pytest.fixture(params=["langchain", "llamaindex"])
def convention(request):
    return request.param


def _index(convention, config, docs, embedder):
    if convention == "langchain":
        ids = langchain_index(config.store, docs, embedder, recorded_prefix="docs/")
        tagged = langchain_index(
            config.store.model_copy(update={"collection": config.store.collection + "-t"}),
            docs,
            embedder,
            recorded_prefix="docs/",
            pieces_of=_strip_tags,
        )
    else:
        ids = llamaindex_index(config.store, docs, embedder)
        tagged = llamaindex_index(
            config.store.model_copy(update={"collection": config.store.collection + "-t"}),
            docs,
            embedder,
            pieces_of=_strip_tags,
        )
    return ids, tagged


def test_every_word_change_is_stale_with_its_diff(tmp_path, embedder, convention):
    docs = tmp_path / "docs"
    _corpus(docs)
    config = make_config(tmp_path, tmp_path / "chroma", "edits", docs)
    _index(convention, config, docs, embedder)
    _edit(docs)

    details = audit_and_store(config).details
    by_doc = details["by_document"]

    expected = {
        "link.md": "- http://example.org/en/stable/cache.html + :ref:`cache`",
        "code.md": "- load_config() + read_settings()",
        "typo.md": "- recieve + receive",
    }
    for name, diff in expected.items():
        doc = by_doc[name]
        assert doc["status"] == "stale", name
        assert doc["rules"]["edited"] == 1 and set(doc["rules"]) == {"exact", "edited"}, name
        (edit,) = doc["edits"].values()
        assert edit["diff"] == diff
        assert doc["chunk_ids"]["stale"] == list(doc["edits"])
    assert by_doc["typo.md"]["edits"] != {}
    share = next(iter(by_doc["typo.md"]["edits"].values()))["changed_share"]
    assert 0 < share < 0.1  # one word in a dozen and a half
    # whitespace re-flow and a chunk that kept its tags are fresh
    assert "reflow.md" not in by_doc and "tags.md" not in by_doc
    assert details["text_check"]["loader_rewrote_text"] is False
    queue = {i["document"]: i for i in details["fix_queue"]}
    assert queue["typo.md"]["changed_share"] == share


def test_chunks_a_loader_stored_without_their_tags_are_fresh(tmp_path, embedder, convention):
    docs = tmp_path / "docs"
    _corpus(docs)
    config = make_config(tmp_path, tmp_path / "chroma", "edits", docs)
    _index(convention, config, docs, embedder)
    tagged = config.model_copy(
        update={"store": config.store.model_copy(update={"collection": "edits-t"})}
    )
    details = audit_and_store(tagged).details
    assert details["by_document"] == {}
    assert details["text_check"]["verbatim"] == details["text_check"]["checked"]


def _markdown_to_text(_text, pieces):
    """A loader that renders markdown to plain text: every chunk loses its markup."""
    return [re.sub(r"[#*`_]+", "", p).replace(" :", ":").strip() for p in pieces]


def test_a_collection_whose_loader_rewrote_every_chunk_is_detected(tmp_path, embedder):
    docs = tmp_path / "docs"
    for i in range(6):
        write(
            docs,
            f"page{i}.md",
            f"# Page {i}\n\n"
            + "\n\n".join(
                f"Step **{i}.{n}**: run `tool --level {n}` and check the _output_ twice."
                for n in range(4)
            )
            + "\n",
        )
    config = make_config(tmp_path, tmp_path / "chroma", "rewritten", docs)
    langchain_index(config.store, docs, embedder, recorded_prefix="", pieces_of=_markdown_to_text)
    page = docs / "page0.md"
    page.write_text(page.read_text().replace("3` and check the _output_", "3` and check the _log_"))

    result = audit_and_store(config)
    details = result.details

    check = details["text_check"]
    assert check["loader_rewrote_text"] is True
    assert check["rule"] == "tolerant-fuzzy"
    assert check["verbatim"] == 0
    assert "loader rewrote" in check["note"]
    assert any(f.kind == "loader_rewrote_text" for f in result.findings)
    # Still precise where words changed; markup aside everything else is fresh.
    assert set(details["by_document"]) == {"page0.md"}
    (edit,) = details["by_document"]["page0.md"]["edits"].values()
    assert edit["diff"] == "- output + _log_"
    assert details["by_document"]["page0.md"]["rules"]["tolerant-fuzzy"] >= 1


def test_llamaindex_document_hash_settles_unchanged_files(tmp_path, embedder):
    """The hash LlamaIndex stored for each file decides the unchanged ones without their
    chunks' text; a changed file's chunks still get the text check."""
    from monitor.freshness.audit import audit
    from monitor.provenance import MetadataMapping
    from monitor.sources.directory import DirectoryCatalog
    from monitor.stores.chroma import ChromaStore

    docs = tmp_path / "docs"
    _corpus(docs)
    config = make_config(tmp_path, tmp_path / "chroma", "lidocs", docs)
    llamaindex_index(config.store, docs, embedder)
    (docs / "typo.md").write_text(_doc("Typo", TYPO.replace("recieve", "receive")))

    found = audit(
        DirectoryCatalog.from_config(config.sources),
        ChromaStore.from_config(config.store),
        MetadataMapping(config.mapping),
        config.freshness.model_copy(update={"embedding_sample": 0, "duplicates_sample": 0}),
        root=config.sources.root,
    )
    rules = {doc: dict(state.rules) for doc, state in found.documents.items()}
    assert set(rules["link.md"]) == {"document-hash"}
    assert set(rules["typo.md"]) == {"exact", "edited"}


APPENDED = (
    "Night shifts follow the same inspection list, signed by the night lead instead of "
    "the inspector; a robot found with worn pads at night is stopped until the morning "
    "inspector has replaced them and signed the list again."
)


def _offsets_corpus(docs):
    from tests.freshness_scenarios import long_doc

    write(docs, "appended.md", long_doc("Appended"))
    write(docs, "shifted.md", long_doc("Shifted"))
    write(docs, "kept.md", long_doc("Kept"))


def _offsets_edit(docs):
    from tests.freshness_scenarios import long_doc

    # After every chunk: each is still at its recorded place.
    (docs / "appended.md").write_text(long_doc("Appended", APPENDED))
    # In the second part: the chunks after it now start three characters later.
    shifted = long_doc("Shifted").replace("fewer than ten remain", "fewer than twelve remain")
    (docs / "shifted.md").write_text(shifted)


def _without_ids(by_doc, ids):
    """``by_document`` with each chunk id replaced by its file and position (ids differ
    between two builds of the same corpus), without the stale chunks' ages (they depend
    on when each was built)."""
    import json

    by_doc = {k: {**v, "stale_age_seconds": None} for k, v in by_doc.items()}
    text = json.dumps(by_doc, sort_keys=True)
    for name, chunk_ids in ids.items():
        for n, chunk_id in enumerate(chunk_ids):
            text = text.replace(chunk_id, f"{name}#{n}")
    return json.loads(text)


def test_llamaindex_offsets_locate_chunks_without_search_and_never_change_verdicts(
    tmp_path, embedder
):
    """Chunks still at the ``start_char_idx`` LlamaIndex recorded are verbatim without a
    search; chunks a change before them shifted are found by the search; the verdicts are
    those of the same store without offsets."""
    docs = tmp_path / "docs"
    _offsets_corpus(docs)
    runs = {}
    for offsets in (True, False):
        home = tmp_path / f"offsets-{offsets}"
        home.mkdir()
        config = make_config(home, tmp_path / "chroma", f"offsets-{offsets}", docs)
        runs[offsets] = (config, llamaindex_index(config.store, docs, embedder, offsets=offsets))
    _offsets_edit(docs)

    found = {}
    for offsets, (config, ids) in runs.items():
        details = audit_and_store(config).details
        found[offsets] = details
        by_doc = details["by_document"]
        assert "kept.md" not in by_doc  # settled by LlamaIndex's document hash
        assert by_doc["appended.md"]["status"] == "partially_indexed"
        assert by_doc["appended.md"]["coverage"] < 0.8  # the appended paragraph
        shifted = by_doc["shifted.md"]
        assert shifted["status"] == "stale"
        assert set(shifted["rules"]) == {"exact", "edited"}
        ((edited, edit),) = shifted["edits"].items()
        assert edit["diff"] == "- ten + twelve"
        assert ids["shifted.md"].index(edited) == 1

    with_offsets, without = found[True], found[False]
    ids = runs[True][1]
    # Every chunk of the appended file, and the one chunk before the edit in the shifted file.
    assert len(ids["appended.md"]) >= 3 and len(ids["shifted.md"]) >= 3
    assert with_offsets["text_check"]["located_by_offsets"] == len(ids["appended.md"]) + 1
    assert without["text_check"]["located_by_offsets"] == 0
    for key in ("checked", "verbatim", "rule"):
        assert with_offsets["text_check"][key] == without["text_check"][key]
    assert _without_ids(with_offsets["by_document"], runs[True][1]) == _without_ids(
        without["by_document"], runs[False][1]
    )
    # Remembered with the verdicts: the next audit reads no source and says the same.
    again = audit_and_store(runs[True][0]).details
    assert again["text_check"] == with_offsets["text_check"]


def test_recorded_span_reads_the_nodes_own_offsets_only():
    import json

    from monitor.freshness.llamaindex import recorded_span

    def meta(node):
        return {"_node_content": json.dumps(node)}

    # The node's own fields come after its metadata, which may hold the same key.
    node = {"metadata": {"start_char_idx": 999}, "text": "", "start_char_idx": 12}
    assert recorded_span(meta({**node, "end_char_idx": 40})) == (12, 40)
    assert recorded_span(meta({**node, "start_char_idx": None, "end_char_idx": None})) is None
    assert recorded_span(meta({"start_char_idx": 40, "end_char_idx": 12})) is None
    assert recorded_span({"_node_content": "not json"}) is None
    assert recorded_span({"_node_content": 7}) is None


COMMENTED = """# Sponsors

```{include} ../README.md
:start-after: 'teaser-begin -->'
:end-before: '<!-- sponsor-break-begin'
```

<!-- [[[cog
# This is mainly called from the pre_build job of the documentation host!
import pathlib, tomllib
for sponsor in tomllib.loads(pathlib.Path("pyproject.toml").read_text())["sponsors"]:
    print(f'<a href="{sponsor["url"]}"><img title="{sponsor["title"]}" width="190" /></a>')
]]] -->
<a href="https://example.org/"><img title="Example AG" src="example.svg" width="190" /></a>
<a href="https://example.com/"><img title="Example Inc" src="example-inc.svg" width="190" /></a>
<!-- [[[end]]] -->

The project is funded by its sponsors and by the people who contribute their time.
"""


def test_chunks_cut_inside_html_comments_are_fresh_and_edits_there_are_not(
    tmp_path, embedder, convention
):
    """A Markdown page as real docs have it (attrs' index.md): an HTML comment opened
    inside a quoted directive, a generator block in a comment, raw tags. A splitter cuts
    chunks inside the comments, so a chunk may hold text that stripping tags removes from
    the source: verbatim in the unstripped page, it is fresh; a word changed there is not."""
    docs = tmp_path / "docs"
    write(docs, "sponsors.md", COMMENTED)
    config = make_config(tmp_path, tmp_path / "chroma", "commented", docs)
    if convention == "langchain":
        langchain_index(config.store, docs, embedder, recorded_prefix="docs/")
    else:
        llamaindex_index(config.store, docs, embedder)
    first = audit_and_store(config).details
    assert first["by_document"] == {}, first["by_document"]
    (docs / "sponsors.md").write_text(COMMENTED.replace("pre_build job", "post_build job"))
    doc = audit_and_store(config).details["by_document"]["sponsors.md"]
    assert doc["status"] == "stale", doc
    assert doc["edits"], doc
    (edit,) = doc["edits"].values()
    assert edit["diff"] == "- pre_build + post_build"
