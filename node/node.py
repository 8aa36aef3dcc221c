"""The node: one trio nursery holding the libp2p host, gossip, sync, dialer and API.

Every decision is protocol/'s (Replica, sync state machine); this module moves bytes,
keeps time, persists, and reports. Writes are acknowledged only once durable.
"""

import gc
import logging
import os
import random
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from typing import Any

import multiaddr
import trio
from libp2p.abc import INetStream
from libp2p.peer.id import ID

from protocol import limits
from protocol.body import Body, Open
from protocol.budget import OFFENCES, Budgets, Input
from protocol.entry import Entry, decode
from protocol.errors import ProtocolError, WriteRefused
from protocol.gate import WriteGate
from protocol.governance import Governance, State
from protocol.log import Status
from protocol.replica import Applied, Heads, Replica
from protocol.sync import Received, Session, entries_beyond

from .api.app import serve_api
from .commit import GroupCommit
from .config import Config, parse_host_port
from .datadir import DataDir
from .errors import NETWORK_ERRORS, DiskBehind, StorageFailed, report_unexpected
from .exercise.conductor import Conductor
from .exercise.receipts import Receipts
from .media.transfer import PROTOCOL_ID as CHUNKS_PROTOCOL_ID
from .media.transfer import MediaService
from .mesh.gossip import Gossip
from .mesh.host import ConnectionEvents, Dialer, check_port_free, make_host, tcp_endpoints
from .mesh.liveness import PROTOCOL_ID as ALIVE_PROTOCOL_ID
from .mesh.liveness import Prober, handle_probe
from .mesh.membership import Membership
from .mesh.syncer import PROTOCOL_ID, close_quietly, run_session
from .metrics import Metrics
from .standards.cot_stream import CotIn, CotOut
from .store import Also, Store, Unreadable
from .views import MemberLink, incident_json, incident_summary

log = logging.getLogger("qroc.node")


