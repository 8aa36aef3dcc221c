"""Media: chunk store, serving chunks to peers, and fetching them from several at once.

Which chunk to ask of whom is decided by protocol.planner.FetchPlanner; this module
moves the bytes. Every chunk is verified against its manifest hash before it is stored,
and stored durably before it counts as held, so a restart resumes where it stopped.

The planner holds a bounded share of each author's manifests; the rest stay in the store
and are offered to it again, in log order, when it has room (`_offer_log`).

Chunk files no stored manifest lists are collected: those an upload stored before it
failed or its client went away, and at start-up every such file (a crash mid-upload).
A chunk that any stored manifest lists, or that an upload in progress has touched, is
never removed.
"""

import logging
import math
import os
from collections.abc import AsyncIterator, Iterable
from typing import Any

import trio
from libp2p.abc import INetStream
from libp2p.peer.id import ID

from protocol import limits
from protocol.body import Kind, Media, Severity
from protocol.budget import Input
from protocol.entry import Entry, decode
from protocol.errors import BadChunk, ProtocolError
from protocol.media import Chunker, decode_frame, encode_frame, verify_chunk
from protocol.planner import FetchPlanner, Item
from protocol.sealed import ChunkSealer, carried
from protocol.transfer import (
    NOT_HELD,
    OP_HAVE,
    UNKNOWN_MANIFEST,
    decode_request,
    decode_response,
    encode_bitmap,
    encode_error,
    encode_frame_response,
    encode_request,
)

from ..errors import NETWORK_ERRORS, report_unexpected
from ..mesh.syncer import close_quietly, read_frame, write_frame
from ..store import Also
from .chunks import ChunkStore

PROTOCOL_ID = "/qroc/chunks/1"
MANIFEST_KINDS = (int(Kind.MEDIA), int(Kind.SEALED))  # stored kinds that may carry a chunk stream
log = logging.getLogger("qroc.media")


