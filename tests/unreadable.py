"""Real, root-proof ways to make a source unreadable, for the reliability tests.

Running as root, ``chmod 000`` stops nothing. These do, for root too, without mocks:
bytes that are not UTF-8, a FIFO, a dangling link, a link loop, a file over
``sources.max_file_bytes``, a file or directory deleted while the run is under way, and a
directory whose absolute path is longer than PATH_MAX (the kernel answers
ENAMETOOLONG to every call that names it, so it cannot be listed).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from monitor.records import SourceDocument, SourceProblem, SourceStamp
from monitor.sources.directory import DirectoryCatalog

PATH_MAX = os.pathconf("/", "PC_PATH_MAX")  # 4096 on Linux, the terminating NUL included


def deep_root(base: Path, length: int) -> Path:
    """A new directory under ``base`` whose absolute path is exactly ``length`` characters.

    Made with relative ``mkdir`` calls through directory descriptors: no single call names
    a path near the limit.
    """
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    path = str(base)
    try:
        while len(path) < length:
            room = length - len(path) - 1
            name = "d" * min(200, room if room <= 200 or room - 200 > 1 else room - 2)
            os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
            path += "/" + name
    finally:
        os.close(fd)
    assert len(path) == length, (len(path), length)
    return Path(path)


def move_into(source: Path, directory: Path, name: str) -> Path:
    """Rename ``source`` to ``directory/name`` even when that path is longer than PATH_MAX."""
    fd = _open_dir(directory)
    try:
        os.rename(source, name, dst_dir_fd=fd)
    finally:
        os.close(fd)
    return directory / name


def _open_dir(directory: Path) -> int:
    """A descriptor of ``directory``, reached one component at a time."""
    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    for part in directory.parts[1:]:
        inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = inner
    return fd


def unlistable_dir(root: Path, tree: Path, name: str) -> str:
    """Move the directory ``tree`` to ``root/name``, where ``name`` makes its path too long.

    ``root`` must itself be near PATH_MAX (see `deep_root`); returns the catalog id prefix.
    """
    assert len(str(root / name)) >= PATH_MAX, "the directory would still be listable"
    move_into(tree, root, name)
    return name


class DeletesDuringRun:
    """A real `DirectoryCatalog`; its files are really deleted while a run uses it.

    ``after_listing`` are removed right after the scan listed and hashed every file (before
    the audit reads any text); ``after_first`` right after the first document was listed
    (so the scan itself finds them gone). This is what a user's ``rm`` racing a run does,
    at the moments that matter, without timing.
    """

    def __init__(
        self,
        inner: DirectoryCatalog,
        *,
        after_listing: Sequence[Path] = (),
        after_first: Sequence[Path] = (),
    ):
        self._inner = inner
        self._after_listing = list(after_listing)
        self._after_first = list(after_first)

    def documents(self, known: Mapping[str, SourceStamp] | None = None) -> Iterator[SourceDocument]:
        for n, document in enumerate(self._inner.documents(known)):
            yield document
            if n == 0:
                _remove(self._after_first)
        _remove(self._after_listing)

    def read_text(self, document: SourceDocument, *, markup: bool = False) -> str:
        return self._inner.read_text(document, markup=markup)

    @property
    def problems(self) -> Sequence[SourceProblem]:
        return self._inner.problems

    @property
    def reads(self) -> int:
        return self._inner.reads


def _remove(paths: Sequence[Path]) -> None:
    import shutil

    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
