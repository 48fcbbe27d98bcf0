"""The console's alerts outside the tab (browser notifications, sound, toasts that wait
for an acknowledgement), the final schedule's axis and legend, calendar subscriptions,
and an axe-core accessibility check of every page."""

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Console
from tests.browser.test_console import iso, row, shift
from tests.e2e import client

# Wraps window.Notification before the console loads: each notification raised is recorded.
RECORD_NOTIFICATIONS = """
(() => {
  window.__notifications = [];
  const Real = window.Notification;
  if (!Real) return;
  class Recording extends Real {
    constructor(title, options) {
      window.__notifications.push({ title, body: options && options.body, tag: options && options.tag });
      super(title, options);
    }
  }
  window.Notification = Recording;
})();
"""

# A browser that has not been asked yet, whose person says yes when asked.
ASK_FOR_NOTIFICATIONS = """
(() => {
  window.__asked = 0;
  let permission = "default";
  Object.defineProperty(Notification, "permission", { configurable: true, get: () => permission });
  Notification.requestPermission = async () => {
    window.__asked += 1;
    permission = "granted";
    return permission;
  };
})();
"""


def _context(browser, server, **options):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB", timezone_id="UTC", **options)
    context.set_default_timeout(10_000)
    return context


@pytest.fixture
def notified(browser, server):
    """A console whose person allowed notifications, recording each one raised."""
    context = _context(browser, server)
    context.grant_permissions(["notifications"])
    context.add_init_script(RECORD_NOTIFICATIONS)
    view = Console(context.new_page(), server)
    yield view
    context.close()
    assert not view.errors, f"errors on the page (JavaScript, Content-Security-Policy): {view.errors}"
    assert not view.dialogs, f"the page opened dialogs: {view.dialogs}"


def test_a_new_incident_raises_a_notification_and_a_toast_that_waits_for_an_acknowledgement(notified, server):
    console = notified
    console.sign_in()
    page = console.page
    expect(page.locator("#allow-notifications")).to_be_hidden()
    expect(page.locator("#notifications-status")).to_have_text("Notifications on")
    console.watching()

    created = client.expect(client.trigger(server, "alerting", "Queue depth above 10k"), 201)
    toast = page.locator("#toasts .toast", has_text=f"New incident #{created['id']} on alerting")
    expect(toast).to_be_visible()
    page.wait_for_function("() => window.__notifications.length > 0")
    raised = page.evaluate("window.__notifications")
    assert len(raised) == 1, raised
    assert raised[0]["title"] == f"New incident #{created['id']} on alerting"
    assert raised[0]["body"] == "Queue depth above 10k"
    assert raised[0]["tag"] == f"incident-{created['id']}"
    # Unacknowledged: the toast stays until dismissed or acknowledged.
    expect(toast).to_have_class(re.compile(r"\bsticky\b"))
    client.expect(client.post(server, f"/api/incidents/{created['id']}/acknowledge/"))
    expect(page.locator("#toasts .toast", has_text="is now ACKNOWLEDGED")).to_be_visible()
    expect(toast).not_to_have_class(re.compile(r"\bsticky\b"))
    # An acknowledgement is no reason for a notification.
    assert page.evaluate("window.__notifications.length") == 1

    # The sound is a choice kept in localStorage.
    sound = page.get_by_label("Sound")
    expect(sound).not_to_be_checked()
    sound.check()
    assert page.evaluate("localStorage.getItem('oncall.alertSound')") == "1"
    page.reload()
    expect(page.get_by_label("Sound")).to_be_checked()


def test_allow_notifications_asks_the_browser(browser, server):
    context = _context(browser, server)
    context.add_init_script(ASK_FOR_NOTIFICATIONS)
    console = Console(context.new_page(), server)
    try:
        console.sign_in()
        button = console.page.get_by_role("button", name="Allow notifications")
        expect(button).to_be_visible()
        button.click()
        expect(console.page.locator("#notifications-status")).to_have_text("Notifications on")
        expect(button).to_be_hidden()
        assert console.page.evaluate("window.__asked") == 1
        assert not console.errors, console.errors
    finally:
        context.close()


