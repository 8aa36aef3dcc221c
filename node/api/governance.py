"""Governance routes: the roster the mesh agrees on, and proposals to change it.

    GET  /v1/governance                          genesis, quorum, roster, former keys, proposals
    POST /v1/governance/proposals                propose: admit, revoke, rotate (a lost key), rule
    POST /v1/governance/proposals/{id}/approve   co-sign a proposal on the current roster version
    POST /v1/governance/address                  announce this member's own dial addresses
    POST /v1/governance/rotate                   move this member to a new key (the handover)

Changing the roster is the OC's decision, not a duty officer's: every POST needs the
node's bearer token (`qroc governance …` uses it); console sessions read only (403).
A proposal is in force once a quorum of current members signed it (protocol/governance.py).
This node signs at most one proposal per roster version (409 for a second): two
conflicting changes then cannot both reach a quorum.
"""

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from protocol import limits
from protocol.charter import Action, Address, Approval, Proposal, rotation_proof
from protocol.errors import InvalidField
from protocol.governance import Governance, Standing, State, parse_quorum, signed_on, standings
from protocol.roster import Member

from ..views import author
from .auth import Principal
from .errors import ApiError
from .writes import hex_id, node_of, write, write_errors

router = APIRouter(tags=["governance"])


def token_only(request: Request) -> None:
    principal: Principal = request.state.principal
    if principal.operator is not None:
        raise ApiError(403, "forbidden", "roster changes need the node's bearer token (qroc governance)")


changes = [Depends(token_only)]


class ProposalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["admit", "revoke", "rotate", "rule"]
    card: dict[str, Any] | None = Field(None, description="admit: the new member's card (qroc member)")
    public_key: str | None = Field(None, max_length=64, description="revoke, rotate: the member's key (hex)")
    last_seq: int | None = Field(
        None, ge=0, description="revoke, rotate: its last accepted seq (default: the last this node holds)"
    )
    new_key: str | None = Field(None, max_length=64, description="rotate: the new key (hex)")
    proof: str | None = Field(None, max_length=128, description="rotate: the new key's signature (qroc member)")
    quorum: str | None = Field(None, max_length=8, description='rule: the new quorum, e.g. "3/4"')


class AddressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    addrs: list[str] = Field(max_length=limits.member_addrs_max)


def _governed(node: Any) -> tuple[Governance, State]:
    governance, state = node.replica.governance, node.replica.charter
    assert governance is not None and state is not None, "a node's replica is governed"
    return governance, state


def _hex(value: str | None, size: int, what: str) -> bytes:
    try:
        data = bytes.fromhex(value or "")
    except ValueError:
        data = b""
    if len(data) != size:
        raise ApiError(422, "invalid_field", f"{what} is {2 * size} hex digits")
    return data


def _standing_json(node: Any, standing: Standing) -> dict[str, Any]:
    entry, body = standing.proposal, standing.proposal.body
    assert isinstance(body, Proposal)
    holders = [
        peer
        for peer, heads in node.peer_heads.items()
        if heads.get(entry.author, (0, b""))[0] >= entry.seq and peer in node.connected
    ]
    return {
        "id": entry.id.hex(),
        "action": body.action.name.lower(),
        "base": body.base.hex(),
        "author": author(node.roster, entry.author),
        "member": None if body.member is None else author(node.roster, body.member),
        "card": None
        if body.action is not Action.ADMIT
        else Member(body.name or "", body.country or "", body.member or b"", body.addrs).card(),
        "last_seq": body.last_seq,
        "new_key": None if body.new_key is None else body.new_key.hex(),
        "quorum": None if body.quorum is None else str(body.quorum),
        "status": standing.status,
        "why": standing.why,
        "signers": [author(node.roster, k) for k in sorted(standing.signers)],
        "needed": standing.needed,
        "held_by": sorted(holders),  # connected members known to hold it (their heads)
    }


@router.get("/v1/governance")
async def governance(request: Request) -> dict[str, Any]:
    node = node_of(request)
    governance, state = _governed(node)
    return {
        "genesis": governance.genesis.id.hex(),
        "version": state.version.hex(),
        "quorum": str(state.quorum),
        "threshold": state.quorum.threshold(len(state.members)),
        "members": [m.card() for m in node.roster],
        "former": [
            {**m.card(), "last_seq": last, "successor": state.successors.get(k, b"").hex() or None}
            for k, (m, last) in sorted(state.former.items())
        ],
        "proposals": [_standing_json(node, s) for s in standings(governance, state)],
    }


