"""The node's durable store: SQLite in WAL mode, made durable by group commit.

Every commit writes the WAL without an fsync of its own (synchronous=NORMAL and no
automatic checkpoint on the event loop's connections), so a kill -9 at any instant leaves
either a whole transaction or none of it (SQLite's WAL guarantees), never half an entry.
Power loss is covered by `sync_wal`, one fsync of the WAL that makes every commit before
it durable: node/commit.py runs it on a worker thread for all the writes waiting, and the
API acknowledges a write only after it. `checkpoint` copies the WAL into the database
(fsynced both) on that thread too, so the event loop never waits on the disk.

Schema migrations are numbered SQL scripts applied in order; PRAGMA user_version holds the
number applied. Never edit a released migration: add the next one.
"""

import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from protocol import limits
from protocol.body import Kind
from protocol.entry import Entry, decode, restore
from protocol.errors import ProtocolError
from protocol.hlc import wall_ms
from protocol.log import ForkProof
from protocol.roster import Roster

MIGRATIONS = [
    # 1: first release
    """
    CREATE TABLE entries (
        n INTEGER PRIMARY KEY,          -- local arrival order: the SSE event id
        id BLOB NOT NULL UNIQUE,
        author BLOB NOT NULL,
        seq INTEGER NOT NULL,
        chained INTEGER NOT NULL,       -- 1: in the author's chain; 0: fork evidence
        kind INTEGER NOT NULL,
        incident BLOB NOT NULL,
        hlc INTEGER NOT NULL,
        received_ms INTEGER NOT NULL,
        envelope BLOB NOT NULL
    );
    CREATE UNIQUE INDEX entries_chain ON entries(author, seq) WHERE chained = 1;
    CREATE INDEX entries_incident ON entries(incident);
    CREATE TABLE forks (
        author BLOB PRIMARY KEY,
        seq INTEGER NOT NULL,
        first BLOB NOT NULL,
        second BLOB NOT NULL
    );
    CREATE TABLE incidents (
        id BLOB PRIMARY KEY,
        updated_hlc INTEGER NOT NULL,
        view TEXT NOT NULL              -- JSON, as the API serves it
    );
    CREATE INDEX incidents_updated ON incidents(updated_hlc);
    CREATE TABLE peers (
        peer_id TEXT PRIMARY KEY,
        last_seen_ms INTEGER NOT NULL
    );
    CREATE TABLE state (
        key TEXT PRIMARY KEY,
        value
    );
    """,
    # 2: entries this version cannot read (stored under looser rules) are set aside here
    """
    CREATE TABLE quarantine (
        id BLOB PRIMARY KEY,
        author BLOB NOT NULL,
        seq INTEGER NOT NULL,
        reason TEXT NOT NULL,
        quarantined_ms INTEGER NOT NULL,
        envelope BLOB NOT NULL
    );
    """,
    # 3: exercises conducted here (node/exercise/runs.py) and peer connection events
    """
    CREATE TABLE exercise_runs (
        run INTEGER PRIMARY KEY,
        name TEXT NOT NULL,             -- the MSEL's exercise name: the entries' marker
        msel BLOB NOT NULL,             -- the MSEL file as loaded
        folder TEXT NOT NULL,           -- its copy with its attachments, under the data dir
        phase TEXT NOT NULL,
        started_ms INTEGER,
        paused_total_ms INTEGER NOT NULL DEFAULT 0,
        paused_at_ms INTEGER,
        ended_ms INTEGER,
        control BLOB,                   -- the control incident, opened at STARTEX
        loaded_ms INTEGER NOT NULL,
        speed REAL NOT NULL             -- play time per wall time (1: people playing)
    );
    CREATE TABLE exercise_steps (       -- a release step done: stored with its entry
        run INTEGER NOT NULL REFERENCES exercise_runs(run) ON DELETE CASCADE,
        inject TEXT NOT NULL,
        step INTEGER NOT NULL,
        entry BLOB NOT NULL,
        PRIMARY KEY (run, inject, step)
    );
    CREATE TABLE exercise_decisions (   -- injects published early or skipped
        run INTEGER NOT NULL REFERENCES exercise_runs(run) ON DELETE CASCADE,
        inject TEXT NOT NULL,
        decision TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        PRIMARY KEY (run, inject, decision)
    );
    CREATE TABLE peer_events (          -- connections up and down, for after-action reports
        n INTEGER PRIMARY KEY,
        peer_id TEXT NOT NULL,
        up INTEGER NOT NULL,
        at_ms INTEGER NOT NULL
    );
    """,
]

