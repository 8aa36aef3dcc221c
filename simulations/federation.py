"""Federations of real nodes: data dirs, rosters, node processes, API clients.

Used by the tests (nodes in one process) and by the benchmarks and emulations (one
process a node, links through simulations/links.py).
"""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import trio

from node.config import Config
from node.datadir import DEFAULT_QUORUM, DataDir
from protocol.governance import Genesis

if TYPE_CHECKING:
    from .netns import Namespaces

# The eleven OCs of the default federation (name, ISO 3166-1 alpha-2).
OCS = [
    ("OC Belgium", "BE"),
    ("OC Czechia", "CZ"),
    ("OC Germany", "DE"),
    ("OC Spain", "ES"),
    ("OC France", "FR"),
    ("OC Italy", "IT"),
    ("OC Netherlands", "NL"),
    ("OC Poland", "PL"),
    ("OC Austria", "AT"),
    ("OC Sweden", "SE"),
    ("OC Portugal", "PT"),
]


def emit(report: object, json_path: str | None) -> None:
    """Print a benchmark's report as JSON, and write it to `json_path` too if given."""
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if json_path:
        Path(json_path).write_text(text)


def free_ports(n: int) -> list[int]:
    """n distinct free loopback ports (held open together so none is handed out twice)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def free_port() -> int:
    return free_ports(1)[0]


@dataclass
class NodePlan:
    name: str
    country: str
    mesh_port: int
    api_port: int
    host: str = "127.0.0.1"  # where the node listens (mesh and API)


def plan_nodes(n: int, ports: list[int] | None = None, countries: list[str] | None = None) -> list[NodePlan]:
    """Names, countries and ports (mesh, API) of n nodes; `ports` gives 2n of them; the OCs
    are the federation's in order, or those of `countries`."""
    ports = ports or free_ports(2 * n)
    ocs = [next(oc for oc in OCS if oc[1] == c) for c in countries] if countries else OCS
    names = [ocs[i % len(ocs)][0] + ("" if i < len(ocs) else f" {i}") for i in range(n)]
    return [NodePlan(names[i], ocs[i % len(ocs)][1], ports[2 * i], ports[2 * i + 1]) for i in range(n)]


DialAddr = Callable[[int, int], tuple[str, int] | None]


def make_datadirs(root: Path, plans: list[NodePlan], dial_addr: DialAddr, **options: object) -> list[DataDir]:
    """Initialised data dirs sharing one genesis of every member, signed by all; node i
    dials node j at dial_addr(i, j) (a proxy, or j's own address), or not at all if None
    (its dial.json)."""
    dirs, configs, ids = [], [], []
    for i, plan in enumerate(plans):
        config = Config(
            name=plan.name,
            country=plan.country,
            listen=[f"/ip4/{plan.host}/tcp/{plan.mesh_port}"],
            api=f"{plan.host}:{plan.api_port}",
            **options,  # type: ignore[arg-type]
        )
        datadir = DataDir(root / f"{i:02d}-{plan.country.lower()}")
        ids.append(datadir.init(config, seed=bytes([i + 1]) * 32))
        dirs.append(datadir)
        configs.append(config)
    members = tuple(
        datadir.member(identity, config) for datadir, identity, config in zip(dirs, ids, configs, strict=True)
    )
    genesis = Genesis(members, DEFAULT_QUORUM)
    for identity in ids:
        genesis = genesis.signed_by(identity)
    for i, datadir in enumerate(dirs):
        datadir.save_genesis(genesis)
        dial = {}
        for j, identity in enumerate(ids):
            if j != i:
                addr = dial_addr(i, j)
                dial[identity.public_key] = (
                    () if addr is None else (f"/ip4/{addr[0]}/tcp/{addr[1]}/p2p/{identity.peer_id}",)
                )
        datadir.save_dial(dial)
    return dirs


def direct(plans: list[NodePlan], links: dict[int, list[int]] | None = None) -> DialAddr:
    """Dial each other's real addresses; with `links`, node i dials only links[i]."""
    return lambda i, j: (plans[j].host, plans[j].mesh_port) if links is None or j in links[i] else None


