"""How fast the roster the mesh agrees on takes effect (issue 14's figures).

    python -m simulations.bench_governance [--founders 10] [--rounds 3] [--json out.json]

Real node processes on loopback, direct links. Each round admits one new member (it
holds only the genesis and one founder's address) by quorum and then revokes it:

- admission: seconds from the 201 of the quorum's last approval until every member
  (the newcomer included) reports the newcomer connected to all;
- revocation: seconds from the 201 of the revocation's last approval until no member
  reports a connection to the revoked one;
- reference, same run: seconds from a plain write's 201 until every member stores it
  (what any roster change costs at least: one entry reaching everyone).
"""

import argparse
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import httpx
import trio

from node.config import Config
from node.datadir import DataDir

from .federation import Cluster, NodeProcess, emit, free_ports

INCIDENT = {"title": "Bench: a roster change", "category": "other", "severity": "low"}
POLL_S = 0.02


async def _post(node: NodeProcess, path: str, body: dict[str, object] | None = None) -> dict[str, object]:
    async with node.client() as api:
        answer = await api.post(path, json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def _connected(node: NodeProcess, peer_id: str) -> bool:
    async with node.client() as api:
        try:
            peers = (await api.get("/v1/peers")).json()["peers"]
        except httpx.TransportError:
            return False
    return any(p["peer_id"] == peer_id and p["connected"] for p in peers)


async def _until(check: Callable[[], Awaitable[bool]]) -> float:
    started = time.monotonic()
    while not await check():
        await trio.sleep(POLL_S)
    return time.monotonic() - started


async def _holds_everywhere(nodes: list[NodeProcess], incident: str) -> bool:
    for node in nodes:
        async with node.client() as api:
            if (await api.get(f"/v1/incidents/{incident}")).status_code != 200:
                return False
    return True


async def _quorum(nodes: list[NodeProcess], proposal: dict[str, object]) -> float:
    """Approve on as many next members as the quorum needs; the monotonic time of the last
    201 (the last signature: it is in force wherever all the signatures have arrived)."""
    needed = int(proposal["needed"])  # type: ignore[call-overload]
    for signer in nodes[1:needed]:
        async with signer.client() as api:
            while not any(p["id"] == proposal["id"] for p in (await api.get("/v1/governance")).json()["proposals"]):
                await trio.sleep(POLL_S)
        await _post(signer, f"/v1/governance/proposals/{proposal['id']}/approve")
    return time.monotonic()


def _newcomer(cluster: Cluster, root: Path, i: int) -> NodeProcess:
    founder = cluster.dirs[0]
    mesh, api = free_ports(2)
    config = Config(
        f"OC Newcomer {i}",
        "EU",
        [f"/ip4/127.0.0.1/tcp/{mesh}"],
        api=f"127.0.0.1:{api}",
        join=list(founder.genesis().members[0].addrs),
        log_format="text",
    )
    datadir = DataDir(root / f"newcomer-{i}")
    datadir.init(config)
    datadir.save_genesis(founder.genesis())
    return NodeProcess(datadir, root / f"newcomer-{i}.log")


async def main_async(founders: int, rounds: int) -> dict[str, object]:
    root = Path(tempfile.mkdtemp(prefix="qroc-bench-governance-"))
    cluster = Cluster(root, founders, emulated=set(), log_format="text")
    admitted, revoked, reference = [], [], []
    newcomers: list[NodeProcess] = []
    try:
        async with trio.open_nursery() as nursery:
            await cluster.start(nursery)
            members = list(cluster.nodes)
            for i in range(rounds):
                opened = await _post(members[0], "/v1/incidents", INCIDENT)
                started = time.monotonic()
                await _until(partial(_holds_everywhere, members, str(opened["id"])))
                reference.append(time.monotonic() - started)
                new = _newcomer(cluster, root, i)
                newcomers.append(new)
                new.start()
                identity = new.datadir.identity()
                card = new.datadir.member(identity, new.datadir.config()).card()
                proposal = await _post(members[0], "/v1/governance/proposals", {"action": "admit", "card": card})
                last = await _quorum(members, proposal)

                async def everywhere(new: NodeProcess = new, peer_id: str = identity.peer_id) -> bool:
                    for node in members:
                        if not await _connected(node, peer_id):
                            return False
                        if not await _connected(new, node.datadir.identity().peer_id):
                            return False
                    return True

                await _until(everywhere)
                admitted.append(time.monotonic() - last)
                members.append(new)
                proposal = await _post(
                    members[0],
                    "/v1/governance/proposals",
                    {"action": "revoke", "public_key": identity.public_key.hex()},
                )
                last = await _quorum(members, proposal)
                members.remove(new)

                async def nowhere(peer_id: str = identity.peer_id) -> bool:
                    return not any([await _connected(node, peer_id) for node in members])

                await _until(nowhere)
                revoked.append(time.monotonic() - last)
                new.stop()
            nursery.cancel_scope.cancel()
    finally:
        cluster.stop()
        for new in newcomers:
            new.stop()

    def figures(samples: list[float]) -> dict[str, object]:
        return {"median_s": statistics.median(samples), "max_s": max(samples), "samples_s": samples}

    ref = statistics.median(reference)
    return {
        "nodes": founders + 1,
        "admission_connected_everywhere": {**figures(admitted), "x_reference": statistics.median(admitted) / ref},
        "revocation_last_connection_closed": {**figures(revoked), "x_reference": statistics.median(revoked) / ref},
        "reference_entry_stored_everywhere": figures(reference),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--founders", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    emit(trio.run(main_async, args.founders, args.rounds), args.json)


if __name__ == "__main__":
    main()
