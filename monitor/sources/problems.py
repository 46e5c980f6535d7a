"""Which recorded sources could not be read: a source that cannot be read is not deleted.

The audit and `ragmon index` both ask this before they call a chunk's source gone: a
chunk whose source is a file the catalog could not use, or lies under a directory it could
not list, is `unreadable` (kept), never orphaned (deleted).
"""

from __future__ import annotations

from collections.abc import Iterable

from monitor.records import SourceProblem


class UnreadableSources:
    """Looks a catalog id up among a scan's problems."""

    def __init__(self, problems: Iterable[SourceProblem]):
        self._files: dict[str, str] = {}
        self._dirs: dict[str, str] = {}
        for problem in problems:
            if problem.directory:
                self._dirs[problem.path] = problem.reason
            else:
                self._files[problem.path] = problem.reason

    def __bool__(self) -> bool:
        return bool(self._files or self._dirs)

    def reason(self, source: str) -> str | None:
        """Why ``source`` could not be read, or None when nothing stood in the way."""
        found = self._files.get(source)
        if found is not None:
            return found
        if not self._dirs:
            return None
        if "." in self._dirs:
            return f"the source root cannot be listed ({self._dirs['.']})"
        parts = source.split("/")
        for end in range(len(parts) - 1, 0, -1):
            directory = "/".join(parts[:end])
            why = self._dirs.get(directory)
            if why is not None:
                return f"in {directory}, which {why}"
        return None

    @property
    def files(self) -> dict[str, str]:
        """The files that could not be read, with the reason."""
        return dict(self._files)
