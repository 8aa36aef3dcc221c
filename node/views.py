"""Incident state as local tools see it: JSON values, times in RFC 3339 UTC."""

from datetime import UTC, datetime
from typing import Any

from protocol.body import Media
from protocol.entry import Entry
from protocol.hlc import wall_ms
from protocol.incident import IncidentState
from protocol.roster import Roster


def rfc3339(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def author(roster: Roster, public_key: bytes) -> dict[str, Any]:
    member = roster.get(public_key)
    if member is None:
        return {"name": None, "country": None, "peer_id": None, "public_key": public_key.hex()}
    return {"name": member.name, "country": member.country, "peer_id": member.peer_id, "public_key": public_key.hex()}


def media_json(entry: Entry) -> dict[str, Any]:
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
        "created_at": rfc3339(view["created_at_ms"]),
        "updated_at": rfc3339(view["updated_at_ms"]),
        "author": author(roster, view["author"]),
    }


def incident_json(state: IncidentState, roster: Roster) -> dict[str, Any]:
    """The whole incident as the API serves it."""
    view = state.view()
    return {
        **_summary_json(view, roster),
        "comments": [
            {
                "id": c.id.hex(),
                "text": c.body.text,
                "author": author(roster, c.author),
                "created_at": rfc3339(wall_ms(c.hlc)),
            }
            for c in view["comments"]
        ],
        "media": [media_json(m) for m in view["media"]],
    }
