"""DirectoryCatalog over real files and links, and the text normalisation behind its hashes."""

from __future__ import annotations

import os
from datetime import UTC
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.config import SourcesConfig
from monitor.errors import SourceFileError
from monitor.records import SourceStamp
from monitor.sources.directory import DirectoryCatalog, html_to_text
from monitor.text import normalise, sha256_text


def put(root: Path, rel: str, content: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def scan(catalog: DirectoryCatalog, known=None) -> dict:
    return {doc.id: doc for doc in catalog.documents(known)}


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    root.mkdir()
    return root


# --- selection -----------------------------------------------------------------------------


def test_globstar_include_matches_top_level_and_nested_files(root):
    put(root, "top.md", "top")
    put(root, "a/nested.md", "nested")
    put(root, "a/b/deep.md", "deep")
    put(root, "a/notes.txt", "not markdown")
    catalog = DirectoryCatalog(root, include=["**/*.md"])
    assert set(scan(catalog)) == {"top.md", "a/nested.md", "a/b/deep.md"}
    assert catalog.problems == ()


def test_exclude_drops_matching_files(root):
    put(root, "keep.md", "k")
    put(root, "drafts/wip.md", "w")
    put(root, "guide/old.draft.md", "o")
    put(root, "guide/new.md", "n")
    catalog = DirectoryCatalog(root, include=["**/*.md"], exclude=["drafts/**", "**/*.draft.md"])
    assert set(scan(catalog)) == {"keep.md", "guide/new.md"}


def _mixed_suffixes(root: Path) -> None:
    for name in ("a.md", "b.txt", "c.rst", "d.html", "sub/e.md", "sub/f.html"):
        put(root, name, f"text of {name}")
    put(root, "script.py", "print('no')")
    put(root, "data.json", "{}")
    put(root, "image.png", b"\x89PNG\r\n\x1a\n\x00\xff")


EXPECTED_DEFAULT = {"a.md", "b.txt", "c.rst", "d.html", "sub/e.md", "sub/f.html"}


def test_default_suffixes_from_config(root):
    _mixed_suffixes(root)
    catalog = DirectoryCatalog.from_config(SourcesConfig(root=root))
    assert set(scan(catalog)) == EXPECTED_DEFAULT
    assert catalog.problems == ()


def test_default_suffixes_of_the_catalog_itself(root):
    # The module documents a catalog "over a directory tree of .md, .txt, .rst and .html files".
    _mixed_suffixes(root)
    catalog = DirectoryCatalog(root)
    assert set(scan(catalog)) == EXPECTED_DEFAULT
    assert catalog.problems == ()


def test_document_ids_are_posix_relative_paths(root):
    put(root, "x/y/z.md", "z text")
    doc = scan(DirectoryCatalog(root, include=["**/*.md"]))["x/y/z.md"]
    assert doc.id == "x/y/z.md"
    assert "\\" not in doc.id and not doc.id.startswith("/")
    assert doc.path == root / "x" / "y" / "z.md"
    assert doc.uri == (root / "x/y/z.md").resolve().as_uri()
    stat = doc.path.stat()
    assert (doc.size, doc.mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    assert doc.modified_at.tzinfo is not None
    assert doc.modified_at.utcoffset() == UTC.utcoffset(None)
    assert doc.sha256 == sha256_text("z text")


# --- problems ------------------------------------------------------------------------------


def test_non_utf8_file_is_skipped_and_reported(root):
    put(root, "good.md", "good")
    put(root, "latin1.md", b"caf\xe9")
    put(root, "sub/also-good.md", "also good")
    catalog = DirectoryCatalog(root, include=["**/*.md"])
    assert set(scan(catalog)) == {"good.md", "sub/also-good.md"}
    assert len(catalog.problems) == 1
    problem = catalog.problems[0]
    assert problem.path == "latin1.md"
    assert "UTF-8" in problem.reason
    assert "0xe9" in problem.reason and "offset 3" in problem.reason


def test_problems_are_reset_on_each_scan(root):
    bad = put(root, "bad.md", b"\xff\xfe\x00")
    catalog = DirectoryCatalog(root, include=["**/*.md"])
    scan(catalog)
    assert [p.path for p in catalog.problems] == ["bad.md"]
    bad.unlink()
    scan(catalog)
    assert catalog.problems == ()


def test_utf8_bom_is_ignored(root):
    put(root, "bom.md", "\ufeffhello world".encode())
    put(root, "plain.md", "hello world")
    docs = scan(DirectoryCatalog(root, include=["**/*.md"]))
    assert docs["bom.md"].sha256 == docs["plain.md"].sha256


def test_symlink_to_file_outside_root_is_skipped_and_reported(root, tmp_path):
    secret = put(tmp_path, "outside/secret.md", "outside text")
    put(root, "inside.md", "inside")
    (root / "leak.md").symlink_to(secret)
    catalog = DirectoryCatalog(root, include=["**/*.md"])
    assert set(scan(catalog)) == {"inside.md"}
    assert len(catalog.problems) == 1
    assert catalog.problems[0].path == "leak.md"
    assert catalog.problems[0].reason == (
        f"link to {secret}, outside the source root; not followed"
    )


def test_symlinked_directory_outside_root_is_not_followed_and_reported(root, tmp_path):
    outside = tmp_path / "outside-dir"
    put(outside, "x.md", "x")
    put(outside, "deeper/y.md", "y")
    put(root, "inside.md", "inside")
    (root / "sub").mkdir()
    (root / "sub" / "linked").symlink_to(outside, target_is_directory=True)
    catalog = DirectoryCatalog(root, include=["**/*.md"])
    assert set(scan(catalog)) == {"inside.md"}
    assert [(p.path, p.reason) for p in catalog.problems] == [
        ("sub/linked", f"link to {outside}, outside the source root; not followed")
    ]


def test_symlink_inside_root_is_followed(root):
    put(root, "real/doc.md", "the real document")
    (root / "alias.md").symlink_to(Path("real") / "doc.md")
    catalog = DirectoryCatalog(root, include=["**/*.md"])
    docs = scan(catalog)
    assert set(docs) == {"alias.md", "real/doc.md"}
    assert catalog.problems == ()
    assert docs["alias.md"].sha256 == docs["real/doc.md"].sha256 == sha256_text("the real document")
    assert catalog.read_text(docs["alias.md"]) == "the real document"


def test_relative_link_that_climbs_out_of_the_root_is_reported(root, tmp_path):
    put(tmp_path, "sibling.md", "sibling")
    (root / "up.md").symlink_to(Path("..") / "sibling.md")
    catalog = DirectoryCatalog(root, include=["**/*.md"])
    assert scan(catalog) == {}
    assert [p.path for p in catalog.problems] == ["up.md"]
    assert "outside the source root" in catalog.problems[0].reason


# --- hashing -------------------------------------------------------------------------------


ORIGINAL = "# Title\n\nThe quick brown fox jumps over the lazy dog.\nSecond line here.\n"


@pytest.mark.parametrize(
    "edited",
    [
        # re-wrapped lines
        "# Title\n\nThe quick brown fox\njumps over the lazy dog. Second\nline here.\n",
        # extra blank lines
        "\n\n# Title\n\n\n\nThe quick brown fox jumps over the lazy dog.\n\nSecond line here.\n\n",
        # trailing spaces and tabs
        "# Title   \n\nThe quick brown fox jumps over the lazy dog.\t \nSecond line here.  \n",
        # CRLF line endings
        "# Title\r\n\r\nThe quick brown fox jumps over the lazy dog.\r\nSecond line here.\r\n",
        # re-indentation
        "    # Title\n\n  The quick  brown   fox jumps over the lazy dog.\n\tSecond line here.",
    ],
)
def test_whitespace_only_edit_keeps_the_hash(root, edited):
    put(root, "a.md", ORIGINAL)
    put(root, "b.md", edited)
    docs = scan(DirectoryCatalog(root, include=["**/*.md"]))
    assert (root / "a.md").read_bytes() != (root / "b.md").read_bytes()
    assert docs["a.md"].sha256 == docs["b.md"].sha256


def test_one_word_edit_changes_the_hash(root):
    put(root, "a.md", ORIGINAL)
    put(root, "b.md", ORIGINAL.replace("lazy", "sleepy"))
    put(root, "c.md", ORIGINAL.replace("quick", "Quick"))
    docs = scan(DirectoryCatalog(root, include=["**/*.md"]))
    assert docs["a.md"].sha256 != docs["b.md"].sha256
    assert docs["a.md"].sha256 != docs["c.md"].sha256


def test_nfc_and_nfd_spellings_hash_alike():
    assert sha256_text("caf\u00e9") == sha256_text("cafe\u0301")
    assert normalise("cafe\u0301") == "caf\u00e9"


# --- HTML ----------------------------------------------------------------------------------


PAGE = """<!doctype html>
<html><head><title>Page title</title>
<style>body { color: red; }</style>
<script>var secret = "from head";</script>
</head>
<body>
<script type="text/javascript">document.write("injected");</script>
<h1>Heading</h1><p>Hello <b>bold</b> &amp; <a href="x">linked</a> text.</p>
<style>.x { display: none; }</style>
<ul><li>one</li><li>two</li></ul>
</body></html>
"""


def test_html_text_drops_script_style_and_tags():
    text = html_to_text(PAGE)
    for hidden in ("secret", "injected", "color", "display", "Page title", "<", ">", "href"):
        assert hidden not in text
    assert normalise(text) == "Heading Hello bold & linked text. one two"
    # block elements end up on their own lines
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines == ["Heading", "Hello bold & linked text.", "one", "two"]


def test_html_document_is_hashed_and_read_as_text(root):
    put(root, "page.html", PAGE)
    put(root, "restyled.html", PAGE.replace("<b>bold</b>", '<b class="em">bold</b>'))
    catalog = DirectoryCatalog(root, include=["**/*.html"])
    docs = scan(catalog)
    expected = sha256_text("Heading Hello bold & linked text. one two")
    assert docs["page.html"].sha256 == expected
    assert docs["restyled.html"].sha256 == expected
    text = catalog.read_text(docs["page.html"])
    assert "injected" not in text and "<p>" not in text
    assert "Hello bold & linked text." in text


def test_markdown_is_read_verbatim(root):
    put(root, "a.md", "<script>kept</script> in markdown\n")
    catalog = DirectoryCatalog(root, include=["**/*.md"])
    doc = scan(catalog)["a.md"]
    assert catalog.read_text(doc) == "<script>kept</script> in markdown\n"


# --- incremental scans ---------------------------------------------------------------------


def test_known_unchanged_files_are_not_read_again(root):
    put(root, "a.md", "alpha")
    put(root, "b.md", "beta")
    put(root, "c.md", "gamma")
    catalog = DirectoryCatalog(root, include=["**/*.md"])
    first = scan(catalog)
    assert catalog.reads == 3
    known = {
        doc.id: SourceStamp(size=doc.size, mtime_ns=doc.mtime_ns, sha256=doc.sha256)
        for doc in first.values()
    }
    second = scan(catalog, known)
    assert catalog.reads == 3
    assert {i: d.sha256 for i, d in second.items()} == {i: d.sha256 for i, d in first.items()}


def test_known_stamp_is_trusted_when_size_and_mtime_match(root):
    # Proof that the file really was not read: the stamp's hash is taken as is.
    path = put(root, "a.md", "alpha")
    stat = path.stat()
    catalog = DirectoryCatalog(root, include=["**/*.md"])
    known = {"a.md": SourceStamp(size=stat.st_size, mtime_ns=stat.st_mtime_ns, sha256="f" * 64)}
    assert scan(catalog, known)["a.md"].sha256 == "f" * 64
    assert catalog.reads == 0


def test_touched_or_changed_files_are_read_again(root):
    a = put(root, "a.md", "alpha")
    b = put(root, "b.md", "beta")
    put(root, "c.md", "gamma")
    catalog = DirectoryCatalog(root, include=["**/*.md"])
    first = scan(catalog)
    known = {
        doc.id: SourceStamp(size=doc.size, mtime_ns=doc.mtime_ns, sha256=doc.sha256)
        for doc in first.values()
    }
    reads = catalog.reads

    # touched: same content, newer mtime -> read again, same hash
    stat = a.stat()
    os.utime(a, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    # changed: new content of another size -> read again, new hash
    b.write_text("beta, revised", encoding="utf-8")

    second = scan(catalog, known)
    assert catalog.reads == reads + 2
    assert second["a.md"].sha256 == first["a.md"].sha256
    assert second["a.md"].mtime_ns != first["a.md"].mtime_ns
    assert second["b.md"].sha256 == sha256_text("beta, revised") != first["b.md"].sha256
    assert second["c.md"].sha256 == first["c.md"].sha256


def test_new_file_not_in_known_is_read(root):
    put(root, "a.md", "alpha")
    catalog = DirectoryCatalog(root, include=["**/*.md"])
    first = scan(catalog)
    known = {
        d.id: SourceStamp(size=d.size, mtime_ns=d.mtime_ns, sha256=d.sha256) for d in first.values()
    }
    put(root, "new.md", "brand new")
    second = scan(catalog, known)
    assert catalog.reads == 2
    assert second["new.md"].sha256 == sha256_text("brand new")


def test_read_text_of_deleted_file_raises(root):
    path = put(root, "gone.md", "soon gone")
    catalog = DirectoryCatalog(root, include=["**/*.md"])
    doc = scan(catalog)["gone.md"]
    assert catalog.read_text(doc) == "soon gone"
    path.unlink()
    with pytest.raises(SourceFileError) as info:
        catalog.read_text(doc)
    assert info.value.path == "gone.md"
    assert info.value.reason == "vanished during the run"
    assert str(info.value) == "gone.md: vanished during the run"


def test_file_deleted_between_listing_and_stat_is_reported(root):
    put(root, "a.md", "alpha")
    b = put(root, "b.md", "beta")
    catalog = DirectoryCatalog(root, include=["**/*.md"])
    docs = catalog.documents()
    first = next(docs)
    assert first.id == "a.md"
    b.unlink()
    assert list(docs) == []
    assert [p.path for p in catalog.problems] == ["b.md"]
    assert catalog.problems[0].reason == "vanished during the run"


# --- properties of the normalisation --------------------------------------------------------


@given(st.text())
def test_normalise_is_idempotent(text):
    once = normalise(text)
    assert normalise(once) == once
    assert once == once.strip()
    assert "  " not in once


WORD = st.text(st.characters(exclude_categories=("Cs",)), min_size=1).filter(
    lambda w: not any(c.isspace() for c in w)
)
SPACE = st.lists(
    st.sampled_from([" ", "\t", "\n", "\r\n", "\r", "\f", "\v", "\u00a0", "\u3000"])
).map("".join)


@given(st.lists(WORD, min_size=1, max_size=8), st.data())
def test_extra_whitespace_between_words_never_changes_the_hash(words, data):
    plain = " ".join(words)
    gaps = [data.draw(SPACE) for _ in words]
    padded = data.draw(SPACE) + "".join(
        word + " " + gap for word, gap in zip(words, gaps, strict=True)
    )
    assert sha256_text(padded) == sha256_text(plain)
