"""The console's gatekeeping and traffic views in Chromium against real node processes:
login, CSRF, the viewer role, exercise traffic kept apart from real traffic, and no page
that loads anything from another origin or breaks the Content-Security-Policy."""

import re
import uuid
from urllib.parse import quote

from playwright.sync_api import expect

from simulations.console import ACCOUNTS, A, all_incidents, create_incident

JANA, MARC = ACCOUNTS[A]
EXERCISE = "CBRN-e Lisbon 2026"


def unique(title: str) -> str:
    return f"{title} {uuid.uuid4().hex[:6]}"


def titles_on(cluster, node: int) -> set[str]:  # type: ignore[no-untyped-def]
    return {i["title"] for i in all_incidents(cluster.api(node))}


def test_a_wrong_password_is_refused_with_a_message_and_the_page_stays_on_login(console):
    a = console(A, "A login")
    a.watch.expect_http(401, r"/v1/session")
    a.goto()
    form = a.page.locator("form#login")
    expect(form).to_be_visible()
    a.screenshot("login")
    form.get_by_label("Operator name").fill(JANA.name)
    form.get_by_label("Password").fill("not-the-right-password")
    form.get_by_role("button", name="Log in").click()
    alert = a.page.locator('form#login [role="alert"]')
    expect(alert).to_be_visible()
    expect(alert).to_contain_text(re.compile(r"password", re.I))
    expect(form).to_be_visible()
    expect(a.page.get_by_role("button", name="Log out")).to_be_hidden()
    assert a.page.request.get(a.base_url + "/v1/session").status == 401
    a.screenshot("login-refused")


def test_a_write_without_the_csrf_token_is_refused_and_writes_nothing(console, cluster):
    a = console(A, "A csrf")
    a.login(JANA)
    assert a.page.request.get(a.base_url + "/v1/session").status == 200, "the page's cookie is a session"
    title = unique("Written without the CSRF token")
    body = {"title": title, "category": "other", "severity": "low"}
    for token in (False, "not-the-token"):
        refused = a.session_api("POST", "/v1/incidents", body, csrf=token)
        assert refused.status == 403, refused.text()
        assert refused.json()["error"]["code"] == "csrf_failed", refused.text()
    incident = create_incident(cluster.api(A), title=unique("Target of a forged comment"))
    refused = a.session_api("POST", f"/v1/incidents/{incident['id']}/comments", {"text": "forged"}, csrf=False)
    assert refused.status == 403 and refused.json()["error"]["code"] == "csrf_failed", refused.text()
    assert title not in titles_on(cluster, A)
    assert cluster.api(A).get(f"/v1/incidents/{incident['id']}").json()["comment_count"] == 0