class MediaService:
    def __init__(self, node: Any) -> None:
        self.node = node
        self.chunks = ChunkStore(node.datadir.chunks_path)
        self.planner = FetchPlanner(
            self.chunks.has, self._author_peer, node.peer_id, lambda: [m.peer_id for m in node.roster], self._load
        )
        self.sources: dict[bytes, set[str]] = {}
        self._uploading: dict[bytes, int] = {}  # chunk hash -> uploads in progress that touched it
        self._orphans: set[bytes] = set()  # chunks to check: does a stored manifest list them?
        self._orphans_queued = trio.Event()
        self._wake: dict[str, trio.Event] = {}  # per peer: its workers wait on it
        self._served: dict[bytes, Media] = {}  # manifests peers ask HAVE about, newest last
        self._serving: dict[str, int] = {}
        self._fetchers: dict[str, trio.CancelScope] = {}
        self._nursery: trio.Nursery | None = None

    def _author_peer(self, public_key: bytes) -> str | None:
        member = self.node.roster.get(public_key)
        return None if member is None else member.peer_id

    def _poke(self, peer: str | None = None) -> None:
        """Wake the idle workers for `peer` (news from it can only make work for them),
        or for every peer. Not after each chunk stored: with ten peers and four workers
        each, that woke forty workers per chunk for nothing."""
        for key in [peer] if peer is not None else list(self._wake):
            event = self._wake.pop(key, None)
            if event is not None:
                event.set()

    # --- manifests ---

    def _stored(self, media_id: bytes) -> Entry | None:
        envelope = self.node.store.entry_by_id(media_id)
        if envelope is None:
            return None
        entry = decode(envelope, self.node.roster, verify=False)
        return entry if self.node.replica.log.is_canonical(entry) else None

    def manifest(self, media_id: bytes) -> Entry | None:
        """The chunk stream a stored entry carries (a restricted incident's: sealed chunks)."""
        entry = self._stored(media_id)
        return None if entry is None else carried(entry)

    def readable(self, media_id: bytes) -> tuple[Entry, bytes | None] | None:
        """The media item as this member reads it, and the key of its chunks if they are
        sealed; None if it is not media, or sealed for others."""
        entry = self._stored(media_id)
        if entry is None or carried(entry) is None:
            return None
        if entry.kind is Kind.MEDIA:
            return entry, None
        opened = self.node.replica.readable(entry)
        return None if opened is None else (opened, self.node.replica.keyring.file_keys[entry.id])

    def complete(self, manifest: Entry) -> bool:
        media = manifest.body
        assert isinstance(media, Media)
        return self.chunks.count(media.chunks) == len(media.chunks)

    def fetch(self, manifest: Entry, on_demand: bool = False, displace: bool = True) -> bool:
        """Fetch `manifest`'s chunks: always when asked on demand, else as configured.
        False if the planner turned it away for now (it names the author again later)."""
        media = manifest.body
        assert isinstance(media, Media)
        config = self.node.config
        automatic = config.media_fetch == "all" and media.size <= config.media_auto_fetch_bytes_max
        if self.complete(manifest) or not (on_demand or automatic):
            return True
        if not self.planner.want(manifest, self._severity(manifest), displace):
            return False
        self._poke()
        return True

    def _severity(self, manifest: Entry) -> int:
        state = self.node.replica.incidents.get(manifest.incident)
        if state is None or not state.visible:
            return int(Severity.LOW)
        return int(Severity[state.summary()["severity"].upper()])

    def _load(self, manifest_id: bytes) -> tuple[Entry, int] | None:
        """A waiting item's manifest, for the planner, with its incident's severity now."""
        manifest = self.manifest(manifest_id)
        return None if manifest is None else (manifest, self._severity(manifest))

    def on_entries(self, entries: list[Entry]) -> None:
        for entry in entries:
            manifest = carried(entry)
            if manifest is not None and self.node.replica.log.is_canonical(entry):
                self.fetch(manifest)

    def _offer_log(self, author: bytes, seq: int) -> None:
        """Offer the planner `author`'s stored manifests from `seq` on, in log order, until
        it turns one away: it holds only a bounded share of each author's items."""
        while True:
            rows = self.node.store.db.execute(
                "SELECT seq, id, envelope FROM entries WHERE author = ? AND seq >= ? AND chained = 1"
                " AND kind IN (?, ?) ORDER BY seq LIMIT ?",
                (author, seq, *MANIFEST_KINDS, limits.manifest_rows_per_query_max),
            ).fetchall()
            for _, manifest_id, envelope in rows:
                if self.planner.knows(manifest_id):
                    continue
                entry = decode(envelope, self.node.roster, verify=False)
                manifest = carried(entry)
                if manifest is None or not self.node.replica.log.is_canonical(entry):
                    continue
                if not self.fetch(manifest, displace=False):
                    return
            if len(rows) < limits.manifest_rows_per_query_max:
                return
            seq = rows[-1][0] + 1

    def _resume(self) -> None:
        for author, seq in self.planner.resume():
            self._offer_log(author, seq)

    # --- upload ---

    async def upload(
        self,
        incident: bytes,
        name: str,
        mime: str,
        body: AsyncIterator[bytes],
        exercise: str | None,
        operator: str | None = None,
        also: Also | None = None,
        to: tuple[bytes, ...] = (),
    ) -> Entry:
        """Cut the streamed body into chunks, store each durably, then sign the manifest.
        If anything fails before the manifest is stored (the client goes away, the file is
        too large, the disk is full), the chunks it touched are checked for collection."""
        restricted = self.node.replica.keyring.restricted(incident)
        file_key = os.urandom(limits.sealed_key_bytes) if restricted else None
        chunker: Chunker | ChunkSealer = Chunker() if file_key is None else ChunkSealer(file_key, os.urandom)
        touched: list[bytes] = []
        written = False
        try:
            async for data in body:
                for chunk_hash, chunk in chunker.feed(data):
                    await self._put_uploaded(chunk_hash, chunk, touched)
            tail, manifest = chunker.finish(incident, name, mime)
            for chunk_hash, chunk in tail:
                await self._put_uploaded(chunk_hash, chunk, touched)
            entry: Entry = self.node.write(manifest, exercise, operator, to, also, file_key)
            written = True
            return entry
        finally:
            for chunk_hash in touched:
                self._uploading[chunk_hash] -= 1
                if not self._uploading[chunk_hash]:
                    del self._uploading[chunk_hash]
            if not written and touched:
                self._queue_orphans(touched)

    async def _put_uploaded(self, chunk_hash: bytes, chunk: bytes, touched: list[bytes]) -> None:
        # Counted before the write: the collector must not take a chunk an upload is using.
        self._uploading[chunk_hash] = self._uploading.get(chunk_hash, 0) + 1
        touched.append(chunk_hash)
        await trio.to_thread.run_sync(self.chunks.put, chunk_hash, chunk)

    # --- collecting chunks no manifest lists ---

    def _queue_orphans(self, hashes: Iterable[bytes]) -> None:
        self._orphans.update(hashes)
        self._orphans_queued.set()

    async def _collect_orphans(self) -> None:
        """The one task that removes chunk files no stored manifest lists."""
        while True:
            await self._orphans_queued.wait()
            self._orphans_queued = trio.Event()
            candidates, self._orphans = self._orphans, set()
            await self._remove_unlisted(candidates)

    async def _remove_unlisted(self, candidates: set[bytes]) -> None:
        """Read every stored manifest, in arrival order and a page at a time, striking
        the chunks it lists; then remove the rest. Manifests stored while this runs come
        later in that order, so they are read too; nothing awaits between the last read
        and the removal."""
        after = 0
        while candidates:
            rows = self.node.store.db.execute(
                "SELECT n, envelope FROM entries WHERE kind IN (?, ?) AND n > ? ORDER BY n LIMIT ?",
                (*MANIFEST_KINDS, after, limits.manifest_rows_per_query_max),
            ).fetchall()
            for _, envelope in rows:
                try:
                    manifest = carried(decode(envelope, self.node.roster, verify=False))
                except ProtocolError as exc:  # cannot tell what it lists: keep everything
                    log.warning("cannot read a stored manifest; chunks kept", extra={"error": str(exc)[:200]})
                    return
                if manifest is not None:
                    assert isinstance(manifest.body, Media)
                    candidates.difference_update(manifest.body.chunks)
            if len(rows) < limits.manifest_rows_per_query_max:
                break
            after = rows[-1][0]
            await trio.sleep(0)  # a large store: the node keeps running between pages
        unlisted = [h for h in candidates if h not in self._uploading]
        for chunk_hash in unlisted:
            self.chunks.remove(chunk_hash)
        self.node.metrics.chunks_collected.inc(len(unlisted))
        if unlisted:
            log.info("removed chunks no stored manifest lists", extra={"chunks": len(unlisted)})

    # --- serving ---

    async def handle_stream(self, stream: INetStream) -> None:
        peer = stream.muxed_conn.peer_id.to_base58()
        if self._serving.get(peer, 0) >= limits.chunk_serves_per_peer_max:
            await stream.reset()
            return
        self._serving[peer] = self._serving.get(peer, 0) + 1
        try:
            while True:
                try:
                    op, arg = decode_request(await read_frame(stream))
                except ProtocolError as exc:
                    self.node.reject(exc, "chunks", peer)
                    return
                if not self.node.within_budget(peer, Input.CHUNKS):
                    return  # the stream ends: the member asks again later, within its budget
                await write_frame(stream, await self._answer(op, arg))
        except NETWORK_ERRORS as exc:  # a peer that goes away mid-stream: nothing to do
            log.debug("chunk stream ended", extra={"peer": peer, "error": repr(exc)[:200]})
        except Exception as exc:
            report_unexpected(self.node.metrics, log, "chunks_serve", peer, exc)
        finally:
            self._serving[peer] -= 1
            await close_quietly(stream)

    async def _answer(self, op: int, arg: bytes) -> bytes:
        if op == OP_HAVE:
            media = self._served_media(arg)
            if media is None:
                return encode_error(UNKNOWN_MANIFEST)
            return encode_bitmap([self.chunks.has(h) for h in media.chunks])
        response = await trio.to_thread.run_sync(self._frame_response, arg)
        if response is None:
            return encode_error(NOT_HELD)
        self.node.metrics.chunks_served.inc()
        return response

    def _frame_response(self, chunk_hash: bytes) -> bytes | None:
        """Read, frame and encode in one worker thread: the event loop keeps moving bytes."""
        data = self.chunks.get(chunk_hash)
        return None if data is None else encode_frame_response(encode_frame(data))

    def _served_media(self, manifest_id: bytes) -> Media | None:
        """The manifest body peers ask about, cached: each asks every have_refresh_ms."""
        media = self._served.pop(manifest_id, None)
        if media is None:
            manifest = self.manifest(manifest_id)
            if manifest is None:
                return None
            assert isinstance(manifest.body, Media)
            media = manifest.body
            if len(self._served) >= limits.served_manifests_cached_max:
                del self._served[next(iter(self._served))]
        self._served[manifest_id] = media
        return media

    def in_flight(self, peer: str) -> int:
        """Chunk requests to `peer` awaiting an answer, plus chunks we are serving it."""
        asked = sum(1 for item in self.planner.items.values() for p, _ in item.in_flight.values() if p == peer)
        return asked + self._serving.get(peer, 0)

    # --- fetching ---

    def _store_frame(self, media: Media, index: int, frame: bytes) -> bool:
        """Decode, verify and store durably in one worker thread; raises BadChunk."""
        chunk = decode_frame(frame, media.chunk_length(index))
        verify_chunk(media, index, chunk)
        return self.chunks.put(media.chunks[index], chunk)

    def peer_connected(self, peer: str) -> None:
        if self._nursery is not None and peer not in self._fetchers:
            self._fetchers[peer] = trio.CancelScope()
            self._nursery.start_soon(self._fetch_from, peer, self._fetchers[peer])

    def peer_disconnected(self, peer: str) -> None:
        scope = self._fetchers.pop(peer, None)
        if scope is not None:
            scope.cancel()
        self.planner.failed(peer)
        self._poke()  # what was in flight to it may come from others

    async def _fetch_from(self, peer: str, scope: trio.CancelScope) -> None:
        """chunk_requests_per_peer_max workers, each one request at a time on its own stream."""
        with scope:
            async with trio.open_nursery() as nursery:
                for _ in range(limits.chunk_requests_per_peer_max):
                    nursery.start_soon(self._worker, peer)

    async def run(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            # Before any upload can start: a chunk no stored manifest lists is left over
            # from a crash mid-upload.
            self._queue_orphans(self.chunks.hashes())
            nursery.start_soon(self._collect_orphans)
            for member in self.node.roster:
                self._offer_log(member.public_key, 1)
            for peer in list(self.node.connected):
                self.peer_connected(peer)
            task_status.started()
            await trio.sleep_forever()

    async def _worker(self, peer: str) -> None:
        while True:
            stream: INetStream | None = None
            try:
                while True:
                    request = self.planner.next_request(peer, self.node.now_ms())
                    if request is None:
                        # Nothing active: only a new manifest (which pokes) makes work.
                        idle_s = limits.fetch_idle_check_ms / 1000 if self.planner.items else math.inf
                        with trio.move_on_after(idle_s):
                            await self._wake.setdefault(peer, trio.Event()).wait()
                        continue
                    if stream is None:
                        stream = await self.node.host.new_stream(ID.from_base58(peer), [PROTOCOL_ID])
                    await self._request(stream, peer, *request)
            except NETWORK_ERRORS as exc:  # the link failed or the peer left: retry shortly
                log.debug("chunk stream from peer failed", extra={"peer": peer, "error": repr(exc)[:200]})
            except ProtocolError as exc:  # a response that does not decode
                self.node.reject(exc, "chunks", peer)
            except Exception as exc:
                report_unexpected(self.node.metrics, log, "chunks_fetch", peer, exc)
            finally:
                if stream is not None:
                    await close_quietly(stream)
            self.planner.failed(peer)
            self._poke()  # what was in flight to it may come from others
            await trio.sleep(limits.fetch_retry_ms / 1000)

    async def _request(self, stream: INetStream, peer: str, op: int, arg: bytes) -> None:
        # Which item a GET is for, found now: by the time the answer comes the planner may
        # have sent that item back to wait; the chunk is still worth keeping.
        target = None if op == OP_HAVE else self.planner.locate(arg)
        now = self.node.now_ms()
        await write_frame(stream, encode_request(op, arg))
        kind, value = decode_response(await read_frame(stream))
        if op == OP_HAVE:
            if kind == 0:
                self.planner.on_have(peer, arg, value, now)
                self._poke(peer)
            return
        if kind != 1 or target is None:
            self.planner.done(peer, arg, "missing", now)
            self._poke()
            return
        await self._store(peer, arg, value, *target)

    async def _store(self, peer: str, chunk_hash: bytes, frame: bytes, item: Item, index: int) -> None:
        try:
            if await trio.to_thread.run_sync(self._store_frame, item.media, index, frame):
                self.node.metrics.chunks_fetched.inc()
        except BadChunk as exc:
            self.node.reject(exc, "chunks", peer)
            self.planner.done(peer, chunk_hash, "bad", self.node.now_ms())
            self._poke()
            return
        self.sources.setdefault(item.manifest_id, set()).add(peer)
        for finished in self.planner.done(peer, chunk_hash, "ok", self.node.now_ms()):
            log.info("media complete", extra={"media": finished.hex()})
        self._resume()
