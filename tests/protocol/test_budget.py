"""Per-peer budgets and penalties (protocol/budget.py)."""

from protocol import limits
from protocol.budget import Budgets, Input

T0 = 1_000_000


def test_a_member_within_its_budget_is_never_throttled():
    budgets = Budgets()
    per_s, _ = limits.budget_sync_per_s, limits.budget_sync_burst
    assert all(budgets.take("p", Input.SYNC, T0 + i * 1000 // per_s) for i in range(1000))


def test_a_burst_over_the_budget_is_throttled_and_tokens_come_back_with_time():
    budgets = Budgets()
    taken = [budgets.take("p", Input.SYNC, T0) for _ in range(limits.budget_sync_burst + 5)]
    assert taken.count(True) == limits.budget_sync_burst and budgets.standing("p").throttled == 5
    assert budgets.take("p", Input.SYNC, T0 + 1000)  # refilled at budget_sync_per_s
    assert budgets.take("q", Input.SYNC, T0)  # another member's budget is its own


def offend_until_banned(budgets: Budgets, start_ms: int) -> tuple[int, int]:
    """(offences it took, end of the ban), one offence a millisecond."""
    for n in range(1, 2 * limits.offences_max):
        until = budgets.offence("p", start_ms + n)
        if until is not None:
            return n, until - (start_ms + n)
    raise AssertionError("never banned")


def test_repeated_offences_ban_a_member_for_doubling_times_and_rare_ones_are_forgotten():
    budgets = Budgets()
    taken, length = offend_until_banned(budgets, T0)
    assert limits.offences_max <= taken <= limits.offences_max + 1 and length == limits.ban_ms_min
    assert budgets.banned("p", T0 + taken) and not budgets.banned("p", T0 + taken + length)
    _, second = offend_until_banned(budgets, T0 + taken + length)
    assert second == 2 * limits.ban_ms_min
    calm = Budgets()
    for hour in range(200):  # one bad message an hour is never a ban
        assert calm.offence("r", T0 + hour * 3600 * 1000) is None
