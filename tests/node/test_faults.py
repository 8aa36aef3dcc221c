"""Faults tried from outside, on real node processes: a full disk, a clock a year ahead,
and two machines writing with one member's key."""

import os
import sqlite3
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import trio

from node.config import Config
from node.datadir import DataDir
from simulations.federation import NodeProcess, direct, free_ports, make_datadirs, plan_nodes, wait_ready
from tests.node.federation import found
from tests.node.test_process import qroc

INCIDENT = {"title": "Suspected device at the main station", "category": "cbrne", "severity": "critical"}
# libfaketime from Debian's package faketime (.ci/run installs it), wherever the arch puts it.
FAKETIME = next(iter(sorted(Path("/usr/lib").glob("*/faketime/libfaketimeMT.so.1"))), Path("/nonexistent"))


@asynccontextmanager
async def processes(nodes: list[NodeProcess]) -> AsyncIterator[list[NodeProcess]]:
    for node in nodes:
        node.start()
    try:
        yield nodes
    finally:
        for node in nodes:
            node.stop()


async def until(predicate, timeout_s: float = 60) -> None:
    with trio.fail_after(timeout_s):
        while not await predicate():
            await trio.sleep(0.1)


async def answers(node: NodeProcess) -> bool:
    async with node.client() as api:
        try:
            return (await api.get("/v1/health")).status_code == 200
        except httpx.TransportError:
            return False


def chain_of(datadir: DataDir) -> list[int]:
    db = sqlite3.connect(datadir.db_path)
    own = datadir.identity().public_key
    seqs = [s for (s,) in db.execute("SELECT seq FROM entries WHERE author = ? AND chained = 1 ORDER BY seq", (own,))]
    db.close()
    return seqs


def can_mount_tmpfs() -> str | None:
    if os.geteuid() != 0:
        return "needs root to mount a small tmpfs"
    return None


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 20 MiB file system of its own (tmpfs)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(mount)], capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Fill the file system to its last byte."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 20, 4096, 1):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError:
                    break
    finally:
        os.close(fd)
    return filler


@pytest.mark.skipif(can_mount_tmpfs() is not None, reason=str(can_mount_tmpfs()))
async def test_a_full_disk_answers_507_changes_nothing_and_the_node_restarts_on_an_unbroken_chain(small_disk):
    plans = plan_nodes(1)
    (datadir,) = make_datadirs(small_disk, plans, direct(plans))
    node = NodeProcess(datadir, small_disk.parent / "node.log")
    acknowledged = []
    async with processes([node]):
        await until(lambda: answers(node))
        async with node.client() as api:
            first = await api.post("/v1/incidents", json=INCIDENT)
            assert first.status_code == 201
            acknowledged.append(first.json()["id"])
            filler = fill(small_disk)
            statuses = []
            for i in range(300):  # until SQLite has used up what its files had spare
                answer = await api.post(f"/v1/incidents/{acknowledged[0]}/comments", json={"text": f"report {i}"})
                statuses.append(answer.status_code)
                if answer.status_code == 201:
                    acknowledged.append(answer.json()["id"])
                else:
                    assert answer.status_code == 507, answer.text
                    assert answer.json()["error"]["code"] == "storage_failed"
                    if statuses[-3:] == [507, 507, 507]:
                        break
            assert 507 in statuses and 500 not in statuses
            media = await api.post(
                f"/v1/incidents/{acknowledged[0]}/media?name=photo.jpg", content=os.urandom(3 << 20)
            )  # sent whole before the answer is read
            assert media.status_code == 507, media.text
            filler.unlink()
            after = await api.post(f"/v1/incidents/{acknowledged[0]}/comments", json={"text": "space again"})
            assert after.status_code == 201, after.text
            acknowledged.append(after.json()["id"])
    assert chain_of(datadir) == list(range(1, len(chain_of(datadir)) + 1))  # no seq lost to a failed write
    async with processes([node]):
        await until(lambda: answers(node))
        async with node.client() as api:
            incident = (await api.get(f"/v1/incidents/{acknowledged[0]}")).json()
            assert {c["id"] for c in incident["comments"]} == set(acknowledged[1:])
            again = await api.post(f"/v1/incidents/{acknowledged[0]}/comments", json={"text": "after restart"})
            assert again.status_code == 201


def faked_clock(offset: str) -> list[str]:
    """Run a child with its wall clock moved (libfaketime); monotonic time stays true."""
    return ["env", f"LD_PRELOAD={FAKETIME}", f"FAKETIME={offset}", "FAKETIME_DONT_FAKE_MONOTONIC=1"]


def two_members(root: Path) -> list[DataDir]:
    plans = plan_nodes(2)
    return make_datadirs(root, plans, direct(plans), sync_interval_s=1.0, log_format="text")


async def write_refused(node: NodeProcess) -> dict | None:
    async with node.client() as api:
        try:
            return (await api.get("/v1/health")).json()["write_refused"]
        except httpx.TransportError:
            return None


