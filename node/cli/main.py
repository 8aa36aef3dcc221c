"""`qroc`: set up, inspect and run a QROC Mesh node.

Every failure the operator can cause (bad arguments, a missing or corrupt config, an
unreadable key, a port in use) ends in one line on stderr and a non-zero exit.
"""

import json
import signal
import socket
import time
from pathlib import Path
from typing import Any

import click
import trio

from protocol import limits
from protocol.hlc import wall_ms

from .. import __version__, logs, systemd
from ..config import Config
from ..datadir import DataDir
from ..store import Store
from .common import DATA_DIR, default_data_dir, guarded
from .exercise import exercise
from .governance import genesis, governance
from .media import media
from .operator import first_operator, operator
from .sim import sim


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="qroc")
def main() -> None:
    """QROC Mesh: incident records and media shared between Operational Centres."""


main.add_command(exercise)
main.add_command(genesis)
main.add_command(governance)
main.add_command(media)
main.add_command(operator)
main.add_command(sim)


@main.command()
@DATA_DIR
@click.option("--name", required=True, help="Member name, e.g. 'OC Belgium (Federal Police)'.")
@click.option("--country", required=True, help="ISO 3166-1 alpha-2 code, e.g. BE.")
@click.option("--listen", multiple=True, default=["/ip4/0.0.0.0/tcp/4001"], show_default=True, help="Mesh multiaddr.")
@click.option("--announce", multiple=True, help="Multiaddr other OCs dial (default: the listen addresses).")
@click.option("--api", default="127.0.0.1:8700", show_default=True, help="HTTP API HOST:PORT.")
@guarded
def init(data_dir: Path, name: str, country: str, listen: tuple[str, ...], announce: tuple[str, ...], api: str) -> None:
    """Create DATA_DIR: identity (0600), config, API token and a genesis with this member
    alone (replace it with the federation's: qroc genesis use)."""
    config = Config(name=name, country=country, listen=list(listen), announce=list(announce), api=api)
    identity = DataDir(data_dir).init(config)
    click.echo(f"initialised {data_dir}: member {name!r} ({country}), peer id {identity.peer_id}")
    click.echo(f"share this node's card with the other OCs: qroc member {data_dir}")


@main.command()
@DATA_DIR
@guarded
def member(data_dir: Path) -> None:
    """Print this node's member card (JSON): for the founders' genesis, or for admission."""
    datadir = DataDir(data_dir)
    card = datadir.member(datadir.identity(), datadir.config()).card()
    if not card["addrs"]:
        click.echo("qroc: warning: no dial addresses (listening on 0.0.0.0): set 'announce' in the config", err=True)
    click.echo(json.dumps(card, indent=2))


@main.group()
def repair() -> None:
    """Recover a node's data from a fault (the node must be stopped)."""


@repair.command("clock")
@DATA_DIR
@click.option("--yes", is_flag=True, help="Remove them (without it: only list what would go).")
@guarded
def repair_clock(data_dir: Path, yes: bool) -> None:
    """Remove this node's own entries written while its clock was far ahead.

    Entries more than an hour ahead of the wall clock are refused by every member with a
    sane clock, and so is everything written after them (the node refuses writes with
    503 clock_ahead). This removes them, with every later entry of this node's own log,
    and sets the stored clock back. Fix the system clock first.
    """
    from ..mesh.host import check_port_free  # imports libp2p: only where it is needed

    datadir = DataDir(data_dir)
    config = datadir.config()
    check_port_free(config.api_host, config.api_port, "the node's API port (stop the node first)")
    store = Store(datadir.db_path, datadir.roster(), datadir.identity().public_key)
    try:
        ahead = store.own_entries_ahead(int(time.time() * 1000), limits.clock_repair_ahead_ms_min)
        if not ahead:
            click.echo("no own entries more than an hour ahead of the clock: nothing to repair")
            return
        first_s = (wall_ms(ahead[0][1]) - int(time.time() * 1000)) // 1000
        click.echo(f"{len(ahead)} own entries from seq {ahead[0][0]} on, the first {first_s} s ahead of the clock")
        if not yes:
            click.echo("run again with --yes to remove them")
            return
        store.drop_own_from(ahead[0][0])
        click.echo(f"removed; this node's log continues at seq {ahead[0][0]} once it runs again")
    finally:
        store.close()


@main.command()
@click.argument("data_dir", required=False, type=click.Path(file_okay=False, path_type=Path))
@guarded
def run(data_dir: Path | None) -> None:
    """Run the node in the foreground until SIGTERM or Ctrl-C.

    Without DATA_DIR, uses embedded defaults: $QROC_DATA_DIR or ~/.local/share/qroc-mesh,
    created on first start (SQLite store, generated identity, API on 127.0.0.1:8700).
    """
    datadir = DataDir(data_dir or default_data_dir())
    if data_dir is None and not datadir.identity_path.exists():
        datadir.init(Config(name=f"OC {socket.gethostname()}"[:100], country="EU"))
        click.echo(
            f"qroc: created {datadir.path} with a new identity (country EU; edit config.toml to set yours)", err=True
        )
        first_operator(datadir)
    config = datadir.config()
    from ..node import Node  # imports libp2p (which sets up its own logging): only to run

    logs.configure(config.log_level, config.log_format)  # after that import, to tame it

    node = Node(datadir, config)
    try:
        trio.run(_serve, node)
    except BaseExceptionGroup as group:
        raise _sole_cause(group) from None


def _sole_cause(group: BaseExceptionGroup) -> BaseException:
    """The first leaf of a nursery's exception group: start-up fails for one reason."""
    leaf: BaseException = group
    while isinstance(leaf, BaseExceptionGroup):
        leaf = leaf.exceptions[0]
    return leaf


async def _serve(node: Any) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_stop_on_signal, nursery.cancel_scope)
        await nursery.start(node.run)
        api = f"http://{node.config.api_host}:{node.config.api_port}"
        click.echo(
            f"qroc: node {node.config.name!r} up: peer id {node.peer_id}\n"
            f"  mesh {' '.join(node.listen_addrs)}\n"
            f"  console {api}/ (accounts: qroc operator add {node.datadir.path} NAME)\n"
            f"  API  {api}/v1/health (bearer token in {node.datadir.token_path})\n"
            f"  stop with Ctrl-C or SIGTERM",
            err=True,
        )
        systemd.notify(f"READY=1\nSTATUS=serving {len(node.roster)} members")
        interval = systemd.watchdog_interval_s()
        if interval:
            nursery.start_soon(_watchdog, interval)


async def _stop_on_signal(scope: trio.CancelScope) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            systemd.notify("STOPPING=1")
            scope.cancel()
            return


async def _watchdog(interval_s: float) -> None:
    while True:
        systemd.notify("WATCHDOG=1")
        await trio.sleep(interval_s)
