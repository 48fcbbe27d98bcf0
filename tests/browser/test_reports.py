"""The reports page: incidents made through the API show up in its tiles, charts and
tables, counted as the API counts them; a range the API refuses is explained at its field."""

import re
import time

from playwright.sync_api import expect

from tests.browser.test_console import shift
from tests.browser.test_paging import NUMBER, wait_for_sms
from tests.browser.test_schedules_and_alerts import _serious_violations
from tests.e2e import client


def paged_person(server: str, name: str) -> None:
    """A user in New York whose verified SMS number the local server pages at once."""
    client.expect(client.post(server, "/api/users/", {"name": name, "time_zone": "America/New_York"}), 201)
    method = client.expect(
        client.post(server, f"/api/users/{name}/contact-methods/", {"kind": "sms", "address": NUMBER}), 201
    )
    code = re.search(r"code is (\d{6})", wait_for_sms(server, "oncall: your verification code")["text"]).group(1)
    client.expect(client.post(server, f"/api/users/{name}/contact-methods/{method['id']}/verify", {"code": code}), 200)
    rule = {"contact_method_id": method["id"], "delay_minutes": 0, "urgency": "high"}
    client.expect(client.post(server, f"/api/users/{name}/notification-rules/", rule), 201)


def test_the_report_shows_the_incidents_made_through_the_api(console, server):
    paged_person(server, "nora")
    shift(server, "reports", "nora")
    first = client.expect(client.trigger(server, "reports", "Queue depth high"), 201)
    assert client.expect(client.trigger(server, "reports", "Queue depth high"), 200)["deduplicated"]
    second = client.expect(client.trigger(server, "reports", "Disk almost full", dedup_key="disk-7"), 201)
    third = client.expect(client.trigger(server, "reports", "Certificate expires soon"), 201)
    for incident in (first, second, third):
        wait_for_sms(server, f"oncall #{incident['id']} ")
    client.expect(client.post(server, f"/api/incidents/{first['id']}/acknowledge/"), 200)
    client.expect(client.post(server, f"/api/incidents/{first['id']}/resolve/"), 200)
    # A page is counted by the write that records it sent, a moment after the SMS left.
    deadline = time.monotonic() + 15
    while True:
        report = client.expect(client.get(server, "/api/reports/?service_name=reports&bucket=day"), 200)
        if report["totals"]["pages_sent"] == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    totals = report["totals"]
    assert (totals["incidents"], totals["alerts"], totals["resolved"], totals["acknowledged"]) == (3, 4, 1, 1)
    assert totals["pages_sent"] == 3

    console.sign_in(route="reports?service=reports&bucket=day")
    page = console.page
    expect(page.locator("#report-scope")).to_contain_text("reports,")
    expect(page.locator("#report-incidents .tile-value")).to_have_text("3")
    expect(page.locator("#report-alerts .tile-value")).to_have_text("4")
    expect(page.locator("#report-pages .tile-value")).to_have_text(str(totals["pages_sent"]))
    expect(page.locator("#report-night-pages .tile-value")).to_have_text(str(totals["night_pages"]))
    expect(page.locator("#report-incidents-chart")).to_be_visible()
    expect(page.locator("#report-times-chart")).to_be_visible()
    night = page.locator("#report-night-chart")
    expect(night).to_contain_text("nora")
    expect(night).to_contain_text(f"{totals['night_pages']} at night · {totals['pages_sent']} in all")
    noisiest = page.locator("#report-noisy tbody tr").first
    expect(noisiest).to_contain_text("Queue depth high")
    expect(noisiest.locator("td").nth(3)).to_have_text("2")
    expect(page.locator("#report-noisy tbody tr").filter(has_text="disk-7")).to_have_count(1)
    today = page.locator("#report-buckets tbody tr").last
    expect(today.locator("td").nth(1)).to_have_text("3")
    expect(page.locator("#report-buckets tbody tr")).to_have_count(7)
    assert not _serious_violations(page)
    console.screenshot("reports")

    # Per ISO week, every service: the same incidents in the week's row.
    page.get_by_label("Service").fill("")
    page.get_by_label("From (UTC day)").fill("")
    page.get_by_label("To (UTC day)").fill("")
    page.get_by_label("Bucket", exact=True).select_option("week")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#report-scope")).to_contain_text("every service")
    expect(page.locator("#report-buckets tbody tr")).to_have_count(8)
    expect(page.locator("#report-buckets tbody tr").last.locator("td").nth(1)).to_have_text("3")

    # A range the API refuses: its sentence, at the field it names.
    page.get_by_label("From (UTC day)").fill("2026-02-10")
    page.get_by_label("To (UTC day)").fill("2026-02-01")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#report-to-error")).to_contain_text("before from")
    assert not _serious_violations(page)


def test_the_report_fits_a_phone(phone, server):
    client.expect(client.trigger(server, "reports-phone", "Replica lag"), 201)
    phone.sign_in(route="reports?bucket=week")
    page = phone.page
    expect(page.locator("#report-buckets tbody tr")).to_have_count(8)
    expect(page.locator("#report-incidents-chart")).to_be_visible()
    expect(page.get_by_role("button", name="Show")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    phone.screenshot("reports-phone", full_page=False)
