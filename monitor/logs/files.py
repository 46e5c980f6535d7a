"""Following log files: where to resume in each, across appends, rotation and truncation.

A file is recognised by its inode and a hash of its first bytes, not by its name, so:
- appended lines are read from the stored offset;
- rename-and-create rotation: the renamed file keeps its inode and is finished from its
  offset (if the globs still match it), the new file is read from its start;
- copytruncate: the truncated file's first bytes (or size) no longer match, so it is read
  from its start; the copy matches by its first bytes and is finished from the offset;
- a line without its newline yet is left for the next run (the writer is mid-line),
  except at the end of a gzip file, which is complete.
Offsets of .gz files count decompressed bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, cast

HEAD_BYTES = 4096
"""How many first bytes identify a file (fewer while the file is shorter)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class FileState:
    """How far one file was read."""

    path: str
    inode: int
    size: int
    offset: int
    lines: int
    head_sha256: str
    head_len: int
    at_eof: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Block:
    """Complete lines read from a file, and where the file's state stands after them."""

    lines: list[bytes]
    first_line: int
    """1-based number of ``lines[0]`` in the file."""
    state: FileState


def is_gzip(path: Path) -> bool:
    return path.suffix == ".gz"


def head_hash(path: Path, length: int) -> str:
    with path.open("rb") as f:
        return hashlib.sha256(f.read(length)).hexdigest()


def find_files(patterns: Sequence[str], base: Path) -> list[Path]:
    """Files matching the globs (relative to ``base``), oldest modification first, so a
    rotated file is finished before its successor is started."""
    found: dict[Path, None] = {}
    for pattern in patterns:
        full = pattern if os.path.isabs(pattern) else str(base / pattern)
        root = Path(full).anchor or "/"
        matches = (
            Path(root).glob(os.path.relpath(full, root))
            if "*" in full or "?" in full
            else [Path(full)]
        )
        for path in matches:
            if path.is_file():
                found[path] = None
    return sorted(found, key=lambda p: (p.stat().st_mtime_ns, str(p)))


def resume_point(path: Path, known: Mapping[str, FileState]) -> FileState:
    """Where to start reading ``path``: a stored state that is still this file, else 0."""
    stat = path.stat()
    head_len = min(HEAD_BYTES, stat.st_size)
    fresh = FileState(
        path=str(path),
        inode=stat.st_ino,
        size=stat.st_size,
        offset=0,
        lines=0,
        head_sha256=head_hash(path, head_len),
        head_len=head_len,
    )
    candidates = [known[str(path)]] if str(path) in known else []
    candidates += [s for s in known.values() if s.inode == stat.st_ino and s.path != str(path)]
    candidates += [s for s in known.values() if s.inode != stat.st_ino and s.path != str(path)]
    hashes: dict[int, str] = {head_len: fresh.head_sha256}
    for state in candidates:
        if state.head_len > stat.st_size:
            continue  # shorter than what was read: truncated, or another file
        if state.head_len not in hashes:
            hashes[state.head_len] = head_hash(path, state.head_len)
        if hashes[state.head_len] != state.head_sha256:
            continue
        compressed = is_gzip(path)
        if not compressed and state.offset > stat.st_size:
            continue  # truncated below what was read
        if state.inode != stat.st_ino and state.head_len == 0:
            continue  # an empty head matches anything
        return replace(
            state,
            path=str(path),
            inode=stat.st_ino,
            size=stat.st_size,
            head_sha256=fresh.head_sha256,
            head_len=head_len,
            at_eof=state.at_eof and compressed and state.size == stat.st_size,
        )
    return fresh


def has_news(path: Path, state: FileState) -> bool:
    """Whether there may be unread lines (without opening a gzip file)."""
    if is_gzip(path):
        return not state.at_eof
    return state.offset < state.size


def first_line(path: Path) -> bytes | None:
    with _open(path) as f:
        line = f.readline()
    return line or None


def read_blocks(path: Path, state: FileState, block_bytes: int) -> Iterator[Block]:
    """Complete lines from ``state.offset`` on, about ``block_bytes`` at a time."""
    compressed = is_gzip(path)
    with _open(path) as f:
        if state.offset:
            f.seek(state.offset)
        offset, lines, rest = state.offset, state.lines, b""
        while True:
            data = f.read(block_bytes)
            at_eof = not data
            if at_eof:
                if not (compressed and rest):
                    break
                data, rest = rest + b"\n", b""  # a gzip file is complete: keep its last line
            buffer = rest + data if rest else data
            cut = buffer.rfind(b"\n")
            if cut < 0:
                rest = buffer  # a line longer than a block: keep reading
                continue
            rest = buffer[cut + 1 :]
            body = buffer[: cut + 1]
            parts = body.split(b"\n")
            parts.pop()  # after the final newline
            consumed = len(body) - (1 if compressed and at_eof else 0)
            offset += consumed
            yield Block(
                lines=parts,
                first_line=lines + 1,
                state=replace(state, offset=offset, lines=lines + len(parts), at_eof=False),
            )
            lines += len(parts)
            if at_eof:
                break
        if compressed:
            yield Block(
                lines=[],
                first_line=lines + 1,
                state=replace(state, offset=offset, lines=lines, at_eof=True),
            )


def _open(path: Path) -> IO[bytes]:
    if is_gzip(path):
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")
