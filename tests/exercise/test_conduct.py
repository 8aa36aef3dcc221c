"""The controller's run state machine (exercise/conduct.py): phases, play time, what is
due, release steps, skips and early publication, as its docstring states them."""

import contextlib
import hashlib
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exercise.conduct import ConductError, Phase, Run, Step, steps_of
from exercise.msel import Msel, parse
from tests.protocol.factories import NOW_MS

MINUTE = 60_000
CONTROL = b"\xcc" * 32

MSEL = b"""
[exercise]
name = "drill-conduct"
title = "A conduct drill"
version = 1
controller = "BE"
participants = ["BE", "CZ", "DE"]
duration = "01:00:00"
objectives = ["Release every inject on time"]
briefing = "A device, then a chase."

[[inject]]
id = "M01"
at = "00:00:00"
to = "all"
kind = "incident"
title = "Device found at Brussels-Midi"
category = "cbrne"
severity = "critical"
attachments = ["files/photo.png"]
expected = ["BE: acknowledge"]

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
to = ["BE", "DE"]
kind = "media"
incident = "M01"
attachments = ["files/map.png", "files/route.png"]
expected = ["DE: look at the route"]

[[inject]]
id = "M05"
at = "00:20:00"
to = ["DE"]
kind = "media"
incident = "M01"
text = "A still from the station's CCTV"
attachments = ["files/cctv.png"]
expected = ["DE: share the still"]

[[inject]]
id = "M06"
at = "00:30:00"
to = ["DE"]
kind = "incident"
title = "Car chase on the A3"
category = "manhunt"
severity = "high"
expected = ["DE: acknowledge"]

[[inject]]
id = "M07"
at = "00:40:00"
to = ["DE"]
kind = "message"
incident = "M06"
text = "The car left the motorway at Aachen."
expected = ["DE: pass it on"]
"""


def msel() -> Msel:
    return parse(MSEL)


def entry_id(step: Step) -> bytes:
    return hashlib.blake2b(f"{step.inject}/{step.index}".encode(), digest_size=32).digest()


def started(at_ms: int = NOW_MS) -> Run:
    run = Run(msel())
    run.start(at_ms, CONTROL)
    return run


def mark(run: Run, *steps: Step) -> None:
    for step in steps:
        run.done[(step.inject, step.index)] = entry_id(step)


def release(run: Run, now_ms: int) -> list[Step]:
    """Take every step due at `now_ms`, as the node does, until none is left."""
    taken: list[Step] = []
    while steps := run.due(now_ms):
        mark(run, *steps)
        taken += steps
    return taken


def ids(steps: list[Step]) -> list[tuple[str, int]]:
    return [(s.inject, s.index) for s in steps]


def step(inject: str, index: int) -> Step:
    attachment = None if index == 0 else msel().inject(inject).attachments[index - 1]
    return Step(inject, index, attachment)


# --- phases ---


def test_a_new_run_is_ready_with_no_play_time_and_no_control_incident():
    run = Run(msel())
    assert run.phase is Phase.READY
    assert run.play_ms(NOW_MS) == 0
    assert run.control is None and run.started_ms is None


def test_startex_makes_a_ready_run_running_and_keeps_the_control_incident():
    run = started()
    assert run.phase is Phase.RUNNING
    assert (run.started_ms, run.control) == (NOW_MS, CONTROL)


def test_pause_and_resume_alternate_between_running_and_paused():
    run = started()
    for n in range(3):
        run.pause(NOW_MS + (2 * n + 1) * MINUTE)
        assert run.phase is Phase.PAUSED
        run.resume(NOW_MS + (2 * n + 2) * MINUTE)
        assert run.phase is Phase.RUNNING


@pytest.mark.parametrize("paused", [False, True], ids=["running", "paused"])
def test_endex_ends_a_running_or_a_paused_run(paused):
    run = started()
    if paused:
        run.pause(NOW_MS + MINUTE)
    run.end(NOW_MS + 2 * MINUTE)
    assert run.phase is Phase.ENDED
    assert run.ended_ms == NOW_MS + 2 * MINUTE
    assert run.paused_at_ms is None


