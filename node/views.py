"""Incident state as local tools see it: JSON values, times in RFC 3339 UTC."""

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from protocol.body import Ack, AckLevel, Comment, Location, Media, Open, Update
from protocol.entry import Entry
from protocol.hlc import wall_ms
from protocol.incident import IncidentState
from protocol.roster import Member, Roster


def rfc3339(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def author(roster: Roster, public_key: bytes) -> dict[str, Any]:
    member = roster.get(public_key)
    if member is None:
        return {"name": None, "country": None, "peer_id": None, "public_key": public_key.hex()}
    return {"name": member.name, "country": member.country, "peer_id": member.peer_id, "public_key": public_key.hex()}


def media_json(entry: Entry, complete: bool) -> dict[str, Any]:
    """A media item; `complete`: this node holds all of it (it can be shown and downloaded)."""
    body = entry.body
    assert isinstance(body, Media)
    return {
        "id": entry.id.hex(),
        "name": body.name,
        "mime": body.mime,
        "size": body.size,
        "sha256": body.sha256.hex(),
        "chunk_size": body.chunk_size,
        "chunks": len(body.chunks),
        "posted_at": rfc3339(wall_ms(entry.hlc)),
        "operator": entry.operator,
        "complete": complete,
    }


def incident_summary(state: IncidentState, roster: Roster) -> dict[str, Any]:
    """The incident without its comments and media: what the store keeps for filtering and
    ordering, rewritten on every entry (so it must not grow with the comment count)."""
    return _summary_json(state.summary(), roster)


def _summary_json(view: dict[str, Any], roster: Roster) -> dict[str, Any]:
    return {
        "id": view["id"],
        "title": view["title"],
        "description": view["description"],
        "category": view["category"],
        "severity": view["severity"],
        "status": view["status"],
        "location": view["location"],
        "tags": view["tags"],
        "exercise": view["exercise"],
        "origin": None if view["origin"] is None else asdict(view["origin"]),
        "restricted_to": None if view["restricted_to"] is None else [author(roster, k) for k in view["restricted_to"]],
        "created_at": rfc3339(view["created_at_ms"]),
        "updated_at": rfc3339(view["updated_at_ms"]),
        "author": author(roster, view["author"]),
        "operator": view["operator"],
    }


def incident_json(
    state: IncidentState,
    roster: Roster,
    held: Callable[[Entry], bool],
    comments: Callable[[list[bytes]], list[Entry]] | None,
) -> dict[str, Any]:
    """The whole incident as the API serves it; `held` says which media items this node
    holds whole; `comments` reads the comment entries of these ids, in (hlc, author, id)
    order; without it, their count only (the board's view of thousands of incidents)."""
    view = state.view()
    return {
        **_summary_json(view, roster),
        "comments": None if comments is None else [comment_json(c, roster) for c in comments(view["comments"])],
        "comment_count": len(view["comments"]),
        "media": [media_json(m, held(m)) for m in view["media"]],
    }


def comment_json(entry: Entry, roster: Roster) -> dict[str, Any]:
    body = entry.body
    assert isinstance(body, Comment)
    return {
        "id": entry.id.hex(),
        "text": body.text,
        "author": author(roster, entry.author),
        "operator": entry.operator,
        "created_at": rfc3339(wall_ms(entry.hlc)),
    }


@dataclass(frozen=True, slots=True)
class MemberLink:
    """What this node knows of another member's copy of the logs."""

    member: Member
    heads: dict[bytes, tuple[int, bytes]] | None  # its heads as of our last sync with it
    connected: bool
    last_seen_ms: int | None


def holds(link: MemberLink, entry: Entry, forwarded_by: set[str]) -> bool:
    """Whether the member has stored `entry`, as far as we know: it wrote it, its heads
    reach past it, or it sent it to us over gossip (members forward only what they store)."""
    if link.member.public_key == entry.author or link.member.peer_id in forwarded_by:
        return True
    if link.heads is None:
        return False
    return link.heads.get(entry.author, (0, b""))[0] >= entry.seq


def delivery_json(entry: Entry, links: list[MemberLink], forwarded_by: set[str]) -> dict[str, Any]:
    delivered, missing = [], []
    for link in links:
        if holds(link, entry, forwarded_by):
            delivered.append(link.member.peer_id)
        else:
            missing.append(
                {
                    "peer_id": link.member.peer_id,
                    "name": link.member.name,
                    "country": link.member.country,
                    "connected": link.connected,
                    "last_seen": None if link.last_seen_ms is None else rfc3339(link.last_seen_ms),
                }
            )
    return {"members": len(links), "delivered": delivered, "missing": missing}


def changes_json(entry: Entry) -> dict[str, Any]:
    """What an entry says, for the timeline."""
    body = entry.body
    if isinstance(body, Comment):
        return {"text": body.text}
    if isinstance(body, Media):
        return {"media": {"id": entry.id.hex(), "name": body.name, "mime": body.mime, "size": body.size}}
    out: dict[str, Any] = {}
    for name, value in body.registers.items():
        if isinstance(value, Location):
            out[name] = value.degrees()
        else:
            out[name] = value.name.lower() if isinstance(value, IntEnum) else value
    added = body.tags if isinstance(body, Open) else body.tags_add
    if added:
        out["tags_added"] = list(added)
    if isinstance(body, Update) and body.tags_remove:
        out["tags_removed"] = [tag for tag, _ in body.tags_remove]
    return out


def acks_json(held: dict[tuple[bytes, AckLevel], Entry], roster: Roster) -> dict[str, Any]:
    """Who confirmed an entry, by level, in the order they did."""
    out: dict[str, Any] = {"delivered": [], "noted": []}
    for (member, level), ack in sorted(held.items(), key=lambda item: item[1].order_key):
        out[level.name.lower()].append(
            {"member": author(roster, member), "operator": ack.operator, "at": rfc3339(wall_ms(ack.hlc))}
        )
    return out


def ack_json(entry: Entry) -> dict[str, Any]:
    body = entry.body
    assert isinstance(body, Ack)
    return {
        "id": entry.id.hex(),
        "incident": body.incident.hex(),
        "entry": body.entry.hex(),
        "level": body.level.name.lower(),
        "at": rfc3339(wall_ms(entry.hlc)),
    }


def timeline_json(
    entry: Entry,
    roster: Roster,
    links: list[MemberLink],
    forwarded_by: set[str],
    acks: dict[tuple[bytes, AckLevel], Entry],
) -> dict[str, Any]:
    return {
        "id": entry.id.hex(),
        "kind": entry.kind.name.lower(),
        "seq": entry.seq,
        "author": author(roster, entry.author),
        "operator": entry.operator,
        "at": rfc3339(wall_ms(entry.hlc)),
        "exercise": entry.exercise,
        "to": [author(roster, member) for member in entry.to] if entry.to else None,
        "changes": changes_json(entry),
        "delivery": delivery_json(entry, links, forwarded_by),
        "acknowledged": acks_json(acks, roster),
    }
