"""The incident list and an incident's page for someone woken at night: errors beside what
caused them, filters kept in the address, relative times, what the alert sent and what
happens next, the keyboard, and a phone."""

import re
import time

import pytest
from playwright.sync_api import expect

from tests.browser.test_console import row
from tests.browser.test_triage import settle
from tests.e2e import client
from tests.e2e.conftest import launch


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """As conftest's server, and failed notifications are retried after 1 s, to a webhook
    on this machine that nothing answers."""
    local = launch(
        tmp_path_factory.mktemp("oncall-incident-pages"),
        ONCALL_ESCALATE_AFTER_SECONDS="1",
        ONCALL_SWEEP_INTERVAL_SECONDS="3600",
        ONCALL_NOTIFY_RETRY_SECONDS="1",
        ONCALL_ALLOW_PRIVATE_WEBHOOKS="1",
    )
    yield local.url
    local.stop()


def rows(console):
    return console.page.locator("#incidents tbody tr[data-id]")


def shown_ids(console) -> list[int]:
    return rows(console).evaluate_all("rows => rows.map(row => Number(row.dataset.id))")


def test_a_refused_reassignment_is_explained_beside_the_field_and_left_behind(console, server):
    created = client.expect(client.trigger(server, "inplace", "Cache hit ratio under 40%"), 201)
    client.expect(client.post(server, f"/api/incidents/{created['id']}/reassign/", {"user": "bob"}))
    console.sign_in(route=f"incidents/{created['id']}")
    page = console.page
    field = page.get_by_label("Reassign to")
    field.fill("bob")
    page.get_by_role("button", name="Reassign", exact=True).click()

    error = page.locator("#reassign-user-error")
    expect(error).to_have_text(f"Incident {created['id']} is already assigned to bob.")
    expect(field).to_have_attribute("aria-invalid", "true")
    # Right under the field it names, in words, and nowhere else.
    field_box, error_box = field.bounding_box(), error.bounding_box()
    assert 0 <= error_box["y"] - (field_box["y"] + field_box["height"]) < 12, (field_box, error_box)
    expect(page.locator("#notice")).to_be_hidden()
    expect(page.locator("#view")).not_to_contain_text("HTTP 400")
    expect(page.locator("#view")).not_to_contain_text("invalid_input")

    # Editing the field clears it; the same mistake brings it back.
    field.press("End")
    field.press("Backspace")
    expect(error).to_have_count(0)
    expect(field).not_to_have_attribute("aria-invalid", "true")
    field.fill("bob")
    field.press("Enter")
    expect(error).to_be_visible()

    # It does not follow the user to the list, nor come back with the page.
    console.go("incidents")
    expect(row(console, created["id"])).to_be_visible()
    expect(page.locator(".inline-error")).to_have_count(0)
    expect(page.locator("#notice")).to_be_hidden()
    console.go(f"incidents/{created['id']}")
    expect(page.get_by_label("Reassign to")).to_be_visible()
    expect(page.locator(".inline-error")).to_have_count(0)

    # A refused acknowledge on the list is said beside its row.
    page.goto(f"{console.url}/?refresh=3600000#/incidents?service=inplace")
    line = row(console, created["id"])
    button = line.get_by_role("button", name=f"Acknowledge incident {created['id']}")
    expect(button).to_be_visible()
    # Every request of the page's first load answered: no later render replaces the row.
    page.wait_for_load_state("networkidle")
    client.expect(client.post(server, f"/api/incidents/{created['id']}/acknowledge/"))
    client.expect(client.post(server, f"/api/incidents/{created['id']}/resolve/"))
    button.click()
    expect(line.locator(".inline-error")).to_contain_text("RESOLVED")
    expect(line.locator(".inline-error")).not_to_contain_text("HTTP")
    expect(page.locator("#notice")).to_be_hidden()