def in_phase(phase: Phase) -> Run:
    run = Run(msel())
    if phase is not Phase.READY:
        run.start(NOW_MS, CONTROL)
    if phase is Phase.PAUSED:
        run.pause(NOW_MS + MINUTE)
    if phase is Phase.ENDED:
        run.end(NOW_MS + MINUTE)
    return run


ACTIONS = {
    "start": lambda run: run.start(NOW_MS + 2 * MINUTE, CONTROL),
    "pause": lambda run: run.pause(NOW_MS + 2 * MINUTE),
    "resume": lambda run: run.resume(NOW_MS + 2 * MINUTE),
    "end": lambda run: run.end(NOW_MS + 2 * MINUTE),
    "publish": lambda run: run.publish("M03"),
    "skip": lambda run: run.skip("M03"),
}
REFUSED = [
    (Phase.READY, "pause"),
    (Phase.READY, "resume"),
    (Phase.READY, "publish"),
    # conduct.py's docstring says "ENDEX may come from any phase but ended", but `end`
    # refuses a ready run, and node/exercise/conductor.py relies on that (it asserts the
    # control incident, opened at STARTEX, exists). This pins the code's behaviour.
    (Phase.READY, "end"),
    (Phase.RUNNING, "start"),
    (Phase.RUNNING, "resume"),
    (Phase.PAUSED, "start"),
    (Phase.PAUSED, "pause"),
    *((Phase.ENDED, action) for action in ACTIONS),
]


@pytest.mark.parametrize(("phase", "action"), REFUSED, ids=[f"{p.value}-{a}" for p, a in REFUSED])
def test_an_action_out_of_phase_is_refused_and_changes_nothing(phase, action):
    run = in_phase(phase)
    before = (run.phase, run.started_ms, run.paused_at_ms, run.ended_ms, set(run.published), set(run.skipped))
    with pytest.raises(ConductError, match=f"the exercise is {phase.value}"):
        ACTIONS[action](run)
    assert (run.phase, run.started_ms, run.paused_at_ms, run.ended_ms, run.published, run.skipped) == before


ALLOWED = [
    (Phase.READY, "start"),
    (Phase.READY, "skip"),
    (Phase.RUNNING, "pause"),
    (Phase.RUNNING, "end"),
    (Phase.RUNNING, "publish"),
    (Phase.RUNNING, "skip"),
    (Phase.PAUSED, "resume"),
    (Phase.PAUSED, "end"),
    (Phase.PAUSED, "publish"),
    (Phase.PAUSED, "skip"),
]


@pytest.mark.parametrize(("phase", "action"), ALLOWED, ids=[f"{p.value}-{a}" for p, a in ALLOWED])
def test_an_action_in_phase_is_accepted(phase, action):
    ACTIONS[action](in_phase(phase))


def test_a_refusal_names_the_action_and_the_phase():
    with pytest.raises(ConductError) as caught:
        Run(msel()).pause(NOW_MS)
    assert str(caught.value) == "cannot pause: the exercise is ready"


def test_nothing_follows_endex_not_even_a_second_endex():
    run = in_phase(Phase.ENDED)
    with pytest.raises(ConductError, match="cannot end"):
        run.end(NOW_MS + 5 * MINUTE)
    assert run.ended_ms == NOW_MS + MINUTE


@pytest.mark.parametrize("action", ["publish", "skip"])
def test_an_unknown_inject_is_refused_by_name(action):
    run = started()
    with pytest.raises(ConductError, match="no inject 'M99' in drill-conduct"):
        getattr(run, action)("M99")


def test_conduct_error_is_a_value_error():
    assert issubclass(ConductError, ValueError)


# --- play time ---


def test_play_time_is_zero_before_startex_whatever_the_wall_clock():
    run = Run(msel())
    assert run.play_ms(NOW_MS + 90 * MINUTE) == 0


def test_play_time_is_wall_time_since_startex():
    run = started()
    assert run.play_ms(NOW_MS) == 0
    assert run.play_ms(NOW_MS + 7 * MINUTE + 123) == 7 * MINUTE + 123


def test_play_time_never_goes_negative_when_the_wall_clock_steps_back():
    assert started().play_ms(NOW_MS - MINUTE) == 0


