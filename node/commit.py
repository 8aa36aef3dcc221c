"""Group commit: the disk's waits happen on a worker thread, never on the event loop.

Rules:
- A write commits its transaction on the event loop without an fsync (node/store.py):
  a kill -9 afterwards keeps it, a power loss may not. It is acknowledged (the API's 201)
  only after `durable()`, which returns once one fsync of the WAL that started after the
  call has finished: every write waiting at that moment shares that one fsync.
- Our own entries leave the node (gossip) only once durable, so no member holds an entry
  of ours that a power loss could make us write again at the same seq. (A sync session may
  serve one sooner; the write gate's catching-up rule covers that case, protocol/gate.py.)
- Checkpoints (the WAL copied into the database, both fsynced) run on the same worker,
  every `checkpoint_interval_ms` while anything changed, so the WAL stays bounded.
- An fsync that fails leaves the disk's state unknown (Linux may have dropped the pages):
  no waiter is acknowledged and the node stops, to restart from what is on disk.
"""

from collections.abc import Callable

import trio

from protocol import limits

from .store import Store


class GroupCommit:
    def __init__(self, store: Store, publish: Callable[[bytes], None]) -> None:
        self.store = store
        self.publish = publish  # an own entry's envelope, once durable
        self.flushed = store.changes()  # what the last finished fsync covers
        self.fsyncs = 0
        self._unpublished: list[bytes] = []
        self._wanted = trio.Event()
        self._done = trio.Event()
        self._checkpointed = store.all_changes()
        self._running = False

    def pending(self) -> int:
        """Own entries written and not yet durable (the write gate refuses more beyond a bound)."""
        return len(self._unpublished)

    def written(self, envelope: bytes) -> None:
        """Our entry was committed: gossip it once durable (if the node runs)."""
        if not self._running:
            return
        assert len(self._unpublished) < limits.unflushed_entries_max, "the write gate bounds unflushed entries"
        self._unpublished.append(envelope)
        self._wanted.set()

    async def durable(self) -> None:
        """Return once everything committed before this call is on disk."""
        needed = self.store.changes()
        if not self._running:  # a node not started (tools, tests): flush here
            self.store.sync_wal()
            self.flushed = max(self.flushed, needed)
            return
        while self.flushed < needed:
            self._wanted.set()
            await self._done.wait()

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self._running = True
        try:
            task_status.started()
            checkpoint_due = trio.current_time()
            while True:
                with trio.move_on_after(limits.checkpoint_interval_ms / 1000):
                    await self._wanted.wait()
                self._wanted = trio.Event()
                await self._flush()
                changed = self.store.all_changes()
                if trio.current_time() >= checkpoint_due and changed != self._checkpointed:
                    await trio.to_thread.run_sync(self.store.checkpoint)
                    self._checkpointed = changed
                    checkpoint_due = trio.current_time() + limits.checkpoint_interval_ms / 1000
        finally:
            self._running = False

    async def _flush(self) -> None:
        """One fsync for every commit so far; then the own entries it made durable go out."""
        covering, entries, self._unpublished = self.store.changes(), self._unpublished, []
        if covering > self.flushed:
            await trio.to_thread.run_sync(self.store.sync_wal)
            self.fsyncs += 1
            self.flushed = covering
        self._done.set()
        self._done = trio.Event()
        for envelope in entries:
            self.publish(envelope)
