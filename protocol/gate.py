"""The write gate: when a replica may append to its own log (SPEC.md §3.3).

A member's log must stay one chain: writing at a seq that another copy of us (a restored
backup, a standby with our key) already used forks it, and a fork excludes the member from
that seq on, everywhere, for good. Rules:

- At start, the gate waits for one completed sync session with a member: what that member
  holds of our log is then known, and fetched before we write. A replica alone on its
  roster writes at once. A replica that holds some of its own log and has completed no
  session for own_log_wait_ms writes anyway: an OC cut off at start-up must still record
  (the one risk left is a restore from a stale backup during that isolation).
- Whenever a member's latest heads show our own log beyond ours, we are behind ourselves:
  no write until sync has brought our log that far (the refusal names the member, so a
  member that lies about our log is seen by the operator; it cannot make us fork).
- Once our key is proven forked: never (the operator moves the OC to a new identity).
  Likewise when our own store holds entries of our log this version cannot read (an older
  version stored them): no member accepts them, and writing on would reuse their seqs.
- Not while our clock is far ahead of the federation: our HLC (persisted, so it may come
  from a clock fault) more than clock_skew_ms_max ahead of our wall clock, or our wall
  clock that far ahead of the median clock of the members heard from within
  clock_sample_ms_max (each sync session starts with the sender's clock). Every other
  member would refuse what we write until its clock got there.

The gate reads no clock: `now_ms` comes in with every call.
"""

from dataclasses import dataclass, field
from statistics import median_low

from . import limits
from .errors import CatchingUp, ClockAhead, IdentityForked, OwnLogUnreadable
from .hlc import wall_ms


@dataclass(slots=True)
class WriteGate:
    started_ms: int
    alone: bool  # no other member on the roster: nobody else can hold our log
    synced: bool = False  # a sync session with a member completed since start
    own_heads: dict[str, int] = field(default_factory=dict)  # peer -> our log's seq in its latest heads
    clocks: dict[str, tuple[int, int]] = field(default_factory=dict)  # peer -> (offset, when heard)
    unreadable_from: int | None = None  # our own log holds entries this version refuses, from this seq

    def heard_heads(self, peer: str, own_seq_there: int) -> None:
        """`peer`'s heads show our own log up to `own_seq_there` (0: not at all). One
        entry per roster member: bounded by the roster."""
        self.own_heads[peer] = own_seq_there

    def heard_clock(self, peer: str, their_now_ms: int, now_ms: int) -> None:
        self.clocks[peer] = (their_now_ms - now_ms, now_ms)

    def federation_offset_ms(self, now_ms: int) -> int | None:
        """How far the federation's clocks are from ours (negative: we are ahead)."""
        recent = [o for o, heard in self.clocks.values() if now_ms - heard <= limits.clock_sample_ms_max]
        return median_low(recent) if recent else None

    def check(self, own_seq: int, fork_seq: int | None, hlc: int, now_ms: int) -> None:
        """Raise a WriteRefused subclass naming why we may not write now."""
        if fork_seq is not None:
            raise IdentityForked.at(fork_seq)
        if self.unreadable_from is not None:
            raise OwnLogUnreadable(
                f"this node's own log holds entries from seq {self.unreadable_from} on that this version refuses "
                "(an older version stored them; they are set aside in the store's quarantine table) and no member "
                "accepts: writing on would reuse their seqs. Move this OC to a new identity (README, 'Forked "
                "or unreadable identity')."
            )
        ahead_ms = wall_ms(hlc) - now_ms
        if ahead_ms > limits.clock_skew_ms_max:
            raise ClockAhead(
                f"the clock stored with this node's log is {ahead_ms // 1000} s ahead of its wall clock (entries "
                "were written while the clock was ahead); the others refuse entries that far ahead. Check the "
                "system clock; see the README, 'Clock recovery'."
            )
        offset = self.federation_offset_ms(now_ms)
        if offset is not None and -offset > limits.clock_skew_ms_max:
            raise ClockAhead(
                f"this node's clock is {-offset // 1000} s ahead of the federation's (median of the members "
                "heard from): the others would refuse what it writes. Fix the system clock (NTP)."
            )
        ahead = max(self.own_heads.items(), key=lambda item: item[1], default=("", 0))
        if ahead[1] > own_seq:
            raise CatchingUp(
                f"member {ahead[0]} holds this node's own log up to seq {ahead[1]}, this node up to {own_seq}: "
                "fetching the rest before writing, or the log would fork"
            )
        waited = now_ms - self.started_ms >= limits.own_log_wait_ms
        if not (self.alone or self.synced or (own_seq > 0 and waited)):
            raise CatchingUp(
                "waiting for a first sync with a member, so as to hold the end of this node's own log before "
                "writing (a restored node must not fork it); try again shortly"
            )
