"""Deterministic simulator of the protocol core: many replicas in virtual time.

    python -m simulations.vopr --seed N [--replicas 20] [--minutes 5]   (or: qroc sim vopr)

Everything comes from one seed: writes (each behind the write gate, as in a node), gossip
with drops, duplicates and reordering (random delays; forwarded by the protocol's own
rule), partitions, crashes (a replica loses everything but its durable store and
restarts later; some restart from a stale copy of their store, as from an old backup),
cloned identities (a second device writing with a writer's key: forks), and per-replica
clock skew. After the fault phase every fault is healed and the run continues, without
writes, until all replicas converge. Then it checks: every replica holds the same heads,
the same fork verdicts and the same incident states; only cloned or stale-restored
identities are ever found forked; and nothing acknowledged is lost — every acknowledged
entry below its author's verdict is on every replica, exactly once, except what a
stale restore destroyed before it left its node. A failure prints the seed; the same
seed replays the same trace exactly (no wall clock, no real randomness, no iteration
over hash-ordered sets decides anything).
"""

import argparse
import hashlib
import heapq
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from protocol import limits
from protocol.body import Category, Comment, Open, Registers, Severity, Status, Update
from protocol.entry import Entry
from protocol.errors import ClockSkew, WriteRefused
from protocol.gate import WriteGate
from protocol.identity import Identity
from protocol.log import Status as LogStatus
from protocol.memory_store import MemoryStore
from protocol.replica import Replica
from protocol.roster import Member, Roster
from protocol.sync import run_session

EPOCH_MS = 1_767_225_600_000  # 2026-01-01: virtual time starts here


class SimReplica(Replica):
    """A replica whose peers' entries are decoded once for the whole run: decoding is a pure
    function of the bytes and the roster, which every replica shares and no run changes,
    so the thousandth replica to receive an entry gets the first one's Entry (immutable)
    instead of repeating its signature check. Bad bytes are still refused each time."""

    def __init__(self, decoded: dict[bytes, Entry], *args: Any) -> None:
        super().__init__(*args)
        self.decoded = decoded

    def decode(self, data: bytes) -> Entry:
        entry = self.decoded.get(data)
        if entry is None:
            entry = self.decoded[data] = super().decode(data)
        return entry


@dataclass
class SimConfig:
    replicas: int = 20
    writers: int = 8  # replicas that write; the roster holds these
    fault_ms: int = 5 * 60_000
    write_interval_ms: int = 400  # mean gap between writes, federation-wide
    fanout: int = 4  # gossip: each replica forwards a new entry to this many peers
    drop: float = 0.1
    duplicate: float = 0.05
    delay_ms: tuple[int, int] = (2, 300)  # uniform: reorders messages
    sync_interval_ms: int = 10_000
    partition_gap_ms: int = 60_000  # mean time between partitions
    partition_ms: tuple[int, int] = (5_000, 90_000)
    crash_gap_ms: int = 30_000  # mean time between crashes
    down_ms: tuple[int, int] = (1_000, 30_000)
    skew_ms: int = 120_000  # each replica's clock is off by up to this, either way
    converge_ms_max: int = 30 * 60_000
    split_at_ms: int | None = None  # split the replicas in two halves from then to the end
    stale_restore: float = 0.2  # share of crashed writers that restart from an old copy of their store
    snapshot_interval_ms: int = 60_000  # how old such a copy is, at most
    clones: int = 1  # writers whose key a second device also writes with, from a random time


@dataclass
class Result:
    seed: int
    ok: bool
    problems: list[str]
    trace_hash: str
    events: int
    entries: int
    simulated_ms: int
    converged_after_heal_ms: int | None
    wall_s: float
    stats: dict[str, int] = field(default_factory=dict)