@pytest.mark.skipif(not FAKETIME.exists(), reason="needs libfaketime (Debian package faketime)")
async def test_a_node_whose_clock_ran_a_year_ahead_refuses_writes_clearly_and_repair_brings_it_back(tmp_path):
    a_dir, b_dir = two_members(tmp_path)
    both = a_dir.genesis_path.read_text()
    found([a_dir], [a_dir])  # alone at first: it may write
    a_year_ahead = NodeProcess(a_dir, tmp_path / "a.log", faked_clock("+365d"))
    async with processes([a_year_ahead]):
        await wait_ready(a_year_ahead, 0)
        async with a_year_ahead.client() as api:
            for _ in range(2):
                assert (await api.post("/v1/incidents", json=INCIDENT)).status_code == 201
    a_dir.genesis_path.write_text(both)  # and now it has a peer, whose clock is right
    a, b = NodeProcess(a_dir, tmp_path / "a.log"), NodeProcess(b_dir, tmp_path / "b.log")
    async with processes([a, b]):
        await until(lambda: answers(a))
        refused = await write_refused(a)
        assert refused is not None and refused["code"] == "clock_ahead" and "Clock recovery" in refused["message"]
        async with a.client() as api:
            answer = await api.post("/v1/incidents", json=INCIDENT)
            assert answer.status_code == 503 and answer.json()["error"]["code"] == "clock_ahead"
    listed = qroc("repair", "clock", str(a_dir.path))
    assert listed.returncode == 0 and "2 own entries from seq 1" in listed.stdout, listed.stdout + listed.stderr
    assert chain_of(a_dir) == [1, 2]  # without --yes nothing changes
    assert qroc("repair", "clock", str(a_dir.path), "--yes").returncode == 0
    assert chain_of(a_dir) == []
    async with processes([a, b]):
        await wait_ready(a, 1)
        async with a.client() as api:
            written = await api.post("/v1/incidents", json=INCIDENT)
            assert written.status_code == 201
        async with b.client() as api:
            await until(lambda: holds(api, written.json()["id"]))


async def holds(api: httpx.AsyncClient, incident: str) -> bool:
    return (await api.get(f"/v1/incidents/{incident}")).status_code == 200


@pytest.mark.skipif(not FAKETIME.exists(), reason="needs libfaketime (Debian package faketime)")
async def test_a_node_whose_clock_is_a_year_ahead_of_the_federation_writes_nothing(tmp_path):
    a_dir, b_dir = two_members(tmp_path)
    a = NodeProcess(a_dir, tmp_path / "a.log", faked_clock("+365d"))
    b = NodeProcess(b_dir, tmp_path / "b.log")
    async with processes([a, b]):
        await until(lambda: answers(a))

        async def clock_refusal() -> bool:
            refused = await write_refused(a)
            return refused is not None and refused["code"] == "clock_ahead"

        await until(clock_refusal)  # after its first sync session it knows B's clock
        async with a.client() as api:
            answer = await api.post("/v1/incidents", json=INCIDENT)
            assert answer.status_code == 503 and "ahead of the federation" in answer.json()["error"]["message"]
    assert chain_of(a_dir) == []


async def test_two_machines_writing_with_one_key_in_a_four_node_mesh_get_one_verdict_everywhere(tmp_path):
    plans = plan_nodes(4)
    dirs = make_datadirs(tmp_path, plans, direct(plans), sync_interval_s=1.0, log_format="text")
    # A standby misconfigured with BE's identity: its own disk and ports, BE's key and roster.
    twin_dir = DataDir(tmp_path / "be-twin")
    twin_dir.path.mkdir(mode=0o700)
    for name in ("identity.key", "api-token", "genesis.json", "dial.json"):
        (twin_dir.path / name).write_bytes((dirs[0].path / name).read_bytes())
    os.chmod(twin_dir.identity_path, 0o600)
    mesh_port, api_port = free_ports(2)
    be = dirs[0].config()
    twin = Config(be.name, be.country, [f"/ip4/127.0.0.1/tcp/{mesh_port}"], api=f"127.0.0.1:{api_port}")
    twin_dir.config_path.write_text(twin.to_toml())
    nodes = [NodeProcess(d, tmp_path / f"{i}.log") for i, d in enumerate([*dirs, twin_dir])]
    be_key = dirs[0].identity().public_key.hex()
    async with processes(nodes):
        for node in nodes:
            await until(lambda node=node: answers(node))

        async def write_all(node: NodeProcess, n: int) -> None:
            async with node.client() as api:
                for i in range(n):
                    await api.post("/v1/incidents", json={**INCIDENT, "title": f"{node.datadir.path.name} {i}"})

        async with trio.open_nursery() as nursery:  # both BE machines and two others write at once
            for node in (nodes[0], nodes[4], nodes[1], nodes[2]):
                nursery.start_soon(write_all, node, 15)

        async def verdicts() -> set:
            seen = set()
            for node in nodes[1:4]:
                async with node.client() as api:
                    heads = (await api.get("/v1/sync")).json()["heads"]
                    seen.add(next((h["fork_seq"] for h in heads if h["author"]["public_key"] == be_key), "none"))
            return seen

        async def one_verdict() -> bool:
            seen = await verdicts()
            return len(seen) == 1 and isinstance(next(iter(seen)), int)

        await until(one_verdict, timeout_s=90)
        for node in nodes:
            assert node.process is not None and node.process.poll() is None, "a node went down"
            assert await answers(node)

        async def be_knows() -> bool:  # from the proof, by its next sync with a member
            refused = await write_refused(nodes[0])
            return refused is not None and refused["code"] == "identity_forked"

        await until(be_knows, timeout_s=30)
        async with nodes[0].client() as api:
            answer = await api.post("/v1/incidents", json=INCIDENT)
            assert answer.status_code == 409 and "new identity" in answer.json()["error"]["message"]