def _shift(server, service, user, start, end):
    body = {"service_name": service, "user": user, "start_time": iso(start), "end_time": iso(end), "is_override": False}
    return client.expect(client.post(server, "/api/oncall/schedules/", body), 201)


def test_the_final_schedule_has_an_axis_a_now_marker_and_a_legend(console, server):
    now = datetime.now(timezone.utc)
    _shift(server, "atlas", "ann", now - timedelta(minutes=30), now + timedelta(minutes=45))
    _shift(server, "atlas", "bob", now + timedelta(hours=2), now + timedelta(hours=50))
    _shift(server, "borealis", "ann", now - timedelta(hours=1), now + timedelta(hours=30))
    _shift(server, "cosmos", "carol", now - timedelta(hours=1), now + timedelta(days=16))
    console.sign_in(route="oncall")
    page = console.page
    atlas = page.locator(".schedule[data-service='atlas']")
    # A date at each midnight of the two weeks, and a line at now.
    labels = atlas.locator(".schedule-axis .tick-label")
    expect(labels.first).to_have_text(re.compile(r"^[A-Z][a-z]{2} \d{1,2} [A-Z][a-z]{2}$"))
    assert labels.count() >= 13
    expect(atlas.locator(".now-marker")).to_have_count(1)
    expect(atlas.locator(".now-label")).to_have_text("now")
    expect(page.locator(".schedule .now-marker")).to_have_count(page.locator(".schedule").count())

    # Each person once in the legend, in one colour everywhere.
    legend = page.locator("#schedule-legend li[data-user]")
    users = legend.all_inner_texts()
    assert len(users) == len(set(users)) and {"ann", "bob", "carol"} <= set(users), users
    expect(page.locator("#schedule-legend")).to_contain_text("Nobody on call (gap)")
    colour = "el => getComputedStyle(el).backgroundColor"
    ann = atlas.locator(".segment[aria-label^='ann:']")
    bob = atlas.locator(".segment[aria-label^='bob:']")
    assert ann.evaluate(colour) != bob.evaluate(colour)
    elsewhere = page.locator(".schedule[data-service='borealis'] .segment[aria-label^='ann:']")
    assert ann.evaluate(colour) == elsewhere.evaluate(colour)
    assert ann.evaluate(colour) == legend.filter(has_text="ann").locator(".swatch").evaluate(colour)
    # A shift too short for its name says who and when in its title and label.
    expect(ann).to_have_text("")
    assert ann.get_attribute("title") == ann.get_attribute("aria-label")
    assert re.match(r"ann: .+ – .+", ann.get_attribute("aria-label"))
    expect(bob).to_have_text("bob")

    # Counts in plain English.
    expect(page.locator(".schedule[data-service='cosmos'] summary")).to_contain_text("1 interval from")
    expect(atlas.locator("summary")).to_contain_text(re.compile(r"^\d+ intervals from"))
    expect(atlas.locator(".gap-badge")).to_have_text(re.compile(r"^\d+ gaps$"))
    assert not page.get_by_text(re.compile(r"\b1 (intervals|gaps|subscriptions)\b")).count()


