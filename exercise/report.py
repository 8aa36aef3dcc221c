"""The after-action report: what happened to each inject at each OC, as values.

Pure: the node hands in the run, the entries it holds of the exercise, the roster and its
own peer events; out comes a Report (JSON-ready), which node/reports renders as HTML and
PNG. The same builder serves a real incident: each of its entries is an "inject" aimed at
every other member.

Rules (times are wall ms from the entries' HLCs, the authors' own clocks):
- released: the hlc of the inject's first entry (the controller's clock).
- delivered at an OC: the earliest delivery receipt (ack level delivered) by a member of
  that country on any of the inject's entries; the controller's own OC has it at release;
  a note without a receipt (an older node) counts as delivered when noted.
- acknowledged: the earliest ack level noted by that OC on any of the inject's entries.
- first response: the earliest entry of that OC on the inject's incident after the
  release that is not an ack (an update, a comment, media) nor one of the exercise's own
  releases. (The controller's STARTEX/pause/ENDEX comments on the control incident still
  count as its OC's responses to messages there.)
- per-OC figures: the delays after release, as count, p50, p99 and max (nearest rank).
- unacknowledged: every (released inject, target OC) without a noted ack.
- link failures: this node's own connection events; a down with no up after it is still
  down at the report's time (up_ms null).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, TypedDict

from protocol.body import Ack, AckLevel, Kind
from protocol.entry import Entry
from protocol.hlc import wall_ms
from protocol.roster import Member

from .conduct import Run, steps_of


class Figures(TypedDict):  # durations, ms
    n: int
    p50_ms: int
    p99_ms: int
    max_ms: int


class IncidentRef(TypedDict):
    id: str
    title: str


class MemberRef(TypedDict):
    country: str
    name: str


class Target(TypedDict):
    country: str
    delivered_ms: int | None
    acknowledged_ms: int | None
    responded_ms: int | None


class Unacknowledged(TypedDict):
    inject: str
    country: str


class LinkFailure(TypedDict):
    country: str
    peer_country: str
    down_ms: int
    up_ms: int | None


class Exercise(TypedDict):
    name: str
    title: str
    controller: str | None
    participants: list[str]
    objectives: list[str]
    startex_ms: int | None
    endex_ms: int | None


class Inject(TypedDict):
    id: str
    title: str
    kind: str
    state: Literal["pending", "released", "skipped"]
    released_ms: int | None
    entry: str | None
    to: list[str]
    expected: list[str]
    targets: list[Target]


class PerOC(TypedDict):
    country: str
    targeted: int
    delivered: int
    acknowledged: int
    responded: int
    delivery: Figures | None
    acknowledgement: Figures | None
    response: Figures | None


class Report(TypedDict):
    kind: Literal["exercise", "incident"]
    exercise: Exercise
    incident: IncidentRef | None
    generated_ms: int
    members: list[MemberRef]
    injects: list[Inject]
    per_oc: list[PerOC]
    unacknowledged: list[Unacknowledged]
    link_failures: list[LinkFailure]


@dataclass(frozen=True, slots=True)
class Item:
    """Something released to some OCs: an inject, or an entry of a real incident."""

    id: str
    title: str
    kind: str
    state: Literal["pending", "released", "skipped"]
    entries: tuple[bytes, ...]  # its entries, the first one the release
    incident: bytes | None
    to: tuple[str, ...]
    expected: tuple[str, ...] = ()


def percentiles(delays: Sequence[int]) -> Figures | None:
    if not delays:
        return None
    ordered = sorted(delays)

    def rank(p: float) -> int:
        return ordered[max(0, -(-len(ordered) * p // 100) - 1)]  # nearest rank

    return {"n": len(ordered), "p50_ms": rank(50), "p99_ms": rank(99), "max_ms": ordered[-1]}


def exercise_items(run: Run) -> list[Item]:
    out = []
    for inject in run.msel.injects:
        entries = tuple(run.done[(s.inject, s.index)] for s in steps_of(inject) if (s.inject, s.index) in run.done)
        state = run.state_of(inject)
        out.append(
            Item(
                inject.id,
                inject.registers.title or inject.text or inject.id,
                inject.kind.value,
                "skipped" if state == "skipped" else ("released" if entries else "pending"),
                entries,
                run.incident_for(inject),
                inject.to,
                inject.expected,
            )
        )
    return out


def incident_items(entries: Iterable[Entry], members: Sequence[Member]) -> list[Item]:
    """An incident's entries (not its acks), each one aimed at its addressees, or at every
    other member if it has none."""
    countries = {m.public_key: m.country for m in members}
    out = []
    for entry in sorted(entries, key=lambda e: e.order_key):
        if entry.kind is Kind.ACK:
            continue
        author = countries.get(entry.author, "?")
        aimed = [countries[k] for k in entry.to if k in countries] if entry.to else countries.values()
        others = tuple(sorted({c for c in aimed if c != author}))  # its addressees, or everyone
        title = f"{entry.kind.name.lower()} by {author}"
        out.append(
            Item(entry.id.hex()[:12], title, entry.kind.name.lower(), "released", (entry.id,), entry.incident, others)
        )
    return out


def build(
    kind: Literal["exercise", "incident"],
    exercise: Exercise,
    incident: IncidentRef | None,
    items: Sequence[Item],
    entries: Iterable[Entry],
    members: Sequence[Member],
    peer_events: Sequence[tuple[str, bool, int]],
    me: Member,
    generated_ms: int,
) -> Report:
    """`entries`: every entry this node holds of the exercise (or incident), acks
    included; `peer_events`: (peer id, up, at ms) of this node, oldest first."""
    country_of = {m.public_key: m.country for m in members}
    by_id = {e.id: e for e in entries}
    acks: dict[bytes, list[Entry]] = {}
    answers: dict[bytes, list[Entry]] = {}  # incident -> its non-ack entries
    for entry in by_id.values():
        if isinstance(entry.body, Ack):
            acks.setdefault(entry.body.entry, []).append(entry)
        else:
            answers.setdefault(entry.incident, []).append(entry)

    # An exercise's own releases are nobody's response (the controller's OC included);
    # in an incident report every entry is an item and may answer an earlier one.
    releases = {e for i in items for e in i.entries} if kind == "exercise" else set()

    def first(found: Iterable[Entry]) -> int | None:
        return min((wall_ms(e.hlc) for e in found), default=None)

    injects: list[Inject] = []
    for item in items:
        released = by_id.get(item.entries[0]) if item.entries else None
        released_ms = None if released is None else wall_ms(released.hlc)
        targets: list[Target] = []
        for country in item.to if released is not None else ():
            theirs = [a for e in item.entries for a in acks.get(e, []) if country_of.get(a.author) == country]
            noted = first(a for a in theirs if a.body.level is AckLevel.NOTED)  # type: ignore[union-attr]
            delivered = first(a for a in theirs if a.body.level is AckLevel.DELIVERED)  # type: ignore[union-attr]
            if country_of.get(released.author) == country:  # type: ignore[union-attr]
                delivered = released_ms
            delivered = noted if delivered is None else delivered  # noted implies delivered
            responses = [
                e
                for e in answers.get(item.incident or b"", [])
                if country_of.get(e.author) == country and e.hlc > released.hlc and e.id not in releases  # type: ignore[union-attr]
            ]
            targets.append(
                {
                    "country": country,
                    "delivered_ms": delivered,
                    "acknowledged_ms": noted,
                    "responded_ms": first(responses),
                }
            )
        injects.append(
            {
                "id": item.id,
                "title": item.title,
                "kind": item.kind,
                "state": item.state,
                "released_ms": released_ms,
                "entry": None if released is None else released.id.hex(),
                "to": list(item.to),
                "expected": list(item.expected),
                "targets": targets,
            }
        )
    return {
        "kind": kind,
        "exercise": exercise,
        "incident": incident,
        "generated_ms": generated_ms,
        "members": [{"country": m.country, "name": m.name} for m in members],
        "injects": injects,
        "per_oc": _per_oc(injects),
        "unacknowledged": [
            {"inject": i["id"], "country": t["country"]}
            for i in injects
            for t in i["targets"]
            if t["acknowledged_ms"] is None
        ],
        "link_failures": _link_failures(peer_events, {m.peer_id: m.country for m in members}, me.country),
    }


def _per_oc(injects: Sequence[Inject]) -> list[PerOC]:
    countries = sorted({t["country"] for i in injects for t in i["targets"]})
    out: list[PerOC] = []
    for country in countries:
        delays: dict[str, list[int]] = {"delivered_ms": [], "acknowledged_ms": [], "responded_ms": []}
        targeted = 0
        for inject in injects:
            for target in inject["targets"]:
                if target["country"] != country or inject["released_ms"] is None:
                    continue
                targeted += 1
                for key, found in delays.items():
                    at = target[key]  # type: ignore[literal-required]
                    if at is not None:
                        found.append(max(0, at - inject["released_ms"]))
        out.append(
            {
                "country": country,
                "targeted": targeted,
                "delivered": len(delays["delivered_ms"]),
                "acknowledged": len(delays["acknowledged_ms"]),
                "responded": len(delays["responded_ms"]),
                "delivery": percentiles(delays["delivered_ms"]),
                "acknowledgement": percentiles(delays["acknowledged_ms"]),
                "response": percentiles(delays["responded_ms"]),
            }
        )
    return out


def _link_failures(events: Sequence[tuple[str, bool, int]], country_of: dict[str, str], mine: str) -> list[LinkFailure]:
    out: list[LinkFailure] = []
    down: dict[str, LinkFailure] = {}
    for peer, up, at in events:
        if not up and peer not in down:
            failure: LinkFailure = {
                "country": mine,
                "peer_country": country_of.get(peer, peer),
                "down_ms": at,
                "up_ms": None,
            }
            down[peer] = failure
            out.append(failure)
        elif up and peer in down:
            down.pop(peer)["up_ms"] = at
    return out
