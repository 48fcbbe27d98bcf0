"""Pages: an incident that becomes someone's reaches them through their own contact
methods and rules (SMS through SNS, email through SES, both in moto), once, at the
rule's delay, and not after an acknowledgement."""

import boto3
import pytest

from chalicelib import config
from chalicelib.models import Delivery
from chalicelib.notify import delivery
from chalicelib.notify.pages import MAX_PAGES
from chalicelib.transport import aws
from tests.flows import (
    acknowledge,
    check_escalations,
    get_incident,
    on_call_now,
    post,
    run_threads,
    trigger_ok,
)
from tests.messages import code_sent_to, sent_email, sent_sms

SENDER = "oncall@example.com"


@pytest.fixture(autouse=True)
def email_sender(monkeypatch):
    monkeypatch.setenv("ONCALL_EMAIL_FROM", SENDER)
    config.settings.cache_clear()
    aws.forget_clients()
    boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress=SENDER)
    yield
    config.settings.cache_clear()
    aws.forget_clients()


def person(client, name, *, sms=None, email=None, delays=(0,), urgency="high", **fields) -> dict:
    """A user with a verified SMS number and/or an email address, and a rule per delay
    through each."""
    assert post(client, "/api/users/", {"name": name, **fields}).status_code == 201
    methods = {}
    if sms:
        made = post(client, f"/api/users/{name}/contact-methods/", {"kind": "sms", "address": sms}).json_body
        code = code_sent_to(sms)
        assert post(client, f"/api/users/{name}/contact-methods/{made['id']}/verify", {"code": code}).status_code == 200
        methods["sms"] = made["id"]
    if email:
        made = post(client, f"/api/users/{name}/contact-methods/", {"kind": "email", "address": email}).json_body
        methods["email"] = made["id"]
    for kind, method_id in methods.items():
        for delay in delays if kind == "sms" else (5,):
            rule = {"contact_method_id": method_id, "delay_minutes": delay, "urgency": urgency}
            assert post(client, f"/api/users/{name}/notification-rules/", rule).status_code == 201
    return methods


def pages_to(number: str) -> list[str]:
    """The SMS pages (not verification codes) sent to `number`."""
    return [text for to, text in sent_sms() if to == number and text.startswith("oncall #")]


def timeline_messages(client, incident_id) -> list[str]:
    return [entry["message"] for entry in get_incident(client, incident_id)["timeline"]]


def test_a_page_goes_at_each_rules_delay_and_is_on_the_timeline(client, manual_clock):
    person(client, "alice", sms="+14155550100", email="alice@example.com")
    on_call_now(client, "payments", "alice")
    incident = trigger_ok(client, "payments", "checkout errors", severity="critical")

    assert delivery.run()["delivered"] == 1
    [page] = pages_to("+14155550100")
    assert page.startswith(f"oncall #{incident['id']} CRITICAL payments: checkout errors")
    assert sent_email() == []

    manual_clock.advance(seconds=4 * 60)
    assert delivery.run()["attempted"] == 0
    manual_clock.advance(seconds=60)
    assert delivery.run()["delivered"] == 1
    [(to, subject, body)] = sent_email()
    assert to == "alice@example.com" and f"#{incident['id']} checkout errors" in subject
    assert "Service: payments" in body

    messages = timeline_messages(client, incident["id"])
    assert any(m.startswith("Paged alice by SMS ...0100 of triggered") for m in messages), messages
    assert any(m.startswith("Paged alice by email alice@example.com of triggered") for m in messages), messages
    assert "+14155550100" not in " ".join(messages)


def test_an_acknowledgement_cancels_the_pages_not_yet_sent(client, manual_clock):
    person(client, "alice", sms="+14155550100", email="alice@example.com")
    on_call_now(client, "payments", "alice")
    incident = trigger_ok(client, "payments", "checkout errors")
    delivery.run()
    acknowledge(client, incident["id"], user="alice")

    manual_clock.advance(seconds=5 * 60)
    outcome = delivery.run()
    assert outcome["delivered"] == 0 and outcome["attempted"] == 1
    assert sent_email() == [] and len(pages_to("+14155550100")) == 1
    assert "Did not page alice: acknowledged by alice first." in timeline_messages(client, incident["id"])


def test_an_escalation_to_a_level_of_two_pages_both(client, manual_clock):
    person(client, "carol", sms="+14155550101")
    person(client, "dave", sms="+14155550102")
    level = {"service_name": "db", "level": 1, "targets": [{"user": "carol"}, {"user": "dave"}], "wait_minutes": 5}
    assert post(client, "/api/escalation/levels/", level).status_code == 201
    incident = trigger_ok(client, "db", "replication stopped")
    delivery.run()
    assert sent_sms()[-1][1].startswith("oncall: your verification code")  # nobody on call: no page yet

    manual_clock.advance(seconds=301)
    assert check_escalations(client)["incidents"] == [incident["id"]]
    assert delivery.run()["delivered"] == 2
    assert len(pages_to("+14155550101")) == 1 and len(pages_to("+14155550102")) == 1


def test_overlapping_runs_send_each_page_once(client):
    person(client, "alice", sms="+14155550100")
    on_call_now(client, "payments", "alice")
    trigger_ok(client, "payments", "checkout errors")
    results, errors = run_threads([delivery.run] * 4)
    assert errors == [None] * 4
    assert sum(result["delivered"] for result in results) == 1
    assert len(pages_to("+14155550100")) == 1


