"""Tabletop exercises, acknowledgements and the self-assessment in the console, in Chromium
against real node processes (A = OC Belgium, B = OC Czechia, C = OC Germany):

- an OC takes note of another OC's entry with one click, and the author's open timeline
  shows who acknowledged it, without a reload;
- the controller (an operator of A with the role controller: BE controls the shipped
  crowd MSEL) loads, starts and publishes an inject from the Conduct view; an addressee
  (C: DE) sees it in the exercise view only, under the exercise banner, never in its real
  view; an operator without that role sees the run read-only;
- a self-assessment saved on A's Capabilities form becomes A's row in B's open matrix.

Every page's console errors, page errors, CSP violations and requests are checked at
teardown (conftest.py).
"""

import re
import uuid

import pytest
from playwright.sync_api import expect

from simulations.console import ACCOUNTS, A, Account, B, C, add_operator, create_incident, wait_for_incident

JANA = ACCOUNTS[A][0]
PAVEL = ACCOUNTS[B][0]
LENA = ACCOUNTS[C][0]
CROWD = "crowd-liege"  # the exercise name of the shipped "crowd" MSEL (controller BE)


@pytest.fixture(scope="module")
def controller(cluster):  # type: ignore[no-untyped-def]
    """An operator of A with the role controller (the fixture's accounts have none)."""
    account = Account("ines", "Inès Martin", "controller")
    add_operator(cluster.cluster.dirs[A], account)
    return account


def unique(title: str) -> str:
    return f"{title} {uuid.uuid4().hex[:6]}"


def test_b_takes_note_of_as_incident_and_as_open_timeline_shows_it_acknowledged_by_cz(console, cluster):
    incident = create_incident(cluster.api(A), title=unique("Stolen lorry heading for the E40"), category="manhunt")
    a = console(A, "A timeline")
    a.login(JANA)
    a.route(f"#/incident/{incident['id']}")
    mine = a.page.locator("ol#timeline li[data-entry-id]")
    expect(mine).to_have_count(1)
    expect(mine).to_contain_text("not acknowledged yet")
    expect(mine.get_by_role("button", name="Taken note")).to_have_count(0)  # its own entry
    entry_id = mine.get_attribute("data-entry-id")
    a.mark()

    wait_for_incident(cluster.api(B), incident["id"])
    b = console(B, "B taken note")
    b.login(PAVEL)
    b.route(f"#/incident/{incident['id']}")
    theirs = b.page.locator(f'ol#timeline li[data-entry-id="{entry_id}"]')
    with b.page.expect_response(lambda r: r.url.endswith("/acks") and r.request.method == "POST") as noted:
        theirs.get_by_role("button", name="Taken note").click()
    assert noted.value.status == 201, noted.value.text()
    ack = noted.value.json()
    assert ack["entry"] == entry_id and ack["level"] == "noted" and ack["incident"] == incident["id"]
    expect(theirs).to_contain_text(f"acknowledged by: CZ ({PAVEL.display_name})")
    expect(theirs.get_by_role("button", name="Taken note")).to_have_count(0)
    again = b.session_api("POST", f"/v1/incidents/{incident['id']}/acks", {"entry": entry_id})
    assert again.status == 201 and again.json()["id"] == ack["id"], again.text()

    expect(mine).to_contain_text(f"acknowledged by: CZ ({PAVEL.display_name})", timeout=20_000)
    assert a.unreloaded(), "A's incident view was reloaded"
    a.screenshot("incident-acknowledged")


