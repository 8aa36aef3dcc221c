"""Every endpoint on a real node over real HTTP: happy paths and error paths."""

import json

import pytest
import trio

from .api_client import INCIDENT, client
from .federation import federation, running, wait_until


@pytest.fixture
async def node(tmp_path):
    async with running(federation(tmp_path, 1)) as (node,):
        yield node


def error_code(response) -> str:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"} and body["error"]["message"]
    return body["error"]["code"]


async def test_health_needs_no_token_and_everything_else_does(node):
    async with client(node, token="wrong") as api:
        health = await api.get("/v1/health")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        for path in ("/v1/node", "/v1/peers", "/v1/incidents", "/v1/sync", "/metrics", "/openapi.json", "/v1/events"):
            response = await api.get(path)
            assert response.status_code == 401, path
            assert error_code(response) == "unauthorized"
        missing = await api.get("/v1/node", headers={"Authorization": ""})
        assert missing.status_code == 401


async def test_create_read_list_update_and_comment(node):
    async with client(node) as api:
        created = await api.post("/v1/incidents", json=INCIDENT)
        assert created.status_code == 201
        incident = created.json()
        assert {k: incident[k] for k in ("title", "category", "severity", "status", "tags")} == {
            "title": INCIDENT["title"],
            "category": "manhunt",
            "severity": "high",
            "status": "open",
            "tags": ["robbery", "vehicle"],
        }
        assert incident["location"] == INCIDENT["location"] and incident["exercise"] is None
        assert incident["author"]["country"] == "BE" and incident["author"]["peer_id"] == node.peer_id
        assert node.store.entry_by_id(bytes.fromhex(incident["id"])) is not None  # durable before 201
        one = await api.get(f"/v1/incidents/{incident['id']}")
        assert one.json() == incident
        patched = await api.patch(
            f"/v1/incidents/{incident['id']}", json={"severity": "critical", "tags": ["vehicle", "border"]}
        )
        assert patched.status_code == 200
        assert patched.json()["severity"] == "critical" and patched.json()["tags"] == ["border", "vehicle"]
        comment = await api.post(f"/v1/incidents/{incident['id']}/comments", json={"text": "Seen at Dresden"})
        assert comment.status_code == 201 and comment.json()["text"] == "Seen at Dresden"
        again = (await api.get(f"/v1/incidents/{incident['id']}")).json()
        assert [c["text"] for c in again["comments"]] == ["Seen at Dresden"]
        info = (await api.get("/v1/node")).json()
        assert info["counts"] == {"entries": 3, "incidents": 1} and info["peer_id"] == node.peer_id


async def test_listing_filters_and_pages_newest_first(node):
    async with client(node) as api:
        ids = []
        for i in range(7):
            body = {**INCIDENT, "title": f"Incident {i}", "category": "crowd" if i % 2 else "cbrne"}
            if i == 6:
                body["exercise"] = "Crowd Management tabletop"
            ids.append((await api.post("/v1/incidents", json=body)).json()["id"])
        await api.patch(f"/v1/incidents/{ids[0]}", json={"status": "closed"})
        page = (await api.get("/v1/incidents", params={"limit": 3})).json()
        assert [i["id"] for i in page["incidents"]] == [ids[0], ids[6], ids[5]]
        rest = (await api.get("/v1/incidents", params={"limit": 10, "cursor": page["next_cursor"]})).json()
        assert [i["id"] for i in rest["incidents"]] == [ids[4], ids[3], ids[2], ids[1]] and rest["next_cursor"] is None
        closed = (await api.get("/v1/incidents", params={"status": "closed"})).json()["incidents"]
        assert [i["id"] for i in closed] == [ids[0]]
        crowd = (await api.get("/v1/incidents", params={"category": "crowd"})).json()["incidents"]
        assert {i["id"] for i in crowd} == {ids[1], ids[3], ids[5]}
        drills = (await api.get("/v1/incidents", params={"exercise": "true"})).json()["incidents"]
        assert [i["id"] for i in drills] == [ids[6]]
        real = (await api.get("/v1/incidents", params={"exercise": "false"})).json()["incidents"]
        assert len(real) == 6
        later = (await api.get("/v1/incidents", params={"updated_since": "2999-01-01T00:00:00Z"})).json()
        assert later["incidents"] == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({**INCIDENT, "category": "alien"}, 422, "invalid_field"),
        ({**INCIDENT, "severity": 3}, 422, "invalid_field"),
        ({**INCIDENT, "title": ""}, 422, "invalid_field"),
        ({**INCIDENT, "title": "   "}, 422, "invalid_field"),
        ({**INCIDENT, "title": 7}, 422, "invalid_field"),
        ({**INCIDENT, "location": {"lat": 91, "lon": 0}}, 422, "invalid_field"),
        ({**INCIDENT, "location": {"lat": "50", "lon": 14}}, 422, "invalid_field"),
        ({**INCIDENT, "tags": ["x"] * 65}, 422, "invalid_field"),
        ({**INCIDENT, "surprise": 1}, 422, "invalid_field"),
        ({"title": "no category"}, 422, "invalid_field"),
        ([1, 2], 422, "invalid_field"),
    ],
)
async def test_invalid_incidents_are_refused_and_change_nothing(node, body, status, code):
    async with client(node) as api:
        response = await api.post("/v1/incidents", json=body)
        assert response.status_code == status and error_code(response) == code
        assert node.store.counts() == {"entries": 0, "incidents": 0}


