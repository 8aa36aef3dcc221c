"""Hybrid logical clock (Kulkarni et al., 2014), packed into one uint64.

A timestamp is `ms << 16 | counter`: wall-clock milliseconds since the Unix epoch and a
16-bit logical counter. Packed timestamps order exactly as (ms, counter) pairs.

Rules:
- The clock never reads time itself: `now_ms` comes in as an argument.
- `tick` is called before creating a local event; `observe` when a remote timestamp
  arrives. Both keep the clock strictly monotonic.
- A remote timestamp more than `clock_skew_ms_max` ahead of `now_ms` is refused
  (ClockSkew) and leaves the clock untouched: one bad clock must not drag the others.
- When the counter would overflow, the clock moves to the next millisecond instead.
- The node persists `value` and restores it with `Hlc(value)`, so the clock stays
  monotonic across restarts even if the wall clock steps back.
"""

from . import limits
from .errors import ClockSkew

_COUNTER_BITS = 16


def pack(ms: int, counter: int) -> int:
    return (ms << _COUNTER_BITS) | counter


def wall_ms(timestamp: int) -> int:
    return timestamp >> _COUNTER_BITS


def check_skew(timestamp: int, now_ms: int) -> None:
    ahead_ms = wall_ms(timestamp) - now_ms
    if ahead_ms > limits.clock_skew_ms_max:
        raise ClockSkew(f"timestamp is {ahead_ms} ms ahead of our clock")


class Hlc:
    __slots__ = ("value",)

    def __init__(self, value: int = 0) -> None:
        self.value = value

    def _advance(self, candidate_ms: int, counter: int) -> int:
        if counter > limits.hlc_counter_max:
            candidate_ms, counter = candidate_ms + 1, 0
        new = pack(candidate_ms, counter)
        assert new > self.value, "HLC must be strictly monotonic"
        self.value = new
        return new

    def tick(self, now_ms: int) -> int:
        """Timestamp for a local event."""
        ms = wall_ms(self.value)
        if now_ms > ms:
            return self._advance(now_ms, 0)
        return self._advance(ms, (self.value & limits.hlc_counter_max) + 1)

    def observe(self, remote: int, now_ms: int) -> int:
        """Merge a remote timestamp; raises ClockSkew if it is too far ahead."""
        check_skew(remote, now_ms)
        ms, counter = wall_ms(self.value), self.value & limits.hlc_counter_max
        remote_ms, remote_counter = wall_ms(remote), remote & limits.hlc_counter_max
        top_ms = max(ms, remote_ms, now_ms)
        if top_ms == ms == remote_ms:
            return self._advance(top_ms, max(counter, remote_counter) + 1)
        if top_ms == ms:
            return self._advance(top_ms, counter + 1)
        if top_ms == remote_ms:
            return self._advance(top_ms, remote_counter + 1)
        return self._advance(top_ms, 0)
