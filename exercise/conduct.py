"""Conducting an exercise: the controller's decisions, as a pure state machine.

The node keeps a run durably (its phase, its clock, the release steps done, the injects
published early or skipped) and asks this module what to do; it never decides itself.

Rules:
- Phases: ready → running (STARTEX) ⇄ paused → ended (ENDEX). ENDEX comes from running
  or paused; nothing follows it.
- Play time is wall time since STARTEX minus the time spent paused, times the run's
  speed (1 for people; more for a simulation or a quick drill): a pause holds every
  inject still to come, and resuming shifts them by the pause's length.
- An inject is due once play time reaches its `at`, or at once if the controller
  published it early; never while ready or ended, and a scheduled one not while paused.
- An inject is released as steps: step 0 its entry (opening, update or comment; none for
  a media inject without text), then one step per attachment. A step is done when its
  entry is stored, recorded in the same transaction as the entry, so no step is ever done
  twice and a restart resumes at the first step not done.
- An inject about an incident needs that incident's opening: it waits for it. Skipping
  an incident inject skips the injects about it too; an inject with a step done cannot
  be skipped (part of it is out).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from .msel import Inject, InjectKind, Msel


class Phase(StrEnum):
    READY = "ready"
    RUNNING = "running"
    PAUSED = "paused"
    ENDED = "ended"


class ConductError(ValueError):
    """An action the run's state does not allow; the message says why."""


@dataclass(frozen=True, slots=True)
class Step:
    inject: str
    index: int  # 0: the entry; 1..: attachments
    attachment: str | None  # the file of an attachment step


def steps_of(inject: Inject) -> list[Step]:
    first = [] if inject.kind is InjectKind.MEDIA and not inject.text else [Step(inject.id, 0, None)]
    return first + [Step(inject.id, i + 1, path) for i, path in enumerate(inject.attachments)]


