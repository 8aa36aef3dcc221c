"""Who may connect and whom we dial: the live roster, plus the config's join addresses.

Rules:
- A peer is admitted at the handshake if it is a current member of the roster and not
  banned; or if the config names it under `join` and the roster does not know its key
  (neither current nor former): a new member reaches one member before it has learnt
  the roster, and from then on the roster decides.
- When the governance fold changes the roster (Replica.charter is a new object), every
  connection to a peer that is no longer admitted is closed at once, every connected
  member is asked for a sync session (the entries of members we did not know are now
  readable), newly known members are dialled, and every incident summary is rewritten
  (a cut may have changed or removed some).
- Restricted incidents a revoked member could read move to a new key for what is written
  afterwards: of the remaining recipients, the one with the lowest key writes the change
  (another doing it too only costs one more key). A rotated key is replaced by its
  successor among the recipients, in the same change.
"""

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from protocol.errors import ProtocolError
from protocol.identity import public_key_of
from protocol.roster import Member

from ..errors import StorageFailed
from .host import member_endpoints

if TYPE_CHECKING:
    from ..node import Node

log = logging.getLogger("qroc.membership")

# The name a join address's member goes by until the roster names it.
JOIN_NAME, JOIN_COUNTRY = "member reached by a join address", "EU"


class Membership:
    def __init__(self, node: "Node") -> None:
        self.node = node
        self._join: dict[str, Member] = {}
        for addr in node.config.join:
            peer = addr.rpartition("/p2p/")[2]
            held = self._join.get(peer)
            key = public_key_of(peer)  # Config checked it
            self._join[peer] = Member(JOIN_NAME, JOIN_COUNTRY, key, (*(held.addrs if held else ()), addr))

    def _joining(self, peer: str) -> Member | None:
        """A join address's member the roster does not know (yet)."""
        member = self._join.get(peer)
        return member if member is not None and member.public_key not in self.node.roster else None

    def member(self, peer: str) -> Member | None:
        return self.node.roster.by_peer_id(peer) or self._joining(peer)

    def admitted(self, peer: str) -> bool:
        """Admitted at the handshake: a member (or joining) and not banned."""
        return self.member(peer) is not None and not self.node.budgets.banned(peer, self.node.now_ms())

    def endpoints(self, peer: str) -> set[tuple[str, int]]:
        """(host, port) of where a member is dialled and probed."""
        return member_endpoints(self.member(peer))

    def to_dial(self) -> Iterable[Member]:
        yield from self.node.roster
        yield from (m for m in self._join.values() if m.public_key not in self.node.roster)

    def roster_changed(self) -> None:
        node, before = self.node, self.node.charter
        charter = node.replica.charter
        assert charter is not None, "only a governed replica changes the roster"
        node.charter = charter
        node.metrics.roster_members.set(len(node.roster))
        log.info(
            "roster changed",
            extra={"version": charter.version.hex(), "members": len(node.roster), "former": len(node.roster.former)},
        )
        for peer in sorted(node.connected):
            if not self.admitted(peer):
                log.warning("closing the connections of a peer no longer on the roster", extra={"peer": peer})
                node.disconnect(peer)
            else:
                node.request_sync(peer)
        for member in node.roster:
            node.dialer.reset(member.peer_id)
        node.refresh_views()
        gone = set(charter.former) - set(before.former if before is not None else {})
        self._rekey(gone, charter.successors)

    def _rekey(self, gone: set[bytes], successors: dict[bytes, bytes]) -> None:
        node = self.node
        me = node.identity.public_key
        keyring = node.replica.keyring
        for incident in sorted(keyring.current):
            recipients = keyring.current_recipients(incident)
            removed = recipients & gone
            if not removed or me not in recipients or me != min(recipients - removed):
                continue
            added = {successors[k] for k in removed if k in successors}
            try:
                node.change_recipients(incident, added, removed, None)
                log.info("restricted incident moved to a new key", extra={"incident": incident.hex()})
            except (ProtocolError, StorageFailed) as exc:
                log.warning(
                    "could not move a restricted incident to a new key",
                    extra={"incident": incident.hex(), "error": str(exc)},
                )
