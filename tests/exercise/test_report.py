"""The after-action report (exercise/report.py), built from a small run of signed entries:
three OCs (BE, the controller, CZ and DE), receipts and acks at known times."""

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exercise.conduct import Run
from exercise.msel import parse
from exercise.report import Exercise, Item, build, exercise_items, incident_items, percentiles
from protocol.body import Ack, AckLevel, Comment, Media, Open, Update
from protocol.entry import Entry, create
from protocol.hlc import pack
from protocol.roster import Member
from tests.protocol.factories import NOW_MS, open_body, roster_of

T0 = NOW_MS  # STARTEX
NAME = "drill-report"
BE, CZ, DE = 0, 1, 2  # roster_of(3) gives identities 0, 1, 2 the countries BE, CZ, DE

MSEL = b"""
[exercise]
name = "drill-report"
title = "A report drill"
version = 1
controller = "BE"
participants = ["BE", "CZ", "DE"]
duration = "01:00:00"
objectives = ["Acknowledge every inject within 5 minutes"]
briefing = "A device, then a chase."

[[inject]]
id = "M01"
at = "00:00:00"
to = "all"
kind = "incident"
title = "Device found at Brussels-Midi"
category = "cbrne"
severity = "critical"
expected = ["Every OC: acknowledge"]

[[inject]]
id = "M02"
at = "00:05:00"
to = ["CZ"]
kind = "update"
incident = "M01"
severity = "high"
expected = ["CZ: acknowledge the update"]

[[inject]]
id = "M03"
at = "00:10:00"
to = "all"
kind = "message"
text = "All OCs: report your readiness."
expected = ["Every OC: answer"]

[[inject]]
id = "M04"
at = "00:15:00"
to = ["CZ", "DE"]
kind = "media"
incident = "M01"
attachments = ["files/map.png", "files/route.png"]
expected = ["DE: look at the route"]

[[inject]]
id = "M05"
at = "00:20:00"
to = ["DE"]
kind = "incident"
title = "Car chase on the A3"
category = "manhunt"
severity = "high"
expected = ["DE: acknowledge"]

[[inject]]
id = "M06"
at = "00:25:00"
to = ["DE"]
kind = "message"
incident = "M05"
text = "The car left the motorway at Aachen."
expected = ["DE: pass it on"]

[[inject]]
id = "M07"
at = "00:50:00"
to = "all"
kind = "message"
text = "ENDEX in ten minutes."
expected = ["Every OC: acknowledge"]
"""


def media_body(incident: bytes, name: str) -> Media:
    digest = hashlib.sha256(name.encode()).digest()
    return Media(incident, name, "image/png", 10, 10, (digest,), digest)


class World:
    """Three OCs' logs: signs entries at known wall times and keeps them."""

    def __init__(self, exercise: str | None = NAME) -> None:
        self.identities, self.roster = roster_of(3)
        self.members: list[Member] = list(self.roster)
        assert [m.country for m in self.members] == ["BE", "CZ", "DE"]
        self.exercise = exercise
        self.heads: dict[int, tuple[int, bytes | None]] = {}
        self.entries: list[Entry] = []

    def key(self, who: int) -> bytes:
        return self.identities[who].public_key

    def member(self, who: int) -> Member:
        return self.members[who]

    def keys(self, countries) -> tuple[bytes, ...]:
        return tuple(m.public_key for m in self.members if m.country in countries)

    def sign(self, who: int, at_ms: int, body, to=()) -> Entry:
        seq, prev = self.heads.get(who, (0, None))
        entry = create(self.identities[who], seq + 1, prev, pack(T0 + at_ms, 0), body, self.exercise, None, to)
        self.heads[who] = (seq + 1, entry.id)
        self.entries.append(entry)
        return entry

    def ack(self, who: int, at_ms: int, entry: Entry, level: AckLevel) -> Entry:
        return self.sign(who, at_ms, Ack(entry.incident, entry.id, level))


class Drill(World):
    """The run: BE conducts it; its node releases the injects, the others answer."""

    def __init__(self) -> None:
        super().__init__()
        self.run = Run(parse(MSEL))
        msel = self.run.msel
        control = self.sign(BE, 0, Open(open_body(msel.control_title).registers), self.keys(msel.participants))
        self.run.start(T0, control.id)

    def release(self, inject_id: str, index: int, at_ms: int, body) -> Entry:
        inject = self.run.msel.inject(inject_id)
        entry = self.sign(BE, at_ms, body, self.keys(inject.to))
        self.run.done[(inject_id, index)] = entry.id
        return entry

    def exercise_ref(self) -> Exercise:
        msel = self.run.msel
        return {
            "name": msel.name,
            "title": msel.title,
            "controller": msel.controller,
            "participants": list(msel.participants),
            "objectives": list(msel.objectives),
            "startex_ms": self.run.started_ms,
            "endex_ms": self.run.ended_ms,
        }

    def report(self, events=(), generated_ms: int = T0 + 3_600_000):
        items = exercise_items(self.run)
        me = self.member(BE)
        return build("exercise", self.exercise_ref(), None, items, self.entries, self.members, events, me, generated_ms)


