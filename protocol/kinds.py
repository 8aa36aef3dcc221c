"""Entry kinds (content key 5, wire): one number per kind of body, never reused."""

from enum import IntEnum


class Kind(IntEnum):
    OPEN = 1
    UPDATE = 2
    COMMENT = 3
    MEDIA = 4
    ACK = 5
    PROFILE = 6
    SEALED = 7
    PROPOSAL = 8  # a change to the roster, in force once a quorum approved it (governance.py)
    APPROVAL = 9  # a member's signature on a proposal
    ADDRESS = 10  # a member's own dial addresses (self-signed, latest wins)


# Kinds about the federation itself rather than an incident: indexed like an incident
# (under the entry's own id) but opening nothing.
GOVERNANCE_KINDS = frozenset({Kind.PROPOSAL, Kind.APPROVAL, Kind.ADDRESS})