def _one_per_version(node: Any, governance: Governance, version: bytes) -> None:
    already = signed_on(governance, node.identity.public_key, version)
    if already is not None:
        raise ApiError(
            409,
            "already_signed",
            f"this member already signed proposal {already.hex()} on this roster version: one per version",
        )


def _last_seq(node: Any, key: bytes, given: int | None) -> int:
    return node.replica.log.head(key)[0] if given is None else given


@router.post("/v1/governance/proposals", status_code=201, dependencies=changes)
async def propose(payload: ProposalIn, request: Request) -> dict[str, Any]:
    """Propose a change to the roster as it stands; this node's signature is the first."""
    node = node_of(request)
    governance, state = _governed(node)
    _one_per_version(node, governance, state.version)
    action = Action[payload.action.upper()]
    with write_errors():
        if action is Action.ADMIT:
            card = Member.from_card(payload.card)
            body = Proposal(state.version, action, card.public_key, card.name, card.country, card.addrs)
        elif action is Action.RULE:
            body = Proposal(state.version, action, quorum=parse_quorum(payload.quorum))
        else:
            key = _hex(payload.public_key, 32, "public_key")
            last = _last_seq(node, key, payload.last_seq)
            new_key = None if action is Action.REVOKE else _hex(payload.new_key, 32, "new_key")
            proof = None if action is Action.REVOKE else _hex(payload.proof, 64, "proof")
            body = Proposal(state.version, action, key, last_seq=last, new_key=new_key, proof=proof)
        if (why := state.why_invalid(body)) is not None:
            raise InvalidField(why)
    entry = write(request, lambda: body, None)
    return _result(node, entry.id)


def _result(node: Any, proposal_id: bytes) -> dict[str, Any]:
    governance, state = _governed(node)
    standing = next(s for s in standings(governance, state) if s.proposal.id == proposal_id)
    return _standing_json(node, standing)


@router.post("/v1/governance/proposals/{proposal_id}/approve", status_code=201, dependencies=changes)
async def approve(proposal_id: str, request: Request) -> dict[str, Any]:
    """Co-sign a pending proposal on the current version (409 if it is not pending there)."""
    node = node_of(request)
    governance, state = _governed(node)
    pid = hex_id(proposal_id, "proposal")
    standing = next((s for s in standings(governance, state) if s.proposal.id == pid), None)
    if standing is None:
        raise ApiError(404, "not_found", "no such proposal on this node (yet)")
    if standing.status != "pending":
        raise ApiError(409, standing.status, f"the proposal is {standing.status}: {standing.why or 'nothing to sign'}")
    if node.identity.public_key in standing.signers:
        raise ApiError(409, "already_signed", "this member signed this proposal already")
    _one_per_version(node, governance, state.version)
    write(request, lambda: Approval(pid), None)
    return _result(node, pid)


@router.post("/v1/governance/address", status_code=201, dependencies=changes)
async def address(payload: AddressIn, request: Request) -> dict[str, Any]:
    """Announce where the other members dial this one (replaces the card's addresses)."""
    entry = write(request, lambda: Address(tuple(payload.addrs)), None)
    return {"entry": entry.id.hex(), "addrs": payload.addrs}


@router.post("/v1/governance/rotate", status_code=201, dependencies=changes)
async def rotate(request: Request) -> dict[str, Any]:
    """Move this member to a new key: the handover, signed by the current key, is in force
    at once. The node signs with the new key from its next start: restart it once every
    member holds the handover (its `held_by`), or they will not know the new key yet."""
    node = node_of(request)
    _, state = _governed(node)
    me = node.identity.public_key
    if not node.roster.is_current(me):
        raise ApiError(409, "not_a_member", "this node's key is not a current member: nothing to rotate")
    new = node.datadir.next_identity()
    with write_errors():
        seq, _ = node.replica.log.next_seq(me)  # the handover's own: its last accepted entry
        proof = rotation_proof(new, me)
    entry = write(
        request,
        lambda: Proposal(state.version, Action.ROTATE, me, last_seq=seq, new_key=new.public_key, proof=proof),
        None,
    )
    node.datadir.promote_next_identity()
    return {
        **_result(node, entry.id),
        "new_peer_id": new.peer_id,
        "restart": "restart the node to sign with the new key",
    }