def drill() -> tuple[Drill, dict[str, Entry]]:
    d = Drill()
    msel = d.run.msel
    e: dict[str, Entry] = {}
    e["M01"] = d.release("M01", 0, 1_000, msel.inject("M01").body(None))
    incident = e["M01"].id
    d.ack(CZ, 3_000, e["M01"], AckLevel.DELIVERED)
    d.ack(DE, 5_000, e["M01"], AckLevel.DELIVERED)
    d.ack(CZ, 10_000, e["M01"], AckLevel.NOTED)
    d.ack(CZ, 15_000, e["M01"], AckLevel.NOTED)  # a second note: the earliest counts
    e["CZ on M01"] = d.sign(CZ, 21_000, Comment(incident, "Czech police alerted"), d.keys(msel.inject("M01").to))

    e["M02"] = d.release("M02", 0, 300_000, msel.inject("M02").body(incident))
    d.ack(CZ, 301_000, e["M02"], AckLevel.DELIVERED)
    d.ack(CZ, 303_000, e["M02"], AckLevel.NOTED)
    e["CZ on M02"] = d.sign(CZ, 310_000, Comment(incident, "Border posts told"), d.keys(msel.inject("M02").to))

    e["M03"] = d.release("M03", 0, 600_000, msel.inject("M03").body(d.run.control))
    d.ack(CZ, 600_500, e["M03"], AckLevel.DELIVERED)
    d.ack(DE, 601_000, e["M03"], AckLevel.DELIVERED)
    d.ack(DE, 660_000, e["M03"], AckLevel.NOTED)
    d.sign(DE, 700_000, Comment(d.run.control, "DE ready"), d.keys(msel.participants))

    e["M04 map"] = d.release("M04", 1, 900_000, media_body(incident, "map.png"))
    e["M04 route"] = d.release("M04", 2, 900_100, media_body(incident, "route.png"))
    d.ack(CZ, 902_000, e["M04 route"], AckLevel.DELIVERED)  # a receipt of any of its entries
    d.ack(DE, 904_000, e["M04 route"], AckLevel.DELIVERED)
    d.ack(DE, 903_000, e["M04 map"], AckLevel.DELIVERED)
    d.ack(DE, 950_000, e["M04 route"], AckLevel.NOTED)

    assert d.run.skip("M05") == ["M05", "M06"]
    return d, e


@pytest.fixture(scope="module")
def run_report():
    d, e = drill()
    return d, e, d.report()


def inject(report, inject_id: str):
    return next(i for i in report["injects"] if i["id"] == inject_id)


def target(report, inject_id: str, country: str):
    return next(t for t in inject(report, inject_id)["targets"] if t["country"] == country)


def times(report, inject_id: str, country: str):
    t = target(report, inject_id, country)
    return tuple(None if t[k] is None else t[k] - T0 for k in ("delivered_ms", "acknowledged_ms", "responded_ms"))


def per_oc(report, country: str):
    return next(p for p in report["per_oc"] if p["country"] == country)


# --- nearest-rank percentiles ---


def test_percentiles_of_one_to_a_hundred_are_the_values_at_their_ranks():
    assert percentiles(list(range(1, 101))) == {"n": 100, "p50_ms": 50, "p99_ms": 99, "max_ms": 100}


def test_percentiles_of_nothing_are_none():
    assert percentiles([]) is None


def test_percentiles_of_one_delay_are_that_delay():
    assert percentiles([7]) == {"n": 1, "p50_ms": 7, "p99_ms": 7, "max_ms": 7}


def test_percentiles_sort_the_delays_first_and_round_the_rank_up():
    assert percentiles([20, 10]) == {"n": 2, "p50_ms": 10, "p99_ms": 20, "max_ms": 20}
    assert percentiles([5, 3, 9, 1, 7]) == {"n": 5, "p50_ms": 5, "p99_ms": 9, "max_ms": 9}
    assert percentiles(list(range(10, 0, -1))) == {"n": 10, "p50_ms": 5, "p99_ms": 10, "max_ms": 10}


