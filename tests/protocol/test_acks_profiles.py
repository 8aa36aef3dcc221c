"""Addressed entries, acknowledgements and self-assessment profiles (SPEC §3 key 9, §4)."""

import pytest

from protocol.body import Ack, AckLevel, Answer, Comment, Profile
from protocol.entry import create, decode
from protocol.errors import InvalidField

from .factories import NOW_MS, open_body, replicas, roster_of


def deliver(entry, *to):
    for replica in to:
        replica.receive(entry, NOW_MS)


def test_an_addressed_entry_is_shown_only_to_its_addressees_and_its_author():
    a, b, c = replicas(3)
    opening = a.write(open_body(), NOW_MS, "drill", to=(b.me,))
    deliver(opening, b, c)
    assert opening.incident in a.visible_incidents()
    assert opening.incident in b.visible_incidents()
    assert opening.incident not in c.visible_incidents()
    assert c.store.holds(opening.id)  # stored and relayed all the same


def test_answers_on_an_addressed_incident_go_to_its_addressees_and_its_author():
    a, b, c = replicas(3)
    opening = a.write(open_body(), NOW_MS, "drill", to=(b.me,))
    deliver(opening, b, c)
    answer = b.write(Comment(opening.incident, "Received, tasking patrols"), NOW_MS, "drill")
    assert answer.to == tuple(sorted([a.me, b.me]))
    deliver(answer, a, c)
    assert len(a.incidents[opening.incident].view()["comments"]) == 1
    assert opening.incident not in c.incidents  # nothing of it folded at a non-addressee


def test_addressees_are_sorted_and_unique_on_the_wire_and_decoding_refuses_any_other_order():
    ids, roster = roster_of(3)
    entry = create(ids[0], 1, None, NOW_MS << 16, open_body(), to=(ids[2].public_key, ids[1].public_key))
    assert decode(entry.signed, roster).to == tuple(sorted([ids[1].public_key, ids[2].public_key]))


def test_an_ack_counts_each_oc_and_level_once_at_its_first_note():
    a, b = replicas(2)
    opening = a.write(open_body(), NOW_MS, None)
    deliver(opening, b)
    first = b.write(Ack(opening.incident, opening.id, AckLevel.NOTED), NOW_MS + 1000)
    b.write(Ack(opening.incident, opening.id, AckLevel.NOTED), NOW_MS + 5000)
    receipt = b.write(Ack(opening.incident, opening.id, AckLevel.DELIVERED), NOW_MS + 6000)
    acks = b.incidents[opening.incident].view()["acks"][opening.id]
    assert acks[(b.me, AckLevel.NOTED)] == first
    assert acks[(b.me, AckLevel.DELIVERED)] == receipt


def test_acks_do_not_count_as_changes_to_the_incident():
    (a,) = replicas(1)
    opening = a.write(open_body(), NOW_MS, None)
    a.write(Ack(opening.incident, opening.id, AckLevel.NOTED), NOW_MS + 60_000)
    assert a.incidents[opening.incident].updated_hlc == opening.hlc


def test_an_ack_level_other_than_delivered_or_noted_is_refused():
    with pytest.raises(InvalidField, match="level"):
        Ack(bytes(32), bytes(32), 3)  # type: ignore[arg-type]


def test_the_latest_profile_of_each_member_is_its_current_one_and_the_earlier_ones_stay():
    a, b = replicas(2)
    first = a.write(Profile("qroc-oc-capabilities/1", (Answer("staffing", 2, 4, "two shifts"),)), NOW_MS)
    second = a.write(Profile("qroc-oc-capabilities/1", (Answer("staffing", 3, 4),)), NOW_MS + 1000)
    deliver(first, b)
    deliver(second, b)
    assert b.current_profiles() == {a.me: second}
    assert b.profiles[a.me] == [first, second]
    assert not b.visible_incidents()  # a profile opens nothing


def test_a_profile_answers_each_area_once_within_the_level_scale():
    with pytest.raises(InvalidField, match="twice"):
        Profile("q/1", (Answer("staffing", 1, 2), Answer("staffing", 2, 3)))
    with pytest.raises(InvalidField, match="level"):
        Answer("staffing", 10, 2)
    with pytest.raises(InvalidField, match="1 to"):
        Profile("q/1", ())
