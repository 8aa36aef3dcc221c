"""Group commit: writes waiting together share one fsync, off the event loop; our own
entries leave the node only once durable; the WAL is checkpointed as it grows."""

import os
import time

import trio

from node.commit import GroupCommit
from node.node import Node
from protocol import limits
from protocol.body import Comment

from ..protocol.factories import open_body
from .api_client import INCIDENT, client
from .federation import federation, running, wait_until


async def test_sixteen_writes_waiting_at_once_share_one_fsync(tmp_path):
    async with running(federation(tmp_path, 1)) as (node,):
        incident = node.write(open_body()).id
        await node.commit.durable()
        fsyncs = node.commit.fsyncs
        acknowledged: list[bytes] = []

        async def client(n: int) -> None:
            entry = node.write(Comment(incident, f"client {n}"))
            await node.commit.durable()
            acknowledged.append(entry.id)

        async with trio.open_nursery() as clients:
            for n in range(16):
                clients.start_soon(client, n)
        assert len(acknowledged) == 16
        assert node.commit.fsyncs - fsyncs <= 2
        assert node.commit.flushed >= node.store.changes()


async def test_nothing_written_needs_no_fsync(tmp_path):
    async with running(federation(tmp_path, 1)) as (node,):
        fsyncs = node.commit.fsyncs
        await node.commit.durable()
        assert node.commit.fsyncs == fsyncs


async def test_an_own_entry_is_gossiped_only_once_it_is_durable(tmp_path):
    (datadir,) = federation(tmp_path, 1)
    node = Node(datadir)
    published: list[bytes] = []
    node.commit = GroupCommit(node.store, published.append)
    async with trio.open_nursery() as nursery:
        await nursery.start(node.commit.run)
        entry = node.write(open_body())
        assert published == [] and node.commit.flushed < node.store.changes()
        await node.commit.durable()
        assert published == [entry.signed]
        nursery.cancel_scope.cancel()
    node.store.close()


async def test_the_wal_is_copied_into_the_database_as_it_grows(tmp_path):
    async with running(federation(tmp_path, 1)) as (node,):
        before = os.path.getsize(node.store.path)
        incident = node.write(open_body()).id
        for n in range(200):
            node.write(Comment(incident, f"{n} " + "situation report " * 100))
        await node.commit.durable()
        await wait_until(
            lambda: os.path.getsize(node.store.path) > before + 200 * 1500,
            timeout_s=3 * limits.checkpoint_interval_ms / 1000,
        )


async def test_on_a_slow_disk_a_write_is_answered_after_its_fsync_and_the_node_serves_meanwhile(tmp_path):
    async with running(federation(tmp_path, 1)) as (node,), client(node) as api:
        fsync = node.store.sync_wal

        def slow_fsync() -> None:  # a disk that takes a second per flush
            time.sleep(1)
            fsync()

        node.store.sync_wal = slow_fsync  # type: ignore[method-assign]
        answered: list[int] = []

        async def post() -> None:
            response = await api.post("/v1/incidents", json=INCIDENT)
            answered.append(response.status_code)
            assert node.commit.flushed >= node.store.changes()  # nothing else writes here

        async with trio.open_nursery() as nursery:
            nursery.start_soon(post)
            await wait_until(lambda: node.commit.flushed < node.store.changes())  # committed, not yet durable
            assert (await api.get("/v1/health")).status_code == 200  # the event loop is not waiting
            assert answered == []
        assert answered == [201]
