"""The web console in a real browser against a real server: the whole on-call flow,
data rendered as text, what each role sees, and 401/403 explained."""

import re
from datetime import datetime, timedelta, timezone

from playwright.sync_api import expect

from tests.e2e import client

XSS = "<img src=x onerror=alert(1)>"


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def shift(server: str, service: str, user: str, *, hours: float = 8, override: bool = False) -> dict:
    now = datetime.now(timezone.utc)
    body = {
        "service_name": service,
        "user": user,
        "start_time": iso(now - timedelta(hours=1)),
        "end_time": iso(now + timedelta(hours=hours)),
        "is_override": override,
    }
    return client.expect(client.post(server, "/api/oncall/schedules/", body), 201)


def row(console, incident_id: int):
    return console.page.locator(f"#incidents tr[data-id='{incident_id}']")


def test_sign_in_page_explains_a_refused_key(console):
    console.open()
    expect(console.page.get_by_role("heading", name="Sign in")).to_be_visible()
    console.screenshot("signin")
    console.page.get_by_label("API key").fill("not-a-real-key-0123456789")
    console.page.get_by_role("button", name="Sign in").click()
    error = console.page.locator("#signin-error")
    expect(error).to_contain_text("401 Unauthorized")
    expect(error).to_contain_text("unknown or has been revoked")
    expect(console.page.locator("#nav")).to_be_hidden()


def test_trigger_acknowledge_resolve_and_toast(console, server):
    console.sign_in(route="trigger")
    page = console.page
    page.get_by_label("Service").fill("checkout")
    page.get_by_label("Severity").select_option("error")
    page.get_by_label("Title").fill("Card payments failing")
    page.get_by_label("Description").fill("Gateway answers 502 for 30% of authorisations.")
    page.get_by_label("Dedup key").fill("card-502")
    page.get_by_role("button", name="Trigger incident").click()
    outcome = page.locator("#trigger-outcome")
    expect(outcome).to_contain_text("Opened incident #")
    expect(outcome).to_contain_text("unassigned: nobody is on call")
    incident_id = int(re.search(r"#(\d+)", page.locator("#trigger-link").inner_text()).group(1))

    # The same alert again folds into the open incident, and the page says so.
    page.get_by_role("button", name="Trigger incident").click()
    expect(outcome).to_contain_text("Folded into the open incident")
    expect(outcome).to_contain_text("2 alerts")
    console.screenshot("trigger")

    page.locator("#trigger-link").click()
    expect(page.locator("#incident-title")).to_contain_text("Card payments failing")

    console.go("incidents")
    line = row(console, incident_id)
    expect(line).to_contain_text("checkout")
    expect(line).to_contain_text("TRIGGERED")
    expect(line).to_contain_text("unassigned (nobody is on call)")
    expect(line.locator("td[data-label='Alerts']")).to_have_text("2")
    expect(line.get_by_role("button", name=f"Resolve incident {incident_id}")).to_have_count(0)
    line.get_by_role("button", name=f"Acknowledge incident {incident_id}").click()
    expect(line).to_contain_text("ACKNOWLEDGED")
    expect(line.get_by_role("button", name=f"Acknowledge incident {incident_id}")).to_have_count(0)
    line.get_by_role("button", name=f"Resolve incident {incident_id}").click()
    expect(line).to_contain_text("RESOLVED")
    expect(line.get_by_role("button")).to_have_count(0)

    # An incident opened elsewhere while the page is open arrives as a toast and a row.
    shift(server, "search", "carol")
    other = client.expect(client.trigger(server, "search", "Index lag over 10 minutes", severity="warning"), 201)
    toast = console.page.locator("#toasts .toast", has_text=f"New incident #{other['id']} on search")
    expect(toast).to_be_visible()
    expect(row(console, other["id"])).to_contain_text("carol")
    # A status change made elsewhere is announced too.
    client.expect(client.post(server, f"/api/incidents/{other['id']}/acknowledge/"))
    changed = console.page.locator("#toasts .toast", has_text=f"Incident #{other['id']} (Index lag over 10 minutes)")
    expect(changed).to_contain_text("is now ACKNOWLEDGED")
    client.trigger(server, "payments", "Checkout error rate above 5%", description="5xx ratio at 7.2%.")
    expect(console.page.locator("#incidents tbody tr[data-id]")).to_have_count(3)
    console.screenshot("incidents", toasts=True)

    console.go(f"incidents/{incident_id}")
    timeline = page.locator("#timeline li")
    expect(timeline.first).to_contain_text("resolved")
    expect(page.locator("#detail")).to_contain_text("RESOLVED")
    kinds = timeline.locator(".tl-kind").all_inner_texts()
    assert [kind.lower() for kind in kinds][-1] == "triggered", kinds
    console.screenshot("incident")