@given(st.lists(st.integers(0, 10**7), min_size=1, max_size=300))
def test_a_nearest_rank_percentile_is_the_least_delay_with_that_share_at_or_below_it(delays):
    figures = percentiles(delays)
    assert figures is not None
    assert figures["n"] == len(delays)
    assert figures["max_ms"] == max(delays)
    for p, key in ((50, "p50_ms"), (99, "p99_ms")):
        value = figures[key]
        assert value in delays
        assert 100 * sum(d <= value for d in delays) >= p * len(delays)
        assert 100 * sum(d < value for d in delays) < p * len(delays)


# --- the items of a run ---


def test_a_runs_items_are_its_injects_with_their_entries_in_step_order():
    d, e = drill()
    items = {item.id: item for item in exercise_items(d.run)}
    assert list(items) == ["M01", "M02", "M03", "M04", "M05", "M06", "M07"]
    assert items["M01"] == Item(
        "M01",
        "Device found at Brussels-Midi",
        "incident",
        "released",
        (e["M01"].id,),
        e["M01"].id,
        ("BE", "CZ", "DE"),
        ("Every OC: acknowledge",),
    )
    assert items["M04"].entries == (e["M04 map"].id, e["M04 route"].id)
    assert items["M04"].incident == e["M01"].id
    assert items["M03"].incident == d.run.control
    assert (items["M05"].state, items["M06"].state, items["M07"].state) == ("skipped", "skipped", "pending")
    assert items["M07"].entries == ()


def test_a_partly_released_inject_is_an_item_released_with_the_entries_out():
    d = Drill()
    released = d.release("M04", 1, 1_000, media_body(b"\x01" * 32, "map.png"))
    item = next(i for i in exercise_items(d.run) if i.id == "M04")
    assert (item.state, item.entries) == ("released", (released.id,))


# --- the exercise report ---


def test_the_report_carries_what_it_was_given(run_report):
    d, _, report = run_report
    assert report["kind"] == "exercise"
    assert report["exercise"] == d.exercise_ref()
    assert report["incident"] is None
    assert report["generated_ms"] == T0 + 3_600_000
    assert report["members"] == [
        {"country": "BE", "name": "OC BE 0"},
        {"country": "CZ", "name": "OC CZ 1"},
        {"country": "DE", "name": "OC DE 2"},
    ]


def test_each_inject_is_reported_in_msel_order_with_its_title_kind_and_targets(run_report):
    _, _, report = run_report
    assert [(i["id"], i["title"], i["kind"], i["to"]) for i in report["injects"]] == [
        ("M01", "Device found at Brussels-Midi", "incident", ["BE", "CZ", "DE"]),
        ("M02", "M02", "update", ["CZ"]),
        ("M03", "All OCs: report your readiness.", "message", ["BE", "CZ", "DE"]),
        ("M04", "M04", "media", ["CZ", "DE"]),
        ("M05", "Car chase on the A3", "incident", ["DE"]),
        ("M06", "The car left the motorway at Aachen.", "message", ["DE"]),
        ("M07", "ENDEX in ten minutes.", "message", ["BE", "CZ", "DE"]),
    ]
    assert inject(report, "M02")["expected"] == ["CZ: acknowledge the update"]


def test_an_inject_is_released_at_the_hlc_of_its_first_entry(run_report):
    _, e, report = run_report
    for inject_id, first, at_ms in (("M01", "M01", 1_000), ("M02", "M02", 300_000), ("M04", "M04 map", 900_000)):
        found = inject(report, inject_id)
        assert found["state"] == "released"
        assert found["released_ms"] == T0 + at_ms
        assert found["entry"] == e[first].id.hex()


def test_each_target_oc_has_its_earliest_receipt_note_and_response(run_report):
    _, _, report = run_report
    assert times(report, "M01", "CZ") == (3_000, 10_000, 21_000)
    assert times(report, "M01", "DE") == (5_000, None, None)
    assert times(report, "M02", "CZ") == (301_000, 303_000, 310_000)
    assert times(report, "M03", "CZ") == (600_500, None, None)
    assert times(report, "M03", "DE") == (601_000, 660_000, 700_000)
    assert [t["country"] for t in inject(report, "M03")["targets"]] == ["BE", "CZ", "DE"]


def test_a_delivery_receipt_of_any_of_an_injects_entries_counts(run_report):
    _, _, report = run_report
    assert times(report, "M04", "CZ") == (902_000, None, None)  # its second attachment's only
    assert times(report, "M04", "DE") == (903_000, 950_000, None)  # its first's, the earlier


