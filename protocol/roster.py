"""Members of the federation and the roster that admits them.

A member card is the JSON an OC hands to the others out of band (name, ISO 3166-1
alpha-2 country, Ed25519 public key, dial addresses). Only roster members may connect and
only their entries are accepted.
"""

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pycountry

from . import limits
from .errors import InvalidField
from .identity import Verifier, peer_id_of, public_key_bytes
from .text import TextRule

# A member's name is shown in every OC's console and logs: line text (protocol/text.py).
MEMBER_NAME = TextRule("member name", limits.name_chars_max)
_KEY_HEX = re.compile("[0-9a-f]{64}")


# ISO 3166-1 reserves "EU" exceptionally for the European Union: an EU-level OC (or a
# demonstration node on embedded defaults) uses it.
EXCEPTIONALLY_RESERVED = {"EU"}


def check_country(code: object) -> str:
    if not isinstance(code, str) or not re.fullmatch("[A-Z]{2}", code):
        raise InvalidField(f"country {code!r} is not an ISO 3166-1 alpha-2 code")
    if code not in EXCEPTIONALLY_RESERVED and pycountry.countries.get(alpha_2=code) is None:
        raise InvalidField(f"country {code!r} is not an ISO 3166-1 alpha-2 code")
    return code


def is_addr(value: object) -> bool:
    """A dial address as a card or an address entry carries it: text of bounded length."""
    return isinstance(value, str) and 0 < len(value) <= limits.addr_chars_max


def check_addrs(addrs: object) -> list[str]:
    if not isinstance(addrs, list) or len(addrs) > limits.member_addrs_max or not all(map(is_addr, addrs)):
        raise InvalidField(f"member card field 'addrs' must be a list of at most {limits.member_addrs_max} addresses")
    return addrs


@dataclass(frozen=True, slots=True)
class Member:
    name: str
    country: str
    public_key: bytes
    addrs: tuple[str, ...] = ()
    verifier: Verifier = field(init=False, repr=False, compare=False)
    # Derived once: every view that names an author shows it (a base58 encoding each time
    # was 3 % of a node's CPU under gossip).
    peer_id: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "verifier", Verifier(self.public_key))
        object.__setattr__(self, "peer_id", peer_id_of(self.public_key))

    def card(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "country": self.country,
            "public_key": self.public_key.hex(),
            "peer_id": self.peer_id,
            "addrs": list(self.addrs),
        }

    @classmethod
    def from_card(cls, card: object) -> "Member":
        """Validate a card from outside; raise InvalidField naming the bad field."""
        if not isinstance(card, Mapping):
            raise InvalidField("a member card is a JSON object")
        name = MEMBER_NAME.check(card.get("name"))
        country = check_country(card.get("country"))
        key_hex = card.get("public_key")
        public_key = bytes.fromhex(key_hex) if isinstance(key_hex, str) and _KEY_HEX.fullmatch(key_hex) else b""
        if len(public_key) != public_key_bytes:
            raise InvalidField("member card field 'public_key' must be 64 lower-case hex digits")
        addrs = check_addrs(card.get("addrs", []))
        member = cls(name=name, country=country, public_key=public_key, addrs=tuple(addrs))
        if "peer_id" in card and card["peer_id"] != member.peer_id:
            raise InvalidField("member card 'peer_id' does not match its public key")
        return member


Former = tuple[Member, int]  # a former member's card and its key's last accepted seq


class Roster:
    """The federation's members, looked up by public key or PeerID; and its former keys
    (revoked, or rotated away from), whose entries up to their last accepted seq stay
    history. A node's roster is one live object: the governance fold replaces its content
    (Replica), and everything holding it sees the change. `dial` is this node's own say on
    where it reaches some members (a proxy, a private address): it replaces the addresses
    their cards and address entries announce."""

    def __init__(
        self,
        members: Iterable[Member] = (),
        former: Mapping[bytes, Former] | None = None,
        dial: Mapping[bytes, tuple[str, ...]] | None = None,
    ) -> None:
        self.dial = dict(dial or {})
        self.replace(members, former or {})

    def replace(self, members: Iterable[Member], former: Mapping[bytes, Former]) -> None:
        by_key: dict[bytes, Member] = {}
        for member in members:
            if member.public_key not in by_key and len(by_key) >= limits.roster_members_max:
                raise InvalidField(f"a roster holds at most {limits.roster_members_max} members")
            if member.public_key in self.dial:
                member = replace(member, addrs=self.dial[member.public_key])
            by_key[member.public_key] = member
        self._by_key = by_key
        self._by_peer_id = {m.peer_id: m for m in by_key.values()}
        self.former = dict(former)  # public key -> (member as it was, last accepted seq)

    def get(self, public_key: bytes) -> Member | None:
        """A member, current or former: whose entries we verify and name."""
        member = self._by_key.get(public_key)
        if member is None and public_key in self.former:
            return self.former[public_key][0]
        return member

    def is_current(self, public_key: bytes) -> bool:
        """A current member: neither unknown nor former."""
        return public_key in self._by_key

    def last_seq(self, public_key: bytes) -> int | None:
        """A former key's last accepted seq (entries after it are refused); None if current."""
        former = self.former.get(public_key)
        return None if former is None else former[1]

    def by_peer_id(self, peer_id: str) -> Member | None:
        """A current member: only they may connect."""
        return self._by_peer_id.get(peer_id)

    def __contains__(self, public_key: object) -> bool:
        """Whether entries of this key are read at all (a current or former member)."""
        return public_key in self._by_key or public_key in self.former

    def __iter__(self) -> Iterator[Member]:
        """The current members, in a stable order."""
        return iter(sorted(self._by_key.values(), key=lambda m: (m.country, m.name, m.public_key)))

    def __len__(self) -> int:
        return len(self._by_key)