def test_someone_who_cannot_be_paged_is_named_on_the_timeline(client):
    post(client, "/api/users/", {"name": "erin"})
    on_call_now(client, "payments", "erin")
    incident = trigger_ok(client, "payments", "checkout errors")
    delivery.run()
    messages = timeline_messages(client, incident["id"])
    assert "Could not page erin: no verified contact method in a high-urgency rule." in messages
    on_call_now(client, "search", "frank")
    other = trigger_ok(client, "search", "slow")
    delivery.run()
    assert any(m.startswith("Could not page frank: there is no user") for m in timeline_messages(client, other["id"]))


def test_quiet_hours_hold_back_low_urgency_only(client):
    # The tests' clock says 12:00 UTC.
    person(
        client,
        "alice",
        sms="+14155550100",
        urgency="low",
        time_zone="UTC",
        quiet_hours={"start": "11:00", "end": "13:00"},
    )
    on_call_now(client, "payments", "alice")
    low = trigger_ok(client, "payments", "disk at 80%", severity="warning")
    delivery.run()
    assert pages_to("+14155550100") == []
    assert "Did not page alice: a low-urgency incident during their quiet hours." in timeline_messages(
        client, low["id"]
    )


def test_a_page_that_fails_for_good_marks_the_method_failed(client, manual_clock, monkeypatch):
    person(client, "alice", email="alice@example.com")
    monkeypatch.setenv("ONCALL_EMAIL_FROM", "unverified@example.com")  # SES refuses to send from it
    config.settings.cache_clear()
    on_call_now(client, "payments", "alice")
    incident = trigger_ok(client, "payments", "checkout errors")
    manual_clock.advance(seconds=5 * 60)
    assert delivery.run()["failed"] == 1
    [method] = client.http.get("/api/users/alice/contact-methods/").json_body["contact_methods"]
    assert (method["state"], method["failure"]) == ("failed", "SES rejected the message")
    messages = timeline_messages(client, incident["id"])
    assert any("Could not page alice by email alice@example.com" in m and "will not retry" in m for m in messages)

    # A failed method pages no more: the next incident names it on the timeline instead.
    later = trigger_ok(client, "payments", "checkout errors again")
    delivery.run()
    assert "Could not page alice: no verified contact method in a high-urgency rule." in timeline_messages(
        client, later["id"]
    )


class FlakySns:
    """SNS that throttles the first publish and takes the next ones."""

    def __init__(self) -> None:
        self.published: list[dict] = []

    def publish(self, **fields) -> dict:
        from botocore.exceptions import ClientError

        self.published.append(fields)
        if len(self.published) == 1:
            raise ClientError({"Error": {"Code": "Throttled", "Message": "slow down"}}, "Publish")
        return {"MessageId": "0d6a1f3e-7c55-5a3b-9b1e-000000000001"}


def test_a_page_that_fails_for_now_is_retried_with_backoff(client, manual_clock):
    person(client, "alice", sms="+14155550100")
    on_call_now(client, "payments", "alice")
    flaky = FlakySns()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(aws, "sns_client", lambda: flaky)
        incident = trigger_ok(client, "payments", "checkout errors")
        assert delivery.run()["retrying"] == 1
        messages = " ".join(timeline_messages(client, incident["id"]))
        assert "Could not page alice by SMS ...0100 of triggered (attempt 1 of 8): SNS is throttling SMS" in messages
        assert delivery.run()["attempted"] == 0  # not due yet: the backoff holds it
        manual_clock.advance(seconds=config.settings().notify_retry_seconds)
        assert delivery.run()["delivered"] == 1
    assert [call["PhoneNumber"] for call in flaky.published] == ["+14155550100", "+14155550100"]


def test_a_reassignment_cancels_the_pages_of_the_one_it_was_taken_from(client, manual_clock):
    person(client, "alice", sms="+14155550100", email="alice@example.com")
    on_call_now(client, "payments", "alice")
    incident = trigger_ok(client, "payments", "checkout errors")
    delivery.run()
    assert post(client, f"/api/incidents/{incident['id']}/reassign/", {"user": "bob"}).status_code == 200
    manual_clock.advance(seconds=5 * 60)
    delivery.run()
    assert sent_email() == []
    assert "Did not page alice: it is bob's now." in timeline_messages(client, incident["id"])


def test_a_level_with_more_rules_than_a_transaction_holds_pages_as_many_as_fit(client, manual_clock):
    """Five targets with 20 rules each would be 100 pages: the hand-over writes 79 and
    says where it stopped (80 items with the warning, and the incident and its timeline
    entry: within DynamoDB's 100 a transaction)."""
    names = [f"p{n}" for n in range(5)]
    for name in names:
        assert post(client, "/api/users/", {"name": name}).status_code == 201
        method = post(
            client, f"/api/users/{name}/contact-methods/", {"kind": "email", "address": f"{name}@example.com"}
        )
        for delay in range(20):
            rule = {"contact_method_id": method.json_body["id"], "delay_minutes": delay, "urgency": "high"}
            assert post(client, f"/api/users/{name}/notification-rules/", rule).status_code == 201
    level = {"service_name": "db", "level": 1, "targets": [{"user": name} for name in names], "wait_minutes": 5}
    assert post(client, "/api/escalation/levels/", level).status_code == 201
    incident = trigger_ok(client, "db", "replication stopped")
    delivery.run()
    manual_clock.advance(seconds=301)
    check_escalations(client)
    assert delivery.run()["dispatched"] == 1
    pages = [d for d in Delivery.query(incident["id"]) if d.contact_method_id]
    assert len(pages) == MAX_PAGES - 1
    assert "Stopped at 79 pages for one transition." in timeline_messages(client, incident["id"])
