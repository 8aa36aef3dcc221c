"""The one error family a decoder may raise.

Every decoder in protocol/ turns any failure, whatever the input, into a subclass of
ProtocolError. The node counts rejections by `reason` (a stable metric label), so each
failure class has its own subclass and reason string.
"""


class ProtocolError(Exception):
    """Base of every rejection of outside input."""

    reason = "invalid"


class TooLarge(ProtocolError):
    reason = "too_large"


class Malformed(ProtocolError):
    """Not well-formed CBOR, or not the shape the schema requires."""

    reason = "malformed"


class NonCanonical(ProtocolError):
    """Well-formed, but not the one deterministic encoding of its value."""

    reason = "non_canonical"


class UnsupportedVersion(ProtocolError):
    reason = "unsupported_version"


class InvalidField(ProtocolError):
    """A field has the right type but a value the schema forbids."""

    reason = "invalid_field"


class UnknownAuthor(ProtocolError):
    reason = "unknown_author"


class Revoked(ProtocolError):
    """An entry of a former member's key after its last accepted seq (a revocation or a
    rotation named that seq): refused everywhere. Not an offence: a node that took it in
    before it learned of the revocation may relay it in good faith."""

    reason = "revoked"


class BadSignature(ProtocolError):
    reason = "bad_signature"


class ClockSkew(ProtocolError):
    """A timestamp too far ahead of our clock; may become acceptable later."""

    reason = "clock_skew"


class BadChunk(ProtocolError):
    """A media chunk whose hash, size or compression framing is wrong."""

    reason = "bad_chunk"


class WriteRefused(ProtocolError):
    """The write gate (protocol/gate.py) refuses a local write: writing now could fork our
    own log or would be refused by the other members. `reason` names the case for the
    API and the metrics; the message says what the operator can do."""

    reason = "write_refused"


class CatchingUp(WriteRefused):
    """We may not hold the end of our own log yet: a member may have more of it."""

    reason = "catching_up"


class ClockAhead(WriteRefused):
    """Our clock, or the clock persisted with our log, is far ahead of the federation's."""

    reason = "clock_ahead"


class IdentityForked(WriteRefused):
    """Our own key signed two chains (a cloned key, or a restore that wrote before it
    caught up). Everything we write from the fork on is excluded everywhere, so we refuse
    to write at all: an operator must act."""

    reason = "identity_forked"

    @classmethod
    def at(cls, seq: int) -> "IdentityForked":
        return cls(
            f"this member's key signed two different entries at seq {seq} (a cloned key, or a copy restored "
            "from a backup that wrote): every member ignores its entries from there on. Stop every other node "
            "holding this key and move this OC to a new identity (README, 'Forked or unreadable identity')."
        )


class OwnLogUnreadable(WriteRefused):
    """Entries of our own log in our store break this version's rules (an older version
    let them in): no member accepts them, and writing on would reuse their seqs."""

    reason = "own_log_unreadable"


class NotAMember(WriteRefused):
    """Our key is not a current member: not admitted yet (a new node still learning the
    roster from the mesh), or revoked, or rotated away from (restart the node to move to
    its new key). Every member would refuse what it wrote."""

    reason = "not_a_member"
