"""What an engineer woken at night reads first: the count of unacknowledged incidents in
the tab's title, the incident list most urgent first under a one-line summary, and long
titles that do not push the other incidents off the screen."""

import time

from playwright.sync_api import expect

from tests.browser.test_console import row, shift
from tests.e2e import client

# 1,000 characters, longer than any real alert's title, in words so that the browser wraps it.
LONG_TITLE = " ".join(["Replica lag above threshold on the orders cluster"] * 25)[:999] + "."


def settle(server: str) -> None:
    """Acknowledge and resolve every open incident, so that a test counts only its own."""
    for status in ("TRIGGERED", "ESCALATED", "ACKNOWLEDGED"):
        while True:
            page = client.expect(client.get(server, f"/api/incidents/list/all/?status={status}&limit=100"))
            ids = [incident["id"] for incident in page["incidents"]]
            if not ids:
                break
            if status != "ACKNOWLEDGED":
                client.expect(client.post(server, "/api/incidents/bulk/acknowledge/", {"ids": ids}))
            client.expect(client.post(server, "/api/incidents/bulk/resolve/", {"ids": ids}))


def escalated(server: str, service: str, title: str) -> dict:
    """An incident of `service` that the sweep has escalated (incidents are due after 1 s)."""
    level = {"service_name": service, "level": 1, "user": "erin"}
    client.expect(client.post(server, "/api/escalation/levels/", level), 201)
    created = client.expect(client.trigger(server, service, title), 201)
    time.sleep(1.1)
    client.expect(client.post(server, "/api/incidents/escalate/check/"))
    assert client.expect(client.get(server, f"/api/incidents/{created['id']}/"))["status"] == "ESCALATED"
    return created


def acknowledged(server: str, incident: dict) -> None:
    client.expect(client.post(server, f"/api/incidents/{incident['id']}/acknowledge/"))


def shown(console) -> list[list]:
    """[status, id] of each row of the incident list, top to bottom."""
    rows = console.page.locator("#incidents tbody tr[data-id]")
    return rows.evaluate_all("rows => rows.map(row => [row.dataset.status, Number(row.dataset.id)])")


def shown_ids(console) -> list[int]:
    return [incident_id for _, incident_id in shown(console)]


def test_the_tab_title_counts_the_unacknowledged_incidents(console, server):
    settle(server)
    console.sign_in()
    page = console.page
    expect(page).to_have_title("oncall")

    # Incidents triggered elsewhere arrive with the next refresh; an escalated one still counts.
    first = client.expect(client.trigger(server, "title-web", "Checkout 502s"), 201)
    expect(page).to_have_title("(1) oncall")
    second = escalated(server, "title-db", "Primary database unreachable")
    expect(page).to_have_title("(2) oncall")
    acknowledged(server, second)
    expect(page).to_have_title("(1) oncall")

    # With the poll an hour away, only acting from the page can change the count.
    page.goto(f"{console.url}/?refresh=3600000#/incidents")
    expect(page).to_have_title("(1) oncall")
    row(console, first["id"]).get_by_role("button", name=f"Acknowledge incident {first['id']}").click()
    expect(page).to_have_title("oncall")

    console.go("trigger")
    page.get_by_label("Service").fill("title-web")
    page.get_by_label("Title").fill("Checkout 502s again")
    page.get_by_role("button", name="Trigger incident").click()
    expect(page.locator("#trigger-outcome")).to_contain_text("Opened incident #")
    expect(page).to_have_title("(1) oncall")
    page.locator("#trigger-link").click()
    page.get_by_role("button", name="Acknowledge incident").click()
    expect(page.locator("#detail")).to_have_attribute("data-status", "ACKNOWLEDGED")
    expect(page).to_have_title("oncall")


