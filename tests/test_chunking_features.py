"""Per-chunk features: token counts in the model's tokenizer, cut rules, junk, duplicates."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.chunking import boundaries, junk
from monitor.chunking.duplicates import MinHasher
from monitor.chunking.features import scan
from monitor.chunking.settings import ChunkingQualitySettings
from monitor.chunking.tokens import WindowTokenizer
from monitor.provenance import MetadataMapping
from monitor.records import Chunk
from tests.chunking_scenarios import demo_documents


@pytest.fixture(scope="module")
def tok() -> WindowTokenizer:
    return WindowTokenizer.from_model_dir()


def _whole(tok: WindowTokenizer, text: str) -> tuple[int, int]:
    encoding = tok.tokenizer.encode(text, add_special_tokens=False)
    cut = encoding.offsets[tok.window - 1][1] if len(encoding) > tok.window else len(text)
    return len(encoding), cut


def test_window_comes_from_the_packaged_model(tok):
    assert (tok.max_seq_length, tok.window) == (256, 254)


def test_counts_and_cuts_match_encoding_each_text_whole(tok):
    texts = []
    for text in demo_documents().values():
        texts += [text[i : i + 2400] for i in range(0, len(text), 300)]
    texts += [
        "naïve café — “quoted” 日本語のテキスト zero\u200bwidth \ufffd emoji 😀 tab\tend",
        "form\x0cfeed, line\u2028separator and a file\x1cseparator " * 60,
        "x" * 150 + " " + "supercalifragilistic" * 8 + " end",
    ]
    counted = tok.count(texts)
    assert sum(n > tok.window for n in counted.tokens) > 20
    assert list(zip(counted.tokens, counted.embedded_chars, strict=True)) == [
        _whole(tok, t) for t in texts
    ]


@settings(max_examples=60, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(
            [*list("abcXYZ019 .,;:!?'\"()-_/\n\t"), "é", "ß", "日", "—", "\u200b", "\u2028", "😀"]
        ),
        max_size=1200,
    )
)
def test_fast_count_equals_the_tokenizer_on_any_text(text):
    tok = WindowTokenizer.from_model_dir()
    counted = tok.count([text])
    assert (counted.tokens[0], counted.embedded_chars[0]) == _whole(tok, text)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("The arm stops. It waits for the operator.", False, False),
        ("and then it waits for the operator", True, True),
        (", which is why the arm stops.", True, False),
        ("## Installation", False, False),
        ("Steps:\n\n- unpack the arm\n- mount the base", False, False),
        ("| joint | range |\n|---|---|\n| J1 | ±170° |", False, False),
        ("Replace the gripper pads every six", False, True),
        ("The warranty covers (see section 4)", False, False),
    ],
)
def test_mid_sentence_rules(text, start, end):
    assert boundaries.starts_mid_sentence(text) is start
    assert boundaries.ends_mid_sentence(text) is end


def test_table_code_and_heading_rules():
    assert boundaries.table_row_cut("Limits:\n\n| up to 1,000 EUR | your man")
    assert boundaries.table_row_cut("ager and your director |\n| over 5,000 EUR | the CFO |")
    assert not boundaries.table_row_cut("| a | b |\n|---|---|\n| 1 | 2 |")
    assert boundaries.code_block_cut("Run this:\n\n```sh\nragmon run chunking\n")
    assert not boundaries.code_block_cut("Run this:\n\n```sh\nragmon run chunking\n```\nDone.")
    assert boundaries.heading_only("## Approval limits")
    assert boundaries.heading_only("R2 Firmware Updates\n===================")
    assert not boundaries.heading_only("## Approval limits\n\nClaims are approved by managers.")


def test_junk_counts_invisible_characters_and_mojibake():
    assert junk.invisible_chars("zero\u200bwidth\ufeff and \ufffd and \x07") == 4
    assert junk.invisible_chars("tabs\tand\nnewlines are text") == 0
    assert junk.mojibake_sequences("CafÃ© â€” naÃ¯ve") > 0
    assert junk.mojibake_sequences("Café — naïve") == 0


def test_near_duplicates_are_found_and_exact_copies_kept_apart(tok):
    base = " ".join(f"word{i} filler{i % 7}" for i in range(120))
    near = base.replace("word60 ", "changed ")
    other = " ".join(f"other{i} thing{i % 5}" for i in range(120))
    texts = [base, near, other, other, "tiny", "tiny"]
    chunks = [
        Chunk(id=f"c{i}", text=t, metadata={"ragmon_source_id": f"d{i}.md"})
        for i, t in enumerate(texts)
    ]
    table = scan([chunks], tok, ChunkingQualitySettings(), MetadataMapping(), expected=6)
    assert table.has("duplicate_near").tolist() == [True, True, False, False, False, False]
    assert table.has("duplicate_exact").tolist() == [False, False, False, True, False, True]


def test_minhash_signatures_do_not_depend_on_the_page_a_chunk_is_in():
    words = [f"alpha beta gamma delta {i} epsilon".split() for i in range(5)]
    one, two = MinHasher(), MinHasher()
    one.add(words)
    two.add(words[:2])
    two.add(words[2:])
    empty = np.zeros(5, dtype=bool)
    assert np.array_equal(np.concatenate(one._signatures), np.concatenate(two._signatures))
    assert one.near_duplicates(0.8, empty).tolist() == two.near_duplicates(0.8, empty).tolist()


def test_prefetch_yields_every_page_in_order_and_raises_the_readers_error():
    from monitor.errors import StoreError
    from monitor.stores.prefetch import prefetched

    assert list(prefetched(iter(range(50)), depth=2)) == list(range(50))

    def failing():
        yield 1
        raise StoreError("Chroma get failed on /srv/chroma: disk I/O error")

    got = []
    with pytest.raises(StoreError, match="disk I/O error"):
        for page in prefetched(failing()):
            got.append(page)
    assert got == [1]

    read = []

    def endless():
        n = 0
        while True:
            read.append(n)
            yield n
            n += 1

    for page in prefetched(endless(), depth=2):
        if page == 3:
            break
    assert len(read) <= 3 + 1 + 2 + 1  # consumed, then at most the queue and one in hand
