"""A member that floods is throttled, then banned and disconnected; the others are
unaffected (protocol/budget.py on real nodes)."""

import contextlib

import trio
from libp2p.peer.id import ID

from node.mesh.syncer import PROTOCOL_ID
from protocol import limits

from .api_client import INCIDENT, client
from .federation import federation, running, wait_until


async def test_a_member_over_its_budgets_is_throttled_then_disconnected_and_the_others_are_unaffected(tmp_path):
    dirs = federation(tmp_path, 3)
    async with running(dirs) as (a, bad, c), client(a) as api_a, client(c) as api_c:
        await wait_until(lambda: all(len(n.connected) == 2 and n.writable for n in (a, bad, c)))

        async def open_sync_streams(count: int) -> None:  # sync sessions far faster than its budget
            for _ in range(count):
                with contextlib.suppress(Exception):
                    stream = await bad.host.new_stream(ID.from_base58(a.peer_id), [PROTOCOL_ID])
                    await stream.reset()

        await open_sync_streams(limits.budget_sync_burst + 5)
        await wait_until(lambda: a.budgets.standing(bad.peer_id).throttled > 0)
        assert not a.budgets.banned(bad.peer_id, a.now_ms())  # throttled first
        await open_sync_streams(2 * limits.offences_max)  # every throttled one is an offence
        await wait_until(lambda: a.budgets.banned(bad.peer_id, a.now_ms()) and bad.peer_id not in a.connected)
        peers = {p["peer_id"]: p for p in (await api_a.get("/v1/peers")).json()["peers"]}
        assert peers[bad.peer_id]["banned_until"] is not None and peers[bad.peer_id]["offences"] >= limits.offences_max
        assert peers[c.peer_id]["banned_until"] is None and peers[c.peer_id]["connected"]
        assert "qroc_peer_bans_total 1.0" in (await api_a.get("/metrics")).text
        await trio.sleep(3)  # the dialers try again: the ban holds at the handshake
        assert bad.peer_id not in a.connected and c.peer_id in a.connected
        opened = (await api_c.post("/v1/incidents", json=INCIDENT)).json()
        await wait_until(lambda: bytes.fromhex(opened["id"]) in a.replica.incidents)