def test_subscribe_to_a_calendar_and_revoke_it(browser, console, server):
    shift(server, "payments", "rita")
    token = client.make_key(server, "responder", user="rita")
    console.sign_in(token, route="oncall")
    page = console.page
    expect(page.locator("#calendar-feeds")).to_contain_text("None yet.")
    page.get_by_role("button", name="Subscribe to the schedule of payments in a calendar app").click()
    shown = page.locator("#feed-new .feed-once")
    expect(shown).to_contain_text("Shown only this once")
    url = page.get_by_label("Web address (https)", exact=True).input_value()
    webcal = page.get_by_label("Calendar app link (webcal)", exact=True).input_value()
    assert re.fullmatch(r"https?://[^/]+/calendar/cal_[\w-]+", url), url
    assert webcal == "webcal://" + url.split("://", 1)[1]
    assert page.locator("#feed-webcal-link").get_attribute("href") == webcal
    expect(page.get_by_role("button", name="Copy the web address (https)")).to_be_visible()
    feeds = page.locator("#feeds-table tbody tr")
    expect(feeds).to_have_count(1)
    expect(feeds.first).to_contain_text("The schedule of payments")
    expect(page.locator("#calendar-feeds")).to_contain_text("1 subscription (at most 10)")

    page.get_by_role("button", name="Subscribe to my shifts").click()
    expect(feeds).to_have_count(2)
    expect(page.locator("#calendar-feeds")).to_contain_text("2 subscriptions")
    expect(page.locator("#feeds-table")).to_contain_text("The shifts of rita")
    console.screenshot("calendar-subscriptions")

    # The link is the credential: a browser with no key reads the calendar.
    stranger = browser.new_context()
    try:
        answer = stranger.request.get(url)
        assert answer.status == 200, answer.text()
        assert answer.headers["content-type"].startswith("text/calendar")
        assert answer.text().startswith("BEGIN:VCALENDAR") and "rita" in answer.text()

        page.get_by_role("button", name=re.compile(r"^Revoke the subscription to the schedule of payments")).click()
        expect(feeds).to_have_count(1)
        expect(page.locator("#feeds-table")).not_to_contain_text("payments")
        assert stranger.request.get(url).status == 404
        # Revoking the subscription on show takes its link off the page too.
        expect(shown).to_contain_text("New subscription to your shifts")
        page.get_by_role("button", name=re.compile(r"^Revoke the subscription to the shifts of rita")).click()
        expect(page.locator("#calendar-feeds")).to_contain_text("None yet.")
        expect(shown).to_have_count(0)
    finally:
        stranger.close()


AXE = Path(__import__("axe_playwright_python").__file__).with_name("axe.min.js")


def _where(violation) -> list:
    return [node["target"] for node in violation["nodes"]][:5]


def _serious_violations(page) -> list[str]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    results = page.evaluate("async () => await axe.run(document, { resultTypes: ['violations'] })")
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at {_where(violation)}"
        for violation in results["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


def test_every_page_passes_axe(console, server):
    page = console.page
    incident = client.expect(client.trigger(server, "axe", "Disk almost full", description="93% used."), 201)
    shift(server, "axe", "rita")
    found = {}
    console.open()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    found["sign-in"] = _serious_violations(page)
    console.sign_in()
    expect(row(console, incident["id"])).to_be_visible()
    found["incidents"] = _serious_violations(page)
    console.go(f"incidents/{incident['id']}")
    expect(page.locator("#timeline li").first).to_be_visible()
    found["incident"] = _serious_violations(page)
    console.go("trigger")
    expect(page.get_by_role("button", name="Trigger incident")).to_be_visible()
    found["trigger"] = _serious_violations(page)
    console.go("oncall")
    expect(page.locator(".schedule[data-service='axe']")).to_be_visible()
    found["on-call"] = _serious_violations(page)
    console.go("metrics")
    expect(page.locator("#metrics-services")).to_be_visible()
    found["metrics"] = _serious_violations(page)
    # A person's on-call page, a new subscription on show.
    page.get_by_role("button", name="Sign out").click()
    console.sign_in(client.make_key(server, "responder", user="rita"), route="oncall")
    page.get_by_role("button", name="Subscribe to my shifts").click()
    expect(page.locator("#feed-new .feed-once")).to_be_visible()
    found["on-call, a responder"] = _serious_violations(page)
    assert not any(found.values()), {name: problems for name, problems in found.items() if problems}


def test_the_alert_controls_fit_a_phone(phone):
    phone.sign_in()
    page = phone.page
    expect(page.get_by_role("button", name="Allow notifications")).to_be_visible()
    expect(page.get_by_label("Sound")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px wide)"
