"""The roster the mesh agrees on, with real nodes: admission by quorum, revocation across a
split, key rotation. Every change goes through the API; no node's files are edited."""

import hashlib
import json
from functools import partial

import pytest
import trio

from node.config import Config
from node.datadir import DataDir
from protocol.body import Comment
from protocol.entry import create, decode
from protocol.errors import Revoked
from simulations.federation import direct, make_datadirs, plan_nodes

from ..protocol.factories import open_body
from .api_client import INCIDENT, client
from .federation import emulated, found, running, wait_until
from .test_process import qroc


def files_of(dirs: list[DataDir]) -> str:
    """A digest of every node's hand-configured files."""
    digest = hashlib.sha256()
    for d in dirs:
        for path in (d.genesis_path, d.dial_path, d.config_path):
            digest.update(path.read_bytes() if path.exists() else b"-")
    return digest.hexdigest()


async def propose(node, **body) -> dict:
    async with client(node) as api:
        answer = await api.post("/v1/governance/proposals", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


async def approve(node, proposal: str) -> dict:
    async with client(node) as api:
        answer = await api.post(f"/v1/governance/proposals/{proposal}/approve")
    assert answer.status_code == 201, answer.text
    return answer.json()


def holds_everywhere(nodes, entry_id: bytes) -> bool:
    return all(n.store.holds(entry_id) for n in nodes)


async def test_a_five_node_mesh_admits_a_sixth_member_by_quorum_and_it_catches_up_with_no_file_edited(tmp_path):
    plans = plan_nodes(6)
    dirs = make_datadirs(tmp_path, plans[:5], direct(plans[:5]), sync_interval_s=1.0, log_format="text")
    newcomer = DataDir(tmp_path / "newcomer")
    plan = plans[5]
    config = Config(
        plan.name,
        plan.country,
        [f"/ip4/127.0.0.1/tcp/{plan.mesh_port}"],
        api=f"127.0.0.1:{plan.api_port}",
        join=list(dirs[0].genesis().members[0].addrs),  # one reachable member
        sync_interval_s=1.0,
        log_format="text",
    )
    identity = newcomer.init(config)
    newcomer.save_genesis(dirs[0].genesis())  # the federation's genesis, as handed out
    card = newcomer.member(identity, config).card()
    before = files_of([*dirs, newcomer])
    async with running(dirs) as nodes:
        await wait_until(lambda: all(n.writable for n in nodes))
        opening = nodes[2].write(open_body())
        history = nodes[2].write(Comment(opening.id, "before"))
        proposal = await propose(nodes[0], action="admit", card=card)
        assert proposal["status"] == "pending" and proposal["needed"] == 4  # ceil(5 × 2/3)
        await wait_until(lambda: holds_everywhere(nodes, bytes.fromhex(proposal["id"])))
        for n in nodes[1:3]:
            await approve(n, proposal["id"])
        async with running([newcomer]) as (new,):
            await wait_until(lambda: all(n.metrics.refused_peers._value.get() >= 1 for n in nodes[:1]))
            assert not any(identity.public_key in n.roster for n in nodes)  # 3 of 4: nothing changed
            assert not new.writable and not new.connected
            last = await approve(nodes[3], proposal["id"])
            assert last["status"] == "in_force"
            await wait_until(lambda: all(identity.peer_id in n.connected for n in nodes), timeout_s=60)
            await wait_until(lambda: holds_everywhere([new], history.id) and new.writable)
            assert len(new.roster) == 6 and new.charter == nodes[0].charter
            reply = new.write(Comment(history.body.incident, "the newcomer answers"))
            await wait_until(lambda: holds_everywhere(nodes, reply.id))
    assert files_of([*dirs, newcomer]) == before


async def test_a_revocation_while_the_mesh_is_split_is_enforced_by_the_half_that_learns_late(tmp_path):
    async with emulated(tmp_path, 5) as cluster:
        found(cluster.dirs, cluster.dirs, quorum="51/100")  # 3 of 5 sign a change
        async with running(cluster.dirs) as nodes:
            *honest, revoked = nodes
            await wait_until(lambda: all(n.writable for n in nodes) and all(len(n.connected) == 4 for n in nodes))
            early = revoked.write(open_body("before"))
            await wait_until(lambda: holds_everywhere(nodes, early.id))
            cluster.links.partition([{0, 1, 2}, {3, 4}])
            await wait_until(lambda: len(nodes[3].connected) == 1)
            key = revoked.identity.public_key
            proposal = await propose(honest[0], action="revoke", public_key=key.hex())
            assert proposal["last_seq"] == early.seq
            await wait_until(lambda: holds_everywhere(honest[:3], bytes.fromhex(proposal["id"])))
            for n in honest[1:3]:
                await approve(n, proposal["id"])
            await wait_until(lambda: all(key in n.roster.former for n in honest[:3]))
            late = revoked.write(open_body("after"))
            await wait_until(lambda: nodes[3].store.holds(late.id))  # the late half takes it in, for now
            assert key not in nodes[3].roster.former
            cluster.links.heal()
            await wait_until(lambda: key in nodes[3].roster.former)
            await wait_until(lambda: revoked.peer_id not in nodes[3].connected, timeout_s=10)
            assert not nodes[3].store.holds(late.id) and late.incident not in nodes[3].replica.incidents
            assert nodes[3].store.holds(early.id)  # history stays
            await wait_until(lambda: all(n.replica.log.heads() == honest[0].replica.log.heads() for n in honest))
            assert all(n.charter == honest[0].charter for n in honest)
            assert all(revoked.peer_id not in n.connected for n in honest)
            with pytest.raises(Revoked):
                decode(late.signed, honest[0].roster)


async def test_a_member_rotates_its_key_and_its_old_key_is_refused_for_new_entries(tmp_path):
    plans = plan_nodes(3)
    dirs = make_datadirs(tmp_path, plans, direct(plans), sync_interval_s=1.0, log_format="text")
    async with running(dirs[1:]) as others:
        async with running(dirs[:1]) as (be,):
            await wait_until(lambda: all(n.writable for n in [be, *others]))
            old = be.identity
            opening = be.write(open_body("old key"))
            async with client(be) as api:
                handover = await api.post("/v1/governance/rotate")
                assert handover.status_code == 201, handover.text
                refused = await api.post("/v1/incidents", json=INCIDENT)
                assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_a_member"
            new_peer_id = handover.json()["new_peer_id"]
            await wait_until(lambda: all(old.public_key in n.roster.former for n in others))
        async with running(dirs[:1]) as (be,):
            assert be.peer_id == new_peer_id
            await wait_until(lambda: all(new_peer_id in n.connected for n in others) and be.writable)
            written = be.write(Comment(opening.id, "new key"))
            await wait_until(lambda: holds_everywhere(others, written.id))
            assert written.author == be.identity.public_key != old.public_key and written.seq == 1
            assert all(n.store.holds(opening.id) for n in others)  # the old key's entries stay valid
            last = handover.json()["last_seq"]
            forged = create(old, last + 1, bytes(32), written.hlc + 1, Comment(opening.id, "old key, stolen"))
            with pytest.raises(Revoked):
                decode(forged.signed, others[0].roster)


async def test_the_qroc_commands_propose_list_and_co_sign_through_the_running_nodes(tmp_path):
    plans = plan_nodes(3)
    dirs = make_datadirs(tmp_path, plans[:2], direct(plans[:2]), sync_interval_s=1.0, log_format="text")
    newcomer = DataDir(tmp_path / "newcomer")
    newcomer.init(Config(plans[2].name, plans[2].country, [f"/ip4/127.0.0.1/tcp/{plans[2].mesh_port}"]))
    card = tmp_path / "card.json"
    card.write_text(json.dumps(newcomer.member(newcomer.identity(), newcomer.config()).card()))
    run = partial(trio.to_thread.run_sync, qroc)
    async with running(dirs) as nodes:
        await wait_until(lambda: all(n.writable for n in nodes))
        proposed = await run("governance", "admit", str(dirs[0].path), str(card))
        assert proposed.returncode == 0 and "pending" in proposed.stdout and "1/2" in proposed.stdout, proposed.stderr
        proposal = proposed.stdout.split()[0]
        await wait_until(lambda: nodes[1].store.holds(bytes.fromhex(proposal)))
        approved = await run("governance", "approve", str(dirs[1].path), proposal)
        assert approved.returncode == 0 and "in_force" in approved.stdout and "2/2" in approved.stdout
        await wait_until(lambda: len(nodes[0].roster) == 3)
        listing = (await run("governance", "list", str(dirs[0].path))).stdout
        assert plans[2].name in listing and newcomer.identity().peer_id in listing
        rule = await run("governance", "rule", str(dirs[0].path), "3/4")
        assert rule.returncode == 0 and "pending" in rule.stdout
        rule_id = rule.stdout.split()[0]
        revoke = await run("governance", "revoke", str(dirs[1].path), newcomer.identity().public_key.hex())
        assert revoke.returncode == 0  # B signs another change on the same version ...
        await wait_until(lambda: nodes[1].store.holds(bytes.fromhex(rule_id)))
        refused = await run("governance", "approve", str(dirs[1].path), rule_id)
        assert refused.returncode == 1 and "already signed" in refused.stderr  # ... so not A's