def test_play_time_stands_still_while_paused():
    run = started()
    run.pause(NOW_MS + 3 * MINUTE)
    assert run.play_ms(NOW_MS + 3 * MINUTE) == 3 * MINUTE
    assert run.play_ms(NOW_MS + 50 * MINUTE) == 3 * MINUTE


def test_play_time_excludes_the_time_spent_in_every_pause():
    run = started()
    run.pause(NOW_MS + 2 * MINUTE)
    run.resume(NOW_MS + 12 * MINUTE)  # 10 minutes paused
    run.pause(NOW_MS + 15 * MINUTE)
    run.resume(NOW_MS + 20 * MINUTE)  # 5 more
    assert run.paused_total_ms == 15 * MINUTE
    assert run.play_ms(NOW_MS + 30 * MINUTE) == 15 * MINUTE


def test_a_resume_stamped_before_its_pause_adds_no_pause_time():
    run = started()
    run.pause(NOW_MS + 5 * MINUTE)
    run.resume(NOW_MS + 4 * MINUTE)  # the wall clock stepped back
    assert run.paused_total_ms == 0


def test_a_pause_shifts_every_later_inject_by_its_length():
    run = started()
    assert ids(release(run, NOW_MS)) == [("M01", 0), ("M01", 1)]
    run.pause(NOW_MS + 1 * MINUTE)
    run.resume(NOW_MS + 11 * MINUTE)  # 10 minutes paused: M02 (at 5:00) now falls at wall 15:00
    assert release(run, NOW_MS + 15 * MINUTE - 1) == []
    assert ids(release(run, NOW_MS + 15 * MINUTE)) == [("M02", 0)]
    assert release(run, NOW_MS + 20 * MINUTE - 1) == []  # M03 (at 10:00) at wall 20:00
    assert ids(release(run, NOW_MS + 20 * MINUTE)) == [("M03", 0)]


def test_play_time_runs_at_the_runs_speed():
    run = Run(msel(), speed=60.0)
    run.start(NOW_MS, CONTROL)
    assert run.play_ms(NOW_MS + 5_000) == 5 * MINUTE
    assert ids(release(run, NOW_MS + 5_000)) == [("M01", 0), ("M01", 1), ("M02", 0)]


def test_at_speed_a_pause_still_holds_play_time_and_shifts_injects_by_its_wall_length():
    run = Run(msel(), speed=10.0)
    run.start(NOW_MS, CONTROL)
    release(run, NOW_MS)
    run.pause(NOW_MS + 6_000)  # play 1:00
    assert run.play_ms(NOW_MS + 60_000) == MINUTE
    run.resume(NOW_MS + 60_000)  # 54 s of wall time paused
    assert release(run, NOW_MS + 84_000 - 1) == []  # M02 (at 5:00): 30 s of wall time, plus the pause
    assert ids(release(run, NOW_MS + 84_000)) == [("M02", 0)]


def test_play_time_is_frozen_after_endex():
    run = started()
    run.pause(NOW_MS + 4 * MINUTE)
    run.resume(NOW_MS + 6 * MINUTE)
    run.end(NOW_MS + 10 * MINUTE)
    assert run.play_ms(NOW_MS + 10 * MINUTE) == 8 * MINUTE
    assert run.play_ms(NOW_MS + 500 * MINUTE) == 8 * MINUTE


def test_endex_while_paused_freezes_play_time_at_the_pause():
    run = started()
    run.pause(NOW_MS + 4 * MINUTE)
    run.end(NOW_MS + 30 * MINUTE)
    assert run.play_ms(NOW_MS + 60 * MINUTE) == 4 * MINUTE


def test_a_pause_at_wall_time_zero_freezes_play_time_too():
    run = Run(msel())
    run.start(0, CONTROL)
    run.pause(0)
    assert run.play_ms(10 * MINUTE) == 0


# --- what is due ---


def test_nothing_is_due_before_startex_even_at_a_late_wall_time():
    assert Run(msel()).due(NOW_MS + 90 * MINUTE) == []


