"""Exercises on real nodes: an MSEL conducted by BE's node over a 4-node mesh (BE, CZ, DE,
ES), played through the HTTP API, and the controller killed mid-exercise."""

import base64
import signal
import sqlite3
import textwrap

import trio

from node.api.exercises import run_report
from protocol.body import Ack, AckLevel, Kind
from protocol.entry import decode
from protocol.hlc import wall_ms
from simulations.federation import NodeProcess

from .api_client import client
from .federation import federation, running, wait_until
from .test_faults import answers, processes, until

MSEL = textwrap.dedent(
    """
    [exercise]
    name = "drill-4"
    title = "Four-OC drill"
    version = 1
    controller = "BE"
    participants = ["BE", "CZ", "DE", "ES"]
    duration = "00:05:00"
    objectives = ["Every target acknowledges within a minute"]
    briefing = "A short drill."

    [[inject]]
    id = "I1"
    at = "00:00:01"
    to = ["CZ", "DE"]
    kind = "incident"
    title = "Suspects crossing from CZ into DE"
    category = "manhunt"
    severity = "high"
    expected = ["CZ and DE: acknowledge"]

    [[inject]]
    id = "I2"
    at = "00:00:03"
    to = ["CZ"]
    kind = "message"
    incident = "I1"
    text = "CZ only: the car was found in Plzen"
    expected = ["CZ: acknowledge"]

    [[inject]]
    id = "I3"
    at = "00:00:05"
    to = ["ES"]
    kind = "incident"
    title = "A suspect booked on a flight to Madrid"
    category = "manhunt"
    severity = "medium"
    attachments = ["files/booking.txt"]
    expected = ["ES: acknowledge and check the arrival"]
    """
)
BOOKING = b"PNR X1Y2Z3, fictional\n"


def stored(datadir, exercise: str) -> list:
    """Every entry of the exercise in a node's SQLite store, read directly."""
    db = sqlite3.connect(datadir.db_path)
    try:
        rows = db.execute("SELECT envelope FROM entries WHERE chained = 1").fetchall()
    finally:
        db.close()
    return [e for e in (decode(r[0], datadir.roster(), verify=False) for r in rows) if e.exercise == exercise]


async def load_and_start(api) -> int:
    loaded = await api.post(
        "/v1/conduct", json={"msel": MSEL, "files": {"files/booking.txt": base64.b64encode(BOOKING).decode()}}
    )
    assert loaded.status_code == 201, loaded.text
    run = loaded.json()["run"]
    started = await api.post(f"/v1/conduct/{run}/start")
    assert started.status_code == 200, started.text
    return run


async def states(api, run: int) -> dict[str, str]:
    return {i["id"]: i["state"] for i in (await api.get(f"/v1/conduct/{run}")).json()["injects"]}


