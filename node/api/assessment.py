"""Self-assessment routes: the questionnaire, this OC's profile, the federation's matrix.

    GET /v1/assessment                              the questionnaire and this OC's current profile
    PUT /v1/assessment/profile                      save: a signed profile entry in our log
    GET /v1/assessment/profiles                     every member's current profile
    GET /v1/assessment/profiles/{public_key}/history   every save of one member, oldest first
    GET /v1/assessment/matrix[.csv|.html]           OC × area, gaps, summary (CSV and HTML: downloads)

Every member's node folds every profile (they are not addressed), so each holds the same
matrix once synced. A profile answering another questionnaire version, or breaking its
rules, is set aside with the reason, never dropped silently.
"""

import re
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from assessment import questionnaire as questionnaires
from assessment.matrix import gaps_per_oc, matrix, summary, to_csv, to_html
from assessment.model import Profile as MatrixProfile
from assessment.questionnaire import Answer, AssessmentError, Questionnaire
from protocol import limits
from protocol.body import Answer as WireAnswer
from protocol.body import Profile
from protocol.entry import Entry
from protocol.hlc import wall_ms

from ..views import author, rfc3339
from .errors import ApiError
from .writes import write

router = APIRouter(tags=["assessment"])
_KEY = re.compile(r"[0-9a-f]{64}")


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    area: str = Field(max_length=limits.questionnaire_chars_max)
    current: int = Field(ge=0, le=limits.profile_level_max)
    target: int = Field(ge=0, le=limits.profile_level_max)
    note: str = Field("", max_length=limits.profile_note_chars_max)


class ProfileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answers: list[AnswerIn] = Field(min_length=1, max_length=limits.profile_areas_max)


def _questionnaire() -> Questionnaire:
    return questionnaires.load()


def questionnaire_json(q: Questionnaire) -> dict[str, Any]:
    return {
        "key": q.key,
        "title": q.title,
        "levels": [asdict(level) for level in q.levels],
        "areas": [
            {"id": a.id, "title": a.title, "question": a.question, "descriptors": list(a.levels)} for a in q.areas
        ],
    }


def profile_json(node: Any, entry: Entry) -> dict[str, Any]:
    body = entry.body
    assert isinstance(body, Profile)
    return {
        "entry": entry.id.hex(),
        "member": author(node.roster, entry.author),
        "questionnaire": body.questionnaire,
        "saved_at": rfc3339(wall_ms(entry.hlc)),
        "operator": entry.operator,
        "answers": [asdict(a) for a in body.answers],
    }


def _matrix_profile(node: Any, entry: Entry) -> MatrixProfile:
    body = entry.body
    assert isinstance(body, Profile)
    member = node.roster.get(entry.author)
    answers = tuple(Answer(a.area, a.current, a.target, a.note) for a in body.answers)
    country, name = ("??", entry.author.hex()[:12]) if member is None else (member.country, member.name)
    return MatrixProfile(country, name, body.questionnaire, answers, wall_ms(entry.hlc), entry.operator)


def _matrix(node: Any) -> Any:
    current = node.replica.current_profiles()
    return matrix(_questionnaire(), {k.hex(): _matrix_profile(node, e) for k, e in current.items()})


@router.get("/v1/assessment")
async def assessment(request: Request) -> dict[str, Any]:
    node = request.app.state.node
    mine = node.replica.current_profiles().get(node.identity.public_key)
    return {
        "questionnaire": questionnaire_json(_questionnaire()),
        "mine": None if mine is None else profile_json(node, mine),
    }


@router.put("/v1/assessment/profile", status_code=201)
async def save(payload: ProfileIn, request: Request) -> dict[str, Any]:
    """Publish this OC's self-assessment: it replaces the current one everywhere, and
    the earlier ones stay in the history. Checked against the questionnaire first (422)."""
    q = _questionnaire()
    answers = [Answer(a.area, a.current, a.target, a.note) for a in payload.answers]
    try:
        q.check(answers)
    except AssessmentError as exc:
        raise ApiError(422, "invalid_field", str(exc)) from None
    wire = tuple(WireAnswer(a.area, a.current, a.target, a.note) for a in answers)
    entry = write(request, lambda: Profile(q.key, wire), None)
    return profile_json(request.app.state.node, entry)


@router.get("/v1/assessment/profiles")
async def profiles(request: Request) -> dict[str, Any]:
    node = request.app.state.node
    current = sorted(node.replica.current_profiles().values(), key=lambda e: e.author)
    return {"profiles": [profile_json(node, e) for e in current]}


@router.get("/v1/assessment/profiles/{public_key}/history")
async def history(public_key: str, request: Request) -> dict[str, Any]:
    node = request.app.state.node
    if not _KEY.fullmatch(public_key):
        raise ApiError(404, "not_found", "a member is named by its public key: 64 lower-case hex digits")
    held = node.replica.profiles.get(bytes.fromhex(public_key), [])
    newest = sorted(held, key=lambda e: e.order_key)[-limits.profile_history_max :]
    return {"history": [profile_json(node, e) for e in newest]}


@router.get("/v1/assessment/matrix")
async def matrix_json(request: Request) -> dict[str, Any]:
    m = _matrix(request.app.state.node)

    def row_json(key: str, p: MatrixProfile) -> dict[str, Any]:
        return {"key": key, "country": p.country, "member": p.member, "saved_at": rfc3339(p.saved_ms)}

    return {
        "questionnaire": questionnaire_json(m.questionnaire),
        "rows": [{**row_json(r.key, r.profile), "cells": [asdict(c) for c in r.cells]} for r in m.rows],
        "gaps": [
            {
                "key": g.key,
                "country": g.country,
                "member": g.member,
                "total": g.total,
                "areas": [asdict(c) for c in g.areas],
            }
            for g in gaps_per_oc(m)
        ],
        "summary": [{**asdict(s), "unanswered": list(s.unanswered)} for s in summary(m)],
        "set_aside": [{**row_json(s.key, s.profile), "reason": s.reason} for s in m.set_aside],
    }


@router.get("/v1/assessment/matrix.csv")
async def matrix_csv(request: Request) -> Response:
    content = to_csv(_matrix(request.app.state.node))
    headers = {"content-disposition": 'attachment; filename="capability-matrix.csv"'}
    return Response(content, media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/v1/assessment/matrix.html")
async def matrix_html(request: Request) -> Response:
    node = request.app.state.node
    content = to_html(_matrix(node), node.now_ms())
    headers = {"content-disposition": 'attachment; filename="capability-matrix.html"'}
    return Response(content, media_type="text/html; charset=utf-8", headers=headers)
