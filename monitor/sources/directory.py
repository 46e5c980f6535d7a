"""`SourceCatalog` over a directory tree of .md, .txt, .rst and .html files."""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

from wcmatch import glob

from monitor.config import DEFAULT_INCLUDE, DEFAULT_MAX_FILE_BYTES, SourcesConfig
from monitor.errors import SourceFileError
from monitor.records import SourceDocument, SourceProblem, SourceStamp
from monitor.text import printable, sha256_text

log = logging.getLogger(__name__)

_GLOB_FLAGS = glob.GLOBSTAR | glob.DOTGLOB | glob.BRACE
_HTML_SUFFIXES = {".html", ".htm"}
_VANISHED = "vanished during the run"
_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a directory",
}


class DirectoryCatalog:
    """The files under ``root`` that match ``include`` and not ``exclude``.

    File links are followed only while they stay inside the root; a link out of it, and a
    file that is not UTF-8, is skipped and listed in `problems`. A directory link inside
    the root is not walked: its target is already walked under its real path.

    Nothing it cannot use is skipped silently: a file that cannot be read, decoded, is not
    a regular file, is larger than ``max_file_bytes`` or vanished during the scan, a file
    name that is not UTF-8, and a directory that cannot be listed each become a problem.
    """

    def __init__(
        self,
        root: Path,
        include: Sequence[str] = tuple(DEFAULT_INCLUDE),
        exclude: Sequence[str] = (),
        *,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    ):
        self.root = Path(root)
        self._real_root = self.root.resolve()
        self._include = glob.compile(list(include), flags=_GLOB_FLAGS)
        self._exclude = glob.compile(list(exclude), flags=_GLOB_FLAGS) if exclude else None
        self._max_bytes = max_file_bytes
        self._problems: list[SourceProblem] = []
        self._reads = 0

    @classmethod
    def from_config(cls, config: SourcesConfig) -> DirectoryCatalog:
        return cls(
            config.root,
            include=config.include,
            exclude=config.exclude,
            max_file_bytes=config.max_file_bytes,
        )

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
            found = self._stat(path, rel)
            if found is None:
                continue
            stamp = known.get(rel)
            if stamp is not None and (stamp.size, stamp.mtime_ns) == (
                found.st_size,
                found.st_mtime_ns,
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
                uri=_uri(path),
                path=path,
                sha256=digest,
                size=found.st_size,
                mtime_ns=found.st_mtime_ns,
                modified_at=datetime.fromtimestamp(found.st_mtime_ns / 1e9, tz=UTC),
            )

    def read_text(self, document: SourceDocument, *, markup: bool = False) -> str:
        return self._decode(document.path, document.id, markup=markup)

    def _paths(self) -> Iterator[tuple[Path, str]]:
        for dirpath, dirnames, filenames in os.walk(
            self.root, followlinks=False, onerror=self._unlistable
        ):
            here = Path(dirpath)
            for name in sorted(dirnames):
                rel = self._rel(here / name)
                if not _utf8(name):
                    # Its files would have names no store or history can hold.
                    dirnames.remove(name)
                    self._problem(
                        printable(rel),
                        "the directory name is not valid UTF-8; rename it",
                        directory=True,
                    )
                    continue
                try:
                    outside = (here / name).is_symlink() and not self._inside(here / name)
                except OSError:
                    continue  # os.walk fails on it too, and reports it as unlistable
                if outside:
                    self._problem(rel, self._outside_message(here / name))
            dirnames.sort()
            for name in sorted(filenames):
                path = here / name
                rel = self._rel(path)
                if not self._wanted(rel):
                    continue
                if not _utf8(name):
                    self._problem(
                        printable(rel), "the file name is not valid UTF-8; rename the file"
                    )
                    continue
                yield path, rel

    def _stat(self, path: Path, rel: str) -> os.stat_result | None:
        """The file's stat when it can be used as a source, else None (and a problem)."""
        try:
            if path.is_symlink():
                try:
                    target = path.resolve(strict=True)
                except FileNotFoundError:
                    self._problem(rel, f"broken link to {printable(os.readlink(path))}")
                    return None
                except RuntimeError:  # Python 3.11 reports a loop this way
                    self._problem(rel, "a link loop (too many levels of symbolic links)")
                    return None
                if not target.is_relative_to(self._real_root):
                    self._problem(rel, self._outside_message(path))
                    return None
            found = path.stat()
        except OSError as exc:
            self._problem(rel, _why(exc))
            return None
        if not stat.S_ISREG(found.st_mode):
            kind = _KINDS.get(stat.S_IFMT(found.st_mode), "a special file")
            self._problem(rel, f"not a regular file ({kind})")
            return None
        if found.st_size > self._max_bytes:
            self._problem(rel, _too_large(found.st_size, self._max_bytes))
            return None
        return found

    def _wanted(self, rel: str) -> bool:
        if not self._include.match(rel):
            return False
        return not (self._exclude is not None and self._exclude.match(rel))

    def _decode(self, path: Path, rel: str, *, markup: bool = False) -> str:
        try:
            # O_NONBLOCK: a file replaced by a FIFO since the scan must not hang the run.
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            raise SourceFileError(rel, _why(exc)) from None
        with os.fdopen(fd, "rb") as file:
            try:
                found = os.fstat(fd)
                if not stat.S_ISREG(found.st_mode):
                    raise SourceFileError(rel, "not a regular file")
                # One byte more than allowed tells a file that grew past the limit.
                data = file.read(self._max_bytes + 1)
            except OSError as exc:
                raise SourceFileError(rel, _why(exc)) from None
        if len(data) > self._max_bytes:
            raise SourceFileError(rel, _too_large(len(data), self._max_bytes, at_least=True))
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
        except (OSError, RuntimeError):
            return False

    def _outside_message(self, path: Path) -> str:
        try:
            target = printable(os.readlink(path))
        except OSError:
            target = "?"
        return f"link to {target}, outside the source root; not followed"

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def _unlistable(self, error: OSError) -> None:
        """`os.walk` could not list a directory: report it, never skip it silently."""
        where = Path(os.fsdecode(error.filename)) if error.filename else self.root
        try:
            rel = self._rel(where)
        except ValueError:
            rel = "."
        self._problem(printable(rel), f"cannot be listed: {_why(error)}", directory=True)

    def _problem(self, rel: str, reason: str, *, directory: bool = False) -> None:
        log.warning("skipped source %s: %s", printable(rel), printable(reason))
        self._problems.append(SourceProblem(path=rel, reason=reason, directory=directory))


def _uri(path: Path) -> str:
    try:
        return path.resolve().as_uri()
    except (OSError, RuntimeError):  # raced away since the scan: the path as listed
        return path.absolute().as_uri()


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _why(error: OSError) -> str:
    """A short reason for an OS error on a source, in words a user can act on."""
    if error.errno in (errno.ENOENT, errno.ESTALE):
        return _VANISHED
    if error.errno == errno.ENAMETOOLONG:
        return "the path is longer than the system allows (PATH_MAX)"
    if error.errno == errno.ELOOP:
        return "a link loop (too many levels of symbolic links)"
    if error.errno == errno.ENOTDIR:
        return "a part of its path is no longer a directory"
    return f"cannot be read: {error.strerror or error}"


def _too_large(size: int, limit: int, *, at_least: bool = False) -> str:
    more = "more than " if at_least else ""
    return (
        f"larger than sources.max_file_bytes ({more}{size} > {limit} bytes); raise the limit "
        "or exclude the file"
    )


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
