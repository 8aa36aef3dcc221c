"""Operators and their console sessions on a real node over real HTTP: login, CSRF, roles,
throttling, expiry, the audit trail, delivery receipts and the hardening headers."""

import subprocess
import sys

import httpx
import pytest
import trio

from node.operators import Operators, Role
from protocol import limits
from protocol.entry import decode

from .api_client import INCIDENT, client
from .federation import federation, running, wait_until

PASSWORD = "correct horse battery"


def add_operators(datadir) -> None:
    operators = Operators(datadir.operators_path)
    operators.add("jana", "Jana Novák", Role.OPERATOR, PASSWORD, 0)
    operators.add("wall", "Wall screen", Role.VIEWER, PASSWORD, 0)
    operators.add("excon", "Exercise control", Role.CONTROLLER, PASSWORD, 0)
    operators.close()


@pytest.fixture
async def node(tmp_path):
    (datadir,) = federation(tmp_path, 1)
    add_operators(datadir)
    async with running([datadir]) as (node,):
        yield node


def browser(node) -> httpx.AsyncClient:
    """A client with a cookie jar and no bearer token, like the console in a browser."""
    return httpx.AsyncClient(base_url=f"http://{node.config.api_host}:{node.config.api_port}", timeout=10)


async def log_in(api: httpx.AsyncClient, name: str = "jana", password: str = PASSWORD) -> str:
    response = await api.post("/v1/session", json={"name": name, "password": password})
    assert response.status_code == 200, response.text
    return response.json()["csrf_token"]


def stored_entry(node, entry_id: str):
    return decode(node.store.entry_by_id(bytes.fromhex(entry_id)), node.roster)


async def test_an_operator_logs_in_and_every_entry_they_write_names_them(node):
    async with browser(node) as api:
        response = await api.post("/v1/session", json={"name": "jana", "password": PASSWORD})
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # plain HTTP on loopback; set over TLS
        session = response.json()
        assert session["operator"] == {"name": "jana", "display_name": "Jana Novák", "role": "operator"}
        assert session["node"]["peer_id"] == node.peer_id
        csrf = {"X-CSRF-Token": session["csrf_token"]}
        incident = (await api.post("/v1/incidents", json=INCIDENT, headers=csrf)).json()
        assert incident["operator"] == "Jana Novák"
        comment = await api.post(f"/v1/incidents/{incident['id']}/comments", json={"text": "On it"}, headers=csrf)
        assert comment.status_code == 201 and comment.json()["operator"] == "Jana Novák"
        media = await api.post(
            f"/v1/incidents/{incident['id']}/media?name=note.txt",
            content=b"x" * 1000,
            headers={**csrf, "Content-Type": "text/plain"},
        )
        assert media.status_code == 201 and media.json()["operator"] == "Jana Novák"
        for entry_id in (incident["id"], comment.json()["id"], media.json()["id"]):
            assert stored_entry(node, entry_id).operator == "Jana Novák"  # inside the signed content
        timeline = (await api.get(f"/v1/incidents/{incident['id']}/entries")).json()["entries"]
        assert [(e["kind"], e["operator"]) for e in timeline] == [
            ("open", "Jana Novák"),
            ("comment", "Jana Novák"),
            ("media", "Jana Novák"),
        ]
        assert timeline[0]["changes"]["title"] == INCIDENT["title"]
        assert timeline[1]["changes"] == {"text": "On it"}


async def test_the_bearer_token_still_works_and_its_entries_name_no_operator(node):
    async with client(node) as api:
        incident = (await api.post("/v1/incidents", json=INCIDENT)).json()
        assert incident["operator"] is None
        assert stored_entry(node, incident["id"]).operator is None


async def test_a_write_without_the_csrf_token_is_refused_and_changes_nothing(node):
    async with browser(node) as api:
        csrf = await log_in(api)
        for headers in ({}, {"X-CSRF-Token": csrf[:-1] + ("A" if csrf[-1] != "A" else "B")}):
            response = await api.post("/v1/incidents", json=INCIDENT, headers=headers)
            assert response.status_code == 403 and response.json()["error"]["code"] == "csrf_failed"
        assert (await api.delete("/v1/session")).status_code == 403  # nor may another site log us out
        assert node.store.counts()["entries"] == 0
        assert (await api.get("/v1/incidents")).status_code == 200  # reads need no token


async def test_a_viewer_reads_but_cannot_write(node):
    async with client(node) as tool:
        await tool.post("/v1/incidents", json=INCIDENT)
    async with browser(node) as api:
        csrf = await log_in(api, "wall")
        assert len((await api.get("/v1/incidents")).json()["incidents"]) == 1
        response = await api.post("/v1/incidents", json=INCIDENT, headers={"X-CSRF-Token": csrf})
        assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
        assert node.store.counts()["entries"] == 1