def test_nothing_is_due_after_endex_not_even_a_published_inject():
    run = started()
    release(run, NOW_MS)
    run.publish("M07")
    run.publish("M06")
    run.end(NOW_MS + MINUTE)
    assert run.due(NOW_MS + 90 * MINUTE) == []


def test_at_startex_the_injects_at_zero_are_due():
    assert ids(started().due(NOW_MS)) == [("M01", 0)]


def test_a_scheduled_inject_is_due_only_once_play_time_reaches_its_at():
    run = started()
    release(run, NOW_MS)
    assert run.due(NOW_MS + 5 * MINUTE - 1) == []
    assert ids(run.due(NOW_MS + 5 * MINUTE)) == [("M02", 0)]


def test_a_scheduled_inject_is_not_due_while_paused_even_when_its_time_has_come():
    run = started()
    release(run, NOW_MS)
    run.pause(NOW_MS + 6 * MINUTE)  # M02 (at 5:00) was due and is not released yet
    assert run.due(NOW_MS + 6 * MINUTE) == []
    run.resume(NOW_MS + 30 * MINUTE)
    assert ids(run.due(NOW_MS + 30 * MINUTE)) == [("M02", 0)]


def test_a_published_inject_is_due_at_once_even_while_paused():
    run = started()
    release(run, NOW_MS)
    run.pause(NOW_MS + MINUTE)
    run.publish("M03")
    assert ids(run.due(NOW_MS + MINUTE)) == [("M03", 0)]
    assert "M03" in run.published


def test_a_published_inject_is_due_at_once_while_running():
    run = started()
    release(run, NOW_MS)
    run.publish("M06")
    assert ids(run.due(NOW_MS + MINUTE)) == [("M06", 0)]


def test_due_steps_come_in_msel_order_one_per_inject():
    run = started()
    mark(run, step("M01", 0))
    # At 20:00: M01's attachment, M02, M03, M04's first attachment, M05's caption.
    assert ids(run.due(NOW_MS + 20 * MINUTE)) == [("M01", 1), ("M02", 0), ("M03", 0), ("M04", 1), ("M05", 0)]


def test_a_released_inject_is_no_longer_due():
    run = started()
    release(run, NOW_MS + 5 * MINUTE)
    assert run.released("M02")
    assert all(s.inject != "M02" for s in run.due(NOW_MS + 5 * MINUTE))


# --- release steps ---


def test_an_inject_is_released_as_its_entry_then_one_step_per_attachment():
    m = msel()
    assert steps_of(m.inject("M01")) == [Step("M01", 0, None), Step("M01", 1, "files/photo.png")]
    assert steps_of(m.inject("M02")) == [Step("M02", 0, None)]


def test_a_media_inject_without_text_has_no_step_0():
    assert steps_of(msel().inject("M04")) == [Step("M04", 1, "files/map.png"), Step("M04", 2, "files/route.png")]


def test_a_media_inject_with_text_posts_it_as_step_0_before_its_attachments():
    assert steps_of(msel().inject("M05")) == [Step("M05", 0, None), Step("M05", 1, "files/cctv.png")]


def test_each_due_inject_offers_its_first_step_not_done_until_all_are_done():
    run = started()
    run.publish("M04")
    mark(run, step("M01", 0), step("M01", 1))
    assert run.due(NOW_MS) == [step("M04", 1)]
    mark(run, step("M04", 1))
    assert run.due(NOW_MS) == [step("M04", 2)]
    mark(run, step("M04", 2))
    assert run.due(NOW_MS) == []


def test_a_restart_resumes_at_the_first_step_not_done():
    run = started()
    mark(run, step("M01", 0))
    restarted = Run(run.msel, run.phase, run.started_ms, control=run.control, done=dict(run.done))
    assert restarted.due(NOW_MS) == [step("M01", 1)]


def test_an_inject_about_an_incident_waits_for_the_incidents_opening():
    run = started()
    release(run, NOW_MS)
    run.publish("M07")  # about M06, due at 30:00 and not out yet
    assert run.due(NOW_MS + MINUTE) == []
    run.publish("M06")
    assert ids(run.due(NOW_MS + MINUTE)) == [("M06", 0)]  # not M07: its incident is not open yet
    mark(run, step("M06", 0))
    assert ids(run.due(NOW_MS + MINUTE)) == [("M07", 0)]