async def test_an_exercise_reaches_its_targets_only_on_time_and_its_report_matches_the_stores(tmp_path):
    dirs = federation(tmp_path, 4)
    async with running(dirs) as nodes:
        be, cz, de, es = nodes
        await wait_until(lambda: all(n.writable and len(n.connected) == 3 for n in nodes))
        async with client(be) as control, client(cz) as cz_api, client(de) as de_api, client(es) as es_api:
            run = await load_and_start(control)
            with trio.fail_after(30):
                while set((await states(control, run)).values()) != {"released"}:
                    await trio.sleep(0.1)
            started_ms = be.conductor.run(run).started_ms

            async def exercise_incidents(api) -> dict[str, dict]:
                listed = (await api.get("/v1/incidents", params={"exercise": "drill-4"})).json()["incidents"]
                return {i["title"]: i for i in listed if "exercise control" not in i["title"]}

            await wait_until(
                lambda: len(de.replica.visible_incidents()) >= 2 and len(es.replica.visible_incidents()) >= 2
            )
            seen = {
                name: await exercise_incidents(api) for name, api in [("CZ", cz_api), ("DE", de_api), ("ES", es_api)]
            }
            assert set(seen["CZ"]) == set(seen["DE"]) == {"Suspects crossing from CZ into DE"}
            assert set(seen["ES"]) == {"A suspect booked on a flight to Madrid"}
            i1 = seen["CZ"]["Suspects crossing from CZ into DE"]
            assert i1["exercise"] == "drill-4"
            await wait_until(lambda: len(cz.incident_view(bytes.fromhex(i1["id"]))["comments"]) == 1)
            assert de.incident_view(bytes.fromhex(i1["id"]))["comments"] == []  # I2 was for CZ only

            # released at its time: within a second of STARTEX + at
            for inject, at_s in [("I1", 1), ("I2", 3), ("I3", 5)]:
                entry_id = be.conductor.run(run).done[(inject, 0)]
                released = wall_ms(decode(be.store.entry_by_id(entry_id), be.roster, verify=False).hlc)
                assert 0 <= released - (started_ms + at_s * 1000) < 1000

            # the players acknowledge, and CZ answers
            for api in (cz_api, de_api):
                acked = await api.post(f"/v1/incidents/{i1['id']}/acks", json={"entry": i1["id"]})
                assert acked.status_code == 201, acked.text
            first, again = [
                (await cz_api.post(f"/v1/incidents/{i1['id']}/acks", json={"entry": i1["id"]})).json() for _ in range(2)
            ]
            assert first["id"] == again["id"]  # noting twice is noting once
            answered = await cz_api.post(f"/v1/incidents/{i1['id']}/comments", json={"text": "Patrols at Rozvadov"})
            assert answered.status_code == 201

            def report_complete() -> bool:
                injects = run_report(be, run)["injects"]
                delivered = all(t["delivered_ms"] for i in injects for t in i["targets"])
                i1_targets = injects[0]["targets"]
                return delivered and all(t["acknowledged_ms"] for t in i1_targets) and i1_targets[0]["responded_ms"]

            await wait_until(report_complete)
            report = (await control.get(f"/v1/conduct/{run}/report.json")).json()
            html = await control.get(f"/v1/conduct/{run}/report.html")
            assert html.status_code == 200 and "attachment" in html.headers["content-disposition"]
            assert "data:image/png;base64," in html.text

            # the report's figures are what the stores hold
            for inject in report["injects"]:
                for target in inject["targets"]:
                    node = {"CZ": cz, "DE": de, "ES": es}[target["country"]]
                    theirs = [e for e in stored(node.datadir, "drill-4") if e.author == node.identity.public_key]
                    receipts = [
                        e
                        for e in theirs
                        if isinstance(e.body, Ack)
                        and e.body.level is AckLevel.DELIVERED
                        and e.body.entry.hex() == inject["entry"]
                    ]
                    assert receipts and target["delivered_ms"] == wall_ms(receipts[0].hlc)
                    notes = [e for e in theirs if isinstance(e.body, Ack) and e.body.level is AckLevel.NOTED]
                    if inject["id"] == "I1":
                        assert target["acknowledged_ms"] == wall_ms(notes[0].hlc)
                    if inject["id"] == "I1" and target["country"] == "CZ":
                        comment = next(e for e in theirs if e.kind is Kind.COMMENT)
                        assert target["responded_ms"] == wall_ms(comment.hlc)
            assert {"inject": "I3", "country": "ES"} in report["unacknowledged"]
            es_stored = stored(es.datadir, "drill-4")
            assert any(e.kind is Kind.MEDIA for e in es_stored)  # the attachment reached ES

            # the timeline shows who acknowledged, and the real view is untouched
            timeline = (await cz_api.get(f"/v1/incidents/{i1['id']}/entries")).json()["entries"]
            assert {a["member"]["country"] for a in timeline[0]["acknowledged"]["noted"]} == {"CZ", "DE"}
            for api in (control, cz_api, de_api, es_api):
                assert (await api.get("/v1/incidents", params={"exercise": "false"})).json()["incidents"] == []


async def test_a_controller_killed_mid_exercise_resumes_and_releases_every_inject_once(tmp_path):
    dirs = federation(tmp_path, 2)
    nodes = [NodeProcess(d, tmp_path / f"node{i}.log") for i, d in enumerate(dirs)]
    async with processes(nodes):
        await until(lambda: all_answer(nodes))
        async with nodes[0].client() as control:
            await until(lambda: writable(control))
            run = await load_and_start(control)
            with trio.fail_after(30):
                while (await states(control, run))["I1"] != "released":
                    await trio.sleep(0.05)
        nodes[0].stop(signal.SIGKILL)  # between I1 and I2
        nodes[0].start()
        await until(lambda: answers(nodes[0]))
        async with nodes[0].client() as control:
            with trio.fail_after(60):
                while set((await states(control, run)).values()) != {"released"}:
                    await trio.sleep(0.1)
    released = [e for e in stored(dirs[0], "drill-4") if e.author == dirs[0].identity().public_key]
    kinds = sorted(e.kind.name for e in released if e.kind is not Kind.ACK)
    # the control incident's opening, I1's and I3's openings, I2's comment, I3's attachment
    assert kinds == ["COMMENT", "MEDIA", "OPEN", "OPEN", "OPEN"]


async def all_answer(nodes) -> bool:
    return all([await answers(n) for n in nodes])


async def writable(api) -> bool:
    return (await api.get("/v1/health")).json().get("writable", False) is True