async def test_only_a_controller_conducts_an_exercise_and_everyone_sees_the_runs(node):
    async with browser(node) as api:
        csrf = await log_in(api, "jana")
        refused = await api.post("/v1/conduct", json={"shipped": "crowd"}, headers={"X-CSRF-Token": csrf})
        assert refused.status_code == 403 and "controller" in refused.json()["error"]["message"]
        assert (await api.get("/v1/conduct")).json() == {"runs": []}
    async with browser(node) as api:
        csrf = await log_in(api, "excon")
        loaded = await api.post("/v1/conduct", json={"shipped": "crowd"}, headers={"X-CSRF-Token": csrf})
        assert loaded.status_code == 201 and loaded.json()["phase"] == "ready"
        incident = await api.post("/v1/incidents", json=INCIDENT, headers={"X-CSRF-Token": csrf})
        assert incident.status_code == 201  # a controller is an operator too


async def test_a_wrong_password_is_refused_and_repeated_failures_are_throttled(node):
    async with browser(node) as api:
        for _ in range(limits.login_failures_max):
            response = await api.post("/v1/session", json={"name": "jana", "password": "wrong password"})
            assert response.status_code == 401 and response.json()["error"]["code"] == "bad_credentials"
            assert "set-cookie" not in response.headers
        unknown = await api.post("/v1/session", json={"name": "nobody", "password": "wrong password"})
        assert unknown.json()["error"] == {"code": "rate_limited", "message": unknown.json()["error"]["message"]}
        throttled = await api.post("/v1/session", json={"name": "jana", "password": PASSWORD})
        assert throttled.status_code == 429 and throttled.json()["error"]["code"] == "rate_limited"
        assert 0 < int(throttled.headers["retry-after"]) <= limits.login_window_ms // 1000
        assert (await api.get("/v1/session")).status_code == 401


async def test_logout_ends_the_session_on_the_node(node):
    async with browser(node) as api:
        csrf = await log_in(api)
        stolen = api.cookies["qroc_session"]
        assert (await api.delete("/v1/session", headers={"X-CSRF-Token": csrf})).status_code == 204
    async with browser(node) as replay:
        replay.cookies.set("qroc_session", stolen)
        response = await replay.get("/v1/incidents")
        assert response.status_code == 401 and response.json()["error"]["code"] == "session_expired"


def test_sessions_end_when_idle_at_the_end_of_a_shift_and_with_a_new_password(tmp_path):
    operators = Operators(tmp_path / "operators.db")
    jana = operators.add("jana", "Jana Novák", Role.OPERATOR, PASSWORD, 0)

    def open_session() -> str:
        candidate = operators.candidate("jana")
        assert candidate.check(PASSWORD) == jana
        opened = operators.open_session(candidate, 0)
        assert opened is not None
        return opened[0]

    token = open_session()
    assert operators.session(token, limits.session_idle_ms_max - 1) is not None
    assert operators.session(token, 2 * limits.session_idle_ms_max - 2) is not None  # each request restarts it
    assert operators.session(token, 4 * limits.session_idle_ms_max) is None  # idle too long
    busy = open_session()
    for now in range(0, limits.session_ms_max, limits.session_idle_ms_max // 2):
        assert operators.session(busy, now) is not None
    assert operators.session(busy, limits.session_ms_max) is None  # the shift is over
    fresh, late = open_session(), operators.candidate("jana")  # a login checking its password now
    operators.set_password("jana", "another long password")
    assert operators.open_session(late, 2) is None  # checked against the password just replaced
    assert operators.session(fresh, 1) is None
    assert operators.candidate("jana").check(PASSWORD) is None
    assert operators.candidate("jana").check("another long password") == jana
    assert oct((tmp_path / "operators.db").stat().st_mode & 0o777) == "0o600"


def test_the_operator_command_adds_lists_and_refuses_clearly(tmp_path):
    (datadir,) = federation(tmp_path, 1)

    def qroc(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "node", "operator", *args], input=stdin, capture_output=True, text=True, timeout=60
        )

    added = qroc("add", str(datadir.path), "jana", "--display-name", "Jana Novák", "--password-stdin", stdin=PASSWORD)
    assert added.returncode == 0, added.stderr
    short = qroc("add", str(datadir.path), "petr", "--password-stdin", stdin="short\n")
    assert short.returncode == 1 and "at least" in short.stderr
    bad_name = qroc("add", str(datadir.path), "Petr Novák", "--password-stdin", stdin=PASSWORD)
    assert bad_name.returncode == 1 and "operator name" in bad_name.stderr
    viewer = qroc("add", str(datadir.path), "wall", "--role", "viewer", "--password-stdin", stdin=PASSWORD)
    assert viewer.returncode == 0, viewer.stderr
    assert qroc("list", str(datadir.path)).stdout.splitlines() == [
        "jana\toperator\tJana Novák",
        "wall\tviewer\twall",
    ]
    assert qroc("remove", str(datadir.path), "petr").returncode == 1


