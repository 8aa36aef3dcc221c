"""Federations of real nodes running in the test's own trio run."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from node.datadir import DataDir
from node.node import Node
from simulations.federation import Cluster, direct, make_datadirs, plan_nodes


def federation(root: Path, n: int, links: dict[int, list[int]] | None = None, **options: object) -> list[DataDir]:
    """n data dirs on loopback; with `links`, node i has dial addresses only for links[i]."""
    plans = plan_nodes(n)
    options = {"sync_interval_s": 1.0, "log_format": "text", **options}
    return make_datadirs(root, plans, direct(plans, links), **options)


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