def test_the_controllers_own_oc_has_an_inject_at_its_release(run_report):
    _, _, report = run_report
    for inject_id in ("M01", "M03"):
        be = target(report, inject_id, "BE")
        assert be["delivered_ms"] == inject(report, inject_id)["released_ms"]
        assert be["acknowledged_ms"] is None


def test_a_response_is_an_entry_of_the_oc_after_the_release_not_an_ack(run_report):
    _, _, report = run_report
    # CZ's comment at 21 s answers M01; the one at 310 s comes after M02 and answers it too,
    # but M01's first response stays the earlier one. The acks before it are no response.
    assert target(report, "M01", "CZ")["responded_ms"] == T0 + 21_000
    assert target(report, "M02", "CZ")["responded_ms"] == T0 + 310_000


def test_skipped_and_pending_injects_have_no_release_and_no_targets(run_report):
    _, _, report = run_report
    for inject_id, state in (("M05", "skipped"), ("M06", "skipped"), ("M07", "pending")):
        found = inject(report, inject_id)
        assert (found["state"], found["released_ms"], found["entry"], found["targets"]) == (state, None, None, [])


def test_unacknowledged_lists_every_released_inject_and_target_without_a_note(run_report):
    _, _, report = run_report
    assert [(u["inject"], u["country"]) for u in report["unacknowledged"]] == [
        ("M01", "BE"),
        ("M01", "DE"),
        ("M03", "BE"),
        ("M03", "CZ"),
        ("M04", "CZ"),
    ]


def test_per_oc_figures_are_the_delays_after_release(run_report):
    _, _, report = run_report
    assert [p["country"] for p in report["per_oc"]] == ["BE", "CZ", "DE"]
    cz = per_oc(report, "CZ")
    assert (cz["targeted"], cz["delivered"], cz["acknowledged"], cz["responded"]) == (4, 4, 2, 2)
    assert cz["delivery"] == {"n": 4, "p50_ms": 1_000, "p99_ms": 2_000, "max_ms": 2_000}  # 2, 1, 0.5, 2 s
    assert cz["acknowledgement"] == {"n": 2, "p50_ms": 3_000, "p99_ms": 9_000, "max_ms": 9_000}
    assert cz["response"] == {"n": 2, "p50_ms": 10_000, "p99_ms": 20_000, "max_ms": 20_000}
    de = per_oc(report, "DE")
    assert (de["targeted"], de["delivered"], de["acknowledged"], de["responded"]) == (3, 3, 2, 1)
    assert de["delivery"] == {"n": 3, "p50_ms": 3_000, "p99_ms": 4_000, "max_ms": 4_000}  # 4, 1, 3 s
    assert de["acknowledgement"] == {"n": 2, "p50_ms": 50_000, "p99_ms": 60_000, "max_ms": 60_000}
    assert de["response"] == {"n": 1, "p50_ms": 100_000, "p99_ms": 100_000, "max_ms": 100_000}


def test_the_controllers_oc_is_delivered_everything_at_once(run_report):
    _, _, report = run_report
    be = per_oc(report, "BE")
    assert (be["targeted"], be["delivered"], be["acknowledged"]) == (2, 2, 0)
    assert be["delivery"] == {"n": 2, "p50_ms": 0, "p99_ms": 0, "max_ms": 0}
    assert be["acknowledgement"] is None


def test_a_receipt_stamped_before_the_release_by_a_skewed_clock_is_no_delay():
    d = Drill()
    released = d.release("M03", 0, 600_000, d.run.msel.inject("M03").body(d.run.control))
    d.ack(CZ, 599_000, released, AckLevel.DELIVERED)  # CZ's clock is a second behind
    report = d.report()
    assert target(report, "M03", "CZ")["delivered_ms"] == T0 + 599_000
    assert per_oc(report, "CZ")["delivery"] == {"n": 1, "p50_ms": 0, "p99_ms": 0, "max_ms": 0}


def test_an_inject_whose_first_entry_is_not_held_has_no_release_time():
    d, e = drill()
    entries = [x for x in d.entries if x.id != e["M02"].id]
    items = exercise_items(d.run)
    report = build("exercise", d.exercise_ref(), None, items, entries, d.members, [], d.member(BE), T0)
    assert (inject(report, "M02")["released_ms"], inject(report, "M02")["targets"]) == (None, [])


def test_a_later_inject_of_the_controller_is_not_its_ocs_response_to_an_earlier_one(run_report):
    _, _, report = run_report
    assert target(report, "M01", "BE")["responded_ms"] is None
    assert per_oc(report, "BE")["response"] is None


# --- link failures ---