def test_the_list_filters_live_in_the_address(console, server):
    settle(server)
    wanted = client.expect(client.trigger(server, "payments-api", "Disk 91% on db-3"), 201)
    client.expect(client.trigger(server, "payments-api", "Latency above SLO"), 201)
    client.expect(client.trigger(server, "search", "Disk 95% on es-2"), 201)
    acked = client.expect(client.trigger(server, "repay-worker", "Disk 88% on worker-1"), 201)
    client.expect(client.post(server, f"/api/incidents/{acked['id']}/acknowledge/"))
    other = client.expect(client.trigger(server, "repay-worker", "Disk 97% on worker-2"), 201)

    console.sign_in()
    page = console.page
    page.get_by_label("Status").select_option("TRIGGERED")
    page.get_by_label("Service").fill("pay")
    page.get_by_label("Search").fill("disk")
    expect(page).to_have_url(re.compile(r"#/incidents\?status=TRIGGERED&service=pay&q=disk$"))
    expect(rows(console)).to_have_count(2)
    assert shown_ids(console) == [other["id"], wanted["id"]]

    page.reload()
    expect(page.get_by_label("Status")).to_have_value("TRIGGERED")
    expect(page.get_by_label("Service")).to_have_value("pay")
    expect(page.get_by_label("Search")).to_have_value("disk")
    expect(rows(console)).to_have_count(2)
    assert shown_ids(console) == [other["id"], wanted["id"]]
    # The way back from an incident returns to the same filtered list.
    row(console, wanted["id"]).get_by_role("link", name=f"#{wanted['id']}", exact=True).click()
    expect(page.locator("#incident-title")).to_contain_text("Disk 91% on db-3")
    page.get_by_role("link", name="← All incidents").click()
    expect(page).to_have_url(re.compile(r"#/incidents\?status=TRIGGERED&service=pay&q=disk$"))
    expect(rows(console)).to_have_count(2)

    # A shared link, opened by a responder: only what is assigned to them.
    client.expect(client.post(server, f"/api/incidents/{wanted['id']}/reassign/", {"user": "mia"}))
    token = client.make_key(server, "responder", user="mia")
    page.locator("#sign-out").click()
    console.sign_in(token, route="incidents?q=disk&mine=1")
    expect(page.get_by_label("Assigned to me")).to_be_checked()
    expect(rows(console)).to_have_count(1)
    assert shown_ids(console) == [wanted["id"]]
    page.get_by_role("button", name="Clear").click()
    expect(page).to_have_url(re.compile(r"#/incidents$"))
    for incident in (wanted, acked, other):
        expect(row(console, incident["id"])).to_be_visible()