def test_bulk_acknowledge(console, server):
    ids = [client.expect(client.trigger(server, "bulk", f"Disk {n} almost full"), 201)["id"] for n in range(3)]
    console.sign_in()
    console.page.get_by_label("Service").fill("bulk")
    console.page.get_by_role("button", name="Apply").click()
    expect(console.page.locator("#incidents tbody tr[data-id]")).to_have_count(3)
    for incident_id in ids:
        row(console, incident_id).get_by_role("checkbox").check()
    console.page.get_by_role("button", name="Acknowledge selected (3)").click()
    for incident_id in ids:
        expect(row(console, incident_id)).to_contain_text("ACKNOWLEDGED")
    expect(console.page.locator("#bulk-resolve")).to_be_disabled()
    console.page.get_by_label("Status").select_option("TRIGGERED")
    expect(console.page.get_by_text("No incidents match.")).to_be_visible()
    console.page.get_by_role("button", name="Clear").click()
    expect(console.page.get_by_label("Service")).to_have_value("")
    expect(row(console, ids[0])).to_contain_text("ACKNOWLEDGED")


def test_bulk_acknowledge_is_one_request_and_a_toast_sums_it_up(console, server):
    ids = [client.expect(client.trigger(server, "bulk-two", f"Replica {n} lagging"), 201)["id"] for n in range(2)]
    console.sign_in()
    page = console.page
    page.get_by_label("Service").fill("bulk-two")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#incidents tbody tr[data-id]")).to_have_count(2)
    for incident_id in ids:
        row(console, incident_id).get_by_role("checkbox").check()
    sent = []
    page.on("request", lambda request: sent.append((request.method, request.url)) if request.method == "POST" else None)
    page.get_by_role("button", name="Acknowledge selected (2)").click()
    toast = page.locator("#toasts .toast", has_text="Acknowledged 2 of 2 incidents.")
    expect(toast).to_be_visible()
    for incident_id in ids:
        expect(row(console, incident_id)).to_contain_text("ACKNOWLEDGED")
    assert [url.split("/api/", 1)[1] for _, url in sent] == ["incidents/bulk/acknowledge"], sent
    for incident_id in ids:
        assert client.expect(client.get(server, f"/api/incidents/{incident_id}/"))["acknowledged_by"] == "admin"


def test_notes_and_reassignment_from_the_detail_page(console, server):
    created = client.expect(client.trigger(server, "together", "Search results stale"), 201)
    token = client.make_key(server, "responder", user="rita")
    console.sign_in(token, route=f"incidents/{created['id']}")
    page = console.page
    expect(page.locator("#incident-title")).to_contain_text("Search results stale")

    note = f"Cache purge did not help.\nTrying a reindex. {XSS}"
    page.get_by_label("Note", exact=True).fill(note)
    page.get_by_role("button", name="Add note").click()
    entry = page.locator("#timeline li.tl-note")
    expect(entry).to_have_count(1)
    expect(entry.locator(".tl-message")).to_have_text(note)
    expect(entry.locator(".tl-actor")).to_have_text("rita")
    expect(page.get_by_label("Note", exact=True)).to_have_value("")
    expect(page.get_by_label("Note", exact=True)).to_be_focused()
    assert page.locator("img[src='x']").count() == 0

    # Keyboard only: type the new assignee and press Enter.
    page.get_by_label("Reassign to").fill("bob")
    page.get_by_label("Reassign to").press("Enter")
    expect(page.locator("#detail")).to_have_attribute("data-assignee", "bob")
    expect(page.locator("#timeline li.tl-reassigned")).to_contain_text("Reassigned to bob.")
    expect(page.locator("#toasts .toast", has_text="is now assigned to bob")).to_be_visible()
    # Reassigning to the same user again is refused and said so.
    page.get_by_label("Reassign to").fill("bob")
    page.get_by_role("button", name="Reassign", exact=True).click()
    expect(page.locator("#reassign-user-error")).to_contain_text("already assigned to bob")

    detail = client.expect(client.get(server, f"/api/incidents/{created['id']}/"))
    assert detail["assigned_to"] == "bob"
    assert [(e["kind"], e["actor"]) for e in detail["timeline"] if e["kind"] in ("note", "reassigned")] == [
        ("note", "rita"),
        ("reassigned", "rita"),
    ]

    # A resolved incident still takes notes, but has no one left to reassign it to.
    client.expect(client.post(server, f"/api/incidents/{created['id']}/acknowledge/"))
    client.expect(client.post(server, f"/api/incidents/{created['id']}/resolve/"))
    expect(page.locator("#detail")).to_have_attribute("data-status", "RESOLVED")
    expect(page.locator("#reassign-form")).to_have_count(0)
    expect(page.locator("#note-form")).to_be_visible()


