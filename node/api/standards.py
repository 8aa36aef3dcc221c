"""Standards routes: incidents out as CAP, EDXL-DE, EMSI and CoT; documents in.

    GET  /v1/incidents/{id}/export/{cap|edxl-de|emsi|cot}   one incident as that standard
    GET  /v1/feeds/cap.atom                                 current incidents, for CAP alert hubs
    POST /v1/import/{cap|edxl-de|emsi|cot}                  an XML document: incident writes

`GET /v1/incidents/{id}` with `Accept: application/cap+xml` (or the other types below)
answers the same as the export route. An imported document is checked whole before
anything is written (bridges/); a refused one is answered 4xx naming the problem,
counted in /metrics (rejected inputs, source "import") and logged, and writes nothing.
"""

import logging
from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response

from bridges import cap, cot, edxl, emsi
from bridges.model import Context, Imported, Incident, NotAnIncident
from bridges.xml import XmlRefused
from protocol import limits

from ..standards.context import context
from ..standards.imports import NotFound, apply_all
from .errors import ApiError
from .writes import hex_id, operator_of, write_errors

log = logging.getLogger("qroc.api.standards")
router = APIRouter(tags=["standards"])

Format = Literal["cap", "edxl-de", "emsi", "cot"]
MEDIA_TYPES: dict[str, str] = {
    "cap": "application/cap+xml",
    "edxl-de": "application/edxl-de+xml",
    "emsi": "application/emsi+xml",
    "cot": "application/cot+xml",
}
EXPORTERS: dict[str, Callable[[Incident, Context], bytes | None]] = {
    "cap": cap.export,
    "edxl-de": edxl.export,
    "emsi": emsi.export,
    "cot": cot.export,
}
IMPORTERS: dict[str, Callable[[bytes], list[Imported]]] = {
    "cap": cap.import_document,
    "edxl-de": edxl.import_document,
    "emsi": emsi.import_document,
    "cot": cot.import_document,
}


def exported(node: Any, incident_id: bytes, fmt: str) -> Response:
    view = node.incident_view(incident_id)
    if view is None:
        raise ApiError(404, "not_found", f"no incident {incident_id.hex()}")
    document = EXPORTERS[fmt](view, context(node))
    if document is None:
        raise ApiError(422, "not_exportable", f"{fmt}: the incident has no location, which {fmt} requires")
    return Response(document, media_type=MEDIA_TYPES[fmt])


def format_for(accept: str) -> str | None:
    """The export format an Accept header asks for, if any."""
    wanted = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    return next((fmt for fmt, media in MEDIA_TYPES.items() if media in wanted), None)


@router.get("/v1/incidents/{incident_id}/export/{fmt}", response_class=Response)
async def export(incident_id: str, fmt: Format, request: Request) -> Response:
    return exported(request.app.state.node, hex_id(incident_id), fmt)


@router.get("/v1/feeds/cap.atom", response_class=Response)
async def cap_feed(
    request: Request,
    exercise: str | None = Query(None, description="An exercise's incidents instead of real ones"),
) -> Response:
    """Open and monitored incidents, newest first, each entry a CAP alert (Status Actual,
    or Exercise for an exercise's feed): what alert hubs poll."""
    node = request.app.state.node
    rows = node.views().incidents(limits.cap_feed_items_max * 2, exercise=exercise if exercise is not None else False)
    views = [
        v
        for _, i in rows
        if (v := node.incident_view(i)) is not None
        and v["status"] in ("open", "monitoring")
        and v["restricted_to"] is None  # a restricted incident never goes to a hub
    ]
    alerts = str(request.base_url).rstrip("/") + "/v1/incidents/{id}/export/cap"
    feed = cap.atom_feed(views[: limits.cap_feed_items_max], context(node), str(request.url), alerts)
    return Response(feed, media_type="application/atom+xml")


@router.post("/v1/import/{fmt}", status_code=200)
async def import_document(fmt: Format, request: Request, response: Response) -> dict[str, Any]:
    """The XML document is the body. 201 if it opened an incident, else 200; each
    incident it concerns is listed with what was done (created, updated, cancelled,
    unchanged: the same document again changes nothing)."""
    node = request.app.state.node
    data = await request.body()
    try:
        imported = IMPORTERS[fmt](data)
    except XmlRefused as exc:
        node.metrics.rejected.labels(exc.reason, "import").inc()
        log.info("import refused", extra={"format": fmt, "reason": exc.reason, "detail": str(exc)[:200]})
        status = 413 if exc.reason == "too_large" else 422
        code = "invalid_document" if exc.reason == "invalid" else f"refused_{exc.reason}"
        raise ApiError(status, code, str(exc)) from None
    except NotAnIncident as exc:  # a TAK device's own position, a chat message: valid, not ours to store
        node.metrics.not_incidents.labels(fmt).inc()
        return {"results": [], "note": str(exc)}
    if not imported:  # a valid document about something else (an EDXL-DE of other content)
        return {"results": [], "note": f"{fmt}: the document is valid and carries no incident"}
    with write_errors():
        try:
            outcomes = apply_all(node, imported, operator_of(request))
        except NotFound as exc:
            raise ApiError(404, "not_found", str(exc)) from None
    results = [
        {
            "incident": outcome.incident.hex(),
            "action": outcome.action,
            "entry": None if outcome.entry is None else outcome.entry.hex(),
            "origin": {
                "format": item.origin.format,
                "sender": item.origin.sender,
                "identifier": item.origin.identifier,
            },
        }
        for item, outcome in zip(imported, outcomes, strict=True)
    ]
    if any(r["action"] == "created" for r in results):
        response.status_code = 201
    return {"results": results}
