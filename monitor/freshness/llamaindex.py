"""LlamaIndex's own document hash as a file-level freshness signal.

LlamaIndex's vector stores keep the whole node, text removed, as JSON in the metadata key
``_node_content``; its ``relationships["1"]`` (the source document) holds the document's
metadata and ``hash``. That hash is recomputed here from the current file the way
llama-index-core computes ``Document.hash``, without importing it:

- 0.12 and later: sha256 of ``"-".join([metadata lines, sha256(text)])``, the metadata
  lines being ``"{key}: {value}"`` joined by newlines (omitted when there is none);
- earlier: sha256 of ``text + str(metadata)``.

The stored metadata is used as stored, so the hash matches exactly when the file's text
is what was indexed. A match settles every chunk of the document as fresh without
reading their text; a mismatch says only *that* the document changed, and the text check
then says which chunks did. A file its reader split into several documents (one hash
each) never matches, and falls back to the text check.

Each node also records ``start_char_idx``/``end_char_idx``: where its text was in the
document text as LlamaIndex loaded it. The text check uses them as a hint only (see
`recorded_span`): a chunk whose text is at that place in the current source is verbatim
without a search; anywhere else it is searched for as any chunk is.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

NODE_CONTENT = "_node_content"
_START = re.compile(r'"start_char_idx":\s*(\d+)')
_END = re.compile(r'"end_char_idx":\s*(\d+)')


def recorded_document(metadata: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The source document's hash and metadata a LlamaIndex node recorded, if any."""
    content = metadata.get(NODE_CONTENT)
    if not isinstance(content, str):
        return None
    try:
        node = json.loads(content)
        source = node["relationships"]["1"]
        stored = source["hash"]
        doc_meta = source.get("metadata") or {}
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(stored, str) or not stored or not isinstance(doc_meta, dict):
        return None
    return stored, doc_meta


def document_hashes(text: str, metadata: Mapping[str, Any]) -> set[str]:
    """``Document.hash`` of ``text`` with ``metadata``, as each llama-index-core computes it."""
    lines = "\n".join(f"{key}: {value}" for key, value in metadata.items())
    text_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
    current = "-".join(part for part in (lines, text_hash) if part)
    legacy = text + str(dict(metadata))
    return {
        hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()
        for identity in (current, legacy)
    }


def unchanged(text: str, recorded: Mapping[str, dict[str, Any]]) -> bool:
    """Whether every recorded ``{hash: metadata}`` of one file matches its current ``text``."""
    return bool(recorded) and all(
        stored in document_hashes(text, meta) for stored, meta in recorded.items()
    )


def recorded_span(metadata: Mapping[str, Any]) -> tuple[int, int] | None:
    """The node's ``(start_char_idx, end_char_idx)`` in its document's text, if recorded.

    Read with a pattern rather than a JSON parse (every chunk of a LlamaIndex store has
    one); the last occurrence is the node's own field, after any metadata that might
    happen to hold the same key. Only a hint: the text check verifies it.
    """
    content = metadata.get(NODE_CONTENT)
    if not isinstance(content, str) or "_char_idx" not in content:
        return None
    starts, ends = _START.findall(content), _END.findall(content)
    if not starts or not ends:
        return None
    start, end = int(starts[-1]), int(ends[-1])
    return (start, end) if 0 <= start < end else None