def test_the_list_is_most_urgent_first_under_a_summary(console, server):
    settle(server)
    oldest = escalated(server, "triage", "Payments API down")
    triggered = [client.expect(client.trigger(server, "triage", f"Queue {n} backing up"), 201) for n in (1, 2)]
    acked = [client.expect(client.trigger(server, "triage", f"Disk {n} at 90%"), 201) for n in (1, 2)]
    for incident in acked:
        acknowledged(server, incident)
    resolved = client.expect(client.trigger(server, "triage", "Certificate expires in 7 days"), 201)
    acknowledged(server, resolved)
    client.expect(client.post(server, f"/api/incidents/{resolved['id']}/resolve/"))

    console.sign_in()
    page = console.page
    summary = page.locator("#incident-summary")
    expect(summary).to_have_text("3 unacknowledged incidents, 2 acknowledged")
    # Unfiltered (with the resolved incidents of the other tests): by status, then newest first.
    urgency = ["ESCALATED", "TRIGGERED", "ACKNOWLEDGED", "RESOLVED"]
    listed = shown(console)
    assert listed == sorted(listed, key=lambda entry: (urgency.index(entry[0]), -entry[1])), listed

    page.get_by_label("Service").fill("triage")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#incidents tbody tr[data-id]")).to_have_count(6)
    ids = [incident["id"] for incident in (oldest, triggered[1], triggered[0], acked[1], acked[0], resolved)]
    assert shown_ids(console) == ids
    expect(page.locator("#incidents tr.divider")).to_have_text("Recently resolved")

    # One left: the summary says so in the singular.
    for incident in (oldest, triggered[1]):
        row(console, incident["id"]).get_by_role("button", name=f"Acknowledge incident {incident['id']}").click()
        expect(row(console, incident["id"])).to_have_attribute("data-status", "ACKNOWLEDGED")
    expect(summary).to_have_text("1 unacknowledged incident, 4 acknowledged")
    assert shown_ids(console) == [
        triggered[0]["id"],
        acked[1]["id"],
        acked[0]["id"],
        triggered[1]["id"],
        oldest["id"],
        resolved["id"],
    ]
    acknowledged(server, triggered[0])
    expect(summary).to_have_text("No unacknowledged incidents, 5 acknowledged")
    settle(server)
    expect(summary).to_have_text("No open incidents match.")


def test_a_long_title_takes_two_lines_in_the_list_and_all_its_lines_on_its_page(console, server):
    console.page.set_viewport_size({"width": 1366, "height": 900})
    # Someone on call, so that the assignee takes one line and the title decides the height.
    shift(server, "orders", "carol")
    normal = client.expect(client.trigger(server, "orders", "Disk almost full"), 201)
    long = client.expect(client.trigger(server, "orders", LONG_TITLE), 201)
    assert len(LONG_TITLE) == 1000 and long["title"] == LONG_TITLE
    console.sign_in()
    page = console.page
    long_row = row(console, long["id"])
    normal_row = row(console, normal["id"])
    expect(long_row.locator("td.title")).to_have_text(LONG_TITLE)
    expect(normal_row).to_be_visible()

    normal_height = normal_row.bounding_box()["height"]
    long_height = long_row.bounding_box()["height"]
    line = float(page.evaluate("parseFloat(getComputedStyle(document.body).lineHeight)"))
    assert long_height <= normal_height + line + 2, (long_height, normal_height, line)
    clipped = long_row.locator("td.title .clamp").evaluate("cell => cell.scrollHeight > cell.clientHeight + 1")
    assert clipped, "the long title is not cut in the list"

    long_row.get_by_role("link", name=f"#{long['id']}", exact=True).click()
    title = page.locator("#incident-title")
    expect(title).to_contain_text(LONG_TITLE)
    size = title.evaluate("h1 => ({ height: h1.clientHeight, needed: h1.scrollHeight })")
    assert size["needed"] <= size["height"] + 1, f"the title is cut on its own page: {size}"
    assert size["height"] > 4 * line, f"1,000 characters in fewer than five lines: {size}"