def test_a_hostile_title_is_shown_as_text_everywhere(console, server):
    console.sign_in()
    console.watching()
    created = client.expect(client.trigger(server, "web", XSS, description=XSS), 201)
    toast = console.page.locator("#toasts .toast", has_text=f"#{created['id']}")
    expect(toast).to_contain_text(XSS)
    expect(row(console, created["id"]).locator("td.title")).to_have_text(XSS)
    console.go(f"incidents/{created['id']}")
    expect(console.page.locator("#incident-title")).to_contain_text(XSS)
    expect(console.page.locator("#incident-description")).to_have_text(XSS)
    assert console.page.locator("img[src='x']").count() == 0
    console.page.wait_for_timeout(300)
    assert console.dialogs == []


def test_overrides_and_escalation_levels_from_the_on_call_page(console, server):
    shift(server, "search-api", "carol")
    console.sign_in(route="oncall")
    page = console.page
    card = page.locator("#oncall-now .card[data-service='search-api']")
    expect(card).to_contain_text("carol")

    form = page.locator("#shift-form")
    form.get_by_label("Service").fill("search-api")
    form.get_by_label("User").fill("dave")
    form.get_by_label("Override").check()
    form.get_by_role("button", name="Add").click()
    expect(card).to_contain_text("dave")
    expect(card).to_contain_text("Override")
    expect(page.locator("#shifts")).to_contain_text("dave")

    levels = page.locator("#level-form")
    levels.get_by_label("Service").fill("search-api")
    levels.get_by_label("Level").fill("1")
    levels.get_by_label("User").fill("erin")
    levels.get_by_role("button", name="Set level").click()
    expect(page.locator("#levels")).to_contain_text("erin")
    # Setting the same level again replaces it.
    levels = page.locator("#level-form")
    levels.get_by_label("Service").fill("search-api")
    levels.get_by_label("Level").fill("1")
    levels.get_by_label("User").fill("frank")
    levels.get_by_role("button", name="Set level").click()
    expect(page.locator("#levels")).to_contain_text("frank")
    expect(page.locator("#levels")).not_to_contain_text("erin")
    levels = page.locator("#level-form")
    levels.get_by_label("Service").fill("search-api")
    levels.get_by_label("Level").fill("2")
    levels.get_by_label("User").fill("grace")
    levels.get_by_role("button", name="Set level").click()
    expect(page.locator("#levels tbody tr")).to_have_count(2)
    shift(server, "payments", "alice")
    future = datetime.now(timezone.utc) + timedelta(hours=9)
    client.expect(
        client.post(
            server,
            "/api/oncall/schedules/",
            {
                "service_name": "payments",
                "user": "bob",
                "start_time": iso(future),
                "end_time": iso(future + timedelta(hours=12)),
            },
        ),
        201,
    )
    console.go("metrics")
    console.go("oncall")
    expect(page.locator("#shifts")).to_contain_text("Upcoming")
    console.screenshot("oncall")

    page.get_by_role("button", name="Remove override of dave on search-api").click()
    expect(card).to_contain_text("carol")
    page.get_by_role("button", name="Remove escalation level 2 of search-api").click()
    expect(page.locator("#levels tbody tr")).to_have_count(1)