def test_an_inject_about_an_incident_needs_its_opening_not_its_attachments():
    run = started()
    mark(run, step("M01", 0))
    assert ids(run.due(NOW_MS + 5 * MINUTE)) == [("M01", 1), ("M02", 0)]


def test_an_injects_entries_go_to_its_own_incident_the_one_it_is_about_or_the_control_incident():
    run = started()
    m = run.msel
    assert run.incident_for(m.inject("M01")) is None  # not opened yet
    assert run.incident_for(m.inject("M02")) is None
    mark(run, step("M01", 0))
    opened = entry_id(step("M01", 0))
    assert run.incident_entry("M01") == opened
    assert run.incident_for(m.inject("M01")) == opened
    assert run.incident_for(m.inject("M02")) == opened
    assert run.incident_for(m.inject("M04")) == opened
    assert run.incident_for(m.inject("M03")) == CONTROL


# --- skip ---


def test_skipping_an_incident_inject_skips_the_injects_about_it():
    run = started()
    assert run.skip("M06") == ["M06", "M07"]
    assert run.skipped == {"M06", "M07"}


def test_skipping_the_first_incident_skips_its_update_message_and_media_injects():
    run = Run(msel())
    assert run.skip("M01") == ["M01", "M02", "M04", "M05"]


def test_skipping_an_inject_that_opens_no_incident_skips_only_it():
    run = started()
    assert run.skip("M02") == ["M02"]
    assert run.skipped == {"M02"}


def test_a_skipped_inject_is_never_due_neither_on_time_nor_published():
    run = started()
    run.publish("M06")
    run.skip("M06")
    taken = release(run, NOW_MS + 60 * MINUTE)
    assert {s.inject for s in taken} == {"M01", "M02", "M03", "M04", "M05"}


def test_an_inject_with_a_step_done_cannot_be_skipped():
    run = started()
    mark(run, step("M01", 0))  # releasing: its attachment is still to come
    with pytest.raises(ConductError, match=r"inject M01 is already \(partly\) released: it cannot be skipped"):
        run.skip("M01")
    assert run.skipped == set()


def test_a_released_inject_cannot_be_skipped():
    run = started()
    release(run, NOW_MS + 5 * MINUTE)
    with pytest.raises(ConductError, match="M02"):
        run.skip("M02")


def test_a_refused_skip_skips_none_of_the_injects_about_the_incident_either():
    run = started()
    mark(run, step("M01", 0))
    with pytest.raises(ConductError):
        run.skip("M01")
    assert run.skipped == set()
    assert ids(run.due(NOW_MS + 5 * MINUTE)) == [("M01", 1), ("M02", 0)]


# --- publish ---


def test_publishing_a_released_inject_is_refused():
    run = started()
    release(run, NOW_MS)
    with pytest.raises(ConductError, match="inject M01 is already released"):
        run.publish("M01")


def test_publishing_a_skipped_inject_is_refused():
    run = started()
    run.skip("M06")
    for inject in ("M06", "M07"):
        with pytest.raises(ConductError, match=f"inject {inject} was skipped"):
            run.publish(inject)
    assert run.published == set()


def test_publishing_a_partly_released_inject_lets_the_rest_out_while_paused():
    run = started()
    mark(run, step("M01", 0))
    run.pause(NOW_MS + MINUTE)
    assert run.due(NOW_MS + MINUTE) == []  # scheduled: held by the pause
    run.publish("M01")
    assert run.due(NOW_MS + MINUTE) == [step("M01", 1)]


# --- states ---


def test_an_injects_state_goes_scheduled_published_releasing_released():
    run = started()
    release(run, NOW_MS)
    m05 = run.msel.inject("M05")
    states = [run.state_of(m05)]
    run.publish("M05")
    states.append(run.state_of(m05))
    mark(run, *run.due(NOW_MS))  # its caption
    states.append(run.state_of(m05))
    mark(run, *run.due(NOW_MS))  # its attachment
    states.append(run.state_of(m05))
    assert states == ["scheduled", "published", "releasing", "released"]


