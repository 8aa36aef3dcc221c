"""Federations of real nodes running in the test's own trio run."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from node.datadir import DEFAULT_QUORUM, DataDir
from node.node import Node
from protocol.governance import Genesis, parse_quorum
from simulations.federation import Cluster, direct, make_datadirs, plan_nodes


def federation(root: Path, n: int, links: dict[int, list[int]] | None = None, **options: object) -> list[DataDir]:
    """n data dirs on loopback; with `links`, node i has dial addresses only for links[i]."""
    plans = plan_nodes(n)
    options = {"sync_interval_s": 1.0, "log_format": "text", **options}
    return make_datadirs(root, plans, direct(plans, links), **options)


def found(dirs: list[DataDir], founders: list[DataDir], quorum: str | None = None) -> None:
    """Give `dirs` a genesis of `founders` alone (with `quorum`), signed by each of them."""
    cards = {m.public_key: m for m in dirs[0].genesis().members}
    identities = [d.identity() for d in founders]
    rule = DEFAULT_QUORUM if quorum is None else parse_quorum(quorum)
    genesis = Genesis(tuple(cards[i.public_key] for i in identities), rule)
    for identity in identities:
        genesis = genesis.signed_by(identity)
    for d in dirs:
        d.save_genesis(genesis)


@asynccontextmanager
async def emulated(root: Path, n: int, **options: object) -> AsyncIterator[Cluster]:
    """n data dirs whose links all run through a link emulator running in this trio run."""
    cluster = Cluster(root, n, sync_interval_s=1.0, log_format="text", **options)
    async with trio.open_nursery() as nursery:
        await nursery.start(cluster.links.run)
        try:
            yield cluster
        finally:
            nursery.cancel_scope.cancel()


@asynccontextmanager
async def running(dirs: list[DataDir]) -> AsyncIterator[list[Node]]:
    async with trio.open_nursery() as nursery:
        nodes = [await nursery.start(Node(d).run) for d in dirs]
        try:
            yield nodes
        finally:
            nursery.cancel_scope.cancel()


async def wait_until(predicate, timeout_s: float = 60.0, poll_s: float = 0.05) -> None:
    """Until `predicate()` holds; the timeout only bounds a failing test (never a figure)."""
    with trio.fail_after(timeout_s):
        while not predicate():
            await trio.sleep(poll_s)