def test_an_escalation_policy_shows_and_an_admin_sets_it(console, server):
    level = {
        "service_name": "ledger",
        "level": 1,
        "targets": [{"user": "bob"}, {"oncall": "ledger-db"}],
        "wait_minutes": 7,
    }
    client.expect(client.post(server, "/api/escalation/levels/", level), 201)
    console.sign_in(route="oncall")
    page = console.page
    policy = page.locator("#policies tr[data-service='ledger']")
    expect(policy).to_contain_text("Level 1: bob, on call for ledger-db, wait 7 min")
    expect(policy).to_contain_text("once through")

    # Keyboard only: a second level with targets and a wait, then the repeat count.
    form = page.locator("#level-form")
    form.get_by_label("Service").fill("ledger")
    form.get_by_label("Level").fill("3")
    form.get_by_label("Targets").fill("carol, oncall:ledger-db")
    form.get_by_label("Wait").fill("12")
    form.get_by_label("Wait").press("Enter")
    expect(policy.locator("li")).to_have_count(2)
    expect(policy.locator("li").nth(1)).to_have_text("Level 3: carol, on call for ledger-db, wait 12 min")
    repeat = page.locator("#policy-form")
    repeat.get_by_label("Service").fill("ledger")
    repeat.get_by_label("Repeat").fill("2")
    repeat.get_by_label("Repeat").press("Enter")
    expect(policy).to_contain_text("2 more rounds (3 in all)")
    assert client.expect(client.get(server, "/api/escalation/policies/ledger"))["repeat"] == 2


def test_a_rotation_from_the_form_shows_in_the_final_schedule_with_its_gaps(console, server):
    console.sign_in(route="oncall")
    page = console.page
    form = page.locator("#rotation-form")
    form.get_by_label("Service").fill("checkout")
    form.get_by_label("Name").fill("office hours")
    form.get_by_label("Participants, in turn").fill("ann, ben")
    form.get_by_label("Shift length").fill("1")
    form.get_by_label("Unit").select_option("days")
    form.get_by_label("Handoff time (local to the zone)").fill("09:00")
    form.get_by_label("Time zone (IANA)").fill("UTC")
    for day in ("mon", "tue", "wed", "thu", "fri"):
        form.get_by_label(day, exact=True).check()
    form.get_by_label("From", exact=True).fill("09:00")
    form.get_by_label("Until", exact=True).fill("17:00")
    form.get_by_role("button", name="Add rotation").click()

    expect(page.locator("#rotations")).to_contain_text("ann → ben")
    expect(page.locator("#rotations")).to_contain_text("mon, tue, wed, thu, fri 09:00–17:00")
    schedule = page.locator(".schedule[data-service='checkout']")
    # Nights and weekends are holes in a business-hours-only schedule, and the page says so.
    expect(schedule.locator(".gap-badge")).to_contain_text("gaps")
    expect(schedule.locator(".bar .segment.gap").first).to_be_visible()
    schedule.locator("summary").click()
    expect(schedule.locator("tr.gap-row").first).to_contain_text("Nobody (gap)")
    expect(schedule.locator("tbody")).to_contain_text("Rotation office hours (layer 1)")
    final = client.expect(client.get(server, "/api/oncall/shifts/?service_name=checkout"))
    assert schedule.locator("tbody tr").count() == len(final["intervals"])
    console.screenshot("schedule")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the schedule of checkout as a calendar file").click()
    calendar = open(download.value.path(), encoding="utf-8").read()
    assert calendar.startswith("BEGIN:VCALENDAR") and "SUMMARY:On call for checkout: ann" in calendar

    page.get_by_role("button", name="Remove rotation office hours of checkout").click()
    expect(page.locator("#rotations")).to_have_count(0)


def test_metrics_page(console, server):
    for service, title in [
        ("ledger", "Ledger writes slow"),
        ("ledger", "Ledger replica down"),
        ("mail", "Bounce rate"),
    ]:
        incident = client.expect(client.trigger(server, service, title), 201)
        client.expect(client.post(server, f"/api/incidents/{incident['id']}/acknowledge/"))
        if title != "Bounce rate":
            client.expect(client.post(server, f"/api/incidents/{incident['id']}/resolve/"))
    console.sign_in(route="metrics")
    page = console.page
    expect(page.locator("#mtta .tile-value")).not_to_have_text("—")
    expect(page.locator("#mttr .tile-value")).not_to_have_text("—")
    table = page.locator("#metrics-services")
    expect(table.locator("tr", has_text="ledger")).to_be_visible()
    expect(page.locator("#response-chart rect.bar-mtta").first).to_be_visible()
    expect(page.locator("#counts-chart rect.bar-resolved").first).to_be_visible()
    assert "ledger" in page.locator("#response-chart").get_attribute("aria-label")
    console.screenshot("metrics")


