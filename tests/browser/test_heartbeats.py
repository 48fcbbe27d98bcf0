"""The heartbeats page: an admin adds a heartbeat and sees its ping URL once, a job pings
it over HTTP and the page shows it up, the interval is changed and the heartbeat
deleted; a responder only reads. Going late needs the clock to move, which the browser's
server cannot do: tests/test_heartbeats.py covers it with the injectable clock."""

from urllib.parse import urlsplit

from playwright.sync_api import expect

from tests.browser.test_schedules_and_alerts import _serious_violations
from tests.e2e import client


def test_a_heartbeat_from_the_form_is_pinged_changed_and_deleted(console, server):
    console.sign_in(route="heartbeats")
    page = console.page
    expect(page.locator("#no-heartbeats")).to_be_visible()

    # The API names the field at fault, and the form shows it there.
    page.get_by_label("Service").fill("backups")
    page.get_by_label("Name").fill("   ")
    page.get_by_role("button", name="Add heartbeat").click()
    expect(page.locator("#hb-name-error")).to_contain_text("name")

    page.get_by_label("Name").fill("nightly-dump")
    page.get_by_label("Interval").fill("3600")
    page.get_by_label("Grace").fill("600")
    page.get_by_role("button", name="Add heartbeat").click()
    ping_url = page.locator("#ping-url").inner_text()
    assert "/api/heartbeats/" in ping_url and "/ping/hb_" in ping_url
    expect(page.locator("#ping-curl")).to_contain_text(f"curl -fsS -m 10 --retry 3 -X POST {ping_url}")
    line = page.locator("#heartbeats tbody tr")
    expect(line).to_have_count(1)
    expect(line).to_contain_text("waiting")
    expect(line).to_contain_text("never")

    # The job checks in over HTTP with the URL alone, no key.
    pinged = client.expect(client.post(server, urlsplit(ping_url).path, token=None))
    assert pinged["status"] == "up"
    console.go("incidents")
    console.go("heartbeats")
    expect(line).to_contain_text("up")
    expect(line.locator("td[data-label='Last seen'] time")).to_have_count(1)
    # The URL was shown once: the list does not carry it.
    expect(page.locator("#ping-url")).to_have_count(0)
    assert not _serious_violations(page)
    console.screenshot("heartbeats")

    line.get_by_label("Interval of nightly-dump in seconds").fill("120")
    line.get_by_role("button", name="Save").click()
    expect(page.locator("#toasts")).to_contain_text("its ping URL is unchanged")
    heartbeat_id = line.get_attribute("data-id")
    assert client.expect(client.get(server, f"/api/heartbeats/{heartbeat_id}"))["interval_seconds"] == 120
    client.expect(client.post(server, urlsplit(ping_url).path, token=None))

    line.get_by_role("button", name="Delete").click()
    expect(page.locator("#no-heartbeats")).to_be_visible()
    assert client.post(server, urlsplit(ping_url).path, token=None).status == 404


def test_a_responder_sees_the_heartbeats_but_no_form(console, server):
    body = {"service_name": "ledger", "name": "reconcile", "interval_seconds": 86400}
    client.expect(client.post(server, "/api/heartbeats", body), 201)
    console.sign_in(client.make_key(server, "responder", user="rita"), route="heartbeats")
    page = console.page
    expect(page.locator("#heartbeats tbody tr").filter(has_text="reconcile")).to_contain_text("waiting")
    expect(page.locator("#heartbeat-form")).to_have_count(0)
    expect(page.get_by_role("button", name="Delete")).to_have_count(0)