def test_an_inject_released_on_time_goes_from_scheduled_to_released_without_being_published():
    run = started()
    inject = run.msel.inject("M02")
    assert run.state_of(inject) == "scheduled"
    release(run, NOW_MS + 5 * MINUTE)
    assert run.state_of(inject) == "released"


def test_a_skipped_inject_is_in_state_skipped_even_if_published_first():
    run = started()
    run.publish("M03")
    run.skip("M03")
    assert run.state_of(run.msel.inject("M03")) == "skipped"


def test_the_summary_shows_the_phase_play_time_and_each_injects_state():
    run = started()
    release(run, NOW_MS + 5 * MINUTE)
    run.skip("M06")
    summary = run.summary(NOW_MS + 5 * MINUTE)
    assert (summary["name"], summary["phase"], summary["play_ms"], summary["duration_ms"]) == (
        "drill-conduct",
        "running",
        5 * MINUTE,
        60 * MINUTE,
    )
    injects = summary["injects"]
    assert [(i["id"], i["state"]) for i in injects] == [
        ("M01", "released"),
        ("M02", "released"),
        ("M03", "scheduled"),
        ("M04", "scheduled"),
        ("M05", "scheduled"),
        ("M06", "skipped"),
        ("M07", "skipped"),
    ]
    titles = [i["title"] for i in injects]
    assert titles[:3] == ["Device found at Brussels-Midi", "", "All OCs: report your readiness."]


# --- the property: nothing released twice, everything released in the end ---

INJECT_IDS = [i.id for i in msel().injects]
ACTION = st.one_of(
    st.tuples(st.just("advance"), st.integers(0, 12 * MINUTE)),
    st.tuples(st.just("pause"), st.none()),
    st.tuples(st.just("resume"), st.none()),
    st.tuples(st.just("publish"), st.sampled_from(INJECT_IDS)),
    st.tuples(st.just("skip"), st.sampled_from(INJECT_IDS)),
)


@given(st.lists(ACTION, max_size=40), st.booleans(), st.sampled_from([1.0, 2.5, 60.0]))
def test_any_interleaving_releases_each_step_at_most_once_and_all_not_skipped_in_the_end(
    actions, wait_before_startex, speed
):
    run = Run(msel(), speed=speed)
    now = NOW_MS
    taken: list[tuple[str, int]] = []

    def take() -> None:
        play = run.play_ms(now)
        for s in run.due(now):
            inject = run.msel.inject(s.inject)
            key = (s.inject, s.index)
            assert key not in run.done, f"{key} is due again"
            assert s == next(x for x in steps_of(inject) if (x.inject, x.index) not in run.done)
            assert s.inject not in run.skipped
            assert inject.id in run.published or (run.phase is Phase.RUNNING and inject.at_ms <= play)
            assert inject.incident is None or run.incident_entry(inject.incident) is not None
            run.done[key] = entry_id(s)
            taken.append(key)

    if wait_before_startex:
        now += 5 * MINUTE
        assert run.due(now) == []
    run.start(now, CONTROL)
    for action, arg in actions:
        if action == "advance":
            now += arg
        elif action == "pause" and run.phase is Phase.RUNNING:
            run.pause(now)
        elif action == "resume" and run.phase is Phase.PAUSED:
            run.resume(now)
        elif action in ("publish", "skip"):
            with contextlib.suppress(ConductError):  # a released or skipped inject; one with a step done
                getattr(run, action)(arg)
        take()
    assert len(taken) == len(set(taken)), "a step was released twice"

    if run.phase is Phase.PAUSED:
        run.resume(now)
    now += math.ceil(run.msel.duration_ms / speed)
    assert run.play_ms(now) >= run.msel.duration_ms
    for _ in range(10):  # ample: a chain is at most incident, then the injects about it
        take()
    expected = {(s.inject, s.index) for i in run.msel.injects if i.id not in run.skipped for s in steps_of(i)}
    assert set(run.done) == expected
    assert len(taken) == len(set(taken)) == len(expected)
    assert all(run.state_of(i) == ("skipped" if i.id in run.skipped else "released") for i in run.msel.injects)

    run.end(now)
    assert run.due(now + run.msel.duration_ms) == []
