"""Gossip frames (`/qroc/gossip/1`, SPEC.md §5.2): new entries pushed to the members we
are connected to, and our heads announced to each, on one long-lived stream per
connected member and direction. A frame:

    {?0: [push, …], ?1: heads}
    push  = [entry, [tag, …]]   an entry, and the members it has been sent to so far
    heads = bytes               a sync message (§5) holding only heads: our version vector
    tag   = the first gossip_tag_bytes of a member's public key

Rules:
- The author pushes its entry to every member it is connected to, and names them all and
  itself as covered. A member that stores a pushed entry for the first time (and the
  forwarding rule lets it on: Replica's Applied.forwarded) pushes it to the members it is
  connected to that are not covered yet, adding them to the covered set. In a full mesh
  nobody forwards: each member receives each entry once. Around a cut link the members
  next to it carry the entry over; a member receives it twice only where two forwarders
  each cover it. What gossip misses, sync repairs (a member whose heads lack for two
  announcements what we hold is synced with).
- Heads are announced every receipts interval, to each member, when they changed: the
  delivery receipts the console shows, and the gaps sync repairs, come from them.
- Bounds: a frame is at most gossip_frame_bytes_max, with at most gossip_frame_pushes_max
  pushes, each covering at most roster_members_max members; anything else is Malformed or
  TooLarge, and the stream that carried it is closed.
"""

from dataclasses import dataclass
from typing import Any

from . import cbor, limits
from .errors import Malformed
from .replica import Heads
from .schema import Fields
from .sync import SyncMessage, decode_message

FRAME_KEYS = {0: "pushes", 1: "heads"}


def tag(public_key: bytes) -> bytes:
    """How a covered set names a member: short, and enough to tell a roster's members apart."""
    return public_key[: limits.gossip_tag_bytes]


@dataclass(frozen=True, slots=True)
class Push:
    envelope: bytes
    covered: frozenset[bytes]  # tags of the members it has been sent to


@dataclass(frozen=True, slots=True)
class Frame:
    pushes: tuple[Push, ...] = ()
    heads: Heads | None = None

    def encode(self) -> bytes:
        out: dict[int, Any] = {}
        if self.pushes:
            out[0] = [[p.envelope, sorted(p.covered)] for p in self.pushes]
        if self.heads is not None:
            out[1] = SyncMessage(heads=self.heads).encode()
        return cbor.encode(out)


def _tag(value: Any) -> bytes:
    if type(value) is not bytes or len(value) != limits.gossip_tag_bytes:
        raise Malformed(f"a covered member is a tag of {limits.gossip_tag_bytes} bytes")
    return value


def _push(value: Any) -> Push:
    if type(value) is not list or len(value) != 2 or type(value[0]) is not bytes or type(value[1]) is not list:
        raise Malformed("a push is [entry bytes, [tag, …]]")
    if len(value[1]) > limits.roster_members_max:
        raise Malformed(f"a push covers at most {limits.roster_members_max} members")
    return Push(value[0], frozenset(_tag(t) for t in value[1]))


def decode_frame(data: bytes) -> Frame:
    """A frame as it arrived; raises Malformed (or TooLarge) for anything else."""
    fields = Fields(cbor.decode(data, limits.gossip_frame_bytes_max), "gossip frame", FRAME_KEYS)
    heads = fields.raw(1, required=False)
    announced = None
    if heads is not None:
        if type(heads) is not bytes:
            raise Malformed("heads in a gossip frame are a sync message's bytes")
        message = decode_message(heads)
        if message.heads is None or message != SyncMessage(heads=message.heads):
            raise Malformed("heads in a gossip frame are a sync message holding heads only")
        announced = message.heads
    return Frame(fields.array(0, _push, limits.gossip_frame_pushes_max), announced)