def test_a_responder_sees_no_admin_forms(console, server):
    token = client.make_key(server, "responder", user="rita")
    shift(server, "search-api", "carol")
    incident = client.expect(client.trigger(server, "responder-svc", "Queue backlog"), 201)
    console.sign_in(token)
    expect(console.page.locator("#who-role")).to_have_text("responder")
    expect(
        row(console, incident["id"]).get_by_role("button", name=f"Acknowledge incident {incident['id']}")
    ).to_be_visible()
    console.go("oncall")
    expect(console.page.locator("#oncall-now .card").first).to_be_visible()
    expect(console.page.locator("#shift-form")).to_have_count(0)
    expect(console.page.locator("#level-form")).to_have_count(0)
    expect(console.page.get_by_role("button", name=re.compile("^Remove"))).to_have_count(0)


def test_an_integration_key_only_triggers(console, server):
    token = client.make_key(server, "integration", services=["alarms"])
    console.sign_in(token, route="")
    page = console.page
    expect(page.get_by_role("heading", name="Trigger an incident")).to_be_visible()
    expect(page.locator("#nav a:visible")).to_have_text(["Trigger"])
    page.get_by_label("Title").fill("Disk full on db-3")
    page.get_by_role("button", name="Trigger incident").click()
    expect(page.locator("#trigger-outcome")).to_contain_text("Opened incident #")
    expect(page.locator("#trigger-link")).to_have_count(0)
    console.go("metrics")
    expect(page.locator("#forbidden")).to_contain_text("403 Forbidden")


def test_a_revoked_key_signs_out_with_the_reason(console, server):
    created = client.expect(
        client.post(server, "/api/keys/", {"name": "short-lived", "role": "responder", "user": "sam"}), 201
    )
    console.sign_in(created["token"])
    expect(console.page.locator("#refreshed")).to_contain_text("refreshed")
    client.expect(client.request(server, "DELETE", f"/api/keys/{created['id']}/"))
    expect(console.page.locator("#notice")).to_contain_text("401 Unauthorized")
    expect(console.page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert console.page.evaluate("sessionStorage.getItem('oncall.key')") is None


def test_sign_out_forgets_the_key(console):
    console.sign_in()
    console.page.get_by_role("button", name="Sign out").click()
    expect(console.page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert console.page.evaluate("sessionStorage.getItem('oncall.key')") is None
    console.page.reload()
    expect(console.page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_keyboard_and_phone(phone, server):
    incident = client.expect(client.trigger(server, "phone", "Checkout error rate above 5%"), 201)
    phone.sign_in()
    page = phone.page
    expect(page.locator("#incidents tbody tr[data-id]").first).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px wide)"
    phone.screenshot("incidents-phone", full_page=False)
    # Tab reaches the acknowledge button and Enter presses it; the menu works from the keyboard.
    target = f"Acknowledge incident {incident['id']}"
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('aria-label')") == target:
            break
    else:
        raise AssertionError(f"Tab never reached the button {target!r}")
    page.keyboard.press("Enter")
    expect(row(phone, incident["id"])).to_contain_text("ACKNOWLEDGED")
    page.locator("#nav a[data-page='metrics']").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Metrics", exact=True)).to_be_visible()


def test_an_escalation_is_announced_and_can_be_acknowledged(console, server):
    level = {"service_name": "storage", "level": 1, "user": "erin"}
    client.expect(client.post(server, "/api/escalation/levels/", level), 201)
    created = client.expect(client.trigger(server, "storage", "Volume latency above 200 ms"), 201)
    console.sign_in()
    line = row(console, created["id"])
    expect(line).to_contain_text("TRIGGERED")
    console.watching()
    console.page.wait_for_timeout(1100)  # the incident becomes due for escalation after 1 s
    client.expect(client.post(server, "/api/incidents/escalate/check/"))
    expect(line).to_contain_text("ESCALATED")
    toast = console.page.locator("#toasts .toast", has_text=f"#{created['id']} (")
    expect(toast).to_contain_text("is now ESCALATED")
    line.get_by_role("button", name=f"Acknowledge incident {created['id']}").click()
    expect(line).to_contain_text("ACKNOWLEDGED")
    console.go(f"incidents/{created['id']}")
    expect(console.page.locator("#timeline")).to_contain_text("Escalated to level 1: paging erin.")
