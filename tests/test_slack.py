"""Slack: pages as direct messages through the Web API (a local fake Slack), and the
Acknowledge and Resolve buttons, verified by Slack's v0 signature within 5 minutes."""

import hashlib
import hmac
import json
from urllib.parse import urlencode

import pytest

from chalicelib import clock, config
from chalicelib.notify import delivery
from tests.flows import get_incident, on_call_now, post, trigger_ok
from tests.receivers import Receiver

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
MEMBER = "U024BE7LH"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def slack(monkeypatch):
    """A fake Slack: its Web API and its response URLs are one local receiver."""
    with Receiver() as fake:
        base = fake.url.removesuffix("/hooks/incoming")
        monkeypatch.setenv("ONCALL_SLACK_API_URL", f"{base}/api")
        monkeypatch.setenv("ONCALL_SLACK_BOT_TOKEN", "xoxb-test-token")
        monkeypatch.setenv("ONCALL_SLACK_SIGNING_SECRET", SECRET)
        config.settings.cache_clear()
        fake.base = base
        yield fake
    config.settings.cache_clear()


def slack_person(client, name="alice", member=MEMBER):
    assert post(client, "/api/users/", {"name": name}).status_code == 201
    method = post(client, f"/api/users/{name}/contact-methods/", {"kind": "slack", "address": member}).json_body
    rule = {"contact_method_id": method["id"], "delay_minutes": 0, "urgency": "high"}
    assert post(client, f"/api/users/{name}/notification-rules/", rule).status_code == 201
    return method


def press(client, slack, incident_id, action="acknowledge", member=MEMBER, *, at=None, secret=SECRET, tamper=False):
    """A button press as Slack sends it: a form with the JSON payload, signed."""
    payload = {
        "type": "block_actions",
        "user": {"id": member, "username": "alice"},
        "actions": [{"action_id": action, "value": str(incident_id), "type": "button"}],
        "response_url": f"{slack.base}/actions/T0/1/abc",
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    timestamp = str(int(at if at is not None else clock.now().timestamp()))
    signature = "v0=" + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    if tamper:
        body = body.replace(b"acknowledge", b"resolve")
    headers = {**FORM, "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}
    return client.anonymous.post("/api/integrations/slack/interactivity", headers=headers, body=body)


def test_a_page_reaches_the_member_as_a_direct_message_with_buttons(client, slack):
    slack_person(client)
    on_call_now(client, "payments", "alice")
    incident = trigger_ok(client, "payments", "checkout errors")
    outcome = delivery.run()
    assert outcome["delivered"] == 1, (
        outcome,
        [e["message"] for e in get_incident(client, incident["id"])["timeline"]],
    )
    [sent] = [r for r in slack.all() if r.path == "/api/chat.postMessage"]
    assert sent.headers["authorization"] == "Bearer xoxb-test-token"
    body = sent.json()
    assert body["channel"] == MEMBER and f"#{incident['id']} checkout errors" in body["text"]
    [buttons] = [block for block in body["blocks"] if block["type"] == "actions"]
    assert [b["action_id"] for b in buttons["elements"]] == ["acknowledge", "resolve"]
    assert {b["value"] for b in buttons["elements"]} == {str(incident["id"])}


def test_a_signed_press_acknowledges_as_the_member_and_updates_the_message(client, slack):
    slack_person(client)
    incident = trigger_ok(client, "payments", "checkout errors")
    answer = press(client, slack, incident["id"])
    assert answer.status_code == 200, answer.body
    assert answer.json_body == {"action": "acknowledged"}
    stored = get_incident(client, incident["id"])
    assert (stored["status"], stored["acknowledged_by"]) == ("ACKNOWLEDGED", "alice")
    [update] = [r for r in slack.all() if r.path == "/actions/T0/1/abc"]
    assert update.json()["replace_original"] is True and "ACKNOWLEDGED by alice" in update.json()["text"]

    assert press(client, slack, incident["id"], "resolve").json_body == {"action": "resolved"}
    assert get_incident(client, incident["id"])["resolved_by"] == "alice"


def test_forged_late_or_unverifiable_presses_are_refused_and_change_nothing(client, slack, monkeypatch):
    slack_person(client)
    incident = trigger_ok(client, "payments", "checkout errors")
    now = clock.now().timestamp()
    for refused in (
        press(client, slack, incident["id"], secret="not-the-secret"),
        press(client, slack, incident["id"], tamper=True),
        press(client, slack, incident["id"], at=now - 301),
        press(client, slack, incident["id"], at=now + 301),
    ):
        assert refused.status_code == 403, refused.body
    assert get_incident(client, incident["id"])["status"] == "TRIGGERED"

    monkeypatch.delenv("ONCALL_SLACK_SIGNING_SECRET")
    config.settings.cache_clear()
    assert press(client, slack, incident["id"]).status_code == 403


def test_a_member_who_is_no_one_here_is_told_so(client, slack):
    incident = trigger_ok(client, "payments", "checkout errors")
    answer = press(client, slack, incident["id"], member="U999999")
    assert answer.json_body == {"action": "unknown_user"}
    assert get_incident(client, incident["id"])["status"] == "TRIGGERED"
    [told] = [r for r in slack.all() if r.path.startswith("/actions/")]
    assert "not an oncall user" in told.json()["text"]


def test_a_member_slack_does_not_know_marks_the_method_failed(client, monkeypatch):
    with Receiver(reply=b'{"ok": false, "error": "channel_not_found"}') as fake:
        monkeypatch.setenv("ONCALL_SLACK_API_URL", fake.url.removesuffix("/hooks/incoming") + "/api")
        monkeypatch.setenv("ONCALL_SLACK_BOT_TOKEN", "xoxb-test-token")
        config.settings.cache_clear()
        try:
            slack_person(client)
            on_call_now(client, "payments", "alice")
            trigger_ok(client, "payments", "checkout errors")
            assert delivery.run()["failed"] == 1
        finally:
            config.settings.cache_clear()
    [method] = client.http.get("/api/users/alice/contact-methods/").json_body["contact_methods"]
    assert (method["state"], method["failure"]) == ("failed", "Slack knows no such member")


def test_the_signature_is_slacks_documented_v0_hmac():
    """A press signed by hand with the documented recipe verifies; a byte off does not."""
    from chalicelib.integration import slack as slack_module

    body = b"payload=%7B%7D"
    timestamp = str(int(clock.now().timestamp()))
    digest = hmac.new(SECRET.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {"x-slack-request-timestamp": timestamp, "x-slack-signature": f"v0={digest}"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ONCALL_SLACK_SIGNING_SECRET", SECRET)
        config.settings.cache_clear()
        try:
            slack_module.verify(headers, body, clock.now())
            with pytest.raises(Exception, match="does not verify"):
                slack_module.verify(headers, body + b" ", clock.now())
        finally:
            config.settings.cache_clear()
