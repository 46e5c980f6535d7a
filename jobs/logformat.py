"""Log lines that stay one line: names from outside cannot forge a record."""

from __future__ import annotations

import logging

from monitor.text import printable

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class OneLineFormatter(logging.Formatter):
    """Escapes control characters in the message (a newline in a file name becomes ``\\n``).

    A traceback, added after the message by `logging.Formatter.format`, keeps its lines.
    """

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = printable(record.message)
        return super().formatMessage(record)