def test_times_are_relative_and_the_timeline_is_newest_first_with_retries_folded(console, server):
    channel = {"service_name": "relative", "kind": "webhook", "name": "nobody-home", "url": "http://127.0.0.1:9/hook"}
    client.expect(client.post(server, "/api/notifications/channels/", channel), 201)
    created = client.expect(client.trigger(server, "relative", "Queue depth growing"), 201)
    # The webhook refuses every attempt; retries follow after 1 s, then 3 s.
    deadline = time.monotonic() + 15
    while True:
        client.expect(client.post(server, "/api/notifications/deliver/"))
        detail = client.expect(client.get(server, f"/api/incidents/{created['id']}/"))
        failures = [
            e for e in detail["timeline"] if e["kind"] == "notification" and "of triggered (attempt" in e["message"]
        ]
        if len(failures) >= 2:
            break
        assert time.monotonic() < deadline, detail["timeline"]
        time.sleep(0.5)
    client.expect(client.post(server, f"/api/incidents/{created['id']}/acknowledge/"))
    client.expect(client.post(server, f"/api/incidents/{created['id']}/notes/", {"text": "Consumers restarted."}), 201)

    console.sign_in(route="incidents?service=relative")
    page = console.page
    age = row(console, created["id"]).locator("time.rel")
    expect(age).to_have_text(re.compile(r"^(just now|\d+ s ago)$"))
    expect(age).to_have_attribute("title", re.compile(r"\d{4}.*\d{2}:\d{2}:\d{2}.*UTC"))

    console.go(f"incidents/{created['id']}")
    entries = page.locator("#timeline > li")
    expect(page.locator("#timeline li.tl-note")).to_contain_text("Consumers restarted.")
    heads = entries.locator(":scope > .tl-head, :scope > details > summary .tl-head")
    kinds = [kind.lower() for kind in heads.locator(".tl-kind").all_inner_texts()]
    assert kinds.index("note") < kinds.index("acknowledged") < kinds.index("triggered") == len(kinds) - 1, kinds
    stamps = heads.locator("time").evaluate_all("times => times.map(t => t.getAttribute('datetime'))")
    assert stamps == sorted(stamps, reverse=True), stamps
    # The failed attempts at one delivery are one line that opens to show each.
    folded = page.locator("#timeline li.tl-folded", has_text="of triggered")
    expect(folded).to_have_count(1)
    attempts = folded.locator(".tl-attempts > li")
    count = attempts.count()
    assert count >= 2
    expect(folded.locator("summary")).to_contain_text(f"({count} attempts)")
    expect(attempts.first).to_be_hidden()
    folded.locator("summary").click()
    expect(attempts.first).to_be_visible()
    # Newest first, above the forms; every time relative, the absolute one on hover.
    assert page.locator("#timeline").bounding_box()["y"] < page.locator("#note-form").bounding_box()["y"]
    for time_element in heads.locator("time.rel").all():
        assert re.search(r"ago|just now", time_element.inner_text()), time_element.inner_text()
        assert "UTC" in time_element.get_attribute("title")
    console.screenshot("incident-timeline")


def test_the_incident_shows_what_the_alert_sent_and_what_happens_next(console, server):
    service = "context"
    client.expect(client.post(server, "/api/users/", {"name": "erin", "email": "erin@example.com"}), 201)
    client.expect(
        client.post(server, "/api/users/erin/contact-methods/", {"kind": "email", "address": "erin@example.com"}), 201
    )
    for level, user, wait in ((1, "erin", 5), (2, "bob", 5)):
        body = {"service_name": service, "level": level, "user": user, "wait_minutes": wait}
        client.expect(client.post(server, "/api/escalation/levels/", body), 201)
    token = client.make_key(server, "integration", services=[service])
    event = {
        "routing_key": token,
        "event_action": "trigger",
        "dedup_key": "db-primary",
        "payload": {
            "summary": "Primary DB refusing connections",
            "source": "db-primary-1.prod.internal",
            "severity": "critical",
            "custom_details": {"active_connections": 0, "error": "timeout after 5s"},
        },
        "links": [
            {"href": "https://grafana.example.com/d/db", "text": "DB dashboard"},
            {"href": "javascript:alert(1)", "text": "Not a link"},
        ],
        "client_url": "https://monitoring.example.com",
    }
    client.expect(client.request(server, "POST", "/v2/enqueue", event, token=None), 202)
    [incident] = client.list_service(server, service)
    time.sleep(1.1)
    client.expect(client.post(server, "/api/incidents/escalate/check/"))
    assert client.expect(client.get(server, f"/api/incidents/{incident['id']}/"))["assigned_to"] == "erin"

    console.sign_in(route=f"incidents/{incident['id']}")
    page = console.page
    expect(page.locator("#incident-source")).to_have_text("db-primary-1.prod.internal")
    details = page.locator("#incident-details")
    expect(details).to_contain_text('{"active_connections":0,"error":"timeout after 5s"}')
    links = details.locator("a")
    expect(links).to_have_count(2)
    expect(details.get_by_role("link", name="DB dashboard")).to_have_attribute(
        "href", "https://grafana.example.com/d/db"
    )
    expect(details.get_by_role("link", name="https://monitoring.example.com")).to_be_visible()
    expect(details).to_contain_text("Not a link (javascript:alert(1))")
    assert page.locator("a[href^='javascript']").count() == 0
    expect(page.locator("#next-step")).to_have_text(re.compile(r"^Escalates to level 2 \(bob\) in [45] min$"))
    expect(page.locator("#next-step time")).to_have_attribute("title", re.compile("UTC"))
    expect(page.locator("#contact-state")).to_have_text("erin: email")
    console.screenshot("incident-context")

    # At the last level the page says the policy stops there.
    client.expect(client.post(server, f"/api/incidents/{incident['id']}/reassign/", {"user": "zed"}))
    expect(page.locator("#detail")).to_have_attribute("data-assignee", "zed")
    expect(page.locator("#contact-state")).to_be_hidden()