@dataclass(slots=True)
class Run:
    """What the node holds of one run; `done` maps (inject, step) to the entry id stored."""

    msel: Msel
    phase: Phase = Phase.READY
    started_ms: int | None = None
    paused_total_ms: int = 0
    paused_at_ms: int | None = None
    ended_ms: int | None = None
    control: bytes | None = None  # the control incident's id, opened at STARTEX
    done: dict[tuple[str, int], bytes] = field(default_factory=dict)
    published: set[str] = field(default_factory=set)
    skipped: set[str] = field(default_factory=set)
    speed: float = 1.0  # play time per wall time

    # --- time ---

    def play_ms(self, now_ms: int) -> int:
        """Play time: 0 before STARTEX; frozen while paused and after ENDEX."""
        if self.started_ms is None:
            return 0
        until = next(t for t in (self.ended_ms, self.paused_at_ms, now_ms) if t is not None)
        return max(0, int((until - self.started_ms - self.paused_total_ms) * self.speed))

    # --- the controller's actions (ConductError when the phase does not allow them) ---

    def start(self, now_ms: int, control: bytes) -> None:
        self.require({Phase.READY}, "start")
        self.phase, self.started_ms, self.control = Phase.RUNNING, now_ms, control

    def pause(self, now_ms: int) -> None:
        self.require({Phase.RUNNING}, "pause")
        self.phase, self.paused_at_ms = Phase.PAUSED, now_ms

    def resume(self, now_ms: int) -> None:
        self.require({Phase.PAUSED}, "resume")
        assert self.paused_at_ms is not None
        self.paused_total_ms += max(0, now_ms - self.paused_at_ms)
        self.phase, self.paused_at_ms = Phase.RUNNING, None

    def end(self, now_ms: int) -> None:
        self.require({Phase.RUNNING, Phase.PAUSED}, "end")
        if self.paused_at_ms is not None:
            self.resume(now_ms)
        self.phase, self.ended_ms = Phase.ENDED, now_ms

    def publish(self, inject_id: str) -> None:
        """Release an inject now, ahead of its time (also while paused)."""
        self.require({Phase.RUNNING, Phase.PAUSED}, "publish an inject")
        inject = self._inject(inject_id)
        if inject.id in self.skipped:
            raise ConductError(f"inject {inject.id} was skipped")
        if self.released(inject.id):
            raise ConductError(f"inject {inject.id} is already released")
        self.published.add(inject.id)

    def skip(self, inject_id: str) -> list[str]:
        """Skip an inject not started, and the injects about it if it opens an incident;
        the ids skipped."""
        self.require({Phase.READY, Phase.RUNNING, Phase.PAUSED}, "skip an inject")
        inject = self._inject(inject_id)
        gone = [inject.id]
        if inject.kind is InjectKind.INCIDENT:
            gone += [i.id for i in self.msel.injects if i.incident == inject.id]
        for skipped in gone:
            if any(key[0] == skipped for key in self.done):
                raise ConductError(f"inject {skipped} is already (partly) released: it cannot be skipped")
        self.skipped.update(gone)
        return gone

    # --- what is due ---

    def state_of(self, inject: Inject) -> str:
        if inject.id in self.skipped:
            return "skipped"
        if self.released(inject.id):
            return "released"
        if any(key[0] == inject.id for key in self.done):
            return "releasing"
        return "published" if inject.id in self.published else "scheduled"

    def released(self, inject_id: str) -> bool:
        return all((s.inject, s.index) in self.done for s in steps_of(self._inject(inject_id)))

    def due(self, now_ms: int) -> list[Step]:
        """The steps to take now, in MSEL order: for each due inject not skipped, its
        first step not done, provided the incident it is about is open."""
        if self.phase not in (Phase.RUNNING, Phase.PAUSED):
            return []
        play = self.play_ms(now_ms)
        out: list[Step] = []
        for inject in self.msel.injects:
            if inject.id in self.skipped or self.released(inject.id):
                continue
            scheduled = self.phase is Phase.RUNNING and inject.at_ms <= play
            if not (scheduled or inject.id in self.published):
                continue
            if inject.incident is not None and self.incident_entry(inject.incident) is None:
                continue  # its incident's opening is not out yet (released in order below)
            out.append(next(s for s in steps_of(inject) if (s.inject, s.index) not in self.done))
        return out

    def incident_entry(self, inject_id: str) -> bytes | None:
        """The incident id an incident inject opened, once released."""
        return self.done.get((inject_id, 0))

    def incident_for(self, inject: Inject) -> bytes | None:
        """The incident an inject's entries go to: its own (once opened), the one it is
        about, or the control incident."""
        target = self.msel.incident_of(inject)
        return self.control if target is None else self.incident_entry(target)

    def _inject(self, inject_id: str) -> Inject:
        try:
            return self.msel.inject(inject_id)
        except KeyError:
            raise ConductError(f"no inject {inject_id!r} in {self.msel.name}") from None

    def require(self, phases: set[Phase], action: str) -> None:
        if self.phase not in phases:
            raise ConductError(f"cannot {action}: the exercise is {self.phase.value}")

    def summary(self, now_ms: int) -> Mapping[str, object]:
        """The run as the controller's dashboard shows it."""
        return {
            "name": self.msel.name,
            "title": self.msel.title,
            "phase": self.phase.value,
            "speed": self.speed,
            "play_ms": self.play_ms(now_ms),
            "duration_ms": self.msel.duration_ms,
            "controller": self.msel.controller,
            "participants": list(self.msel.participants),
            "injects": [
                {
                    "id": i.id,
                    "at_ms": i.at_ms,
                    "kind": i.kind.value,
                    "incident": i.incident,
                    "to": list(i.to),
                    "title": i.registers.title or i.text or "",
                    "state": self.state_of(i),
                    "expected": list(i.expected),
                }
                for i in self.msel.injects
            ],
        }
