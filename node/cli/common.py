"""What every `qroc` command shares: the data-dir argument and one-line failures."""

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click
import httpx

from protocol.errors import InvalidField

from ..config import ConfigError
from ..datadir import DataDir, DataDirError
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


def node_api(data_dir: Path) -> tuple[str, dict[str, str]]:
    """The base URL of DATA_DIR's running node and the headers that authorise us there."""
    datadir = DataDir(data_dir)
    config = datadir.config()
    return f"http://{config.api_host}:{config.api_port}", {"Authorization": f"Bearer {datadir.token()}"}


def check_response(response: httpx.Response) -> None:
    """Fail with the node's own error message for a 4xx or 5xx answer."""
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
            fail(f"{error['message']} ({error['code']}, HTTP {response.status_code})")
        except (ValueError, KeyError, TypeError):
            fail(f"HTTP {response.status_code} from the node")


def call_node(data_dir: Path, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One call to DATA_DIR's running node's API; fails with the node's message on 4xx/5xx."""
    base, headers = node_api(data_dir)
    try:
        response = httpx.request(method, f"{base}{path}", headers=headers, timeout=120, **kwargs)
    except httpx.TransportError as exc:
        fail(f"cannot reach the node at {base}: {exc}")
    check_response(response)
    return response