def test_the_list_by_keyboard(console, server):
    settle(server)
    first = client.expect(client.trigger(server, "keys", "Error budget burning"), 201)
    second = client.expect(client.trigger(server, "keys", "Pod restarts"), 201)
    client.expect(client.post(server, "/api/users/", {"name": "kim"}), 201)
    console.sign_in(route="incidents?service=keys")
    page = console.page
    expect(rows(console)).to_have_count(2)
    page.locator("#view").focus()

    page.keyboard.press("j")
    expect(row(console, second["id"])).to_have_class(re.compile(r"\bcurrent\b"))
    page.keyboard.press("j")
    expect(row(console, first["id"])).to_have_class(re.compile(r"\bcurrent\b"))
    page.keyboard.press("a")
    expect(row(console, first["id"])).to_have_attribute("data-status", "ACKNOWLEDGED")
    expect(row(console, second["id"])).to_have_attribute("data-status", "TRIGGERED")
    # Still highlighted after the list is drawn again: r resolves it.
    expect(row(console, first["id"])).to_have_class(re.compile(r"\bcurrent\b"))
    page.keyboard.press("r")
    expect(row(console, first["id"])).to_have_attribute("data-status", "RESOLVED")

    # "/" goes to the search; keys typed there are text, not commands.
    page.keyboard.press("k")
    expect(row(console, second["id"])).to_have_class(re.compile(r"\bcurrent\b"))
    page.keyboard.press("/")
    expect(page.get_by_label("Search")).to_be_focused()
    page.keyboard.type("a")
    expect(page.get_by_label("Search")).to_have_value("a")
    expect(row(console, second["id"])).to_have_attribute("data-status", "TRIGGERED")

    page.locator("#view").focus()
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("acknowledge the highlighted incident")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # Reassign offers the users the API knows.
    console.go(f"incidents/{second['id']}")
    expect(page.locator("#reassign-user")).to_have_attribute("list", "known-users")
    expect(page.locator("#known-users option[value='kim']")).to_have_count(1)


def test_a_phone_shows_five_incidents_on_the_first_screen(phone, server):
    settle(server)
    ids = [
        client.expect(client.trigger(server, "pocket", f"Replica {n} lagging behind the primary"), 201)["id"]
        for n in range(6)
    ]
    phone.sign_in(route="incidents?service=pocket")
    page = phone.page
    expect(rows(phone)).to_have_count(6)
    height = page.viewport_size["height"]
    bottoms = rows(phone).evaluate_all("rows => rows.map(row => row.getBoundingClientRect().bottom)")
    assert sum(1 for bottom in bottoms if bottom <= height) >= 5, (bottoms, height)

    # The incident's page: status and actions, then the latest of the timeline, first.
    phone.go(f"incidents/{ids[0]}")
    expect(page.locator("#timeline li").first).to_be_visible()
    for selector in ("#status-line", ".detail-actions button", "#timeline li"):
        box = page.locator(selector).first.bounding_box()
        assert box["y"] + box["height"] <= height, (selector, box)
    assert page.locator("#timeline").bounding_box()["y"] < page.locator("#together").bounding_box()["y"]
