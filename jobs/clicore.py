"""What every `ragmon` command shares: exit codes, error mapping, global settings.

Command modules import from here (never from `jobs.cli`), and `jobs.cli` adds them to
the group, so a new command group is one new module and one `add_command` line.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from monitor.config import Config
    from monitor.history import HistoryStore

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_RUNTIME, EXIT_LOCKED = 0, 1, 2, 3, 4


class CliError(click.ClickException):
    """A failure shown as ``Error: ...`` with its own exit code."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click declares it a class default


class RagmonGroup(click.Group):
    """Turns library errors into messages and exit codes (2 config, 3 runtime, 4 locked)."""

    def invoke(self, ctx: click.Context) -> Any:
        from monitor.errors import ConfigError, JobLockedError, JobNotFoundError, MonitorError

        try:
            return super().invoke(ctx)
        except (ConfigError, JobNotFoundError) as exc:
            raise CliError(str(exc), EXIT_USAGE) from None
        except JobLockedError as exc:
            raise CliError(str(exc), EXIT_LOCKED) from None
        except MonitorError as exc:
            raise CliError(str(exc), EXIT_RUNTIME) from None
        except Exception as exc:
            # A history database that fails under a query (damaged pages, a dropped
            # connection) fails whichever command was reading it: one mapping for all.
            settings = ctx.find_object(Settings)
            url = settings.history_url if settings is not None else None
            if url is None:
                raise
            from monitor.history import as_history_error

            error = as_history_error(exc, url)
            if error is None:
                raise
            raise CliError(str(error), EXIT_RUNTIME) from None


class Settings:
    """Global options, passed to commands through the click context."""

    def __init__(self, config_path: Path, verbose: int, quiet: bool):
        self.config_path = config_path
        self.verbose = verbose
        self.quiet = quiet
        self._config: Config | None = None
        self.history_url: str | None = None
        """Set once a command opens the history, for the error mapping of `RagmonGroup`."""

    def config(self) -> Config:
        if self._config is None:
            from jobs.registry import load_config

            self._config = load_config(self.config_path)
        return self._config

    def history(self) -> HistoryStore:
        from monitor.history import HistoryStore

        self.history_url = self.config().history_url
        return HistoryStore.open(self.history_url)


pass_settings = click.make_pass_decorator(Settings)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM (cron's `timeout`, a shutdown) acts like Ctrl-C, so a
    running job is recorded as interrupted and its lock released instead of left behind."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
