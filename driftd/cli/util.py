"""What every command module shares: the CLI state, exit codes and how to exit.

Kept apart from driftd.cli so that command modules (daemon, alerts) can use it
without importing the group that registers them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import click

if TYPE_CHECKING:
    from driftd.config import Config

EXIT_OK, EXIT_DRIFT, EXIT_ERROR = 0, 1, 2


class State:
    """Global options, and the config loaded on first use (so --help needs none)."""

    def __init__(self, config_path: str | None, debug: bool) -> None:
        self.config_path = config_path
        self.debug = debug
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            # Imported here: --help and --version need no config (pydantic is slow to import).
            from driftd.config import find_config
            from driftd.config.load import load

            self._config = load(find_config(self.config_path))
        return self._config


pass_state = click.make_pass_decorator(State)


def exit_with(code: int) -> NoReturn:
    click.get_current_context().exit(code)
    raise AssertionError("unreachable")
