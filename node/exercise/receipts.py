"""Delivery receipts: the node's own ack (level delivered) for each entry addressed to it.

An addressee's receipt tells the author, and the after-action report, when the entry
reached this OC. It is written once the entry is stored and the write gate is open; the
ones waiting are bounded (receipts_pending_max, oldest first out), and at every start
the node looks for addressed entries it has not answered, so none is lost to a restart.
Receipts are not written for acks (no receipts of receipts) nor for our own entries.
"""

import logging
from collections import OrderedDict
from typing import Any

import trio

from protocol import limits
from protocol.body import Ack, AckLevel, Kind
from protocol.entry import Entry
from protocol.errors import ProtocolError, WriteRefused

from ..errors import StorageFailed

log = logging.getLogger("qroc.receipts")


def wants_receipt(entry: Entry, me: bytes) -> bool:
    return me in entry.to and entry.author != me and entry.kind is not Kind.ACK


class Receipts:
    def __init__(self, node: Any) -> None:
        self.node = node
        self._pending: OrderedDict[bytes, Entry] = OrderedDict()
        self._wake = trio.Event()

    def unanswered(self) -> None:
        """At start: queue every addressed entry we hold and have not answered."""
        me = self.node.identity.public_key
        self.on_entries([e for e in self.node.replica.addressed_to_me() if not self._answered(e, me)])

    def on_entries(self, entries: list[Entry]) -> None:
        me = self.node.identity.public_key
        for entry in entries:
            if wants_receipt(entry, me) and self.node.replica.log.is_canonical(entry):
                self._pending[entry.id] = entry
                if len(self._pending) > limits.receipts_pending_max:
                    self._pending.popitem(last=False)  # answered at the next start
                self._wake.set()

    def _answered(self, entry: Entry, me: bytes) -> bool:
        state = self.node.replica.incidents.get(entry.incident)
        if state is None:
            return False
        partial = state.partials.get(entry.exercise)
        return partial is not None and (me, AckLevel.DELIVERED) in partial.acks.get(entry.id, {})

    async def run(self) -> None:
        me = self.node.identity.public_key
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            while self._pending:
                entry_id, entry = next(iter(self._pending.items()))
                if self._answered(entry, me):
                    del self._pending[entry_id]
                    continue
                if not self.node.writable:
                    await trio.sleep(limits.receipts_retry_ms / 1000)
                    continue
                try:
                    # to whoever the entry went to: an ack is no news to anyone else, even when
                    # the incident's opening has not reached us yet
                    to = tuple(sorted({*entry.to, entry.author}))
                    self.node.write(Ack(entry.incident, entry.id, AckLevel.DELIVERED), entry.exercise, None, to)
                except (WriteRefused, StorageFailed, ProtocolError) as exc:
                    log.warning("delivery receipt not written; retried", extra={"error": str(exc)[:200]})
                    await trio.sleep(limits.receipts_retry_ms / 1000)
                    continue
                del self._pending[entry_id]
                await trio.sleep(0)  # let gossip and the API run between receipts