async def test_malformed_json_oversized_bodies_and_wrong_content_types(node):
    async with client(node) as api:
        bad = await api.post("/v1/incidents", content=b'{"title": ', headers={"content-type": "application/json"})
        assert bad.status_code == 400 and error_code(bad) == "malformed_json"
        huge = await api.post("/v1/incidents", content=b" " * (65 * 1024), headers={"content-type": "application/json"})
        assert huge.status_code == 413 and error_code(huge) == "too_large"
        form = await api.post(
            "/v1/incidents", content=b"title=x", headers={"content-type": "application/x-www-form-urlencoded"}
        )
        assert form.status_code == 415 and error_code(form) == "unsupported_media_type"
        assert node.store.counts()["entries"] == 0


async def test_unknown_or_malformed_ids_are_404_and_bad_patches_422(node):
    async with client(node) as api:
        for path in ("/v1/incidents/" + "0" * 64, "/v1/incidents/not-an-id"):
            response = await api.get(path)
            assert response.status_code == 404 and error_code(response) == "not_found"
        assert (await api.patch("/v1/incidents/" + "0" * 64, json={"status": "closed"})).status_code == 404
        assert (await api.post("/v1/incidents/" + "0" * 64 + "/comments", json={"text": "x"})).status_code == 404
        incident = (await api.post("/v1/incidents", json=INCIDENT)).json()["id"]
        for patch in ({}, {"status": None}, {"status": "exploded"}, {"id": "x"}):
            response = await api.patch(f"/v1/incidents/{incident}", json=patch)
            assert response.status_code == 422 and error_code(response) == "invalid_field", patch
        for comment in ({}, {"text": ""}, {"text": 5}):
            assert (await api.post(f"/v1/incidents/{incident}/comments", json=comment)).status_code == 422
        bad_query = await api.get("/v1/incidents", params={"limit": 0})
        assert bad_query.status_code == 422
        assert (await api.get("/v1/incidents", params={"updated_since": "yesterday"})).status_code == 422
        assert (await api.get("/v1/incidents", params={"cursor": "zzz"})).status_code == 422
        assert node.store.counts()["entries"] == 1


async def test_peers_sync_metrics_and_openapi(node):
    async with client(node) as api:
        await api.post("/v1/incidents", json=INCIDENT)
        assert (await api.get("/v1/peers")).json() == {"peers": []}
        sync = (await api.get("/v1/sync")).json()
        assert [h["seq"] for h in sync["heads"]] == [1] and sync["pending_entries"] == 0
        metrics = await api.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        assert 'qroc_entries_total{kind="open",via="local"} 1.0' in metrics.text
        assert "qroc_api_request_seconds_bucket" in metrics.text
        spec = (await api.get("/openapi.json")).json()
        assert {"/v1/incidents", "/v1/incidents/{incident_id}", "/v1/events", "/v1/sync", "/metrics"} <= set(
            spec["paths"]
        )


async def test_live_events_resume_from_last_event_id(node):
    async with client(node) as api:
        first = (await api.post("/v1/incidents", json=INCIDENT)).json()
        await api.post(f"/v1/incidents/{first['id']}/comments", json={"text": "one"})
        async with api.stream("GET", "/v1/events", headers={"Last-Event-ID": "1"}) as stream:
            event = await next_event(stream)
        assert event["id"] == "2" and event["data"]["entry"]["kind"] == "comment"
        assert event["data"]["incident"]["comments"][0]["text"] == "one"


async def next_event(stream) -> dict:
    fields: dict = {}
    with trio.fail_after(60):
        async for line in stream.aiter_lines():
            if not line:
                if "data" in fields:
                    return {**fields, "data": json.loads(fields["data"])}
                continue
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    raise AssertionError("stream ended")


