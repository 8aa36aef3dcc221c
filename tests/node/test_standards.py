"""The standards bridges on real nodes: import and export through the HTTP API, CoT
streamed to a TAK listener and taken in from a TAK client."""

import trio

from simulations.federation import free_port

from .api_client import INCIDENT, client
from .federation import federation, running, wait_until

CAP = "urn:oasis:names:tc:emergency:cap:1.2"


def alert(msg_type: str, identifier: str, references: str = "", severity: str = "Severe") -> bytes:
    refs = f"<references>{references}</references>" if references else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="{CAP}">
  <identifier>{identifier}</identifier>
  <sender>alerts@example.be</sender>
  <sent>2026-12-02T10:00:00+00:00</sent>
  <status>Actual</status>
  <msgType>{msg_type}</msgType>
  <scope>Public</scope>
  {refs}
  <info>
    <category>CBRNE</category>
    <event>Suspected chemical release</event>
    <urgency>Immediate</urgency>
    <severity>{severity}</severity>
    <certainty>Observed</certainty>
    <headline>Chemical release at Brussels-Midi</headline>
    <description>Several people unwell on platform 3.</description>
    <area><areaDesc>Brussels-Midi</areaDesc><circle>50.8358,4.3364 0.5</circle></area>
  </info>
</alert>""".encode()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol2;</identifier></alert>"""


async def test_a_cap_alert_then_update_then_cancel_is_one_incident_and_reposting_changes_nothing(tmp_path):
    (datadir,) = federation(tmp_path, 1)
    async with running([datadir]) as (node,), client(node) as api:
        await wait_until(lambda: node.writable)
        first = await api.post("/v1/import/cap", content=alert("Alert", "BE-1"))
        assert first.status_code == 201, first.text
        incident = first.json()["results"][0]["incident"]
        again = await api.post("/v1/import/cap", content=alert("Alert", "BE-1"))
        assert again.status_code == 200 and again.json()["results"][0]["action"] == "unchanged"
        update = alert("Update", "BE-2", "alerts@example.be,BE-1,2026-12-02T10:00:00+00:00", severity="Extreme")
        updated = (await api.post("/v1/import/cap", content=update)).json()["results"][0]
        assert (updated["incident"], updated["action"]) == (incident, "updated")
        cancel = alert("Cancel", "BE-3", "alerts@example.be,BE-1,2026-12-02T10:00:00+00:00")
        cancelled = (await api.post("/v1/import/cap", content=cancel)).json()["results"][0]
        assert (cancelled["incident"], cancelled["action"]) == (incident, "cancelled")
        view = (await api.get(f"/v1/incidents/{incident}")).json()
        assert (view["severity"], view["status"], view["exercise"]) == ("critical", "closed", None)
        assert view["origin"] == {"format": "cap", "sender": "alerts@example.be", "identifier": "BE-1"}
        assert len((await api.get("/v1/incidents")).json()["incidents"]) == 1


async def test_hostile_xml_is_refused_counted_and_nothing_is_stored(tmp_path):
    (datadir,) = federation(tmp_path, 1)
    async with running([datadir]) as (node,), client(node) as api:
        await wait_until(lambda: node.writable)
        deep = b"<event>" + b"<detail>" * 40 + b"</detail>" * 40 + b"</event>"
        for fmt, document, status in [
            ("cap", BILLION_LAUGHS, 422),
            ("cot", deep, 422),
            ("cap", b"<alert xmlns='urn:wrong'/>", 422),
            ("cap", b"<alert", 422),
            ("cap", alert("Alert", "x").replace(b"UTF-8", b"UTF-16"), 422),
            ("cap", b"<a>" + b" " * (2 * 1024 * 1024) + b"</a>", 413),
        ]:
            refused = await api.post(f"/v1/import/{fmt}", content=document)
            assert refused.status_code == status, (document[:60], refused.text)
            assert refused.json()["error"]["message"]
        assert node.store.counts()["entries"] == 0
        metrics = (await api.get("/metrics")).text
        assert 'source="import"' in metrics


async def test_an_incident_exported_from_a_in_each_format_and_imported_on_b_has_the_same_fields(tmp_path):
    dirs = federation(tmp_path, 2, gossip=False, sync_interval_s=3600)  # B learns it only by import
    async with running(dirs) as (a, b), client(a) as api_a, client(b) as api_b:
        await wait_until(lambda: a.writable and b.writable)
        opened = (await api_a.post("/v1/incidents", json={**INCIDENT, "exercise": "Manhunt drill"})).json()
        by_accept = await api_a.get(f"/v1/incidents/{opened['id']}", headers={"Accept": "application/cap+xml"})
        assert by_accept.headers["content-type"].startswith("application/cap+xml")
        for fmt in ("cap", "edxl-de", "emsi", "cot"):
            document = await api_a.get(f"/v1/incidents/{opened['id']}/export/{fmt}")
            assert document.status_code == 200, (fmt, document.text)
            imported = await api_b.post(f"/v1/import/{fmt}", content=document.content)
            assert imported.status_code in (200, 201), (fmt, imported.text)
            copy = (await api_b.get(f"/v1/incidents/{imported.json()['results'][0]['incident']}")).json()
            for field in ("title", "description", "category", "severity", "status", "tags", "exercise"):
                assert copy[field] == opened[field], (fmt, field)
            assert abs(copy["location"]["lat"] - opened["location"]["lat"]) < 1e-6, fmt
            assert copy["origin"]["format"] == ("cap" if fmt == "edxl-de" else fmt)