def test_a_viewer_sees_no_write_controls_and_cannot_write_through_the_api(console, cluster):
    incident = create_incident(cluster.api(A), title=unique("Protest march towards the Berlaymont"))
    viewer = console(A, "A viewer")
    viewer.login(MARC)
    header = viewer.page.locator("body")
    expect(header).to_contain_text(MARC.display_name)
    expect(header).to_contain_text("viewer")
    page = viewer.page
    expect(page.locator(f'table#board tr[data-incident-id="{incident["id"]}"]')).to_be_visible()
    expect(page.get_by_role("button", name="New incident")).to_have_count(0)

    page.locator(f'table#board tr[data-incident-id="{incident["id"]}"]').click()
    view = page.locator(f'section#incident[data-incident-id="{incident["id"]}"]')
    expect(view).to_contain_text(incident["title"])
    expect(page.locator("ol#timeline li[data-entry-id]")).to_have_count(1)
    for name in ("Edit", "Save", "Add comment", "Set location on map", "Record audio"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    for label in ("Comment", "Attach files"):
        expect(page.get_by_label(label)).to_have_count(0)
    expect(page.locator("#dropzone")).to_be_hidden()
    expect(page.locator('input[type="file"]')).to_have_count(0)

    title = unique("Written by a viewer")
    writes = [
        ("POST", "/v1/incidents", {"title": title, "category": "other", "severity": "low"}),
        ("POST", f"/v1/incidents/{incident['id']}/comments", {"text": "a viewer's comment"}),
        ("PATCH", f"/v1/incidents/{incident['id']}", {"status": "closed"}),
    ]
    for method, path, body in writes:
        refused = viewer.session_api(method, path, body)
        assert refused.status == 403, (method, path, refused.text())
        assert refused.json()["error"]["code"] == "forbidden", (method, path, refused.text())
    assert title not in titles_on(cluster, A)
    after = cluster.api(A).get(f"/v1/incidents/{incident['id']}").json()
    assert after["comment_count"] == 0 and after["status"] == incident["status"]


def test_exercise_incidents_are_hidden_from_the_real_view_and_marked_in_their_exercise_view(console, cluster):
    api = cluster.api(A)
    drill = create_incident(
        api, title=unique("EXERCISE dirty bomb at Lisbon port"), category="cbrne", exercise=EXERCISE
    )
    real = create_incident(api, title=unique("Real: power cut at Liège-Guillemins"), category="other")
    assert drill["exercise"] == EXERCISE and real["exercise"] is None

    a = console(A, "A exercise")
    a.login(JANA)
    page = a.page
    exercise_banner = page.locator("#exercise-banner")
    expect(page.locator(f'table#board tr[data-incident-id="{real["id"]}"]')).to_be_visible()
    expect(page.locator(f'table#board tr[data-incident-id="{drill["id"]}"]')).to_have_count(0)
    expect(exercise_banner).to_be_hidden()

    traffic = page.locator("select#traffic")
    expect(traffic).to_have_attribute("aria-label", "Traffic")
    expect(traffic.locator("option", has_text="Real")).to_have_attribute("value", "")
    traffic.select_option(EXERCISE)
    drill_row = page.locator(f'table#board tr[data-incident-id="{drill["id"]}"]')
    expect(drill_row).to_be_visible()
    expect(drill_row).to_have_class(re.compile(r"(^|\s)exercise(\s|$)"))
    expect(page.locator(f'table#board tr[data-incident-id="{real["id"]}"]')).to_have_count(0)
    expect(exercise_banner).to_be_visible()
    expect(exercise_banner).to_contain_text(EXERCISE)
    expect(exercise_banner).to_contain_text("EXERCISE")
    assert "exercise=" in page.url
    a.screenshot("exercise")

    traffic.select_option("")
    expect(page.locator(f'table#board tr[data-incident-id="{real["id"]}"]')).to_be_visible()
    expect(page.locator(f'table#board tr[data-incident-id="{drill["id"]}"]')).to_have_count(0)
    expect(exercise_banner).to_be_hidden()


def test_no_view_breaks_the_csp_logs_an_error_or_asks_another_origin(console, cluster):
    """Every view, loaded fresh (a full load each) and through the header's links."""
    incident = create_incident(
        cluster.api(A), title=unique("Flooding at Namur station"), location={"lat": 50.468, "lon": 4.862}
    )
    a = console(A, "A every view")
    a.login(JANA)
    routes = [
        "#/board",
        "#/map",
        "#/federation",
        "#/new",
        f"#/incident/{incident['id']}",
        f"#/board?exercise={quote(EXERCISE)}",
    ]
    shown = {
        "#/board": "table#board",
        "#/map": f'svg#map circle.marker[data-incident-id="{incident["id"]}"]',
        "#/federation": "table#federation",
        "#/new": "form#new-incident svg.map",
    }
    for route in routes:
        a.page.goto("about:blank")  # a full load of the console each time, not a hash change
        a.goto(route)
        expect(a.page.get_by_role("button", name="Log out")).to_be_visible()
        expect(a.page.locator(shown.get(route, "table#board, section#incident")).first).to_be_visible()
        a.watch.read_csp(a.page)
    for link in ("Board", "Map", "Federation"):
        a.page.get_by_role("link", name=link, exact=True).click()
        expect(a.page).to_have_url(re.compile("#/" + link.lower()))
    a.page.locator("select#traffic").select_option("")  # the last full load was the exercise view
    a.page.get_by_role("link", name="Board", exact=True).click()
    a.page.locator(f'table#board tr[data-incident-id="{incident["id"]}"]').focus()
    a.page.keyboard.press("Enter")  # rows open with Enter too
    expect(a.page.locator(f'section#incident[data-incident-id="{incident["id"]}"]')).to_be_visible()
    a.page.get_by_role("button", name="Log out").click()
    expect(a.page.locator("form#login")).to_be_visible()
    a.watch.read_csp(a.page)
    assert not a.watch.problems(), "\n".join(a.watch.problems())
    assert any(url.endswith("/v1/events") for url in a.watch.requests), "the console listens to /v1/events"
