"""Governance bodies: proposals to change the roster, approvals, address announcements.

    proposal:  0 base (the roster version it changes)  1 action (1 admit, 2 revoke,
               3 rotate, 4 rule)  2 member (the public key it concerns)
               admit:  3 name  4 country  5 addrs (optional)
               revoke: 6 last seq (the member's last accepted entry)
               rotate: 6 last seq  7 new key  8 proof (the new key's signature over
                       ROTATE_DOMAIN || member)
               rule:   9 quorum [numerator, denominator]
    approval:  0 proposal (entry id)
    address:   0 addrs (the author's own dial addresses; absent: none)

Rules (the fold is protocol/governance.py; both are SPEC.md §4.1.3):
- The constructors validate: a proposal carries exactly the keys its action needs.
- A quorum is a fraction above one half and at most one: two proposals on one roster
  version cannot both reach it unless some member signs both, which honest nodes refuse.
"""

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from . import limits
from .errors import InvalidField
from .identity import Identity, Verifier
from .kinds import Kind
from .roster import MEMBER_NAME, check_addrs, check_country, is_addr
from .schema import Fields, as_bytes32

ROTATE_DOMAIN = b"qroc-mesh/rotate/v1\x00"
PROPOSAL_KEYS = {
    **{0: "base", 1: "action", 2: "member", 3: "name", 4: "country", 5: "addrs"},
    **{6: "last seq", 7: "new key", 8: "proof", 9: "quorum"},
}
APPROVAL_KEYS = {0: "proposal"}
ADDRESS_KEYS = {0: "addrs"}


class Action(IntEnum):
    ADMIT = 1
    REVOKE = 2
    ROTATE = 3
    RULE = 4


# The keys each action carries besides base, action and member (rule: no member).
_NEEDS: dict[Action, frozenset[int]] = {
    Action.ADMIT: frozenset({2, 3, 4}),
    Action.REVOKE: frozenset({2, 6}),
    Action.ROTATE: frozenset({2, 6, 7, 8}),
    Action.RULE: frozenset({9}),
}
_MAY = {Action.ADMIT: frozenset({5})}


@dataclass(frozen=True, slots=True)
class Quorum:
    """The fraction of current members whose signatures put a change in force."""

    numerator: int
    denominator: int

    def __post_init__(self) -> None:
        n, d = self.numerator, self.denominator
        if type(n) is not int or type(d) is not int or not 0 < d <= limits.quorum_denominator_max:
            raise InvalidField(f"quorum is a fraction with a denominator of 1 to {limits.quorum_denominator_max}")
        if not d < 2 * n or n > d:
            raise InvalidField("quorum must be more than one half and at most all members")

    def threshold(self, members: int) -> int:
        """Signatures needed among `members`: ceil(members * numerator / denominator)."""
        return -(-members * self.numerator // self.denominator)

    def to_cbor(self) -> list[int]:
        return [self.numerator, self.denominator]

    @classmethod
    def from_cbor(cls, value: Any) -> "Quorum":
        if type(value) is not list or len(value) != 2:
            raise InvalidField("quorum is [numerator, denominator]")
        return cls(value[0], value[1])

    def __str__(self) -> str:
        return f"{self.numerator}/{self.denominator}"


@dataclass(frozen=True, slots=True)
class Proposal:
    base: bytes
    action: Action
    member: bytes | None = None
    name: str | None = None
    country: str | None = None
    addrs: tuple[str, ...] = ()
    last_seq: int | None = None
    new_key: bytes | None = None
    proof: bytes | None = None
    quorum: Quorum | None = None
    kind = Kind.PROPOSAL

    def __post_init__(self) -> None:
        as_bytes32(self.base, "base")
        present = {k for k, v in self._values().items() if v not in (None, ())}
        needed, may = _NEEDS[self.action], _MAY.get(self.action, frozenset())
        if not needed <= present or present - needed - may:
            wanted = ", ".join(PROPOSAL_KEYS[k] for k in sorted(needed))
            raise InvalidField(f"a {self.action.name.lower()} proposal carries exactly: {wanted}")
        if self.member is not None:
            Verifier(as_bytes32(self.member, "member"))
        if self.name is not None:
            MEMBER_NAME.check(self.name)
        if self.country is not None:
            check_country(self.country)
        check_addrs(list(self.addrs))
        if self.last_seq is not None and (type(self.last_seq) is not int or not 0 <= self.last_seq < 1 << 63):
            raise InvalidField("last seq must be a whole number from 0")
        if self.new_key is not None:
            Verifier(as_bytes32(self.new_key, "new key"))
            if self.new_key == self.member:
                raise InvalidField("a rotation moves to a different key")
        if self.proof is not None:
            assert self.new_key is not None and self.member is not None
            Verifier(self.new_key).verify(ROTATE_DOMAIN, self.member, self.proof)

    def _values(self) -> dict[int, Any]:
        return {
            2: self.member,
            3: self.name,
            4: self.country,
            5: list(self.addrs) or None,
            6: self.last_seq,
            7: self.new_key,
            8: self.proof,
            9: None if self.quorum is None else self.quorum.to_cbor(),
        }

    def to_cbor(self) -> dict[int, Any]:
        return {0: self.base, 1: int(self.action), **{k: v for k, v in self._values().items() if v is not None}}

    @classmethod
    def from_cbor(cls, value: Any) -> "Proposal":
        f = Fields(value, "proposal body", PROPOSAL_KEYS)
        action = f.enum(1, Action)
        assert action is not None
        quorum = f.raw(9, False)
        return cls(
            base=f.bytes32(0),
            action=action,
            member=f.bytes32(2, required=False),
            name=f.raw(3, False),
            country=f.raw(4, False),
            addrs=f.array(5, _addr, limits.member_addrs_max),
            last_seq=f.uint(6, required=False),
            new_key=f.bytes32(7, required=False),
            proof=_proof(f.raw(8, False)),
            quorum=None if quorum is None else Quorum.from_cbor(quorum),
        )


def _addr(value: Any) -> str:
    if not is_addr(value):
        raise InvalidField(f"an address is text of 1 to {limits.addr_chars_max} characters")
    return value  # type: ignore[no-any-return]


def _proof(value: Any) -> bytes | None:
    if value is not None and (type(value) is not bytes or len(value) != 64):
        raise InvalidField("proof must be 64 bytes")
    return value  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class Approval:
    proposal: bytes
    kind = Kind.APPROVAL

    def __post_init__(self) -> None:
        as_bytes32(self.proposal, "proposal")

    def to_cbor(self) -> dict[int, Any]:
        return {0: self.proposal}

    @classmethod
    def from_cbor(cls, value: Any) -> "Approval":
        return cls(Fields(value, "approval body", APPROVAL_KEYS).bytes32(0))


@dataclass(frozen=True, slots=True)
class Address:
    addrs: tuple[str, ...]
    kind = Kind.ADDRESS

    def __post_init__(self) -> None:
        check_addrs(list(self.addrs))

    def to_cbor(self) -> dict[int, Any]:
        return {0: list(self.addrs)} if self.addrs else {}

    @classmethod
    def from_cbor(cls, value: Any) -> "Address":
        fields = Fields(value, "address body", ADDRESS_KEYS)
        return cls(fields.array(0, _addr, limits.member_addrs_max))


def rotation_proof(new_identity: Identity, old_key: bytes) -> bytes:
    """What the new key signs to show a rotation to it is wanted by its holder."""
    return new_identity.sign(ROTATE_DOMAIN, old_key)
