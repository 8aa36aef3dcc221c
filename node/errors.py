"""Errors the node reports to its callers, and the one place that tells a network
failure from a bug of ours.

A peer that goes away, a stream that is reset, a link that times out: these are the
network's weather, logged at debug and counted by outcome. Anything else raised while we
handle one peer's (or one client's) input is a bug or an input we did not foresee: it is
logged at warning with the peer, counted in `qroc_internal_errors`, and closes only that
stream (`report_unexpected`).
"""

import logging

import trio
from libp2p.exceptions import BaseLibp2pError

from .metrics import Metrics


class StorageFailed(Exception):
    """The store refused a write (disk full, I/O error): nothing was acknowledged."""


class NotWritable(Exception):
    """Writing now could fork our own log, or would be refused by the others: nothing was
    written. `code` names the reason for the API (e.g. "catching_up", "identity_forked")."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class SessionEnded(Exception):
    """The peer went away or broke the framing of a stream protocol of ours."""


# What a failing link or a departing peer raises through py-libp2p and trio.
NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    BaseLibp2pError,
    OSError,
    EOFError,
    trio.BrokenResourceError,
    trio.ClosedResourceError,
    trio.TooSlowError,
    SessionEnded,
)


def report_unexpected(metrics: Metrics, log: logging.Logger, where: str, peer: str | None, exc: BaseException) -> None:
    """An exception that is not the network's: warn with the peer and count it."""
    metrics.internal_errors.labels(where).inc()
    log.warning(
        "unexpected error while handling a peer's input; its stream is closed",
        exc_info=exc,
        extra={"where": where, "peer": peer},
    )