def test_link_failures_pair_each_down_with_the_next_up_and_a_down_without_up_stays_open():
    d, _ = drill()
    cz, de = d.member(CZ).peer_id, d.member(DE).peer_id
    events = [
        (cz, False, T0 + 100_000),
        (cz, False, T0 + 110_000),  # still down: no second failure
        (de, True, T0 + 120_000),  # up without a down: nothing
        (cz, True, T0 + 160_000),
        ("12D3KooWstranger", False, T0 + 200_000),
        (cz, False, T0 + 500_000),
        (cz, True, T0 + 520_000),
        (de, False, T0 + 800_000),
    ]
    assert d.report(events)["link_failures"] == [
        {"country": "BE", "peer_country": "CZ", "down_ms": T0 + 100_000, "up_ms": T0 + 160_000},
        {"country": "BE", "peer_country": "12D3KooWstranger", "down_ms": T0 + 200_000, "up_ms": None},
        {"country": "BE", "peer_country": "CZ", "down_ms": T0 + 500_000, "up_ms": T0 + 520_000},
        {"country": "BE", "peer_country": "DE", "down_ms": T0 + 800_000, "up_ms": None},
    ]


def test_no_peer_events_no_link_failures(run_report):
    _, _, report = run_report
    assert report["link_failures"] == []


# --- a real incident ---


def real_incident() -> tuple[World, dict[str, Entry]]:
    w = World(exercise=None)
    e: dict[str, Entry] = {}
    e["open"] = w.sign(BE, 0, open_body())
    incident = e["open"].id
    w.ack(CZ, 5_000, e["open"], AckLevel.NOTED)
    e["comment"] = w.sign(CZ, 8_000, Comment(incident, "CZ: no such device known here"))
    e["update"] = w.sign(DE, 12_000, Update(incident, tags_add=("checked",)))
    w.ack(DE, 20_000, e["open"], AckLevel.NOTED)
    return w, e


def test_a_real_incidents_items_are_its_entries_but_acks_each_aimed_at_every_other_oc():
    w, e = real_incident()
    items = incident_items(reversed(w.entries), w.members)  # in order of their HLCs, whatever given
    incident = e["open"].id
    assert items == [
        Item(e["open"].id.hex()[:12], "open by BE", "open", "released", (e["open"].id,), incident, ("CZ", "DE")),
        Item(
            e["comment"].id.hex()[:12],
            "comment by CZ",
            "comment",
            "released",
            (e["comment"].id,),
            incident,
            ("BE", "DE"),
        ),
        Item(
            e["update"].id.hex()[:12],
            "update by DE",
            "update",
            "released",
            (e["update"].id,),
            incident,
            ("BE", "CZ"),
        ),
    ]


def test_a_real_incidents_report_times_each_ocs_notes_and_answers():
    w, e = real_incident()
    items = incident_items(w.entries, w.members)
    exercise: Exercise = {
        "name": "",
        "title": "Device found at Brussels-Midi",
        "controller": None,
        "participants": ["BE", "CZ", "DE"],
        "objectives": [],
        "startex_ms": None,
        "endex_ms": None,
    }
    ref = {"id": e["open"].id.hex(), "title": "Device found at Brussels-Midi"}
    report = build("incident", exercise, ref, items, w.entries, w.members, [], w.member(CZ), T0 + 60_000)
    assert (report["kind"], report["incident"], report["exercise"]) == ("incident", ref, exercise)
    opening = report["injects"][0]
    assert (opening["title"], opening["released_ms"], opening["entry"]) == ("open by BE", T0, e["open"].id.hex())
    # no receipts (it was addressed to no one): delivered no later than noted
    assert times(report, opening["id"], "CZ") == (5_000, 5_000, 8_000)
    assert times(report, opening["id"], "DE") == (20_000, 20_000, 12_000)
    comment = report["injects"][1]["id"]
    assert times(report, comment, "DE") == (None, None, 12_000)
    assert times(report, comment, "BE") == (None, None, None)
    assert [(u["inject"], u["country"]) for u in report["unacknowledged"]] == [
        (comment, "BE"),
        (comment, "DE"),
        (report["injects"][2]["id"], "BE"),
        (report["injects"][2]["id"], "CZ"),
    ]
    assert [(p["country"], p["targeted"], p["acknowledged"], p["responded"]) for p in report["per_oc"]] == [
        ("BE", 2, 0, 0),
        ("CZ", 2, 1, 1),
        ("DE", 2, 1, 2),
    ]
    assert per_oc(report, "DE")["response"] == {"n": 2, "p50_ms": 4_000, "p99_ms": 12_000, "max_ms": 12_000}
