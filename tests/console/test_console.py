"""The operator console in Chromium against real node processes (3 OCs: A = OC Belgium,
B = OC Czechia, C = OC Germany): incidents, photos and comments reach the other OCs'
open consoles without a reload, and the partition of a link shows in the banner and in
the delivery receipts until it heals.

Every page's console errors, page errors, CSP violations and requests are checked at
teardown (conftest.py). Screenshots of each view go to test-artefacts/console/.
"""

import re
import time
import uuid

from playwright.sync_api import expect

from simulations.console import ACCOUNTS, A, B, C, photo_png, wait_for_incident, wait_image_loaded

JANA = ACCOUNTS[A][0]
PAVEL = ACCOUNTS[B][0]


def unique(title: str) -> str:
    return f"{title} {uuid.uuid4().hex[:6]}"


def row(page, incident_id: str):  # type: ignore[no-untyped-def]
    return page.locator(f'table#board tr[data-incident-id="{incident_id}"]')


def test_an_incident_opened_on_a_with_a_location_and_a_photo_shows_on_bs_open_board_without_a_reload(console, cluster):
    b = console(B, "B board")
    b.login(PAVEL)
    b.mark()

    a = console(A, "A new incident")
    a.login(JANA)
    a.page.get_by_role("button", name="New incident").click()
    form = a.page.locator("form#new-incident")
    expect(form).to_be_visible()
    expect(a.page).to_have_url(re.compile(r"#/new"))
    title = unique("Crowd crush at the stadium north gate")
    form.get_by_label("Title", exact=True).fill(title)
    form.get_by_label("Category", exact=True).select_option("crowd")
    form.get_by_label("Severity", exact=True).select_option("critical")
    form.get_by_label("Description", exact=True).fill("Fans pushed against the closed gate; ambulances requested.")
    form.get_by_label("Place", exact=True).fill("Brussels, King Baudouin Stadium")
    form.get_by_label("Tags", exact=True).fill("stadium")
    map_in_form = form.locator("svg.map")
    expect(map_in_form).to_be_visible()
    expect(map_in_form.locator("path.country").first).to_be_attached()  # the outlines have loaded
    box = map_in_form.bounding_box()
    assert box is not None
    map_in_form.click(position={"x": box["width"] * 0.45, "y": box["height"] * 0.5})
    latitude, longitude = form.get_by_label("Latitude", exact=True), form.get_by_label("Longitude", exact=True)
    expect(latitude).not_to_have_value("")
    expect(longitude).not_to_have_value("")
    lat, lon = float(latitude.input_value()), float(longitude.input_value())
    assert 25 <= lat <= 75 and -35 <= lon <= 50, f"a click in the map of Europe gave {lat}, {lon}"
    a.screenshot("new-incident")
    form.get_by_role("button", name="Open incident").click()

    view = a.page.locator("section#incident")
    expect(view).to_be_visible()
    expect(a.page).to_have_url(re.compile(r"#/incident/"))
    incident_id = view.get_attribute("data-incident-id")
    assert incident_id, "the incident view names its incident"
    expect(view).to_contain_text(title)
    stored = cluster.api(A).get(f"/v1/incidents/{incident_id}").json()
    assert stored["title"] == title and stored["operator"] == JANA.display_name
    assert stored["location"] is not None
    assert abs(stored["location"]["lat"] - lat) < 1e-3 and abs(stored["location"]["lon"] - lon) < 1e-3

    a.page.get_by_label("Attach files").set_input_files(
        files=[{"name": "north-gate.png", "mimeType": "image/png", "buffer": photo_png()}]
    )
    assert wait_image_loaded(a.page, "#gallery figure[data-media-id] img") > 0

    # B: the row arrives on the board opened before the incident existed, no reload.
    expect(row(b.page, incident_id)).to_be_visible(timeout=20_000)
    expect(row(b.page, incident_id)).to_contain_text(title)
    expect(row(b.page, incident_id)).to_contain_text("BE")
    assert b.unreloaded(), "B's board was reloaded"
    b.screenshot("board")

    # B opens it (row click): the photo is shown once B holds all of it.
    row(b.page, incident_id).click()
    expect(b.page.locator(f'section#incident[data-incident-id="{incident_id}"]')).to_be_visible()
    assert wait_image_loaded(b.page, "#gallery figure[data-media-id] img", timeout_ms=40_000) > 0
    b.screenshot("incident")

    # Back on B's board (still no reload): the row has the photo's thumbnail.
    b.page.get_by_role("link", name="Board", exact=True).click()
    assert wait_image_loaded(b.page, f'tr[data-incident-id="{incident_id}"] img.thumb') > 0
    assert b.unreloaded()

    # A's map has a marker for it.
    a.page.get_by_role("link", name="Map", exact=True).click()
    expect(a.page.locator(f'svg#map circle.marker[data-incident-id="{incident_id}"]')).to_have_count(1)
    a.screenshot("map")


