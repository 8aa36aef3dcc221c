"""The roster as replicated, signed state: the genesis and the fold of governance entries.

The genesis is the one thing configured by hand: the founders' cards and the quorum,
signed by every founder. Every later change is a proposal entry (protocol/charter.py)
that names the roster version it changes (the genesis id, or the id of the last proposal
in force) and is in force once enough current members have signed it. Rules (SPEC.md §4.1.3):

- A proposal counts its author's signature (the entry) and one per approval entry of
  another current member. It needs ceil(n × quorum) of the n current members — except a
  rotation its own key proposes (the handover), which needs only that key.
- The fold starts at the genesis. At each version, of the proposals on that version that
  are valid there and have their signatures, the one with the lowest id comes into
  force; the version becomes its id. Repeat until none does. Every node holding the same
  governance entries computes the same roster, in any order of arrival; a proposal on an
  older version than the current one is superseded and must be proposed again.
- Honest nodes approve at most one proposal per version (the node refuses a second), and
  a quorum is more than half: two conflicting proposals on one version cannot both reach
  it unless members equivocate — and then the lowest id still decides, everywhere.
- A revoked key, or one rotated away from, becomes former: its entries up to the last
  seq the proposal names stay (history); later ones are refused everywhere.
- A revocation or rotation does not count the signatures its member made after the last
  seq it names: those entries are refused once it is in force, so counting them would
  make the fold depend on whether a node had already dropped them.
- A member's own address entries (latest by hlc, author, id) replace its card's addresses.

Pure: no clock, no I/O. Decoders raise only ProtocolError subclasses.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from . import cbor, limits
from .charter import Action, Address, Approval, Proposal, Quorum
from .entry import Entry
from .errors import BadSignature, InvalidField
from .identity import Identity, hash32
from .kinds import GOVERNANCE_KINDS
from .roster import Member

GENESIS_DOMAIN = b"qroc-mesh/genesis/v1\x00"
GENESIS_FORMAT = "qroc-genesis/1"


@dataclass(frozen=True, slots=True)
class Genesis:
    """The founders and the quorum, and each founder's signature over both."""

    members: tuple[Member, ...]
    quorum: Quorum
    signatures: Mapping[bytes, bytes] = field(default_factory=dict)  # founder key -> signature

    @property
    def content(self) -> bytes:
        founders = sorted(self.members, key=lambda m: m.public_key)
        return cbor.encode(
            [[[m.public_key, m.name, m.country, list(m.addrs)] for m in founders], self.quorum.to_cbor()]
        )

    @property
    def id(self) -> bytes:
        """The first roster version: what the first proposals name as their base."""
        return hash32(GENESIS_DOMAIN + self.content)

    def signed_by(self, identity: Identity) -> "Genesis":
        if not any(m.public_key == identity.public_key for m in self.members):
            raise InvalidField("only a founder signs the genesis")
        signature = identity.sign(GENESIS_DOMAIN, self.content)
        return replace(self, signatures={**self.signatures, identity.public_key: signature})

    def missing(self) -> list[Member]:
        """Founders whose signature is absent."""
        return [m for m in self.members if m.public_key not in self.signatures]

    def check(self) -> "Genesis":
        """Every founder signed, nobody else did, and every signature verifies."""
        keys = {m.public_key for m in self.members}
        if len(keys) != len(self.members) or not self.members:
            raise InvalidField("a genesis lists one or more founders, each once")
        if len(self.members) > limits.roster_members_max:
            raise InvalidField(f"a genesis lists at most {limits.roster_members_max} founders")
        if missing := self.missing():
            raise InvalidField(f"the genesis lacks the signature of {', '.join(m.name for m in missing)}")
        if set(self.signatures) - keys:
            raise InvalidField("the genesis carries a signature of a key that is not a founder")
        content = self.content
        for member in self.members:
            try:
                member.verifier.verify(GENESIS_DOMAIN, content, self.signatures[member.public_key])
            except BadSignature:
                raise BadSignature(f"the genesis signature of {member.name} does not verify") from None
        return self

    def to_json(self) -> dict[str, Any]:
        return {
            "format": GENESIS_FORMAT,
            "members": [m.card() for m in sorted(self.members, key=lambda m: (m.country, m.name))],
            "quorum": str(self.quorum),
            "signatures": {k.hex(): s.hex() for k, s in sorted(self.signatures.items())},
        }

    @classmethod
    def from_json(cls, doc: object) -> "Genesis":
        """Read a genesis document (unchecked: `check` verifies the signatures)."""
        if not isinstance(doc, dict) or doc.get("format") != GENESIS_FORMAT:
            raise InvalidField(f'a genesis is a JSON object with "format": "{GENESIS_FORMAT}"')
        if unknown := sorted(set(doc) - {"format", "members", "quorum", "signatures"}):
            raise InvalidField(f"a genesis has no field {unknown[0]!r}")
        cards = doc.get("members")
        if not isinstance(cards, list) or len(cards) > limits.roster_members_max:
            raise InvalidField(f"genesis 'members' is a list of at most {limits.roster_members_max} member cards")
        return cls(tuple(Member.from_card(c) for c in cards), parse_quorum(doc.get("quorum")), _signatures(doc))


