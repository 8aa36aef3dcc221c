"""What every `qroc` command shares: the data-dir argument and one-line failures."""

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from protocol.errors import InvalidField

from ..config import ConfigError
from ..datadir import DataDirError
from ..store import StoreError

EXIT_FAILURE = 1


def default_data_dir() -> Path:
    if "QROC_DATA_DIR" in os.environ:
        return Path(os.environ["QROC_DATA_DIR"])
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "qroc-mesh"


def fail(message: str) -> NoReturn:
    click.echo(f"qroc: error: {message}", err=True)
    sys.exit(EXIT_FAILURE)


def guarded(action: Callable[..., Any]) -> Callable[..., Any]:
    """Turn every expected failure into one line and exit 1."""

    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return action(*args, **kwargs)
        except (DataDirError, ConfigError, StoreError, InvalidField) as exc:
            fail(str(exc))
        except OSError as exc:
            fail(f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}")

    run.__name__ = action.__name__
    run.__doc__ = action.__doc__
    return run


DATA_DIR = click.argument("data_dir", type=click.Path(file_okay=False, path_type=Path))
