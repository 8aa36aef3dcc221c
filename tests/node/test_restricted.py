"""A restricted incident on a real 5-node mesh (BE, NL, DE, FR, PL) in which NL's only
link is to FR: NL reads it through FR, which holds only ciphertext and shows nothing."""

import sqlite3

from protocol.entry import decode
from simulations.federation import direct, make_datadirs, plan_nodes

from .api_client import INCIDENT, client
from .federation import running, wait_until

BE, NL, DE, FR, PL = range(5)
# BE and NL have no link; NL's only link is FR.
LINKS = {BE: [DE, FR, PL], NL: [FR], DE: [BE, FR, PL], FR: [BE, NL, DE, PL], PL: [BE, DE, FR]}


def stored_bodies(datadir) -> bytes:
    db = sqlite3.connect(datadir.db_path)
    try:
        return b"".join(row[0] for row in db.execute("SELECT envelope FROM entries"))
    finally:
        db.close()


async def test_a_restricted_incident_reaches_its_recipients_through_a_non_recipient_that_reads_nothing(tmp_path):
    plans = plan_nodes(5, countries=["BE", "NL", "DE", "FR", "PL"])
    dirs = make_datadirs(tmp_path, plans, direct(plans, LINKS), sync_interval_s=1.0, log_format="text")
    async with running(dirs) as nodes:
        be, nl, de, fr, pl = nodes
        await wait_until(lambda: all(n.writable for n in nodes) and nl.connected and be.peer_id not in nl.connected)
        async with client(be) as api_be, client(fr) as api_fr, client(nl) as api_nl, client(pl) as api_pl:
            secret = {**INCIDENT, "title": "Informant meeting at Antwerp central", "restricted_to": ["NL", "DE"]}
            opened = await api_be.post("/v1/incidents", json=secret)
            assert opened.status_code == 201, opened.text
            incident = opened.json()["id"]
            assert {r["country"] for r in opened.json()["restricted_to"]} == {"BE", "NL", "DE"}
            comment = await api_be.post(f"/v1/incidents/{incident}/comments", json={"text": "Codename KESTREL"})
            assert comment.status_code == 201
            await wait_until(lambda: bytes.fromhex(incident) in nl.replica.visible_incidents())
            await wait_until(lambda: len(nl.incident_view(bytes.fromhex(incident))["comments"]) == 1)
            assert (await api_nl.get(f"/v1/incidents/{incident}")).json()["title"] == secret["title"]

            # FR relayed it: it holds the entries, as ciphertext, and shows nothing of them
            assert fr.store.holds(bytes.fromhex(incident))
            assert b"Antwerp" not in stored_bodies(fr.datadir) and b"KESTREL" not in stored_bodies(fr.datadir)
            assert (await api_fr.get(f"/v1/incidents/{incident}")).status_code == 404
            assert (await api_fr.get("/v1/incidents")).json()["incidents"] == []
            assert (await api_fr.get(f"/v1/incidents/{incident}/entries")).status_code == 404

            # adding PL lets it read everything so far
            added = await api_be.post(f"/v1/incidents/{incident}/recipients", json={"add": ["PL"]})
            assert added.status_code == 200, added.text
            await wait_until(lambda: bytes.fromhex(incident) in pl.replica.visible_incidents())
            assert len((await api_pl.get(f"/v1/incidents/{incident}")).json()["comments"]) == 1

            # removing DE: what is written afterwards DE cannot read; the others can
            removed = await api_be.post(f"/v1/incidents/{incident}/recipients", json={"remove": ["DE"]})
            assert {r["country"] for r in removed.json()["restricted_to"]} == {"BE", "NL", "PL"}
            later = await api_be.post(f"/v1/incidents/{incident}/comments", json={"text": "Moved to Ghent"})
            later_id = bytes.fromhex(later.json()["id"])
            await wait_until(lambda: all(n.store.holds(later_id) for n in (nl, de, pl)))
            await wait_until(lambda: len(pl.incident_view(bytes.fromhex(incident))["comments"]) == 2)
            assert [c["text"] for c in de.incident_view(bytes.fromhex(incident))["comments"]] == ["Codename KESTREL"]

            # media: sealed chunks, relayed by FR, opened by NL only
            photo = b"\xff\xd8 photo of the informant's car " * 40_000  # two chunks
            uploaded = await api_be.post(
                f"/v1/incidents/{incident}/media",
                params={"name": "car.jpg"},
                content=photo,
                headers={"Content-Type": "image/jpeg"},
            )
            assert uploaded.status_code == 201, uploaded.text
            media = uploaded.json()["id"]
            await wait_until(lambda: fr.media.manifest(bytes.fromhex(media)) is not None)
            relayed = fr.media.manifest(bytes.fromhex(media))
            await wait_until(lambda: fr.media.complete(relayed))  # FR holds every sealed chunk
            assert (await api_fr.get(f"/v1/media/{media}")).status_code == 404
            held = b"".join(p.read_bytes() for p in fr.datadir.chunks_path.rglob("*") if p.is_file())
            assert held and photo[:4096] not in held and b"car.jpg" not in stored_bodies(fr.datadir)

            await wait_until(lambda: (item := nl.media.readable(bytes.fromhex(media))) and nl.media.complete(item[0]))
            downloaded = await api_nl.get(f"/v1/media/{media}")
            assert downloaded.status_code == 200 and downloaded.content == photo
            assert downloaded.headers["content-type"] == "image/jpeg"
            ranged = await api_nl.get(f"/v1/media/{media}", headers={"Range": "bytes=1048570-1048589"})
            assert ranged.status_code == 206 and ranged.content == photo[1048570:1048590]


async def test_revoking_a_recipient_moves_the_incident_to_a_key_it_cannot_read(tmp_path):
    plans = plan_nodes(4, countries=["BE", "NL", "DE", "FR"])
    dirs = make_datadirs(tmp_path, plans, direct(plans), sync_interval_s=1.0, log_format="text")
    async with running(dirs) as nodes:
        be, nl, de, fr = nodes
        await wait_until(lambda: all(n.writable and len(n.connected) == 3 for n in nodes))
        async with client(be) as api_be, client(nl) as api_nl, client(fr) as api_fr:
            secret = {**INCIDENT, "title": "Informant meeting at Antwerp central", "restricted_to": ["NL", "DE"]}
            incident = bytes.fromhex((await api_be.post("/v1/incidents", json=secret)).json()["id"])
            await wait_until(lambda: incident in de.replica.visible_incidents())
            revoke = {"action": "revoke", "public_key": de.identity.public_key.hex()}
            proposal = (await api_be.post("/v1/governance/proposals", json=revoke)).json()["id"]
            await wait_until(lambda: all(n.store.holds(bytes.fromhex(proposal)) for n in (nl, fr)))
            for api in (api_nl, api_fr):  # 3 of 4: the quorum
                assert (await api.post(f"/v1/governance/proposals/{proposal}/approve")).status_code == 201
            gone = de.identity.public_key
            await wait_until(lambda: gone not in be.replica.keyring.current_recipients(incident))
            await wait_until(lambda: gone not in nl.replica.keyring.current_recipients(incident))
            later = await api_be.post(f"/v1/incidents/{incident.hex()}/comments", json={"text": "Moved to Ghent"})
            assert later.status_code == 201, later.text
            later_id = bytes.fromhex(later.json()["id"])
            await wait_until(lambda: len(nl.incident_view(incident)["comments"]) == 1)
            sealed = decode(nl.store.entry_by_id(later_id), de.roster, verify=False)
            assert de.replica.readable(sealed) is None  # DE holds no key for it