def parse_quorum(text: object) -> Quorum:
    """'2/3' -> Quorum(2, 3); InvalidField naming the problem."""
    parts = text.split("/") if isinstance(text, str) else []
    if len(parts) != 2 or not all(p.isdigit() and len(p) <= 3 for p in parts):
        raise InvalidField('quorum is a fraction such as "2/3"')
    return Quorum(int(parts[0]), int(parts[1]))


def _signatures(doc: dict[str, Any]) -> dict[bytes, bytes]:
    raw = doc.get("signatures", {})
    if not isinstance(raw, dict) or len(raw) > limits.roster_members_max:
        raise InvalidField("genesis 'signatures' maps founder public keys (hex) to signatures (hex)")
    out = {}
    for key, sig in raw.items():
        try:
            k, s = bytes.fromhex(key), bytes.fromhex(sig)
        except (TypeError, ValueError):
            raise InvalidField("genesis 'signatures' holds hex keys and hex signatures") from None
        if len(k) != 32 or len(s) != 64:
            raise InvalidField("a genesis signature is 64 bytes, keyed by a 32-byte public key")
        out[k] = s
    return out


@dataclass(frozen=True, slots=True)
class State:
    """The roster a fold arrives at."""

    version: bytes  # the genesis id, or the id of the last proposal in force
    members: dict[bytes, Member]
    former: dict[bytes, tuple[Member, int]]  # key -> (member as it was, last accepted seq)
    quorum: Quorum
    in_force: tuple[bytes, ...]  # proposal ids, in the order they came into force
    successors: dict[bytes, bytes] = field(default_factory=dict)  # rotated key -> the key it moved to

    def threshold(self, proposal: Entry) -> int:
        body = proposal.body
        assert isinstance(body, Proposal)
        if body.action is Action.ROTATE and body.member == proposal.author:
            return 1  # the handover: the old key itself moves to the new one
        return self.quorum.threshold(len(self.members))

    def why_invalid(self, body: Proposal) -> str | None:
        """Why `body` cannot apply to this roster, or None."""
        key = body.member
        if body.action is Action.ADMIT:
            if key in self.members or key in self.former:
                return "that key is, or was, a member"
            if len(self.members) >= limits.roster_members_max:
                return f"the roster holds {limits.roster_members_max} members already"
        elif body.action in (Action.REVOKE, Action.ROTATE):
            if key not in self.members:
                return "that key is not a current member"
            if body.action is Action.REVOKE and len(self.members) == 1:
                return "the last member cannot be revoked"
            if body.new_key in self.members or body.new_key in self.former:
                return "the new key is, or was, a member"
        return None

    def apply(self, proposal: Entry) -> "State":
        body = proposal.body
        assert isinstance(body, Proposal)
        members, former, quorum, successors = dict(self.members), dict(self.former), self.quorum, dict(self.successors)
        if body.action is Action.ADMIT:
            assert body.member is not None and body.name is not None and body.country is not None
            members[body.member] = Member(body.name, body.country, body.member, body.addrs)
        elif body.action is Action.RULE:
            assert body.quorum is not None
            quorum = body.quorum
        else:
            assert body.member is not None and body.last_seq is not None
            gone = members.pop(body.member)
            former[body.member] = (gone, body.last_seq)
            if body.new_key is not None:
                members[body.new_key] = Member(gone.name, gone.country, body.new_key, gone.addrs)
                successors[body.member] = body.new_key
        return State(proposal.id, members, former, quorum, (*self.in_force, proposal.id), successors)


