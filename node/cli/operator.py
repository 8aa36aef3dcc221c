"""`qroc operator add|list|passwd|remove`: the OC's console accounts (node/operators.py).

Accounts live in DATA_DIR/operators.db; the commands work while the node runs (SQLite
WAL), and a removed operator's sessions end at once. Passwords are asked at the prompt
(twice, not echoed) or read from stdin with --password-stdin, never from the command
line (which other users of the machine can read).
"""

import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from ..datadir import DataDir, write_secret
from ..operators import OperatorError, Operators, Role
from .common import DATA_DIR, fail, guarded

PASSWORD_STDIN = click.option("--password-stdin", is_flag=True, help="Read the password from stdin (one line).")


@contextmanager
def _accounts(data_dir: Path) -> Iterator[Operators]:
    datadir = DataDir(data_dir)
    datadir.config()  # an initialised data dir, or a clear error
    operators = Operators(datadir.operators_path)
    try:
        yield operators
    except OperatorError as exc:
        fail(str(exc))
    finally:
        operators.close()


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


def first_operator(datadir: DataDir) -> None:
    """On embedded defaults, a first account, so that the console works at once: `admin`,
    with a random password in a file only this user can read (never on the terminal or
    in a log)."""
    password = secrets.token_urlsafe(15)
    write_secret(datadir.initial_password_path, (password + "\n").encode())
    with _accounts(datadir.path) as operators:
        operators.add("admin", "Duty officer", Role.OPERATOR, password, int(time.time() * 1000))
    click.echo(f"qroc: console account 'admin', password in {datadir.initial_password_path}", err=True)


@click.group()
def operator() -> None:
    """Console accounts of this OC's duty officers."""


@operator.command("add")
@DATA_DIR
@click.argument("name")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.OPERATOR.value, show_default=True)
@click.option("--display-name", help="Shown in the audit trail of every entry they write (default: NAME).")
@PASSWORD_STDIN
@guarded
def add(data_dir: Path, name: str, role: str, display_name: str | None, password_stdin: bool) -> None:
    """Add an operator (operator: reads and writes; viewer: reads only)."""
    with _accounts(data_dir) as operators:
        password = _password(password_stdin)
        added = operators.add(name, display_name or name, Role(role), password, int(time.time() * 1000))
    click.echo(f"added {added.role.value} {added.name} ({added.display_name})")


@operator.command("list")
@DATA_DIR
@guarded
def list_operators(data_dir: Path) -> None:
    """List the operators: name, role, display name."""
    with _accounts(data_dir) as operators:
        for o in operators.list():
            click.echo(f"{o.name}\t{o.role.value}\t{o.display_name}")


@operator.command("passwd")
@DATA_DIR
@click.argument("name")
@PASSWORD_STDIN
@guarded
def passwd(data_dir: Path, name: str, password_stdin: bool) -> None:
    """Set an operator's password; their open sessions end."""
    with _accounts(data_dir) as operators:
        operators.set_password(name, _password(password_stdin))
    click.echo(f"password of {name} changed; their sessions have ended")


@operator.command("remove")
@DATA_DIR
@click.argument("name")
@guarded
def remove(data_dir: Path, name: str) -> None:
    """Remove an operator; their open sessions end."""
    with _accounts(data_dir) as operators:
        operators.remove(name)
    click.echo(f"removed {name}")
