"""The maintenance page: an admin adds a window, the service's new incident is listed apart
and not counted as waiting, the window is ended early; a responder only reads."""

from datetime import datetime, timedelta, timezone

from playwright.sync_api import expect

from tests.browser.test_console import iso, row
from tests.browser.test_schedules_and_alerts import _serious_violations
from tests.e2e import client


def test_a_window_from_the_form_silences_its_service_and_is_ended_early(console, server):
    console.sign_in(route="maintenance")
    page = console.page
    expect(page.locator("#no-windows")).to_be_visible()

    # The API names the field at fault, and the form shows it there.
    page.get_by_label("Service").fill("warehouse")
    page.get_by_label("Reason").fill("   ")
    page.get_by_role("button", name="Add window").click()
    expect(page.locator("#w-reason-error")).to_contain_text("reason")

    page.get_by_label("Reason").fill("Database upgrade")
    page.get_by_role("button", name="Add window").click()
    line = page.locator("#windows tbody tr")
    expect(line).to_have_count(1)
    expect(line).to_contain_text("warehouse")
    expect(line).to_contain_text("Database upgrade")
    expect(line).to_contain_text("in effect")
    assert not _serious_violations(page)
    console.screenshot("maintenance")

    quiet = client.expect(client.trigger(server, "warehouse", "Replica lag"), 201)
    assert quiet["suppressed"] is True
    loud = client.expect(client.trigger(server, "storefront", "Checkout down"), 201)
    console.go("incidents")
    expect(row(console, quiet["id"])).to_contain_text("maintenance")
    expect(row(console, loud["id"])).not_to_contain_text("maintenance")
    expect(page.locator("#incident-summary")).to_contain_text(
        "1 unacknowledged incident, none acknowledged, 1 in maintenance"
    )
    expect(page.locator("tr.divider").first).to_contain_text("In maintenance")
    # Only the paging incident counts in the tab's title.
    expect(page).to_have_title("(1) oncall")
    console.go(f"incidents/{quiet['id']}")
    expect(page.locator("#next-step")).to_contain_text("Opened in a maintenance window")

    console.go("maintenance")
    page.locator("#windows tbody tr").get_by_role("button", name="End now").click()
    expect(page.locator("#no-windows")).to_be_visible()
    page.get_by_label("Show windows that are over").check()
    expect(page.locator("#windows tbody tr")).to_contain_text("ended early")
    expect(page.locator("#windows tbody tr")).to_contain_text("over")


def test_a_responder_sees_the_windows_but_no_form(console, server):
    now = datetime.now(timezone.utc)
    window = {
        "service_name": "ledger",
        "start": iso(now),
        "end": iso(now + timedelta(hours=2)),
        "reason": "Audit freeze",
    }
    client.expect(client.post(server, "/api/maintenance", window), 201)
    console.sign_in(client.make_key(server, "responder", user="rita"), route="maintenance")
    page = console.page
    line = page.locator("#windows tbody tr[data-state='active']")
    expect(line.filter(has_text="Audit freeze")).to_have_count(1)
    expect(page.locator("#window-form")).to_have_count(0)
    expect(page.get_by_role("button", name="End now")).to_have_count(0)