class Sim:
    """Replicas 0..replicas-1 (the first `writers` of them write); then one device per clone,
    down until its clone event, holding the key of writer `index - replicas`."""

    def __init__(self, seed: int, config: SimConfig) -> None:
        self.seed = seed
        self.config = config
        self.rng = random.Random(seed)
        self.identities = [Identity(self.rng.randbytes(32)) for _ in range(config.writers)]
        self.roster = Roster(
            Member(f"Sim OC {i}", "EU", identity.public_key) for i, identity in enumerate(self.identities)
        )
        self.size = config.replicas + config.clones
        self.now = 0
        self.skew = [self.rng.randint(-config.skew_ms, config.skew_ms) for _ in range(self.size)]
        self.stores = [MemoryStore() for _ in range(self.size)]
        self.decoded: dict[bytes, Entry] = {}  # shared by every SimReplica
        self.snapshots: list[MemoryStore | None] = [None] * self.size
        self.replicas: list[Replica | None] = [self._boot(i) for i in range(config.replicas)]
        self.replicas += [None] * config.clones
        self.seen: list[set[bytes]] = [set() for _ in range(self.size)]  # gossip ids, as the node gossip's seen set
        self.group = [0] * self.size  # partition group of each replica
        self.queue: list[tuple[int, int, str, tuple[Any, ...]]] = []
        self.counter = 0
        self.trace = hashlib.blake2b(digest_size=16)
        self.events = 0
        self.acked: dict[bytes, tuple[bytes, int]] = {}  # id -> (author, seq), in write order
        self.lost: set[bytes] = set()  # acknowledged, then destroyed by a stale restore before it left
        self.may_fork: set[bytes] = set()  # authors cloned or restored from a stale copy
        self.stale_next: set[int] = set()
        self.incidents: list[bytes] = []
        self.stats = {
            "delivered": 0,
            "dropped": 0,
            "duplicated": 0,
            "syncs": 0,
            "crashes": 0,
            "partitions": 0,
            "writes_refused": 0,
            "stale_restores": 0,
            "clones": 0,
        }
        self.faults_on = True

    # --- plumbing ---

    def identity_of(self, i: int) -> Identity | None:
        if i < self.config.writers:
            return self.identities[i]
        if i >= self.config.replicas:
            return self.identities[i - self.config.replicas]
        return None

    def _boot(self, i: int) -> Replica:
        identity = self.identity_of(i)
        gate = None if identity is None else WriteGate(self.clock(i), alone=False)
        replica = SimReplica(self.decoded, self.stores[i], self.roster, identity, self.stores[i].hlc, gate)
        replica.restore(self.stores[i].all_chained(), list(self.stores[i].proofs.values()))
        return replica

    def at(self, delay_ms: int, kind: str, *args: Any) -> None:
        self.counter += 1
        heapq.heappush(self.queue, (self.now + delay_ms, self.counter, kind, args))

    def clock(self, i: int) -> int:
        return EPOCH_MS + self.now + self.skew[i]

    def log(self, *words: object) -> None:
        self.trace.update(" ".join(map(str, (self.now, *words))).encode() + b"\n")

    def reachable(self, a: int, b: int) -> bool:
        return self.replicas[a] is not None and self.replicas[b] is not None and self.group[a] == self.group[b]

    def peer(self, i: int) -> int:
        """A random replica other than `i`."""
        j = self.rng.randrange(self.size - 1)
        return j + (j >= i)

    def some_peers(self, i: int, k: int) -> list[int]:
        """`k` distinct random replicas other than `i`, without listing all of them."""
        return [j + (j >= i) for j in self.rng.sample(range(self.size - 1), k)]

    # --- events ---

    def device(self, writer: int) -> int:
        """Which device writes for `writer`: itself, or its clone once that is up."""
        clone = self.config.replicas + writer
        if writer < self.config.clones and self.replicas[clone] is not None and self.rng.random() < 0.5:
            return clone
        return writer

    def ev_write(self) -> None:
        if self.faults_on:
            self.at(int(self.rng.expovariate(1 / self.config.write_interval_ms)) + 1, "write")
        writer = self.device(self.rng.randrange(self.config.writers))
        replica = self.replicas[writer]
        if replica is None:
            return
        n = self.rng.randrange(1000)
        if not self.incidents or n < 150:
            body: Any = Open(Registers(title=f"incident {n}", category=Category.CROWD, severity=Severity.HIGH))
        else:
            incident = self.incidents[self.rng.randrange(len(self.incidents))]
            if n < 500:
                body = Update(incident, Registers(status=list(Status)[n % 4], title=f"update {n}"), (f"t{n % 5}",))
            else:
                body = Comment(incident, f"report {n}")
        try:
            entry = replica.write(body, self.clock(writer))
        except WriteRefused as exc:
            self.stats["writes_refused"] += 1
            self.log("refused", writer, exc.reason)
            return
        if isinstance(body, Open):
            self.incidents.append(entry.id)
        self.acked[entry.id] = (entry.author, entry.seq)
        self.seen[writer].add(entry.id)
        self.log("write", writer, entry.id.hex()[:16])
        self.gossip(writer, entry)

    def gossip(self, src: int, entry: Entry) -> None:
        for dst in self.some_peers(src, min(self.config.fanout, self.size - 1)):
            if self.rng.random() < self.config.drop:
                self.stats["dropped"] += 1
                continue
            copies = 2 if self.rng.random() < self.config.duplicate else 1
            self.stats["duplicated"] += copies - 1
            for _ in range(copies):
                self.at(self.rng.randint(*self.config.delay_ms), "deliver", src, dst, entry)

    def ev_deliver(self, src: int, dst: int, entry: Entry) -> None:
        replica = self.replicas[dst]
        if replica is None or not self.reachable(src, dst):
            return  # the link was cut while the message was in flight
        if entry.id in self.seen[dst]:
            return  # gossip drops a push it has seen before validating it (node/mesh/gossip.py)
        self.seen[dst].add(entry.id)
        try:
            applied = replica.receive(entry, self.clock(dst))
        except ClockSkew:
            self.log("skew", dst, entry.id.hex()[:16])
            return
        self.stats["delivered"] += 1
        self.log("recv", dst, entry.id.hex()[:16], applied.status.value)
        if applied.forwarded:
            self.gossip(dst, entry)
        if applied.status is LogStatus.PENDING:
            self.at(self.rng.randint(*self.config.delay_ms), "sync", dst, src)

    def ev_sync(self, a: int, b: int | None = None) -> None:
        if b is None:  # periodic: with a random peer
            self.at(self.config.sync_interval_ms + self.rng.randint(0, 999), "sync", a)
            b = self.peer(a)
        ra, rb = self.replicas[a], self.replicas[b]
        if ra is None or rb is None or not self.reachable(a, b):
            return
        stats = run_session(ra, rb, self.clock(a), b_now_ms=self.clock(b), names=(str(a), str(b)))
        self.stats["syncs"] += 1
        self.log("sync", a, b, stats.messages, stats.bytes)

    def ev_snapshot(self) -> None:
        """What a backup taken now would restore (for the stale restores)."""
        self.at(self.config.snapshot_interval_ms, "snapshot")
        for i, store in enumerate(self.stores):
            if self.replicas[i] is not None and self.identity_of(i) is not None:
                self.snapshots[i] = copy_store(store)

    def ev_crash(self) -> None:
        if not self.faults_on:
            return
        self.at(int(self.rng.expovariate(1 / self.config.crash_gap_ms)) + 1, "crash")
        i = self.rng.randrange(self.size)
        if self.replicas[i] is not None:
            self.replicas[i] = None  # in-memory state (pending entries, sync states) is lost
            self.seen[i] = set()
            self.stats["crashes"] += 1
            if self.snapshots[i] is not None and self.rng.random() < self.config.stale_restore:
                self.stale_next.add(i)
            self.log("crash", i)
            self.at(self.rng.randint(*self.config.down_ms), "restart", i)

    def ev_restart(self, i: int) -> None:
        if self.replicas[i] is not None:
            return
        if i in self.stale_next:
            self.restore_stale(i)
        self.replicas[i] = self._boot(i)
        self.log("restart", i)
        self.reconnect([i])

    def restore_stale(self, i: int) -> None:
        """Replace the store with its last backup; what only it held since is gone."""
        self.stale_next.discard(i)
        snapshot = self.snapshots[i]
        identity = self.identity_of(i)
        assert snapshot is not None and identity is not None
        self.stores[i] = copy_store(snapshot)
        elsewhere = {e for j, store in enumerate(self.stores) if j != i for e in store.by_id}
        for entry_id, (author, _) in self.acked.items():
            if author == identity.public_key and entry_id not in elsewhere and entry_id not in snapshot.by_id:
                self.lost.add(entry_id)
        self.may_fork.add(identity.public_key)
        self.stats["stale_restores"] += 1
        self.log("stale restore", i)

    def ev_clone(self, writer: int) -> None:
        """A second device starts with the writer's key and an empty disk (a standby
        misconfigured with the primary's identity) and writes beside it."""
        if not self.faults_on:
            return
        clone = self.config.replicas + writer
        self.replicas[clone] = self._boot(clone)
        self.may_fork.add(self.identities[writer].public_key)
        self.stats["clones"] += 1
        self.log("clone", writer)
        self.reconnect([clone])

    def ev_partition(self) -> None:
        if not self.faults_on:
            return
        self.at(int(self.rng.expovariate(1 / self.config.partition_gap_ms)) + 1, "partition")
        groups = self.rng.randint(2, 3)
        self.group = [self.rng.randrange(groups) for _ in range(self.size)]
        self.stats["partitions"] += 1
        self.log("partition", self.group)
        self.at(self.rng.randint(*self.config.partition_ms), "heal_partition", tuple(self.group))

    def ev_split(self) -> None:
        half = self.size // 2
        self.group = [0] * half + [1] * (self.size - half)
        self.stats["partitions"] += 1
        self.log("split")

    def ev_heal_partition(self, groups: tuple[int, ...]) -> None:
        if tuple(self.group) == groups:
            self.group = [0] * self.size
            self.log("heal")
            self.reconnect(range(self.size))

    def reconnect(self, replicas: Any) -> None:
        """Links came back: like a node on a new connection, sync with a few peers soon."""
        for i in replicas:
            for _ in range(self.config.fanout):
                self.at(self.rng.randint(*self.config.delay_ms), "sync", i, self.peer(i))

    # --- run and check ---

    def step_until(self, until_ms: int) -> None:
        while self.queue and self.queue[0][0] <= until_ms:
            self.now, _, kind, args = heapq.heappop(self.queue)
            self.events += 1
            getattr(self, f"ev_{kind}")(*args)
        self.now = max(self.now, until_ms)

    def live(self) -> list[Replica]:
        return [r for r in self.replicas if r is not None]

    def converged(self) -> bool:
        live = self.live()
        heads = live[0].log.heads()
        return all(r.log.heads() == heads for r in live[1:])

    def heal_all(self) -> None:
        self.faults_on = False
        self.group = [0] * self.size
        self.skew = [0] * self.size
        for i, replica in enumerate(self.replicas):
            if replica is None and (i < self.config.replicas or self.stores[i].by_id):
                self.ev_restart(i)  # a clone that never came up stays away
        self.log("heal all")
        self.reconnect(range(self.size))

    def verdicts(self, replica: Replica) -> dict[bytes, int]:
        return {m.public_key: seq for m in self.roster if (seq := replica.log.fork_seq(m.public_key)) is not None}

    def check(self) -> list[str]:
        problems = []
        views = verdicts = None
        for i, (replica, store) in enumerate(zip(self.replicas, self.stores, strict=True)):
            if replica is None:
                continue
            mine = self.verdicts(replica)
            if verdicts is None:
                verdicts = mine
            elif mine != verdicts:
                problems.append(f"replica {i}: fork verdicts differ from the others'")
            for author in set(mine) - self.may_fork:
                problems.append(f"replica {i}: writer {author.hex()[:8]} found forked, yet it was never cloned")
            missing = [
                e
                for e, (author, seq) in self.acked.items()
                if e not in store.by_id and e not in self.lost and (author not in mine or seq < mine[author])
            ]
            if missing:
                problems.append(f"replica {i} lacks {len(missing)} acknowledged entries")
            for author, log in store.chained.items():
                if len({e.id for e in log}) != len(log) or [e.seq for e in log] != list(range(1, len(log) + 1)):
                    problems.append(f"replica {i}: log of {author.hex()[:8]} has duplicates or gaps")
            state = {k: s.view() for k, s in sorted(replica.visible_incidents().items())}
            if views is None:
                views = state
            elif state != views:
                problems.append(f"replica {i}: incident states differ from the first replica's")
            if replica.log.pending_count():
                problems.append(f"replica {i}: {replica.log.pending_count()} entries still pending")
        return problems

    def run(self) -> Result:
        started = time.perf_counter()
        self.at(1, "write")
        self.at(self.config.snapshot_interval_ms, "snapshot")
        if self.config.crash_gap_ms:
            self.at(self.config.crash_gap_ms, "crash")
        if self.config.partition_gap_ms:
            self.at(self.config.partition_gap_ms, "partition")
        if self.config.split_at_ms is not None:
            self.at(self.config.split_at_ms, "split")
        for writer in range(min(self.config.clones, self.config.writers)):
            self.at(self.rng.randint(self.config.fault_ms // 4, self.config.fault_ms // 2), "clone", writer)
        for i in range(self.size):
            self.at(self.rng.randint(0, self.config.sync_interval_ms), "sync", i)
        self.step_until(self.config.fault_ms)
        self.heal_all()
        healed_at = self.now
        converged_ms = None
        while self.now - healed_at < self.config.converge_ms_max:
            self.step_until(self.now + 1000)
            if self.converged():
                converged_ms = self.now - healed_at
                break
        problems = self.check() if converged_ms is not None else ["did not converge after the final heal"]
        return Result(
            seed=self.seed,
            ok=not problems,
            problems=problems,
            trace_hash=self.trace.hexdigest(),
            events=self.events,
            entries=len(self.acked),
            simulated_ms=self.now,
            converged_after_heal_ms=converged_ms,
            wall_s=time.perf_counter() - started,
            stats=self.stats,
        )


def copy_store(store: MemoryStore) -> MemoryStore:
    copy = MemoryStore()
    copy.chained = {author: list(log) for author, log in store.chained.items()}
    copy.by_id = dict(store.by_id)
    copy.proofs = dict(store.proofs)
    copy.hlc = store.hlc
    return copy


def simulate(seed: int, config: SimConfig | None = None) -> Result:
    assert (config or SimConfig()).writers <= limits.roster_members_max
    return Sim(seed, config or SimConfig()).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qroc sim vopr", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=None, help="default: a random seed, printed")
    parser.add_argument("--seeds", type=int, default=1, help="run this many seeds from --seed on")
    parser.add_argument("--replicas", type=int, default=20)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--minutes", type=float, default=5.0, help="simulated minutes of faults")
    args = parser.parse_args(argv)
    first = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    config = SimConfig(
        replicas=args.replicas, writers=min(args.writers, args.replicas), fault_ms=int(args.minutes * 60_000)
    )
    failed = 0
    for seed in range(first, first + args.seeds):
        result = simulate(seed, config)
        verdict = "ok" if result.ok else "FAILED"
        print(
            f"seed {seed}: {verdict}; {result.entries} entries, {result.events} events, "
            f"{result.simulated_ms / 1000:.0f} s simulated in {result.wall_s:.1f} s, "
            f"converged {result.converged_after_heal_ms} ms after the final heal; trace {result.trace_hash}"
        )
        for problem in result.problems:
            print(f"  {problem}")
        if not result.ok:
            failed += 1
            print(f"  replay with: qroc sim vopr --seed {seed} --replicas {args.replicas} --minutes {args.minutes}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