def test_the_controller_publishes_an_inject_that_an_addressee_sees_in_the_exercise_view_only(console, controller):
    exercise = console(C, "C exercise view")
    exercise.login(LENA)
    exercise.route(f"#/board?exercise={CROWD}")
    expect(exercise.page.locator("#exercise-banner")).to_contain_text(CROWD)
    real = console(C, "C real view")
    real.login(LENA)

    a = console(A, "A conduct")
    a.login(controller)
    a.page.get_by_role("link", name="Conduct", exact=True).click()
    form = a.page.locator("form#load-msel")
    form.get_by_label("Shipped MSEL").select_option("crowd")
    form.get_by_role("button", name="Load MSEL").click()
    dashboard = a.page.locator("section#conduct-run")
    expect(dashboard).to_contain_text(CROWD)
    run = dashboard.get_attribute("data-run")
    expect(a.page.locator("#play-clock")).to_have_text("00:00")
    a.page.get_by_role("button", name="Start", exact=True).click()
    expect(dashboard.locator(".run-head .phase")).to_have_text("Running")

    # C05 (at 00:07:00, to BE NL DE PL FR): the first incident inject still scheduled for DE.
    inject = a.page.locator('table#injects tr[data-inject-id="C05"]')
    expect(inject.locator("td.to")).to_contain_text("DE")
    title = inject.locator("td.text").inner_text()
    inject.get_by_role("button", name="Publish now").click()
    expect(inject.locator(".inject-state")).to_have_text("Released", timeout=20_000)
    expect(a.page.locator("#play-clock")).not_to_have_text("00:00")
    a.page.locator("main#view").evaluate("view => view.scrollTo(0, 0)")
    a.screenshot("conduct")

    row = exercise.page.locator("table#board tr.row", has_text=title)
    expect(row).to_be_visible(timeout=20_000)
    expect(row.locator(".badge-exercise")).to_be_visible()
    expect(exercise.page.locator("#exercise-banner")).to_contain_text("EXERCISE")
    expect(real.page.locator("table#board tr.row", has_text=title)).to_have_count(0)
    expect(real.page.locator("#exercise-banner")).to_be_hidden()
    # Opened from the real view, the inject is shown in its exercise's view, under the banner.
    real.route(f"#/incident/{row.get_attribute('data-incident-id')}")
    expect(real.page.locator("section#incident")).to_contain_text(title)
    expect(real.page.locator("#exercise-banner")).to_contain_text(CROWD)
    expect(real.page).to_have_url(re.compile(r"exercise=crowd-liege"))

    a.page.get_by_role("button", name="End", exact=True).click()
    a.page.get_by_role("button", name="Confirm ENDEX").click()
    expect(dashboard.locator(".run-head .phase")).to_have_text("Ended")
    report = a.page.request.get(f"{a.base_url}/v1/conduct/{run}/report.json")
    assert report.status == 200 and "attachment" in report.headers["content-disposition"]
    assert report.json()["exercise"]["name"] == CROWD
    dashboard.get_by_role("link", name="Exercise view").click()
    link = a.page.locator("#exercise-banner").get_by_role("link", name="Download after-action report", exact=True)
    expect(link).to_have_attribute("href", f"/v1/conduct/{run}/report.html")

    operator = console(A, "A operator conduct")  # an operator, not a controller: read only
    operator.login(JANA)
    operator.route(f"#/conduct/{run}")
    expect(operator.page.locator('table#injects tr[data-inject-id="C05"]')).to_contain_text("Released")
    expect(operator.page.locator("section#conduct-run")).to_contain_text("role controller")
    expect(operator.page.locator("section#conduct-run button")).to_have_count(0)


def test_a_self_assessment_saved_on_as_form_is_as_row_in_bs_open_matrix(console, cluster):
    b = console(B, "B matrix")
    b.login(PAVEL)
    b.page.get_by_role("link", name="Capabilities", exact=True).click()
    expect(b.page.locator("table#capability-matrix")).to_be_visible()

    a = console(A, "A self-assessment")
    a.login(JANA)
    a.page.get_by_role("link", name="Capabilities", exact=True).click()
    form = a.page.locator("form#assessment")
    media = form.locator('fieldset[data-area="media"]')
    media.get_by_label("Current level").select_option("1")
    media.get_by_label("Target level").select_option("3")
    expect(media.locator(".descriptor").first).not_to_contain_text("not answered")
    media.get_by_label("Note").fill("Press office only in office hours")
    cbrne = form.locator('fieldset[data-area="cbrne"]')
    cbrne.get_by_label("Current level").select_option("2")
    cbrne.get_by_label("Target level").select_option("2")
    form.get_by_role("button", name="Save self-assessment").click()
    expect(form.locator(".saved-status")).to_contain_text("Published")
    a.screenshot("capabilities-form")

    row = b.page.locator('table#capability-matrix tbody tr[data-country="BE"]')
    expect(row).to_be_visible(timeout=20_000)
    expect(row.locator('td[data-area="media"]')).to_contain_text("1→3")
    expect(row.locator('td[data-area="media"]')).to_have_class(re.compile(r"\bgap\b"))
    expect(row.locator('td[data-area="cbrne"] .gap-mark')).to_have_count(0)
    expect(b.page.locator("#oc-gaps")).to_contain_text("BE")
    row.get_by_role("button", name="History").click()
    expect(b.page.locator("#profile-history")).to_contain_text(JANA.display_name)
    b.screenshot("capabilities-matrix")
