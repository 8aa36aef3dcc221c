"""A member that floods is throttled; one that keeps sending invalid input is banned and
disconnected; the others are unaffected (protocol/budget.py on real nodes)."""

import contextlib

import trio
from libp2p.peer.id import ID

from node.mesh.syncer import PROTOCOL_ID
from protocol import limits

from .api_client import INCIDENT, client
from .federation import federation, running, wait_until


async def open_sync_streams(bad, target, count: int) -> None:
    """Sync sessions far faster than the member's budget."""
    for _ in range(count):
        with contextlib.suppress(Exception):
            stream = await bad.host.new_stream(ID.from_base58(target.peer_id), [PROTOCOL_ID])
            await stream.reset()


async def send_garbage_gossip(bad, count: int) -> None:
    """What a hostile member's own tooling sends: no local validation, distinct messages
    (gossip ids are content hashes), none of them an entry."""
    for n in range(count):
        bad.gossip.publish(b"\x82\x41\x00\x41\x00" + n.to_bytes(4, "big"))
        await trio.sleep(0.005)


async def test_a_member_over_budget_is_throttled_one_sending_invalid_input_is_banned_others_unaffected(tmp_path):
    dirs = federation(tmp_path, 3)
    async with running(dirs) as (a, bad, c), client(a) as api_a, client(c) as api_c:
        await wait_until(lambda: all(len(n.connected) == 2 and n.writable for n in (a, bad, c)))
        await open_sync_streams(bad, a, limits.budget_sync_burst + 20)
        await wait_until(lambda: a.budgets.standing(bad.peer_id).throttled > 0)
        assert not a.budgets.banned(bad.peer_id, a.now_ms())  # a throttled sync is dropped, not an offence
        await send_garbage_gossip(bad, 2 * limits.offences_max)
        await wait_until(lambda: a.budgets.banned(bad.peer_id, a.now_ms()) and bad.peer_id not in a.connected)
        peers = {p["peer_id"]: p for p in (await api_a.get("/v1/peers")).json()["peers"]}
        assert peers[bad.peer_id]["banned_until"] is not None and peers[bad.peer_id]["offences"] >= limits.offences_max
        assert peers[c.peer_id]["banned_until"] is None and peers[c.peer_id]["connected"]
        assert "qroc_peer_bans_total 1.0" in (await api_a.get("/metrics")).text
        await trio.sleep(3)  # the dialers try again: the ban holds at the handshake
        assert bad.peer_id not in a.connected and c.peer_id in a.connected
        opened = (await api_c.post("/v1/incidents", json=INCIDENT)).json()
        await wait_until(lambda: bytes.fromhex(opened["id"]) in a.replica.incidents)
