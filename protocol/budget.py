"""Per-peer budgets and penalties: how much a member may ask of us, and what follows when
it sends what we refuse. Pure: the node passes the time and applies the verdicts.

Rules:
- Each member has one token bucket per kind of input (gossip messages, sync sessions,
  chunk requests): `burst` tokens, refilled at `per_s`. An input that finds no token is
  dropped (throttled); honest load stays well inside the budgets (limits.py says why).
- Offences: every invalid input (one a decoder refused for a reason in OFFENCES) and
  every throttled gossip message adds one to the member's score (throttled sync sessions
  and chunk requests are dropped only: an honest catch-up bursts them, and retries). Refusals an honest member can
  cause are not offences: a clock far ahead (its operator fixes it), an author we do not
  know yet (roster changes reach members one by one), a newer format version. The score
  halves every `offence_half_life_ms`, so a rare bad message is forgotten and a stream of
  them is not.
- When the score reaches `offences_max` the member is banned: disconnected, and refused
  at the handshake until the ban ends. The n-th ban lasts ban_ms_min × 2^(n−1), at most
  ban_ms_max; the count of bans is forgiven after `ban_forgive_ms` without one.
- A member's state is small and bounded (one bucket per kind, a score, a ban): the
  roster bounds the members.
"""

from dataclasses import dataclass, field
from enum import StrEnum

from . import limits

OFFENCES = frozenset(
    {"malformed", "non_canonical", "invalid_field", "bad_signature", "too_large", "bad_chunk", "invalid"}
)


class Input(StrEnum):
    GOSSIP = "gossip"
    SYNC = "sync"
    CHUNKS = "chunks"
    COT = "cot"  # a TAK client's markers (node/standards/cot_stream.py), per connection


RATES: dict[Input, tuple[float, float]] = {  # per second, burst
    Input.GOSSIP: (limits.budget_gossip_per_s, limits.budget_gossip_burst),
    Input.SYNC: (limits.budget_sync_per_s, limits.budget_sync_burst),
    Input.CHUNKS: (limits.budget_chunks_per_s, limits.budget_chunks_burst),
    Input.COT: (limits.budget_cot_per_s, limits.budget_cot_burst),
}


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at_ms: int


@dataclass(slots=True)
class Standing:
    """One member's state: its buckets, its offence score and its bans."""

    buckets: dict[Input, _Bucket] = field(default_factory=dict)
    score: float = 0.0
    scored_ms: int = 0
    bans: int = 0
    banned_until_ms: int = 0
    last_ban_ms: int = 0
    throttled: int = 0
    offences: int = 0


class Budgets:
    def __init__(self) -> None:
        self._members: dict[str, Standing] = {}

    def standing(self, peer: str) -> Standing:
        held = self._members.get(peer)
        if held is None:
            held = self._members[peer] = Standing()
        return held

    def take(self, peer: str, kind: Input, now_ms: int) -> bool:
        """Spend one token of `kind`; False (throttled, an offence) if there is none."""
        per_s, burst = RATES[kind]
        member = self.standing(peer)
        bucket = member.buckets.get(kind)
        if bucket is None:
            bucket = member.buckets[kind] = _Bucket(burst, now_ms)
        bucket.tokens = min(burst, bucket.tokens + max(0, now_ms - bucket.at_ms) * per_s / 1000)
        bucket.at_ms = now_ms
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return True
        member.throttled += 1
        return False

    def offence(self, peer: str, now_ms: int) -> int | None:
        """Count an offence; the end of the ban (ms) if it bans the member now."""
        member = self.standing(peer)
        member.offences += 1
        elapsed = max(0, now_ms - member.scored_ms)
        member.score = member.score * 0.5 ** (elapsed / limits.offence_half_life_ms) + 1
        member.scored_ms = now_ms
        if member.score < limits.offences_max or now_ms < member.banned_until_ms:
            return None
        if now_ms - member.last_ban_ms > limits.ban_forgive_ms:
            member.bans = 0
        member.bans += 1
        length = min(limits.ban_ms_max, limits.ban_ms_min * 2 ** (member.bans - 1))
        member.banned_until_ms, member.last_ban_ms, member.score = now_ms + length, now_ms, 0.0
        return member.banned_until_ms

    def banned(self, peer: str, now_ms: int) -> bool:
        held = self._members.get(peer)
        return held is not None and now_ms < held.banned_until_ms