TAK_MARKER = b"""<?xml version='1.0' encoding='UTF-8' standalone='yes'?>
<event version="2.0" uid="tak-marker-1" type="a-h-G" how="h-g-i-g-o" time="2026-12-02T10:00:00Z"
 start="2026-12-02T10:00:00Z" stale="2026-12-03T10:00:00Z">
  <point lat="50.0755" lon="14.4378" hae="9999999.0" ce="9999999.0" le="9999999.0"/>
  <detail><contact callsign="Suspect vehicle, Prague"/><remarks>Dark Skoda Octavia</remarks>
  <link uid="ANDROID-1234" relation="p-p" type="a-f-G-U-C" parent_callsign="CZ-7"/></detail>
</event>"""


TAK_POSITION = b"""<event version="2.0" uid="ANDROID-1234" type="a-f-G-U-C" how="m-g" time="2026-12-02T10:00:00Z"
 start="2026-12-02T10:00:00Z" stale="2026-12-02T10:06:00Z">
  <point lat="50.0755" lon="14.4378" hae="240.0" ce="9.9" le="9999999.0"/>
  <detail><contact callsign="CZ-7" endpoint="*:-1:stcp"/><__group name="Cyan" role="Team Member"/>
  <takv device="Pixel 7" platform="ATAK-CIV" os="34" version="5.2.0"/><track course="90" speed="0"/></detail>
</event>"""
TAK_CHAT = TAK_POSITION.replace(b'type="a-f-G-U-C"', b'type="b-t-f"').replace(b"ANDROID-1234", b"GeoChat.1")


async def test_a_tak_devices_position_and_chat_are_answered_as_no_incident_counted_and_nothing_is_written(tmp_path):
    (datadir,) = federation(tmp_path, 1)
    async with running([datadir]) as (node,), client(node) as api:
        await wait_until(lambda: node.writable)
        for document, what in [(TAK_POSITION, "a friendly position"), (TAK_CHAT, "a chat message")]:
            answer = await api.post("/v1/import/cot", content=document)
            assert answer.status_code == 200, answer.text
            assert answer.json()["results"] == [] and what in answer.json()["note"]
        assert node.store.counts()["entries"] == 0
        assert 'qroc_imports_not_incidents_total{format="cot"} 2.0' in (await api.get("/metrics")).text


async def test_cot_goes_out_to_a_tak_listener_for_an_incident_opened_on_another_node_and_comes_in(tmp_path):
    received: list[bytes] = []
    listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
    port = listener.socket.getsockname()[1]

    async def tak_server(stream: trio.SocketStream) -> None:
        async for data in stream:
            received.append(data)

    dirs = federation(tmp_path, 3)
    config = dirs[2].config()
    config.cot_out = [f"tcp://127.0.0.1:{port}"]
    config.cot_in = f"127.0.0.1:{free_port()}"
    dirs[2].config_path.write_text(config.to_toml())
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, tak_server, [listener])
        async with running(dirs) as nodes, client(nodes[0]) as api:
            await wait_until(lambda: all(n.writable for n in nodes))
            opened = (await api.post("/v1/incidents", json=INCIDENT)).json()
            await wait_until(lambda: f"qroc-{opened['id']}".encode() in b"".join(received))
            assert b"<event" in b"".join(received)
            host, port_in = config.cot_in.split(":")
            tak_client = await trio.open_tcp_stream(host, int(port_in))
            # A client repeating its marker, and reporting its own position and a chat line.
            await tak_client.send_all(TAK_POSITION + TAK_MARKER + TAK_CHAT + TAK_MARKER)
            await wait_until(lambda: len(nodes[0].replica.visible_incidents()) == 2)
            await trio.sleep(0.5)
            await tak_client.aclose()
            titles = [i["title"] for i in (await api.get("/v1/incidents")).json()["incidents"]]
            assert "Suspect vehicle, Prague" in titles and len(titles) == 2  # once, not twice
            assert nodes[2].metrics.not_incidents.labels("cot")._value.get() == 2
        nursery.cancel_scope.cancel()
