"""Incident state: a CRDT folded from the entries that concern one incident.

Rules:
- An incident's id is the id of its opening entry. Entries that name an incident may
  arrive before it is opened; they are kept, and the incident becomes visible once the
  opening entry arrives.
- Registers (title, category, severity, status, description, location) are
  last-writer-wins, ordered by (hlc, author, id): a total order, so every replica picks
  the same winner. An opening entry without a status sets status open: it takes part in
  that register like any entry that sets it.
- Tags are an add-wins set: an add is identified by (tag, id of the adding entry); a
  removal names the adds it observed, so an add it did not see survives.
- Comments and media are grow-only. Media are listed in (hlc, author, id) order;
  comments are held by id only, in id order: their entries are in the store, where a node
  reads the ones it shows (a fold of 100,000 entries held 31 MiB of comment entries).
- Acknowledgements are kept per acknowledged entry: for each (author, level) the first
  one by (hlc, author, id), so an OC that notes an entry twice is counted once, at its
  first note. They are answers, not edits: they leave `updated` alone.
- An incident belongs to the exercise named by its opening entry (or to none: real
  traffic). Entries about it carrying another exercise marker are ignored, so exercise
  traffic can never alter a real incident and vice versa.
- `apply` is idempotent and commutative and `merge` is a join: any order, any
  duplication of the same entries gives the same state.
"""

from dataclasses import dataclass, field
from typing import Any

from .body import Ack, AckLevel, Comment, Kind, Media, Open, Registers, Status, Update
from .entry import Entry
from .hlc import wall_ms

OrderKey = tuple[int, bytes, bytes]
# Acknowledged entry id -> (acknowledging author, level) -> its first ack.
Acks = dict[bytes, dict[tuple[bytes, AckLevel], Entry]]


def _keep_first(acks: Acks, entry: Entry) -> None:
    body = entry.body
    assert isinstance(body, Ack)
    held = acks.setdefault(body.entry, {})
    key = (entry.author, body.level)
    if key not in held or entry.order_key < held[key].order_key:
        held[key] = entry


@dataclass(slots=True)
class _Partial:
    """What the entries carrying one exercise marker say about the incident."""

    registers: dict[str, tuple[OrderKey, Any]] = field(default_factory=dict)
    tag_adds: dict[str, set[bytes]] = field(default_factory=dict)
    tag_removes: set[tuple[str, bytes]] = field(default_factory=set)
    comments: set[bytes] = field(default_factory=set)  # ids
    media: dict[bytes, Entry] = field(default_factory=dict)
    acks: Acks = field(default_factory=dict)
    updated_hlc: int = 0

    def set_register(self, name: str, key: OrderKey, value: Any) -> None:
        held = self.registers.get(name)
        if held is None or key > held[0]:
            self.registers[name] = (key, value)

    def apply(self, entry: Entry) -> None:
        body = entry.body
        if isinstance(body, Ack):
            _keep_first(self.acks, entry)
            return
        self.updated_hlc = max(self.updated_hlc, entry.hlc)
        if isinstance(body, (Open, Update)):
            registers: Registers = body.registers
            for name, value in registers.items():
                self.set_register(name, entry.order_key, value)
            if isinstance(body, Open) and registers.status is None:
                self.set_register("status", entry.order_key, Status.OPEN)  # an opening sets it
            for tag in body.tags if isinstance(body, Open) else body.tags_add:
                self.tag_adds.setdefault(tag, set()).add(entry.id)
            if isinstance(body, Update):
                self.tag_removes.update((tag, add_id) for tag, ids in body.tags_remove for add_id in ids)
        elif isinstance(body, Comment):
            self.comments.add(entry.id)
        elif isinstance(body, Media):
            self.media[entry.id] = entry

    def merge(self, other: "_Partial") -> None:
        for name, (key, value) in other.registers.items():
            self.set_register(name, key, value)
        for tag, ids in other.tag_adds.items():
            self.tag_adds.setdefault(tag, set()).update(ids)
        self.tag_removes |= other.tag_removes
        self.comments |= other.comments
        self.media.update(other.media)
        for held in other.acks.values():
            for ack in held.values():
                _keep_first(self.acks, ack)
        self.updated_hlc = max(self.updated_hlc, other.updated_hlc)

    def tags(self) -> dict[str, set[bytes]]:
        """Live tags with the ids of the adds that keep each alive (needed to remove it)."""
        live = {tag: {i for i in ids if (tag, i) not in self.tag_removes} for tag, ids in self.tag_adds.items()}
        return {tag: ids for tag, ids in sorted(live.items()) if ids}


@dataclass(slots=True)
class IncidentState:
    id: bytes
    opening: Entry | None = None
    partials: dict[str | None, _Partial] = field(default_factory=dict)
    restricted_to: frozenset[bytes] | None = None  # a restricted incident's current recipients

    def apply(self, entry: Entry) -> None:
        assert entry.incident == self.id, "entry applied to the wrong incident"
        if entry.kind is Kind.OPEN:
            self.opening = entry
        partial = self.partials.get(entry.exercise)
        if partial is None:
            partial = self.partials[entry.exercise] = _Partial()
        partial.apply(entry)

    def merge(self, other: "IncidentState") -> "IncidentState":
        """The join of two states of the same incident, as a new state."""
        assert other.id == self.id, "only states of one incident merge"
        out = IncidentState(self.id, self.opening or other.opening)
        for source in (self, other):
            for exercise, partial in source.partials.items():
                out.partials.setdefault(exercise, _Partial()).merge(partial)
        return out

    @property
    def visible(self) -> bool:
        return self.opening is not None

    def _partial(self) -> _Partial:
        assert self.opening is not None, "an incident is visible only once opened"
        return self.partials[self.opening.exercise]

    def view(self) -> dict[str, Any]:
        """The incident as local tools see it: plain values, enums by name; its comments'
        ids (in id order: the caller reads their entries from the store, and orders them)."""
        partial = self._partial()
        return {
            **self.summary(),
            "comments": sorted(partial.comments),
            "media": sorted(partial.media.values(), key=lambda e: e.order_key),
            "acks": partial.acks,
        }

    @property
    def updated_hlc(self) -> int:
        return self._partial().updated_hlc

    def summary(self) -> dict[str, Any]:
        """The view without comments and media: cheap whatever their number."""
        partial = self._partial()
        assert self.opening is not None
        values = {name: value for name, (_, value) in partial.registers.items()}
        location = values.get("location")
        return {
            "id": self.id.hex(),
            "title": values["title"],
            "description": values.get("description", ""),
            "category": values["category"].name.lower(),
            "severity": values["severity"].name.lower(),
            "status": values["status"].name.lower(),
            "location": None if location is None else location.degrees(),
            "tags": list(partial.tags()),
            "exercise": self.opening.exercise,
            "origin": self.opening.body.origin,  # type: ignore[union-attr]
            "restricted_to": None if self.restricted_to is None else sorted(self.restricted_to),
            "author": self.opening.author,
            "operator": self.opening.operator,
            "created_hlc": self.opening.hlc,
            "updated_hlc": partial.updated_hlc,
            "created_at_ms": wall_ms(self.opening.hlc),
            "updated_at_ms": wall_ms(partial.updated_hlc),
        }

    def live_tags(self) -> dict[str, set[bytes]]:
        """Tag -> ids of the adds an update must name to remove it."""
        return self._partial().tags()


def fold(entries: list[Entry], incident: bytes) -> IncidentState:
    state = IncidentState(incident)
    for entry in entries:
        state.apply(entry)
    return state