class Governance:
    """The governance entries a replica holds (canonical ones only) and their fold."""

    def __init__(self, genesis: Genesis) -> None:
        self.genesis = genesis
        self.entries: dict[bytes, Entry] = {}  # id -> proposal, approval or address entry

    def add(self, entry: Entry) -> bool:
        """Hold a canonical governance entry; False if the federation holds its maximum."""
        assert entry.kind in GOVERNANCE_KINDS
        if len(self.entries) >= limits.governance_entries_max:
            return False
        self.entries[entry.id] = entry
        return True

    def keep(self, canonical: Callable[[Entry], bool]) -> None:
        """Let go of the entries that are no longer canonical (a fork, a revocation)."""
        self.entries = {i: e for i, e in self.entries.items() if canonical(e)}

    def signers(self) -> dict[bytes, set[bytes]]:
        """Proposal id -> the keys that signed it (the proposal's author, and approvers)."""
        proposals = {i: e.body for i, e in self.entries.items() if isinstance(e.body, Proposal)}
        signers: dict[bytes, set[bytes]] = {i: set() for i in proposals}
        for entry in self.entries.values():
            if isinstance(entry.body, Proposal):
                target = entry.id
            elif isinstance(entry.body, Approval):
                target = entry.body.proposal
            else:
                continue
            body = proposals.get(target)
            if body is None:
                continue
            if body.member == entry.author and body.last_seq is not None and entry.seq > body.last_seq:
                continue  # refused once the proposal is in force: it cannot help it there
            signers[target].add(entry.author)
        return signers

    def fold(self) -> State:
        g = self.genesis
        state = State(g.id, {m.public_key: m for m in g.members}, {}, g.quorum, ())
        signers = self.signers()
        by_base: dict[bytes, list[Entry]] = {}
        for entry in self.entries.values():
            if isinstance(entry.body, Proposal):
                by_base.setdefault(entry.body.base, []).append(entry)
        while True:
            ready = [
                p
                for p in by_base.get(state.version, [])
                if p.author in state.members
                and state.why_invalid(p.body) is None  # type: ignore[arg-type]
                and len(signers[p.id] & state.members.keys()) >= state.threshold(p)
            ]
            if not ready:
                break
            state = state.apply(min(ready, key=lambda p: p.id))
        announced = {}
        for entry in sorted(self.entries.values(), key=lambda e: e.order_key):
            if isinstance(entry.body, Address) and entry.author in state.members:
                announced[entry.author] = entry.body.addrs
        for key, addrs in announced.items():
            state.members[key] = replace(state.members[key], addrs=addrs)
        return state


@dataclass(frozen=True, slots=True)
class Standing:
    """Where one proposal stands against the roster a fold arrived at."""

    proposal: Entry
    signers: frozenset[bytes]
    needed: int  # signatures of current members it needs (on the current version)
    status: str  # in_force, pending, superseded (its base is past), invalid (why_invalid), or unknown_base
    why: str | None = None


def standings(governance: Governance, state: State) -> list[Standing]:
    """Every proposal held, oldest first, with its status: what a member is asked to sign."""
    signers = governance.signers()
    past = {governance.genesis.id, *state.in_force}
    out = []
    for entry in sorted(governance.entries.values(), key=lambda e: e.order_key):
        body = entry.body
        if not isinstance(body, Proposal):
            continue
        why = None
        if entry.id in state.in_force:
            status = "in_force"
        elif body.base == state.version:
            why = state.why_invalid(body) or (None if entry.author in state.members else "its author is not a member")
            status = "pending" if why is None else "invalid"
        else:
            status = "superseded" if body.base in past else "unknown_base"
        out.append(Standing(entry, frozenset(signers[entry.id]), state.threshold(entry), status, why))
    return out


def signed_on(governance: Governance, signer: bytes, version: bytes) -> bytes | None:
    """The proposal on `version` that `signer` proposed or approved, if any: an honest
    member signs one per version (two conflicting changes cannot then both gather a
    quorum)."""
    for proposal_id, keys in governance.signers().items():
        body = governance.entries[proposal_id].body
        if signer in keys and isinstance(body, Proposal) and body.base == version:
            return proposal_id
    return None