class Node:
    def __init__(self, datadir: DataDir, config: Config | None = None) -> None:
        self.datadir = datadir
        self.config = config or datadir.config()
        self.identity = datadir.identity()
        self.genesis = datadir.genesis()
        self.roster = datadir.roster()  # live: the replica's governance fold replaces its content
        self.peer_id = self.identity.peer_id
        self.member = datadir.member(self.identity, self.config)
        self.store = Store(datadir.db_path, self.roster, self.identity.public_key)
        self.metrics = Metrics()
        self.commit = GroupCommit(self.store, self._publish)
        self._stale_views: set[bytes] = set()  # incidents whose stored summary failed to update
        self._views_behind: set[bytes] = set()  # changed since their summaries were last written
        self._views_due = trio.Event()
        self.membership = Membership(self)
        self.charter: State | None = None  # the roster the node last acted on (Membership)
        self.replica = self._load_replica()
        self.metrics.roster_members.set(len(self.roster))
        self.rng = random.Random()
        self.connected: dict[str, int] = {}  # peer -> connected since (ms)
        self.peer_heads: dict[str, dict[bytes, tuple[int, bytes]]] = {}
        # Entry id -> members that gossiped it to us: they hold it (delivery receipts
        # before the next sync with them says so); the most recent receipts_forwarded_max.
        self._forwarders: OrderedDict[bytes, set[str]] = OrderedDict()
        self._syncing: set[str] = set()  # peers we have an outbound session with
        self._announced: dict[str, Heads] = {}  # peer -> our heads last announced to it
        self._sessions: dict[str, int] = {}  # peer -> sessions open with it, both ways
        self._changed = trio.Event()
        self.event_clients = 0
        self.listen_addrs: list[str] = []
        self.started = trio.Event()
        self._nursery: trio.Nursery | None = None
        self.media: MediaService | None = None
        self.budgets = Budgets()
        self.prober: Prober | None = None
        self.receipts = Receipts(self)
        self.receipts.unanswered()
        self.conductor = Conductor(self)
        self.cot_out = CotOut(self, self.config.cot_out)

    # --- time and state ---

    @staticmethod
    def now_ms() -> int:
        return int(time.time() * 1000)

    def _load_replica(self) -> Replica:
        # Loading makes hundreds of thousands of objects that all live on: the cyclic
        # collector's passes over them are pure cost, here and in every later full
        # collection, so they are frozen out of its sight (bench_scale: start-up).
        gc.disable()
        try:
            return self._restore_replica()
        finally:
            gc.freeze()
            gc.enable()

    def _restore_replica(self) -> Replica:
        """Restore in rounds: the founders' entries first; when their governance entries
        admit members, those members' entries next; until the roster holds still."""
        me = self.identity.public_key
        replica = Replica(
            self.store, self.roster, self.identity, self.store.hlc(), None, os.urandom, Governance(self.genesis)
        )
        restored: set[bytes] = set()
        while authors := ({m.public_key for m in self.roster} | set(self.roster.former)) - restored:
            refused: list[Unreadable] = []
            replica.restore(self.store.chained(authors, refused), self.store.proofs())
            restored |= authors
            for bad in self.store.quarantine(refused):
                log.error(
                    "stored entries this version refuses were set aside (store table 'quarantine')",
                    extra={
                        "author": self._name(bad.author),
                        "seq": bad.seq,
                        "id": bad.id.hex(),
                        "reason": bad.reason,
                        "entries": bad.set_aside,
                    },
                )
        own_unreadable = [seq for author, seq, _, _ in self.store.quarantined() if author == me]
        alone = all(m.public_key == me for m in self.roster)
        replica.gate = WriteGate(self.now_ms(), alone, unreadable_from=min(own_unreadable, default=None))
        self.charter = replica.charter
        self.metrics.quarantined.set(len(self.store.quarantined()))
        self._store_views(replica, set(replica.incidents))
        return replica

    def _name(self, public_key: bytes) -> str:
        member = self.roster.get(public_key)
        return public_key.hex() if member is None else f"{member.name} ({member.country})"

    def _store_views(self, replica: Replica, incidents: set[bytes]) -> None:
        """Rewrite the stored summaries of `incidents` (and of any that failed before). They
        are a cache of the replica's state: when the disk refuses them the entries are still
        durable, so they are retried with the next change and rebuilt at every start."""
        incidents |= self._stale_views
        views, gone = [], []
        for incident in incidents:
            state = replica.incidents.get(incident)
            if state is not None and state.visible:
                views.append((incident, state.updated_hlc, incident_summary(state, self.roster)))
            else:
                gone.append(incident)
        try:
            self.store.put_incidents(views)
            self.store.drop_incidents(gone)
        except sqlite3.Error as exc:
            if not self._stale_views:
                log.warning("incident summaries not stored; retried with the next change", extra={"error": str(exc)})
            self._stale_views = incidents
            return
        self._stale_views = set()

    @property
    def writable(self) -> bool:
        return self.replica.refusal(self.now_ms()) is None

    def write_refusal(self) -> WriteRefused | None:
        """Why a write now would be refused (for /v1/health), or None."""
        return self.replica.refusal(self.now_ms())

    def incident_view(self, incident: bytes, comments: bool = True) -> dict[str, Any] | None:
        """The incident with its comments and media, or None if unknown or not opened."""
        state = self.replica.incidents.get(incident)
        if state is None or not state.visible:
            return None
        return incident_json(state, self.roster, self._media_held, self._comments if comments else None)

    def _comments(self, ids: list[bytes]) -> list[Entry]:
        """Comment entries, read from the store (the fold holds their ids), opened if
        sealed, in (hlc, author, id) order."""
        readable = [e for e in map(self.replica.readable, self.store.entries_of(ids)) if e is not None]
        return sorted(readable, key=lambda e: e.order_key)

    def _media_held(self, manifest: Entry) -> bool:
        return self.media is not None and self.media.complete(manifest)

    def member_links(self) -> list[MemberLink]:
        """Every other member with what we know of its copy (delivery receipts)."""
        seen = self.store.peers_seen()
        return [
            MemberLink(m, self.peer_heads.get(m.peer_id), m.peer_id in self.connected, seen.get(m.peer_id))
            for m in self.roster
            if m.peer_id != self.peer_id
        ]

    def forwarded_by(self, entry_id: bytes) -> set[str]:
        """The members that sent us this entry over gossip (so hold it)."""
        return self._forwarders.get(entry_id, set())

    async def wait_changed(self) -> None:
        """Return at the next stored entry (for live events)."""
        await self._changed.wait()

    def _after(self, applied: Applied, via: str) -> None:
        for entry in applied.stored:
            if self.replica.log.is_canonical(entry):
                self.metrics.entries.labels(entry.kind.name.lower(), via).inc()
        if applied.fork is not None:
            author, seq = applied.fork
            log.warning("fork proven", extra={"author": self._name(author), "seq": seq})
            self.metrics.forks.inc()
        if applied.incidents:
            self._views_behind |= applied.incidents
            self._views_due.set()
            self.cot_out.on_incidents(applied.incidents)
        self.metrics.pending.set(self.replica.log.pending_count())
        if self.media is not None:
            self.media.on_entries(applied.stored)
        self.receipts.on_entries(applied.stored)
        if self.replica.charter is not self.charter:
            self.membership.roster_changed()
        if applied.stored:
            self._changed.set()
            self._changed = trio.Event()

    def refresh_views(self) -> None:
        """Rewrite every stored incident summary (the roster changed: names, cuts)."""
        self._views_behind = set()
        self._store_views(self.replica, set(self.replica.incidents) | self.store.incident_ids())

    def views(self) -> Store:
        """The store with its incident summaries brought up to date first (they trail the
        replica by up to views_flush_ms otherwise): for whatever lists or counts incidents."""
        if self._views_behind:
            behind, self._views_behind = self._views_behind, set()
            self._store_views(self.replica, behind)
        return self.store

    async def _flush_views(self) -> None:
        """The summaries of what changed, views_flush_ms after the first change: many
        entries (comments on one incident, a sync batch) cost one summary each, one commit."""
        while True:
            await self._views_due.wait()
            await trio.sleep(limits.views_flush_ms / 1000)
            self._views_due = trio.Event()
            self.views()

    # --- writes and incoming entries ---

    def write(
        self,
        body: Body,
        exercise: str | None = None,
        operator: str | None = None,
        to: tuple[bytes, ...] = (),
        also: Also | None = None,
        file_key: bytes | None = None,
    ) -> Entry:
        """Sign, store durably, then gossip. `to`: the addressees (default: those of the
        incident, if it is addressed); `also`: work stored in the entry's transaction;
        `file_key`: sealed media's (MediaService.upload).
        Raises WriteRefused (the write gate: catching up, clock ahead, identity forked),
        InvalidField (the body) or StorageFailed; in every case nothing was written."""
        return self.signed(lambda now: self.replica.write(body, now, exercise, operator, to, file_key), also)

    def open_restricted(
        self, opening: Open, recipients: set[bytes], exercise: str | None, operator: str | None
    ) -> Entry:
        """Open an incident only `recipients` (and this OC) can read (protocol/sealed.py)."""
        return self.signed(lambda now: self.replica.open_restricted(opening, recipients, now, exercise, operator))

    def change_recipients(self, incident: bytes, added: set[bytes], removed: set[bytes], operator: str | None) -> Entry:
        return self.signed(lambda now: self.replica.change_recipients(incident, added, removed, now, operator))

    def signed(self, make: Callable[[int], Entry], also: Also | None = None) -> Entry:
        """One of our entries, made by `make(now)` (a Replica write): stored durably with
        `also`, then folded, shown and gossiped; the errors of `write`."""
        now = self.now_ms()
        self.store.now_ms = now
        try:
            if self.commit.pending() >= limits.unflushed_entries_max:
                raise DiskBehind(
                    f"{self.commit.pending()} of this node's entries are waiting for the disk to confirm them; "
                    "try again shortly (a slow or failing disk: see the node's log)"
                )
            with self.store.also(also):
                entry = make(now)
        except WriteRefused as exc:
            self.metrics.writes_refused.labels(exc.reason).inc()
            raise
        except sqlite3.Error as exc:
            self.metrics.writes_refused.labels("storage_failed").inc()
            log.error("storage refused a write; nothing was written", extra={"error": str(exc)})
            raise StorageFailed(str(exc)) from None
        self._after(Applied(Status.APPENDED, stored=[entry], incidents={entry.incident}), "local")
        self.commit.written(entry.signed)
        return entry

    def _publish(self, envelope: bytes) -> None:
        """Gossip our own entry (called once it is durable)."""
        if self._nursery is not None and self.config.gossip:
            self.gossip.publish(envelope)
            self.metrics.gossip_published.inc()

    def reject(self, exc: ProtocolError, source: str, peer: str | None) -> None:
        self.metrics.rejected.labels(exc.reason, source).inc()
        log.info(
            "input rejected", extra={"reason": exc.reason, "source": source, "peer": peer, "detail": str(exc)[:200]}
        )
        if peer is not None and exc.reason in OFFENCES:
            self._offence(peer)

    def within_budget(self, peer: str, kind: Input) -> bool:
        """Spend one of `peer`'s `kind` tokens (protocol/budget.py); over budget, the input
        is dropped, and for gossip it is an offence (sync sessions and chunk requests an
        honest member's catch-up can burst: dropped and counted only, it retries)."""
        if self.budgets.take(peer, kind, self.now_ms()):
            return True
        self.metrics.throttled.labels(kind.value).inc()
        if kind is Input.GOSSIP:
            self._offence(peer)
        return False

    def _offence(self, peer: str) -> None:
        until = self.budgets.offence(peer, self.now_ms())
        if until is None:
            return
        self.metrics.bans.inc()
        log.warning("member banned for repeated invalid or excess input", extra={"peer": peer, "until_ms": until})
        self.disconnect(peer)

    def disconnect(self, peer: str) -> None:
        """Close every connection to `peer` now (banned, or no longer on the roster)."""
        if self._nursery is not None and self.prober is not None:
            self._nursery.start_soon(self.prober.close_all, peer)

    async def _validate_gossip(self, peer: str, envelope: bytes) -> bool:
        """Gossip topic validator: verify, store durably, then let libp2p forward it."""
        self.metrics.gossip_received.inc()
        if not self.config.gossip:
            return False  # fast path off: everything arrives by sync
        if not self.within_budget(peer, Input.GOSSIP):
            return False
        now = self.now_ms()
        self.store.now_ms = now
        try:
            entry = decode(envelope, self.roster)
            applied = self.replica.receive(entry, now)
        except ProtocolError as exc:
            self.reject(exc, "gossip", peer)
            return False
        except sqlite3.Error as exc:  # nothing changed; sync brings the entry again
            log.error("storage refused a gossiped entry", extra={"peer": peer, "error": str(exc)})
            return False
        except Exception as exc:
            report_unexpected(self.metrics, log, "gossip", peer, exc)
            return False
        self._after(applied, "gossip")
        self._forwarders.setdefault(entry.id, set()).add(peer)
        self._forwarders.move_to_end(entry.id)
        if len(self._forwarders) > limits.receipts_forwarded_max:
            self._forwarders.popitem(last=False)
        if applied.status is Status.PENDING:
            self.request_sync(peer)  # a gap: fetch what precedes it
        return applied.forwarded

    def _on_sync_received(self, received: Received, peer: str) -> None:
        for applied in received.applied:
            self._after(applied, "sync")
            self.metrics.sync_entries.inc(len(applied.stored))
        for exc in received.rejected:
            self.reject(exc, "sync", peer)
        self.metrics.sync_messages.inc()

    # --- sync sessions ---

    def request_sync(self, peer: str) -> None:
        """Start a session with `peer` unless one runs or no slot is free."""
        if self._nursery is None or peer in self._syncing or peer not in self.connected or not self._slot_free(peer):
            return
        self._syncing.add(peer)
        self._nursery.start_soon(self._sync_with, peer)

    def _slot_free(self, peer: str) -> bool:
        """Session slots are shared: a member holds at most sync_sessions_per_peer_max of
        them, so one that keeps sessions open slows only itself."""
        return (
            sum(self._sessions.values()) < limits.sync_sessions_max
            and self._sessions.get(peer, 0) < limits.sync_sessions_per_peer_max
        )

    async def _session(self, stream: INetStream, peer: str, dialer: bool) -> bool:
        """One sync session over `stream`; True if it completed."""
        member = self.membership.member(peer)
        session = Session(peer if member is None else self._name(member.public_key), dialer)
        self._sessions[peer] = self._sessions.get(peer, 0) + 1
        try:
            await run_session(stream, session, self.replica, self._sync_now, lambda r: self._on_sync_received(r, peer))
            self.metrics.sync_sessions.labels("complete").inc()
            if session.state.their_heads is not None:
                self.peer_heads[peer] = session.state.their_heads
                self._update_lag(peer)
            return True
        except ProtocolError as exc:
            self.reject(exc, "sync", peer)
            self.metrics.sync_sessions.labels("rejected").inc()
        except sqlite3.Error as exc:  # nothing changed; the next session tries again
            log.error("storage refused entries from sync", extra={"peer": peer, "error": str(exc)})
            self.metrics.sync_sessions.labels("storage_failed").inc()
        except NETWORK_ERRORS as exc:
            log.debug("sync session ended early", extra={"peer": peer, "error": repr(exc)[:200]})
            self.metrics.sync_sessions.labels("ended").inc()
        except Exception as exc:
            report_unexpected(self.metrics, log, "sync", peer, exc)
            self.metrics.sync_sessions.labels("failed").inc()
        finally:
            self._sessions[peer] -= 1
            if not self._sessions[peer]:
                del self._sessions[peer]
            await close_quietly(stream)
        return False

    def _sync_now(self) -> int:
        now = self.now_ms()
        self.store.now_ms = now
        return now

    def _update_lag(self, peer: str) -> None:
        lag = sum(entries_beyond(self.peer_heads.get(peer, {}), self.replica.log.heads()).values())
        self.metrics.sync_lag.labels(peer).set(lag)

    async def _sync_with(self, peer: str) -> None:
        """Sync with `peer`, retrying a failed session a few times while it stays connected:
        the session that follows a reconnection is the one that repairs a partition."""
        try:
            for attempt in range(limits.sync_attempts_max):
                if attempt:
                    await trio.sleep(limits.sync_retry_ms / 1000)
                if peer not in self.connected:
                    return
                try:
                    with trio.fail_after(limits.sync_message_timeout_ms_max / 1000):
                        stream = await self.host.new_stream(ID.from_base58(peer), [PROTOCOL_ID])
                except NETWORK_ERRORS as exc:  # the connection went away under us
                    log.debug("cannot open sync stream", extra={"peer": peer, "error": repr(exc)[:200]})
                    self.metrics.sync_sessions.labels("failed").inc()
                    continue
                if await self._session(stream, peer, dialer=True):
                    return
        finally:
            self._syncing.discard(peer)

    async def _handle_sync_stream(self, stream: INetStream) -> None:
        peer = stream.muxed_conn.peer_id.to_base58()
        if not self._slot_free(peer) or not self.within_budget(peer, Input.SYNC):
            self.metrics.sync_sessions.labels("refused").inc()
            await stream.reset()
            return
        await self._session(stream, peer, dialer=False)

    async def _periodic_sync(self) -> None:
        while True:
            await trio.sleep(self.config.sync_interval_s * self.rng.uniform(0.8, 1.2))
            if self.connected:
                self.request_sync(self.rng.choice(sorted(self.connected)))

    async def _announce_heads(self) -> None:
        """Every receipts interval: our heads to each connected member that has not had
        them yet (gossip), and a sync session with each member whose latest heads still
        lack what we held two intervals ago (gossip missed it). The heads confirm delivery
        (the receipts the console shows); while nothing changes, nothing is sent."""
        held = [self.replica.log.heads()] * 2  # ours, one and two intervals ago
        while True:
            await trio.sleep(limits.receipts_sync_ms / 1000)
            ours = self.replica.log.heads()
            for peer in sorted(self.connected):
                if self._announced.get(peer) != ours:
                    self.gossip.announce(peer, ours)
                    self._announced[peer] = ours
                if entries_beyond(held[0], self.peer_heads.get(peer, {})):  # what it lacks
                    self.request_sync(peer)
            held = [held[1], ours]

    def _on_heads(self, peer: str, heads: Heads) -> None:
        """A member announced its heads (gossip): what it holds, for receipts and lag."""
        if not self.within_budget(peer, Input.GOSSIP):
            return
        self.peer_heads[peer] = heads
        self.replica.heard_heads(peer, heads)
        self._update_lag(peer)

    # --- connections ---

    def _on_refused(self, peer: str) -> None:
        self.metrics.refused_peers.inc()
        log.warning("refused a peer that is not on the roster", extra={"peer": peer})

    def _on_connected(self, peer: str) -> None:
        now = self.now_ms()
        self.connected[peer] = now
        self.metrics.peers_connected.set(len(self.connected))
        self.store.seen_peer(peer, now)
        self.store.peer_event(peer, True, now)
        if self.media is not None:
            self.media.peer_connected(peer)
        self.gossip.peer_connected(peer)
        log.info("peer connected", extra={"peer": peer, "member": self._name(self.membership.member(peer).public_key)})  # type: ignore[union-attr]
        self.request_sync(peer)

    def _on_disconnected(self, peer: str) -> None:
        if self.dialer.connected(peer):
            return  # both sides dialled at once: one of two connections closed, one remains
        if self.connected.pop(peer, None) is not None:
            self.store.seen_peer(peer, self.now_ms())
            self.store.peer_event(peer, False, self.now_ms())
            log.info("peer disconnected", extra={"peer": peer})
        self.metrics.peers_connected.set(len(self.connected))
        self.dialer.reset(peer)
        self.gossip.peer_disconnected(peer)
        self._announced.pop(peer, None)
        if self.media is not None:
            self.media.peer_disconnected(peer)

    # --- lifecycle ---

    async def run(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        for host, port, what in [
            *tcp_endpoints(self.config.listen),
            (self.config.api_host, self.config.api_port, "API"),
            *([(*parse_host_port(self.config.cot_in, "cot_in"), "CoT listener")] if self.config.cot_in else []),
        ]:
            check_port_free(host, port, what)
        self.host = make_host(
            self.datadir.identity_path.read_bytes(),
            self.membership.admitted,
            self._on_refused,
            self.membership.endpoints,
        )
        self.dialer = Dialer(self.host, self.membership.to_dial, self.peer_id, self.rng, self.metrics)
        self.gossip = Gossip(
            self.host,
            self._validate_gossip,
            lambda exc, peer: self.reject(exc, "gossip", peer),
            self.metrics,
            self._on_heads,
        )
        listen = [multiaddr.Multiaddr(a) for a in self.config.listen]
        async with self.host.run(listen_addrs=listen):
            try:
                self.listen_addrs = [str(a) for a in self.host.get_addrs()]
                self.host.get_network().register_notifee(ConnectionEvents(self._on_connected, self._on_disconnected))
                self.host.set_stream_handler(PROTOCOL_ID, self._handle_sync_stream)
                self.media = MediaService(self)
                self.host.set_stream_handler(CHUNKS_PROTOCOL_ID, self.media.handle_stream)
                self.host.set_stream_handler(ALIVE_PROTOCOL_ID, partial(handle_probe, metrics=self.metrics))
                async with self.gossip.running(), trio.open_nursery() as nursery:
                    for peer in self.connected:  # connected before gossip ran
                        self.gossip.peer_connected(peer)
                    await nursery.start(self.commit.run)
                    self._nursery = nursery
                    nursery.start_soon(self.dialer.run)
                    nursery.start_soon(self._periodic_sync)
                    nursery.start_soon(self._announce_heads)
                    nursery.start_soon(self._flush_views)
                    nursery.start_soon(self.receipts.run)
                    nursery.start_soon(self.conductor.release_forever)
                    nursery.start_soon(self.cot_out.run)
                    if self.config.cot_in:
                        await nursery.start(CotIn(self, self.config.cot_in).run)
                    self.prober = Prober(self.host, self.connected, self.metrics, self.membership.endpoints)
                    nursery.start_soon(self.prober.run)
                    await nursery.start(self.media.run)
                    await nursery.start(serve_api, self)
                    log.info("node started", extra={"peer_id": self.peer_id, "listen": self.listen_addrs})
                    self.started.set()
                    task_status.started(self)
                    await trio.sleep_forever()
            finally:
                self._nursery = None
                with trio.move_on_after(limits.host_close_ms_max / 1000) as cleanup:
                    cleanup.shield = True
                    await self.host.close()
                self.store.close()
                log.info("node stopped", extra={"peer_id": self.peer_id})
