"""Exercise routes: conducting runs (the controller) and after-action reports.

    GET  /v1/conduct/msels                         the MSELs shipped with the node
    POST /v1/conduct                               load an MSEL: {"shipped": name} or {"msel", "files"}
    GET  /v1/conduct, /v1/conduct/{run}            runs and their injects' states
    POST /v1/conduct/{run}/{start|pause|resume|end}
    POST /v1/conduct/{run}/injects/{id}/{publish|skip}
    GET  /v1/conduct/{run}/report.json|.html       the after-action report
    GET  /v1/incidents/{id}/report.json|.html      the same for any incident

Reports are downloads (Content-Disposition: attachment): a standalone page with its own
CSP and its plots inlined as data: URIs, to be archived or mailed as one file.
"""

import base64
import binascii
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, Literal

import trio
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from exercise.conduct import ConductError
from exercise.msel import InjectKind, MselError
from exercise.report import Report, build, exercise_items, incident_items
from protocol import limits
from protocol.entry import Entry, decode
from protocol.hlc import wall_ms

from ..exercise.conductor import shipped, shipped_files
from ..reports import render
from .auth import Principal
from .errors import ApiError
from .writes import hex_id, incident_state, operator_of, write_errors

router = APIRouter(tags=["exercises"])


class MselLoad(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shipped: str | None = Field(None, description="Name of a shipped MSEL (GET /v1/conduct/msels)")
    msel: str | None = Field(None, description="The MSEL file's TOML text")
    files: dict[str, str] = Field(default_factory=dict, description="Attachments: relative path -> base64 content")
    speed: float = Field(1.0, ge=1, le=limits.conduct_speed_max, description="Play time per wall time (1: real time)")


def _conductor(request: Request) -> Any:
    return request.app.state.node.conductor


def _controlling(request: Request) -> Any:
    """The conductor, for a request allowed to change a run (403 otherwise)."""
    principal: Principal = request.state.principal
    if not principal.can_conduct:
        raise ApiError(403, "forbidden", "conducting an exercise needs an operator with the role controller")
    return _conductor(request)


def _run_json(request: Request, run_id: int) -> dict[str, Any]:
    """A run's summary; for anyone but a controller, only the injects already out (the
    controller's own OC plays too: its players must not read ahead)."""
    run = _conductor(request).run(run_id)
    summary = {"run": run_id, **run.summary(request.app.state.node.now_ms())}
    principal: Principal = request.state.principal
    if not principal.can_conduct:
        summary["injects"] = [i for i in summary["injects"] if i["state"] in ("released", "releasing")]
    return summary


@contextmanager
def conduct_errors() -> Iterator[None]:
    """The conductor's refusals as API errors (nothing changed in any of them)."""
    try:
        yield
    except ConductError as exc:
        status = 404 if str(exc).startswith("no ") else 409
        raise ApiError(status, "not_found" if status == 404 else "conflict", str(exc)) from None
    except MselError as exc:
        raise ApiError(422, "invalid_msel", str(exc)) from None


@router.get("/v1/conduct/msels")
async def msels() -> dict[str, Any]:
    return {"msels": shipped()}


@router.post("/v1/conduct", status_code=201)
async def load(payload: MselLoad, request: Request) -> dict[str, Any]:
    """Load an MSEL as a new run (phase ready): a shipped one, or a file and its attachments."""
    conductor = _controlling(request)  # before any work: only a controller may load
    if (payload.shipped is None) == (payload.msel is None):
        raise ApiError(422, "invalid_field", "give either 'shipped' or 'msel'")
    if payload.shipped is not None:
        try:
            data, files = shipped_files(payload.shipped)
        except KeyError:
            raise ApiError(404, "not_found", f"no shipped MSEL {payload.shipped!r}; see /v1/conduct/msels") from None
    else:
        assert payload.msel is not None
        data = payload.msel.encode()
        try:
            files = {path: base64.b64decode(content, validate=True) for path, content in payload.files.items()}
        except binascii.Error:
            raise ApiError(422, "invalid_field", "files: each content must be base64") from None
    with write_errors(), conduct_errors():
        run_id = await conductor.load(data, files, payload.speed)
    return _run_json(request, run_id)


@router.get("/v1/conduct")
async def runs(request: Request) -> dict[str, Any]:
    return {"runs": [_run_json(request, run_id) for run_id in sorted(_conductor(request).runs)]}


@router.get("/v1/conduct/{run_id}")
async def one_run(run_id: int, request: Request) -> dict[str, Any]:
    with conduct_errors():
        return _run_json(request, run_id)


def _phase_route(action: Literal["start", "pause", "resume", "end"]) -> Any:
    async def route(run_id: int, request: Request) -> dict[str, Any]:
        conductor = _controlling(request)
        operator = operator_of(request)
        with write_errors(), conduct_errors():
            if action == "start":
                conductor.start(run_id, operator)
            else:
                conductor.phase_change(run_id, action, operator)
        return _run_json(request, run_id)

    route.__name__ = f"conduct_{action}"
    route.__doc__ = {
        "start": "STARTEX: opens the control incident, addressed to every participant; injects follow on time.",
        "pause": "Hold every inject still to come (a comment on the control incident says so).",
        "resume": "Resume play: injects still to come shift by the pause's length.",
        "end": "ENDEX: nothing more is released.",
    }[action]
    return route


def _decision_route(decision: Literal["publish", "skip"]) -> Any:
    async def route(run_id: int, inject_id: str, request: Request) -> dict[str, Any]:
        conductor = _controlling(request)
        with write_errors(), conduct_errors():
            conductor.decide(run_id, inject_id, decision)
        return _run_json(request, run_id)

    route.__name__ = f"inject_{decision}"
    route.__doc__ = {
        "publish": "Release the inject now, ahead of its time (also while paused).",
        "skip": "Never release the inject (nor, for an incident inject, the injects about it).",
    }[decision]
    return route


for _action in ("start", "pause", "resume", "end"):
    router.add_api_route(f"/v1/conduct/{{run_id}}/{_action}", _phase_route(_action), methods=["POST"])  # type: ignore[arg-type]
for _decision in ("publish", "skip"):
    router.add_api_route(
        f"/v1/conduct/{{run_id}}/injects/{{inject_id}}/{_decision}",
        _decision_route(_decision),
        methods=["POST"],  # type: ignore[arg-type]
    )


# --- reports ---


def _me(node: Any) -> Any:
    return node.roster.get(node.identity.public_key) or node.member


def _entries(node: Any, incident: bytes) -> list[Entry]:
    """The canonical entries of an incident as this node reads them (sealed ones opened),
    at most report_entries_max (the newest)."""
    decoded = (
        decode(e, node.roster, verify=False) for e in node.store.incident_entries(incident, limits.report_entries_max)
    )
    return [e for e in map(node.replica.readable, decoded) if e is not None and node.replica.log.is_canonical(e)]


def run_report(node: Any, run_id: int) -> Report:
    return run_report_builder(node, run_id)()


def incident_report(node: Any, incident: bytes) -> Report:
    return incident_report_builder(node, incident)()


def run_report_builder(node: Any, run_id: int) -> Callable[[], Report]:
    """The run's report, to be built: its inputs are gathered here, on the event loop
    (they are the node's live state); the building, which costs, can run in a thread."""
    with conduct_errors():
        run = node.conductor.run(run_id)
    opened = [run.incident_entry(i.id) for i in run.msel.injects if i.kind is InjectKind.INCIDENT]
    me = node.identity.public_key
    entries = [
        entry
        for incident in {run.control, *opened} - {None}
        for entry in _entries(node, incident)
        if entry.exercise == run.msel.name and entry.shown_to(me)
    ]
    now = node.now_ms()
    msel = run.msel
    exercise = {
        "name": msel.name,
        "title": msel.title,
        "controller": msel.controller,
        "participants": list(msel.participants),
        "objectives": list(msel.objectives),
        "startex_ms": run.started_ms,
        "endex_ms": run.ended_ms,
    }
    events = node.store.peer_events(run.started_ms or now, run.ended_ms or now)
    members, items, me_member = list(node.roster), exercise_items(run), _me(node)
    return partial(build, "exercise", exercise, None, items, entries, members, events, me_member, now)  # type: ignore[arg-type]


def incident_report_builder(node: Any, incident: bytes) -> Callable[[], Report]:
    state = incident_state(node, incident)
    me = node.identity.public_key
    entries = [e for e in _entries(node, incident) if e.exercise == state.opening.exercise and e.shown_to(me)]
    view = state.summary()
    first = min((e.hlc for e in entries), default=state.opening.hlc)
    exercise = {
        "name": state.opening.exercise or "",
        "title": view["title"],
        "controller": None,
        "participants": sorted({m.country for m in node.roster}),
        "objectives": [],
        "startex_ms": None,
        "endex_ms": None,
    }
    now = node.now_ms()
    events = node.store.peer_events(wall_ms(first), now)
    members = list(node.roster)
    items = incident_items(entries, members)
    ref = {"id": incident.hex(), "title": view["title"]}
    return partial(build, "incident", exercise, ref, items, entries, members, events, _me(node), now)  # type: ignore[arg-type]


async def _download(report: Report, fmt: Literal["json", "html"], stem: str) -> Response:
    if fmt == "json":
        content, media = json.dumps(report, indent=1).encode(), "application/json"
    else:
        plots = await trio.to_thread.run_sync(render.plots, report)
        images = {n: "data:image/png;base64," + base64.b64encode(png).decode() for n, png in plots.items()}
        content, media = render.html(report, images).encode(), "text/html; charset=utf-8"
    headers = {"content-disposition": f'attachment; filename="{stem}.{fmt}"'}
    return Response(content, media_type=media, headers=headers)


@router.get("/v1/conduct/{run_id}/report.{fmt}")
async def run_report_route(run_id: int, fmt: Literal["json", "html"], request: Request) -> Response:
    node = request.app.state.node
    report = await trio.to_thread.run_sync(run_report_builder(node, run_id))
    return await _download(report, fmt, f"after-action-{report['exercise']['name']}")


@router.get("/v1/incidents/{incident_id}/report.{fmt}")
async def incident_report_route(incident_id: str, fmt: Literal["json", "html"], request: Request) -> Response:
    node = request.app.state.node
    incident = hex_id(incident_id)
    report = await trio.to_thread.run_sync(incident_report_builder(node, incident))
    return await _download(report, fmt, f"incident-{incident_id[:12]}")