# Work done in the transaction that stores our own entry (Store.put), with its id: what
# must be durable together with the entry or not at all (an exercise's release step).
Also = Callable[[sqlite3.Connection, Entry], None]


class StoreError(Exception):
    """The database cannot be opened or is not ours."""


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A stored entry this version refuses, set aside with the rest of its author's chain."""

    author: bytes
    seq: int
    id: bytes
    reason: str
    set_aside: int  # entries moved to the quarantine table: this one and those after it


class Store:
    def __init__(self, path: Path, roster: Roster, own_key: bytes | None = None) -> None:
        self.path = path
        self.roster = roster
        self.own_key = own_key
        try:
            self.db = _connect(path, "FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
            # From here on, commits on the event loop's connections do not fsync: our own
            # entries are acknowledged after `sync_wal` (group commit, node/commit.py).
            self.db.execute("PRAGMA synchronous=NORMAL")
            # Materialised views are rebuilt from the entries at start-up: nothing waits
            # for their durability. Other members' entries are durable on their authors and
            # on every node that holds them (after a power loss sync fetches them again).
            # Separate connections keep their transactions apart from ours.
            self.views = _connect(path, "OFF")
            self.remote = _connect(path, "NORMAL")
            # Checkpoints run on a worker thread, on a connection of their own that
            # fsyncs the WAL before copying it and the database after (synchronous=FULL);
            # it is closed last, so its checkpoint at close removes the WAL safely.
            self.checkpointer = _connect(path, "FULL")
            self._wal = os.open(f"{path}-wal", os.O_RDONLY)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open database {path}: {exc}") from None
        self.now_ms = 0  # set by the node before each batch: when entries arrived
        self._also: Also | None = None

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(f"database schema {version} is newer than this software ({len(MIGRATIONS)})")
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self.db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")

    def close(self) -> None:
        self.sync_wal()
        os.close(self._wal)
        self.remote.close()
        self.views.close()
        self.db.close()
        self.checkpointer.close()

    # --- durability (any thread: sqlite3 and os.fsync release the GIL) ---

    def changes(self) -> int:
        """A count that grows with every change committed on the main connection (our own
        entries and the node's own state): what `sync_wal` must cover."""
        return self.db.total_changes

    def all_changes(self) -> int:
        """A count that grows with every change committed on any connection (what grows
        the WAL, and what a checkpoint copies)."""
        return self.db.total_changes + self.remote.total_changes + self.views.total_changes

    def sync_wal(self) -> None:
        """Make every commit so far durable: one fsync of the WAL (every connection's)."""
        os.fsync(self._wal)

    def checkpoint(self) -> None:
        """Copy the WAL into the database without blocking writers (PASSIVE)."""
        self.checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    # --- protocol.replica.Store ---

    @contextmanager
    def also(self, work: Also | None) -> Iterator[None]:
        """Within this block (which must not await), the transaction storing our own entry
        also does `work`: both are durable, or neither."""
        assert self._also is None, "one piece of work per write"
        self._also = work
        try:
            yield
        finally:
            self._also = None

    def put(self, chained: list[Entry], evidence: list[Entry], proofs: list[ForkProof], hlc: int) -> None:
        """One transaction: all of it is committed when this returns (durable at the next
        `sync_wal`), or none of it is stored."""
        rows = [(e, 1) for e in chained] + [(e, 0) for e in evidence]
        assert all(e.signed for e, _ in rows), "entries restored without their bytes are stored already"
        ours = self.own_key is not None and any(e.author == self.own_key for e, _ in rows)
        db = self.db if ours else self.remote
        with _Transaction(db):
            if ours and self._also is not None:
                self._also(db, next(e for e, _ in rows if e.author == self.own_key))
            db.executemany(
                "INSERT OR IGNORE INTO entries (id, author, seq, chained, kind, incident, hlc, received_ms, envelope)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(e.id, e.author, e.seq, c, int(e.kind), e.incident, e.hlc, self.now_ms, e.signed) for e, c in rows],
            )
            if proofs:
                db.executemany(
                    "INSERT OR REPLACE INTO forks VALUES (?, ?, ?, ?)",
                    [(p.author, p.seq, p.first.signed, p.second.signed) for p in proofs],
                )
            db.execute("INSERT OR REPLACE INTO state VALUES ('hlc', ?)", (hlc,))

    def entry_at(self, author: bytes, seq: int) -> Entry:
        row = self.db.execute(
            "SELECT envelope FROM entries WHERE author = ? AND seq = ? AND chained = 1", (author, seq)
        )
        return decode(row.fetchone()[0], self.roster, verify=False)

    def entries_after(self, author: bytes, seq: int, limit: int) -> list[bytes]:
        rows = self.db.execute(
            "SELECT envelope FROM entries WHERE author = ? AND seq > ? AND chained = 1 ORDER BY seq LIMIT ?",
            (author, seq, limit),
        )
        return [r[0] for r in rows]

    def entry_by_id(self, entry_id: bytes) -> bytes | None:
        row = self.db.execute("SELECT envelope FROM entries WHERE id = ?", (entry_id,)).fetchone()
        return None if row is None else row[0]

    def entries_about(self, incident: bytes) -> list[Entry]:
        """Our chained entries about `incident` (for a refold)."""
        rows = self.db.execute("SELECT envelope FROM entries WHERE incident = ? AND chained = 1", (incident,))
        return self._readable(envelope for (envelope,) in rows)

    def entries_of(self, ids: list[bytes]) -> list[Entry]:
        """The stored entries of these ids (those we hold), in no particular order."""
        envelopes = []
        for start in range(0, len(ids), limits.sql_variables_max):
            chunk = ids[start : start + limits.sql_variables_max]
            marks = ",".join("?" * len(chunk))
            envelopes += [r[0] for r in self.db.execute(f"SELECT envelope FROM entries WHERE id IN ({marks})", chunk)]
        return self._readable(envelopes)

    def _readable(self, envelopes: Iterable[bytes]) -> list[Entry]:
        """Decoded, but those the roster now refuses (a cut key's past its last seq: they
        are no longer canonical, and a refold lets go of them)."""
        out = []
        for envelope in envelopes:
            try:
                out.append(decode(envelope, self.roster, verify=False))
            except ProtocolError:
                continue
        return out

    def touched_from(self, author: bytes, seq: int) -> set[tuple[bytes, Kind]]:
        """(incident, kind) of `author`'s chained entries from `seq` on."""
        rows = self.db.execute(
            "SELECT DISTINCT incident, kind FROM entries WHERE author = ? AND seq >= ? AND chained = 1", (author, seq)
        )
        return {(incident, Kind(kind)) for incident, kind in rows}

    def holds(self, entry_id: bytes) -> bool:
        return self.db.execute("SELECT 1 FROM entries WHERE id = ?", (entry_id,)).fetchone() is not None

    # --- start-up ---

    def chained(self, authors: set[bytes], refused: list[Unreadable]) -> Iterator[Entry]:
        """Every chained entry of `authors` this version reads, in seq order per author,
        for Replica.restore to fold as they come (held all at once, 100,000 entries left
        their memory behind them, fragmented); the first entry of an author it refuses
        (stored under looser rules by an older version, or of a key revoked since) ends
        that author's chain and is added to `refused`, for `quarantine` once this is read.
        Entries of authors not on the roster are left where they are, unread (they come
        back with them)."""
        broken: bytes | None = None
        readable = {a for a in authors if a in self.roster}
        rows = self.db.execute("SELECT author, seq, id, envelope FROM entries WHERE chained = 1 ORDER BY author, seq")
        for author, seq, entry_id, envelope in rows:
            if author == broken or author not in readable:
                continue
            try:
                entry = restore(envelope, entry_id, self.roster)
            except ProtocolError as exc:
                refused.append(Unreadable(author, seq, entry_id, f"{exc.reason}: {exc}", 0))
                broken = author
                continue
            yield entry

    def quarantine(self, refused: list[Unreadable]) -> list[Unreadable]:
        """Move each refused entry to the quarantine table, with the rest of its author's
        chain, which cannot link without it; how many entries each moved."""
        return [self._quarantine(u) for u in refused]

    def _quarantine(self, bad: Unreadable) -> Unreadable:
        with self.transaction():
            moved = self.db.execute(
                "INSERT OR IGNORE INTO quarantine SELECT id, author, seq, ?, ?, envelope FROM entries"
                " WHERE author = ? AND seq >= ? AND chained = 1",
                (bad.reason, self.now_ms, bad.author, bad.seq),
            ).rowcount
            self.db.execute("DELETE FROM entries WHERE author = ? AND seq >= ? AND chained = 1", (bad.author, bad.seq))
        return Unreadable(bad.author, bad.seq, bad.id, bad.reason, moved)

    def quarantined(self) -> list[tuple[bytes, int, bytes, str]]:
        """(author, seq, id, reason) of every entry set aside, in order."""
        return self.db.execute("SELECT author, seq, id, reason FROM quarantine ORDER BY author, seq").fetchall()

    def proofs(self) -> list[ForkProof]:
        """The fork proofs we hold; one this version cannot read is left out (the proof is
        found again if the fork is real: its entries travel with sync)."""
        out = []
        for first, second in self.db.execute("SELECT first, second FROM forks").fetchall():
            try:
                out.append(
                    ForkProof.of(decode(first, self.roster, verify=False), decode(second, self.roster, verify=False))
                )
            except ProtocolError:
                continue
        return out

    def hlc(self) -> int:
        return int(self._state("hlc") or 0)

    def own_entries_ahead(self, now_ms: int, ahead_ms_min: int) -> list[tuple[int, int]]:
        """(seq, hlc) of our own chained entries from the first written more than
        `ahead_ms_min` ahead of `now_ms` on: what a clock repair removes."""
        rows = self.db.execute(
            "SELECT seq, hlc FROM entries WHERE author = ? AND chained = 1 ORDER BY seq", (self.own_key,)
        ).fetchall()
        first = next((i for i, (_, hlc) in enumerate(rows) if wall_ms(hlc) - now_ms > ahead_ms_min), len(rows))
        return rows[first:]

    def drop_after(self, author: bytes, seq: int) -> None:
        """Remove `author`'s chained entries after `seq` (a revoked or rotated key: the
        roster refuses them from now on)."""
        with self.transaction():
            self.db.execute("DELETE FROM entries WHERE author = ? AND seq > ? AND chained = 1", (author, seq))

    def drop_own_from(self, seq: int) -> None:
        """Remove our own chained entries from `seq` on and set the stored clock back to the
        newest entry left; the incident summaries are rebuilt at the next start."""
        with self.transaction():
            self.db.execute("DELETE FROM entries WHERE author = ? AND seq >= ? AND chained = 1", (self.own_key, seq))
            newest = self.db.execute("SELECT coalesce(max(hlc), 0) FROM entries").fetchone()[0]
            self.db.execute("INSERT OR REPLACE INTO state VALUES ('hlc', ?)", (newest,))
            self.db.execute("DELETE FROM incidents")

    # --- materialised views and bookkeeping ---

    def put_incidents(self, views: list[tuple[bytes, int, dict[str, Any]]]) -> None:
        with _Transaction(self.views):
            self.views.executemany(
                "INSERT OR REPLACE INTO incidents VALUES (?, ?, ?)",
                [(i, updated, json.dumps(view)) for i, updated, view in views],
            )

    def incident_ids(self) -> set[bytes]:
        return {row[0] for row in self.db.execute("SELECT id FROM incidents")}

    def drop_incidents(self, ids: list[bytes]) -> None:
        with _Transaction(self.views):
            self.views.executemany("DELETE FROM incidents WHERE id = ?", [(i,) for i in ids])

    def incidents(
        self,
        limit: int,
        cursor: tuple[int, bytes] | None = None,
        status: str | None = None,
        category: str | None = None,
        exercise: bool | str | None = None,
        updated_since_hlc: int = 0,
    ) -> list[tuple[int, bytes]]:
        """Newest first: (updated_hlc, id); `cursor` is the last row of the previous page."""
        where, args = ["updated_hlc >= ?"], [updated_since_hlc]
        if cursor is not None:
            where.append("(updated_hlc, id) < (?, ?)")
            args += list(cursor)
        for field, value in (("status", status), ("category", category)):
            if value is not None:
                where.append(f"json_extract(view, '$.{field}') = ?")
                args.append(value)
        if exercise is True or exercise is False:
            where.append(f"json_extract(view, '$.exercise') IS {'NOT ' if exercise else ''}NULL")
        elif exercise is not None:
            where.append("json_extract(view, '$.exercise') = ?")
            args.append(exercise)
        rows = self.db.execute(
            f"SELECT updated_hlc, id FROM incidents WHERE {' AND '.join(where)}"
            " ORDER BY updated_hlc DESC, id DESC LIMIT ?",
            [*args, limit],
        )
        return rows.fetchall()

    def exercises(self) -> list[tuple[str, int]]:
        """(exercise name, incident count) of every exercise with an incident here."""
        rows = self.db.execute(
            "SELECT json_extract(view, '$.exercise') AS name, count(*) FROM incidents"
            " WHERE name IS NOT NULL GROUP BY name ORDER BY name"
        )
        return rows.fetchall()

    def incident_entries(self, incident: bytes, limit: int) -> list[bytes]:
        """The envelopes of the chained entries about `incident` (its opening included),
        in HLC order, at most `limit` (the newest)."""
        rows = self.db.execute(
            "SELECT envelope FROM entries WHERE incident = ? AND chained = 1 ORDER BY hlc DESC, author DESC LIMIT ?",
            (incident, limit),
        )
        return [row[0] for row in rows][::-1]

    def counts(self) -> dict[str, int]:
        entries = self.db.execute("SELECT count(*) FROM entries WHERE chained = 1").fetchone()[0]
        incidents = self.db.execute("SELECT count(*) FROM incidents").fetchone()[0]
        return {"entries": entries, "incidents": incidents}

    def events_after(self, n: int, limit: int) -> list[tuple[int, bytes]]:
        rows = self.db.execute(
            "SELECT n, envelope FROM entries WHERE n > ? AND chained = 1 ORDER BY n LIMIT ?", (n, limit)
        )
        return rows.fetchall()

    def last_event(self) -> int:
        return self.db.execute("SELECT coalesce(max(n), 0) FROM entries").fetchone()[0]

    def seen_peer(self, peer_id: str, now_ms: int) -> None:
        with _Transaction(self.views):  # bookkeeping: losing the last update is harmless
            self.views.execute("INSERT OR REPLACE INTO peers VALUES (?, ?)", (peer_id, now_ms))

    def peer_event(self, peer_id: str, up: bool, now_ms: int) -> None:
        """Record a connection coming up or going down, keeping the newest peer_events_max."""
        with _Transaction(self.views):  # bookkeeping, like seen_peer
            added = self.views.execute("INSERT INTO peer_events VALUES (NULL, ?, ?, ?)", (peer_id, int(up), now_ms))
            oldest_kept = (added.lastrowid or 0) - limits.peer_events_max
            self.views.execute("DELETE FROM peer_events WHERE n <= ?", (oldest_kept,))

    def peer_events(self, since_ms: int, until_ms: int) -> list[tuple[str, bool, int]]:
        """(peer id, up, at) of the connection events between the two times, oldest first."""
        rows = self.db.execute(
            "SELECT peer_id, up, at_ms FROM peer_events WHERE at_ms BETWEEN ? AND ? ORDER BY n", (since_ms, until_ms)
        )
        return [(peer, bool(up), at) for peer, up, at in rows]

    def peers_seen(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT peer_id, last_seen_ms FROM peers").fetchall())

    def integrity_ok(self) -> bool:
        return self.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    def _state(self, key: str) -> Any:
        row = self.db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def transaction(self) -> "_Transaction":
        """All or nothing on the main connection (durable at the next `sync_wal`)."""
        return _Transaction(self.db)


def _connect(path: Path, synchronous: str) -> sqlite3.Connection:
    """A connection in WAL mode that never checkpoints by itself (`Store.checkpoint` does)."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.execute("PRAGMA wal_autocheckpoint=0")
    return db


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any error: all or nothing."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
