import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import limits
from protocol.errors import ClockSkew
from protocol.hlc import Hlc, pack, wall_ms

from .factories import NOW_MS


def test_ticks_are_strictly_monotonic_even_when_the_wall_clock_steps_back():
    clock = Hlc()
    stamps = [clock.tick(t) for t in (NOW_MS, NOW_MS, NOW_MS - 5000, NOW_MS + 1, NOW_MS + 1)]
    assert stamps == sorted(set(stamps))


def test_observing_a_remote_stamp_moves_past_it():
    clock = Hlc()
    remote = pack(NOW_MS + 1000, 7)
    assert clock.observe(remote, NOW_MS) > remote
    assert clock.tick(NOW_MS) > remote


def test_a_stamp_beyond_the_skew_limit_is_refused_and_leaves_the_clock_alone():
    clock = Hlc()
    before = clock.tick(NOW_MS)
    with pytest.raises(ClockSkew):
        clock.observe(pack(NOW_MS + limits.clock_skew_ms_max + 1, 0), NOW_MS)
    assert clock.value == before


def test_counter_overflow_moves_to_the_next_millisecond():
    clock = Hlc(pack(NOW_MS, limits.hlc_counter_max))
    assert clock.tick(NOW_MS) == pack(NOW_MS + 1, 0)


def test_the_clock_survives_a_restart_through_its_value():
    clock = Hlc()
    last = clock.tick(NOW_MS + 10)
    assert Hlc(clock.value).tick(NOW_MS) > last


@given(st.lists(st.tuples(st.booleans(), st.integers(-10_000, 10_000), st.integers(0, 50)), max_size=60))
def test_any_mix_of_ticks_and_observations_stays_monotonic(events):
    clock = Hlc()
    last = 0
    for is_tick, offset, counter in events:
        now = NOW_MS + offset
        stamp = clock.tick(now) if is_tick else clock.observe(pack(now + offset // 2, counter), now)
        assert stamp > last
        assert wall_ms(stamp) >= now - 10_000
        last = stamp
