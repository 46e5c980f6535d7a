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
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

NODE_CONTENT = "_node_content"


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