def test_a_comment_typed_on_b_appears_on_as_open_incident_view_and_as_timeline_names_both_operators(console, cluster):
    a = console(A, "A incident view")
    a.login(JANA)
    title = unique("Suspect vehicle seen leaving Antwerp port")
    created = a.session_api("POST", "/v1/incidents", {"title": title, "category": "manhunt", "severity": "high"})
    assert created.status == 201, created.text()
    incident_id = created.json()["id"]
    a.route(f"#/incident/{incident_id}")
    expect(a.page.locator(f'section#incident[data-incident-id="{incident_id}"]')).to_contain_text(title)
    a.mark()

    wait_for_incident(cluster.api(B), incident_id)
    b = console(B, "B incident view")
    b.login(PAVEL)
    b.route(f"#/incident/{incident_id}")
    expect(b.page.locator(f'section#incident[data-incident-id="{incident_id}"]')).to_contain_text(title)
    text = f"Czech border checkpoints alerted, plate sent to Rozvadov ({uuid.uuid4().hex[:4]})"
    b.page.get_by_label("Comment").fill(text)
    b.page.get_by_role("button", name="Add comment").click()
    expect(b.page.locator("ol#comments li").filter(has_text=text)).to_have_count(1)

    comment = a.page.locator("ol#comments li").filter(has_text=text)
    expect(comment).to_be_visible(timeout=20_000)
    expect(comment).to_contain_text(PAVEL.display_name)
    timeline = a.page.locator("ol#timeline")
    expect(timeline).to_contain_text(JANA.display_name)
    expect(timeline).to_contain_text(PAVEL.display_name)
    expect(timeline.locator("li[data-entry-id]")).to_have_count(2)
    assert a.unreloaded(), "A's incident view was reloaded"


def test_with_the_link_between_a_and_c_cut_a_names_c_in_the_banner_and_receipts_until_the_heal(console, cluster):
    a = console(A, "A partition")
    a.login(JANA)
    banner = a.page.locator("#federation-banner")
    expect(banner).to_be_hidden()
    c_peer = cluster.api(C).get("/v1/node").json()["peer_id"]
    cluster.cut(A, C)
    try:
        expect(banner).to_be_visible(timeout=25_000)
        expect(banner).to_contain_text("OC Germany")
        expect(banner).to_contain_text("DE")
        a.page.get_by_role("link", name="Federation", exact=True).click()
        member = a.page.locator(f'table#federation tr[data-peer-id="{c_peer}"]')
        expect(member).to_contain_text("unreachable")
        a.screenshot("federation")

        title = unique("Chemical smell reported in Brussels-Central metro")
        created = a.session_api("POST", "/v1/incidents", {"title": title, "category": "cbrne", "severity": "critical"})
        assert created.status == 201, created.text()
        incident_id = created.json()["id"]
        entries = cluster.api(A).get(f"/v1/incidents/{incident_id}/entries").json()["entries"]
        assert [m["peer_id"] for m in entries[0]["delivery"]["missing"]].count(c_peer) == 1, entries[0]["delivery"]
        a.route(f"#/incident/{incident_id}")
        receipt = a.page.locator("ol#timeline li[data-entry-id] .receipt").first
        expect(receipt).to_contain_text(re.compile(r"\bDE\b|OC Germany"))
        expect(receipt).not_to_contain_text(re.compile(r"delivered to all", re.I))
        expect(banner).to_contain_text(re.compile(r"OC Germany[^;]*\b[1-9]\d* entr(y|ies) not delivered"))
    finally:
        cluster.heal(A, C)
    expect(banner).to_be_hidden(timeout=30_000)
    expect(receipt).to_contain_text(re.compile(r"delivered to all", re.I), timeout=30_000)
    deadline = time.monotonic() + 30
    while cluster.api(A).get(f"/v1/incidents/{incident_id}/entries").json()["entries"][0]["delivery"]["missing"]:
        assert time.monotonic() < deadline, "A never learnt that C got the entry"
        time.sleep(0.2)


def test_a_voice_message_recorded_and_a_file_dropped_on_the_incident_are_shared_as_media(console, cluster):
    a = console(A, "A voice and drop")
    a.login(JANA)
    created = a.session_api(
        "POST", "/v1/incidents", {"title": unique("Bomb threat call"), "category": "terrorism", "severity": "high"}
    )
    assert created.status == 201, created.text()
    incident_id = created.json()["id"]
    a.route(f"#/incident/{incident_id}")
    record = a.page.get_by_role("button", name="Record audio")
    record.click()  # Chromium's fake microphone (a beep), allowed without a prompt
    expect(a.page.get_by_role("button", name="Stop recording")).to_be_visible()
    a.page.wait_for_timeout(1500)
    a.page.get_by_role("button", name="Stop recording").click()
    expect(a.page.locator("#gallery figure[data-media-id] audio")).to_have_count(1, timeout=20_000)

    drop = a.page.evaluate_handle(
        """() => {
            const data = new DataTransfer();
            data.items.add(new File(['plate 4A2 3456, dark Skoda Octavia'], 'plate.txt', {type: 'text/plain'}));
            return data;
        }"""
    )
    a.page.dispatch_event("#dropzone", "drop", {"dataTransfer": drop})
    expect(a.page.locator("#gallery figure[data-media-id]")).to_have_count(2, timeout=20_000)
    media = cluster.api(A).get(f"/v1/incidents/{incident_id}").json()["media"]
    by_name = {m["name"]: m for m in media}
    voice = next(m for name, m in by_name.items() if name.startswith("voice-") and name.endswith(".webm"))
    assert voice["mime"] == "audio/webm" and voice["size"] > 1000 and voice["operator"] == JANA.display_name
    assert by_name["plate.txt"]["size"] == len("plate 4A2 3456, dark Skoda Octavia")
