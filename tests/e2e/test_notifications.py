"""Outbound notifications end to end: the real local server (`python -m oncall_local`)
with its delivery and escalation timers at one second, a Slack channel and a signed
webhook channel pointing at loopback receivers, the webhook one failing twice first."""

import re
import time
from collections import Counter

from tests.e2e.client import expect, get, make_key, post, request, trigger
from tests.receivers import Receiver, verify_webhook

DEADLINE = 30.0
POLL = 0.1
SERVICE = "payments"
EVENTS = ["incident.triggered", "incident.escalated", "incident.acknowledged", "incident.resolved"]
SLACK_HEADLINE = re.compile(r"(Triggered|Acknowledged|Resolved|Escalated): #(\d+) ")


def wait_until(what: str, check, deadline: float):
    """Poll `check` (every POLL s) until it returns something truthy; fail at the deadline."""
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(POLL)


def add_channel(url: str, kind: str, name: str, target: str) -> dict:
    body = {"service_name": SERVICE, "kind": kind, "name": name, "url": target}
    return expect(post(url, "/api/notifications/channels", body), 201)


def slack_event(body: dict) -> str:
    match = SLACK_HEADLINE.search(body["text"])
    assert match, body
    return f"incident.{match.group(1).lower()}"


def test_every_transition_reaches_slack_and_a_flaky_signed_webhook_exactly_once(start_server):
    local = start_server(
        ONCALL_DELIVER_INTERVAL_SECONDS="1",
        ONCALL_NOTIFY_RETRY_SECONDS="1",
        ONCALL_ESCALATE_AFTER_SECONDS="2",
        ONCALL_SWEEP_INTERVAL_SECONDS="1",
    )
    url = local.url
    deadline = time.monotonic() + DEADLINE
    with Receiver() as room, Receiver(fail_with=[503, 503]) as hook_receiver:
        add_channel(url, "slack", "#payments-oncall", room.url)
        hook = add_channel(url, "webhook", "incident bus", hook_receiver.url)
        secret = hook["secret"]
        listed = expect(get(url, "/api/notifications/channels?service_name=payments"))["channels"]
        assert {channel["kind"] for channel in listed} == {"slack", "webhook"}
        assert secret not in str(listed)

        opened = expect(trigger(url, SERVICE, "checkout <errors> & timeouts"), 201)
        number = opened["id"]
        folded = expect(trigger(url, SERVICE, "checkout <errors> & timeouts"), 200)
        assert folded["deduplicated"] is True and folded["id"] == number

        # The sweep timer escalates it (nobody acknowledged within 2 s), then alice takes it.
        wait_until(
            "the escalation",
            lambda: expect(get(url, f"/api/incidents/{number}/"))["status"] == "ESCALATED",
            deadline,
        )
        alice = make_key(url, "responder", "alice")
        expect(request(url, "PUT", f"/api/incidents/{number}/acknowledge/", token=alice))
        resolved = expect(post(url, f"/api/incidents/{number}/resolve/", token=alice))
        assert resolved["status"] == "RESOLVED"

        wait_until("Slack's 4 messages", lambda: len(room.accepted()) >= 4, deadline)
        wait_until("the webhook's 4 messages", lambda: len(hook_receiver.accepted()) >= 4, deadline)

        def recorded() -> list[str]:
            timeline = expect(get(url, f"/api/incidents/{number}/"))["timeline"]
            notes = [entry["message"] for entry in timeline if entry["kind"] == "notification"]
            return notes if sum(note.startswith("Notified") for note in notes) >= 8 else []

        notes = wait_until("8 notifications on the timeline", recorded, deadline)
        # Nothing is left owed or due: no repeat can still be on its way.
        assert expect(post(url, "/api/notifications/deliver"))["attempted"] == 0
        slack_requests, hook_requests = room.all(), hook_receiver.all()

    # Slack: each transition once, in order, markup escaped, linked to this server's console.
    assert [slack_event(r.json()) for r in slack_requests] == EVENTS
    assert all(r.ok for r in slack_requests)
    link = f"<{url}/#/incidents/{number}|#{number} checkout &lt;errors&gt; &amp; timeouts>"
    for r in slack_requests:
        body = r.json()
        assert link in body["blocks"][0]["text"]["text"], body
        assert "<errors>" not in r.body.decode()

    # The webhook: two 503s first, then each transition exactly once, every attempt signed.
    assert [r.answered for r in hook_requests].count(503) == 2
    assert len(hook_requests) == 6
    accepted = [r for r in hook_requests if r.ok]
    assert Counter(r.json()["event"] for r in accepted) == Counter(EVENTS)
    assert sorted(r.json()["event_id"] for r in accepted) == [f"{number}-{n}" for n in range(4)]
    delivered_ids = {r.headers["x-oncall-delivery"] for r in accepted}
    assert len(delivered_ids) == 4
    for r in hook_requests:
        assert verify_webhook(secret, r), r.headers
        assert r.headers["x-oncall-event"] == r.json()["event"]
        # A retry carries the same delivery id as the attempt that failed.
        assert r.headers["x-oncall-delivery"] in delivered_ids
    # Retries wait for the backoff (ONCALL_NOTIFY_RETRY_SECONDS=1): 1 s, then 3 s.
    for delivery_id in delivered_ids:
        attempts = [r.at for r in hook_requests if r.headers["x-oncall-delivery"] == delivery_id]
        for n, (before, after) in enumerate(zip(attempts, attempts[1:], strict=False), start=1):
            assert after - before >= 3 ** (n - 1) - 0.05, (delivery_id, attempts)
    by_event = {r.json()["event"]: r.json() for r in accepted}
    assert by_event["incident.acknowledged"]["actor"] == "alice"
    assert by_event["incident.escalated"]["incident"]["status"] == "ESCALATED"
    for body in accepted:
        incident = body.json()["incident"]
        assert incident["id"] == number and incident["service_name"] == SERVICE
        assert incident["title"] == "checkout <errors> & timeouts"
        assert incident["url"] == f"{url}/#/incidents/{number}"

    # The timeline shows every attempt: 8 delivered, the 2 failures with their retry.
    assert sum(note.startswith("Notified Slack '#payments-oncall'") for note in notes) == 4
    assert sum(note.startswith("Notified Webhook 'incident bus'") for note in notes) == 4
    failures = [note for note in notes if note.startswith("Could not notify")]
    assert len(failures) == 2, notes
    assert all("HTTP 503" in note and "next attempt in" in note for note in failures), failures
    assert len(notes) == 10
    assert "Traceback" not in local.output()


def test_make_run_refuses_loopback_receivers_when_private_webhooks_are_turned_off(start_server):
    """`make run` allows private webhooks by default (the test above relies on it); set to 0
    it refuses a loopback receiver at creation, as a deployed stage does."""
    local = start_server(ONCALL_ALLOW_PRIVATE_WEBHOOKS="0")
    with Receiver() as receiver:
        refused = post(
            local.url,
            "/api/notifications/channels",
            {"service_name": SERVICE, "kind": "webhook", "name": "loopback", "url": receiver.url},
        )
    assert refused.status == 400, refused
    assert refused.json()["field"] == "url"
    assert "private network" in refused.json()["error"]
    assert expect(get(local.url, "/api/notifications/channels"))["channels"] == []
