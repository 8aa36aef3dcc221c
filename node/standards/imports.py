"""Imported documents (bridges.model.Imported) as incident writes, idempotently.

Rules:
- An imported incident keeps its origin (format, sender, identifier) on its opening
  (protocol Open key 9). The same origin under the same exercise marker is the same
  incident: posting a document again changes nothing, or only what it changes.
- An alert for a new origin opens an incident; for a known one, and an update, it sets
  the fields the document gives that differ from the incident's, and adds its tags (one
  update entry, or none if nothing differs). An update or cancel names earlier messages
  (`refers_to`): the first that maps to an incident is the one changed; else its own
  origin. A cancel closes the incident.
- A CoT marker posted again (TAK repeats its markers) moves, renames and redescribes its
  incident, but leaves its category, severity and status to the OCs: CoT has none of
  them, and a repeat must not undo an OC's edit.
- An update for an unknown incident that says enough to open one (title, category,
  severity) opens it; a cancel for an unknown one is refused (NotFound), nothing written.
- Field values are checked by the protocol's constructors (InvalidField: 422).
- A document is all or nothing: every item is checked before the first is written
  (apply_all); a write that fails midway (the disk) is the only partial outcome.
"""

from dataclasses import dataclass
from typing import Any, Literal

from bridges.model import Imported
from protocol.body import Category, Location, Open, Origin, Registers, Severity, Status, Update
from protocol.incident import IncidentState


class NotFound(LookupError):
    """An update or cancel names no incident this node holds."""


@dataclass(frozen=True, slots=True)
class Outcome:
    incident: bytes
    action: Literal["created", "updated", "cancelled", "unchanged"]
    entry: bytes | None


def _origin(imported: Imported) -> Origin:
    o = imported.origin
    return Origin(o.format, o.sender, o.identifier)


def _same(held: Origin | None, wanted: Origin) -> bool:
    """CoT names an object by its uid alone (a TAK delete carries no producer); the other
    standards by sender and identifier."""
    if held is None or held.format != wanted.format or held.identifier != wanted.identifier:
        return False
    return wanted.format == "cot" or held.sender == wanted.sender


def find(node: Any, origin: Origin, exercise: str | None) -> IncidentState | None:
    for state in node.replica.incidents.values():
        opening = state.opening
        if opening is not None and opening.exercise == exercise and _same(opening.body.origin, origin):
            return state  # type: ignore[no-any-return]
    return None


def _registers(imported: Imported) -> Registers:
    location = imported.location
    return Registers(
        title=imported.title,
        category=None if imported.category is None else Category[imported.category.upper()],
        severity=None if imported.severity is None else Severity[imported.severity.upper()],
        status=None if imported.status is None else Status[imported.status.upper()],
        description=imported.description,
        location=None
        if location is None
        else Location(round(location["lat"] * 1e7), round(location["lon"] * 1e7), location["place"]),
    )


def apply_all(node: Any, items: list[Imported], operator: str | None) -> list[Outcome]:
    """Write a whole document's items, or nothing: every item is resolved and its body
    built (raising NotFound or InvalidField) before the first is written. An item may
    name one opened earlier in the same document."""
    opened: set[tuple[str, str, str]] = set()
    for item in items:
        try:
            _plan(node, item)
        except NotFound:
            names = {(o.format, o.sender, o.identifier) for o in (*item.refers_to, item.origin)}
            if not names & opened:
                raise
        opened.add((item.origin.format, item.origin.sender, item.origin.identifier))
    return [apply(node, item, operator) for item in items]


def apply(node: Any, imported: Imported, operator: str | None) -> Outcome:
    """Write what `imported` says (see the rules above); raises NotFound, InvalidField or
    the node's write errors, with nothing written."""
    state, body = _plan(node, imported)
    if body is None:
        assert state is not None
        return Outcome(state.id, "unchanged", None)
    entry = node.write(body, imported.exercise, operator)
    if state is None:
        return Outcome(entry.id, "created", entry.id)
    return Outcome(state.id, "cancelled" if imported.action == "cancel" else "updated", entry.id)


def _plan(node: Any, imported: Imported) -> tuple[IncidentState | None, Open | Update | None]:
    """The incident an item concerns (None: a new one) and the body to write (None:
    nothing changes); NotFound or InvalidField (a body the protocol refuses)."""
    own = _origin(imported)
    targets = [Origin(o.format, o.sender, o.identifier) for o in imported.refers_to] + [own]
    state = next((s for o in targets if (s := find(node, o, imported.exercise)) is not None), None)
    registers = _registers(imported)
    if imported.action == "cancel":
        if state is None:
            raise NotFound(f"the cancel names no incident held here ({own.sender}, {own.identifier})")
        registers = Registers(status=Status.CLOSED)
    if state is None:
        if registers.title is None or registers.category is None or registers.severity is None:
            raise NotFound(f"the update names no incident held here ({own.sender}, {own.identifier})")
        return None, Open(registers, imported.tags, own)
    if imported.origin.format == "cot" and imported.action != "cancel":
        registers = Registers(title=registers.title, description=registers.description, location=registers.location)
    changes = _changed(state, registers)
    adds = tuple(sorted(set(imported.tags) - set(state.live_tags())))
    if not changes.items() and not adds:
        return state, None
    return state, Update(state.id, changes, adds)


def _changed(state: IncidentState, wanted: Registers) -> Registers:
    """The registers of `wanted` whose value differs from the incident's."""
    current = {name: value for name, (_, value) in state.partials[state.opening.exercise].registers.items()}  # type: ignore[union-attr]
    return Registers(**{name: value for name, value in wanted.items() if current.get(name) != value})
