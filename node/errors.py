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

from protocol.errors import WriteRefused

from .metrics import Metrics


class StorageFailed(Exception):
    """The store refused a write (disk full, I/O error): nothing was acknowledged."""


class DiskBehind(WriteRefused):
    """Too many of our entries wait for the disk to confirm them (group commit, node/commit.py):
    the disk is slow or failing. Refused for now, like the write gate's refusals."""

    reason = "disk_behind"


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
