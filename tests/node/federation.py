"""Build federations of real nodes for tests: data dirs, rosters, loopback ports."""

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from node.config import Config
from node.datadir import DataDir
from node.node import Node
from protocol.roster import Roster

COUNTRIES = ["BE", "CZ", "DE", "ES", "FR", "IT", "NL", "PL", "AT", "SE", "PT"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_datadirs(root: Path, n: int, links: dict[int, list[int]] | None = None, **options: object) -> list[DataDir]:
    """n initialised data dirs; every roster lists every member. `links` limits who has
    whose dial addresses (a partial mesh): node i dials only links[i]."""
    dirs, members = [], []
    for i in range(n):
        config = Config(
            name=f"OC {COUNTRIES[i % 11]} {i}",
            country=COUNTRIES[i % 11],
            listen=[f"/ip4/127.0.0.1/tcp/{free_port()}"],
            api=f"127.0.0.1:{free_port()}",
            sync_interval_s=1.0,
            log_format="text",
            **options,  # type: ignore[arg-type]
        )
        datadir = DataDir(root / f"node{i}")
        identity = datadir.init(config, seed=bytes([i + 1]) * 32)
        dirs.append(datadir)
        members.append(datadir.member(identity, config))
    for i, datadir in enumerate(dirs):
        visible = set(links[i]) if links is not None else set(range(n))
        cards = [m if j in visible or j == i else _without_addrs(m) for j, m in enumerate(members)]
        datadir.save_roster(Roster(cards))
    return dirs


def _without_addrs(member):
    from protocol.roster import Member

    return Member(member.name, member.country, member.public_key, ())


@asynccontextmanager
async def running(dirs: list[DataDir]) -> AsyncIterator[list[Node]]:
    async with trio.open_nursery() as nursery:
        nodes = [await nursery.start(Node(d).run) for d in dirs]
        try:
            yield nodes
        finally:
            nursery.cancel_scope.cancel()


async def wait_until(predicate, timeout_s: float = 10.0, poll_s: float = 0.05) -> None:
    with trio.fail_after(timeout_s):
        while not predicate():
            await trio.sleep(poll_s)
