"""`SourceCatalog` over a directory tree of .md, .txt, .rst and .html files."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

from wcmatch import glob

from monitor.config import DEFAULT_INCLUDE, SourcesConfig
from monitor.errors import SourceFileError
from monitor.records import SourceDocument, SourceProblem, SourceStamp
from monitor.text import sha256_text

log = logging.getLogger(__name__)

_GLOB_FLAGS = glob.GLOBSTAR | glob.DOTGLOB | glob.BRACE
_HTML_SUFFIXES = {".html", ".htm"}


class DirectoryCatalog:
    """The files under ``root`` that match ``include`` and not ``exclude``.

    File links are followed only while they stay inside the root; a link out of it, and a
    file that is not UTF-8, is skipped and listed in `problems`. A directory link inside
    the root is not walked: its target is already walked under its real path.
    """

    def __init__(
        self,
        root: Path,
        include: Sequence[str] = tuple(DEFAULT_INCLUDE),
        exclude: Sequence[str] = (),
    ):
        self.root = Path(root)
        self._real_root = self.root.resolve()
        self._include = glob.compile(list(include), flags=_GLOB_FLAGS)
        self._exclude = glob.compile(list(exclude), flags=_GLOB_FLAGS) if exclude else None
        self._problems: list[SourceProblem] = []
        self._reads = 0

    @classmethod
    def from_config(cls, config: SourcesConfig) -> DirectoryCatalog:
        return cls(config.root, include=config.include, exclude=config.exclude)

    @property
    def problems(self) -> Sequence[SourceProblem]:
        return tuple(self._problems)

    @property
    def reads(self) -> int:
        return self._reads

    def documents(self, known: Mapping[str, SourceStamp] | None = None) -> Iterator[SourceDocument]:
        self._problems = []
        known = known or {}
        for path, rel in self._paths():
            try:
                stat = path.stat()
            except OSError as exc:
                self._problem(rel, f"cannot be read: {exc.strerror or exc}")
                continue
            stamp = known.get(rel)
            if stamp is not None and (stamp.size, stamp.mtime_ns) == (
                stat.st_size,
                stat.st_mtime_ns,
            ):
                digest = stamp.sha256
            else:
                try:
                    digest = sha256_text(self._decode(path, rel))
                except SourceFileError as exc:
                    self._problem(rel, exc.reason)
                    continue
            yield SourceDocument(
                id=rel,
                uri=path.resolve().as_uri(),
                path=path,
                sha256=digest,
                size=stat.st_size,
                mtime_ns=stat.st_mtime_ns,
                modified_at=datetime.fromtimestamp(stat.st_mtime_ns / 1e9, tz=UTC),
            )

    def read_text(self, document: SourceDocument, *, markup: bool = False) -> str:
        return self._decode(document.path, document.id, markup=markup)

    def _paths(self) -> Iterator[tuple[Path, str]]:
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            here = Path(dirpath)
            for name in sorted(dirnames):
                if (here / name).is_symlink() and not self._inside(here / name):
                    self._problem(self._rel(here / name), self._outside_message(here / name))
            dirnames.sort()
            for name in sorted(filenames):
                path = here / name
                rel = self._rel(path)
                if not self._wanted(rel):
                    continue
                if path.is_symlink() and not self._inside(path):
                    self._problem(rel, self._outside_message(path))
                    continue
                yield path, rel

    def _wanted(self, rel: str) -> bool:
        if not self._include.match(rel):
            return False
        return not (self._exclude is not None and self._exclude.match(rel))

    def _decode(self, path: Path, rel: str, *, markup: bool = False) -> str:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise SourceFileError(rel, "the file no longer exists") from None
        except OSError as exc:
            raise SourceFileError(rel, f"cannot be read: {exc.strerror or exc}") from None
        self._reads += 1
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SourceFileError(
                rel,
                f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                "convert it to UTF-8 or exclude it in sources.exclude",
            ) from None
        if path.suffix.lower() in _HTML_SUFFIXES and not markup:
            return html_to_text(text)
        return text

    def _inside(self, path: Path) -> bool:
        try:
            return path.resolve().is_relative_to(self._real_root)
        except OSError:
            return False

    def _outside_message(self, path: Path) -> str:
        return f"link to {os.readlink(path)}, outside the source root; not followed"

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def _problem(self, rel: str, reason: str) -> None:
        log.warning("skipped source %s: %s", rel, reason)
        self._problems.append(SourceProblem(path=rel, reason=reason))


class _TextExtractor(HTMLParser):
    _SKIP = frozenset({"script", "style", "head", "template", "noscript"})
    _BLOCK = frozenset(
        {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "pre"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """The visible text of an HTML page, block elements on their own lines."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)