async def test_every_response_carries_the_csp_and_the_console_files_are_all_that_is_served(node):
    async with browser(node) as api:
        for path in ("/", "/v1/health", "/v1/incidents", "/console/europe.json", "/console/..%2fnode.db", "/nowhere"):
            response = await api.get(path)
            csp = response.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
            assert response.headers["x-content-type-options"] == "nosniff"
        for name in ("..%2fnode.db", "%2e%2e", "identity.key", "__init__.py"):
            assert (await api.get(f"/console/{name}")).status_code == 404
        page = await api.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")


async def test_delivery_receipts_name_the_members_that_hold_each_entry(tmp_path):
    # Periodic syncs far apart: the receipts must come from the receipts sync and gossip.
    async with running(federation(tmp_path, 3, sync_interval_s=300)) as (a, b, c):
        await wait_until(lambda: len(a.connected) == 2 and a.writable)
        async with client(a) as api:
            incident = (await api.post("/v1/incidents", json=INCIDENT)).json()
            path = f"/v1/incidents/{incident['id']}/entries"

            async def delivered() -> set[str]:
                return set((await api.get(path)).json()["entries"][0]["delivery"]["delivered"])

            with_receipts = (await api.get(path)).json()["entries"][0]["delivery"]
            assert with_receipts["members"] == 2
            with trio.fail_after(30):  # bounds a failing test only: receipts come within seconds
                while await delivered() != {b.peer_id, c.peer_id}:
                    await trio.sleep(0.2)


async def test_over_tls_the_session_cookie_is_secure(tmp_path):
    cert, key = tmp_path / "node.pem", tmp_path / "node.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    (datadir,) = federation(tmp_path, 1, tls_cert=str(cert), tls_key=str(key))
    add_operators(datadir)
    async with running([datadir]) as (node,):
        base = f"https://{node.config.api_host}:{node.config.api_port}"
        async with httpx.AsyncClient(base_url=base, verify=False, timeout=10) as api:
            response = await api.post("/v1/session", json={"name": "jana", "password": PASSWORD})
            assert response.status_code == 200
            assert "Secure" in response.headers["set-cookie"]


async def test_lists_are_compressed_and_media_are_served_as_stored(node):
    async with client(node) as api:
        incident = (await api.post("/v1/incidents", json={**INCIDENT, "description": "crowd " * 500})).json()
        listed = await api.get("/v1/incidents", headers={"Accept-Encoding": "gzip"})
        assert listed.headers["content-encoding"] == "gzip" and listed.json()["incidents"][0]["id"] == incident["id"]
        upload = await api.post(
            f"/v1/incidents/{incident['id']}/media?name=log.txt",
            content=b"a" * 10_000,
            headers={"Content-Type": "text/plain"},
        )
        media = f"/v1/media/{upload.json()['id']}"
        part = await api.get(media, headers={"Accept-Encoding": "gzip", "Range": "bytes=100-199"})
        assert part.status_code == 206 and "content-encoding" not in part.headers
        assert part.headers["content-length"] == "100" and part.content == b"a" * 100


async def test_guesses_sent_all_at_once_are_throttled_like_guesses_one_by_one(node):
    async with browser(node) as api:

        async def guess(results: list[int]) -> None:
            response = await api.post("/v1/session", json={"name": "jana", "password": "wrong password"})
            results.append(response.status_code)

        results: list[int] = []
        async with trio.open_nursery() as nursery:
            for _ in range(30):
                nursery.start_soon(guess, results)
        checked = results.count(401)
        assert checked <= limits.login_failures_max + limits.login_checks_concurrent_max
        assert results.count(429) == 30 - checked


async def test_a_viewer_logs_out_too(node):
    async with browser(node) as api:
        csrf = await log_in(api, "wall")
        assert (await api.delete("/v1/session", headers={"X-CSRF-Token": csrf})).status_code == 204
        assert (await api.get("/v1/session")).status_code == 401


async def test_live_events_stop_when_the_session_ends(node):
    async with browser(node) as api, client(node) as tool:
        csrf = await log_in(api)
        lines: list[str] = []
        async with api.stream("GET", "/v1/events") as events:
            await api.delete("/v1/session", headers={"X-CSRF-Token": csrf})
            await tool.post("/v1/incidents", json=INCIDENT)  # wakes the stream, which ends
            with trio.fail_after(10):
                async for line in events.aiter_lines():
                    lines.append(line)
        assert not [line for line in lines if line.startswith("event: entry")]