async def test_across_three_nodes_state_converges(tmp_path):
    async with running(federation(tmp_path, 3)) as (a, b, c):
        await wait_until(lambda: all(n.writable for n in (a, b, c)))
        async with client(a) as api_a, client(b) as api_b, client(c) as api_c:
            created = (await api_a.post("/v1/incidents", json=INCIDENT)).json()
            path = f"/v1/incidents/{created['id']}"

            async def on_c():
                return (await api_c.get(path)).status_code == 200

            with trio.fail_after(60):
                while not await on_c():
                    await trio.sleep(0.05)
            assert (await api_c.get(path)).json() == created
            await wait_until(lambda: b.incident_view(bytes.fromhex(created["id"])) is not None)
            await api_b.patch(path, json={"status": "monitoring"})
            await api_c.patch(path, json={"status": "resolved"})
            ids = [bytes.fromhex(created["id"])]

            def converged():
                views = [n.incident_view(ids[0]) for n in (a, b, c)]
                return (
                    views[0]["updated_at"] != created["updated_at"]
                    and views[0] == views[1] == views[2]
                    and all(len(n.replica.log.heads()) == 3 for n in (a, b, c))
                )

            await wait_until(converged)
            states = {(await api.get(path)).json()["status"] for api in (api_a, api_b, api_c)}
            assert len(states) == 1 and states <= {"monitoring", "resolved"}


async def test_an_event_stream_on_b_sees_a_comment_written_on_a(tmp_path):
    async with running(federation(tmp_path, 2)) as (a, b):
        await wait_until(lambda: a.writable and b.writable)
        async with client(a) as api_a, client(b) as api_b:
            incident = (await api_a.post("/v1/incidents", json=INCIDENT)).json()["id"]
            await wait_until(lambda: b.incident_view(bytes.fromhex(incident)) is not None)
            async with api_b.stream("GET", "/v1/events") as stream:
                await api_a.post(f"/v1/incidents/{incident}/comments", json={"text": "Suspects crossed at Hrensko"})
                event = await next_event(stream)
        assert event["data"]["entry"]["kind"] == "comment"
        assert event["data"]["entry"]["author"]["peer_id"] == a.peer_id
        assert event["data"]["incident"]["comments"][-1]["text"] == "Suspects crossed at Hrensko"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**INCIDENT, "title": "\u001c"}, "title"),  # passed the API once and cut its node off
        ({**INCIDENT, "title": "a\u0000b"}, "title"),
        ({**INCIDENT, "title": "two\nlines"}, "title"),
        ({**INCIDENT, "description": "C1 \u0085 control"}, "description"),
        ({**INCIDENT, "description": "lone \ud800 surrogate"}, "description"),
        ({**INCIDENT, "tags": ["ok", "bad\u0007"]}, "tags"),
        ({**INCIDENT, "location": {"lat": 50, "lon": 14, "place": "Praha\u0000"}}, "location.place"),
        ({**INCIDENT, "exercise": "drill\u001b[31m"}, "exercise"),
        ({**INCIDENT, "title": "\u2003\u00a0"}, "title"),  # Unicode white space only: blank
    ],
)
async def test_hostile_text_is_refused_naming_the_field_and_changes_nothing(node, body, field):
    async with client(node) as api:
        response = await api.post(
            "/v1/incidents", content=json.dumps(body), headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422 and error_code(response) == "invalid_field"
        assert response.json()["error"]["message"].startswith(f"{field}"), response.json()
        assert node.store.counts() == {"entries": 0, "incidents": 0}


@pytest.mark.parametrize("name", ["../../etc/passwd", "a/b", "\u0000", ".hidden", "CON", "invoice\u202egpj.exe"])
async def test_unsafe_media_names_are_refused_and_store_nothing(node, name):
    async with client(node) as api:
        incident = (await api.post("/v1/incidents", json=INCIDENT)).json()["id"]
        response = await api.post(f"/v1/incidents/{incident}/media", params={"name": name}, content=b"photo")
        assert response.status_code == 422 and error_code(response) == "invalid_field"
        assert "name" in response.json()["error"]["message"]
        assert node.store.counts()["entries"] == 1


async def test_crlf_line_ends_are_stored_as_lf(node):
    async with client(node) as api:
        created = await api.post("/v1/incidents", json={**INCIDENT, "description": "line one\r\nline two"})
        assert created.status_code == 201 and created.json()["description"] == "line one\nline two"


async def test_no_more_live_event_clients_than_the_cap_are_admitted_even_all_at_once(node):
    from protocol import limits

    statuses = []

    async def listen(api):
        async with api.stream("GET", "/v1/events") as stream:
            statuses.append(stream.status_code)
            if stream.status_code == 200:
                await trio.sleep_forever()

    async with client(node) as api, trio.open_nursery() as nursery:
        for _ in range(limits.api_event_clients_max + 40):
            nursery.start_soon(listen, api)
        await wait_until(lambda: len(statuses) == limits.api_event_clients_max + 40)
        assert statuses.count(200) == limits.api_event_clients_max and node.event_clients == statuses.count(200)
        assert statuses.count(503) == 40
        nursery.cancel_scope.cancel()
    await wait_until(lambda: node.event_clients == 0)