class NodeProcess:
    """`qroc run DATA_DIR` as a child process."""

    def __init__(self, datadir: DataDir, log_path: Path, prefix: Sequence[str] = ()) -> None:
        self.datadir = datadir
        self.log_path = log_path
        self.prefix = list(prefix)  # e.g. `ip netns exec NAME`, which execs in place
        config = datadir.config()
        self.base_url = f"http://{config.api_host}:{config.api_port}"
        self.headers = {"Authorization": f"Bearer {datadir.token()}"}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed by stop()
        self.process = subprocess.Popen(
            [*self.prefix, sys.executable, "-m", "node", "run", str(self.datadir.path)], stdout=log, stderr=log
        )
        log.close()

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, headers=self.headers, timeout=30)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 20) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        os.kill(self.process.pid, sig)
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def memory_kib(self) -> dict[str, int]:
        return memory_kib(self.pid)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a live process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int) -> dict[str, int]:
    """A live process's resident set now (VmRSS) and at its peak (VmHWM)."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


class Cluster:
    """N node processes; the links of the nodes in `emulated` (default: all) run through
    the link emulator, the others connect directly (the proxies cost CPU on a small box).
    With `netns`, node i runs in network namespace i at its address there, links direct."""

    def __init__(
        self,
        root: Path,
        n: int,
        seed: int = 1,
        emulated: set[int] | None = None,
        countries: list[str] | None = None,
        netns: "Namespaces | None" = None,
        **options: object,
    ) -> None:
        import random

        from .links import LinkEmulator

        ports = free_ports(2 * n + n * (n - 1))
        self.plans = plan_nodes(n, ports[: 2 * n], countries)
        if netns is not None:
            assert emulated == set() and netns.n == n, "nodes in namespaces link directly"
            for i, plan in enumerate(self.plans):
                plan.host = netns.host(i)
        self.links = LinkEmulator(random.Random(seed))
        proxy_ports = iter(ports[2 * n :])
        for i in range(n):
            for j in range(n):
                if i != j:
                    self.links.add(i, j, ("127.0.0.1", self.plans[j].mesh_port)).port = next(proxy_ports)
        emulated = set(range(n)) if emulated is None else emulated
        for key in [k for k in self.links.links if not set(k) & emulated]:
            del self.links.links[key]

        def dial_addr(i: int, j: int) -> tuple[str, int]:
            link = self.links.links.get((i, j))
            return (self.plans[j].host, self.plans[j].mesh_port) if link is None else ("127.0.0.1", link.port)

        self.dirs = make_datadirs(root, self.plans, dial_addr, **options)
        self.nodes = [
            NodeProcess(d, root / f"{d.path.name}.log", netns.prefix(i) if netns else ())
            for i, d in enumerate(self.dirs)
        ]

    async def start(self, nursery: "trio.Nursery", ready_timeout_s: float = 60) -> None:
        await nursery.start(self.links.run)
        for node in self.nodes:
            node.start()
        with trio.fail_after(ready_timeout_s):
            for node in self.nodes:
                await wait_ready(node, len(self.nodes) - 1)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def stored(self) -> list[dict[bytes, int]]:
        """Per node: chained entry id -> when that node stored it (received_ms, wall clock),
        read from its SQLite file while it runs."""
        out = []
        for datadir in self.dirs:
            db = sqlite3.connect(f"file:{datadir.db_path}?mode=ro", uri=True)
            out.append(dict(db.execute("SELECT id, received_ms FROM entries WHERE chained = 1").fetchall()))
            db.close()
        return out


async def wait_ready(node: NodeProcess, peers: int, poll_s: float = 0.1) -> None:
    """Until the node answers, is writable and is connected to `peers` members."""
    async with node.client() as api:
        while True:
            try:
                health = (await api.get("/v1/health")).json()
                if health["writable"] and health["peers_connected"] >= peers:
                    return
            except httpx.TransportError:
                pass
            await trio.sleep(poll_s)
