"""Outbound notifications in process: channels over the API, the outbox every
transition writes, delivery runs that lease, send, retry and record, to real HTTP
receivers on loopback (tests/receivers.py) and to an SNS topic in moto."""

import json
import re
import threading
import time
from collections import Counter
from datetime import timedelta

import boto3
import pytest

from chalicelib import clock, db, shards
from chalicelib.apikey import access
from chalicelib.config import settings
from chalicelib.incident import incidents, store
from chalicelib.models import NOTIFIER_STREAM_FILTER, Delivery, Incident
from chalicelib.notify import channels, delivery, delivery_store, outbox
from chalicelib.transport import aws
from tests.capacity import metered
from tests.capacity_model import Stream
from tests.conftest import START
from tests.flows import (
    JSON,
    acknowledge,
    add_level,
    all_pages,
    as_actor,
    check_escalations,
    get_incident,
    on_call_now,
    post,
    resolve,
    right_after,
    run_threads,
    trigger_ok,
)
from tests.receivers import Received, Receiver, Trickler, closed_port_url, verify_webhook

CHANNELS = "/api/notifications/channels"
SLACK_HEADLINE = re.compile(r"(Triggered|Acknowledged|Resolved|Escalated): #(\d+) ")
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:oncall-pages"


@pytest.fixture
def receiver():
    with Receiver() as started:
        yield started


# --- helpers ------------------------------------------------------------------------------------


def add_channel(client, service: str, kind: str, *, name: str | None = None, **fields):
    return post(
        client,
        CHANNELS + "/",
        {"service_name": service, "kind": kind, "name": name or f"{kind} of {service}", **fields},
    )


def channel_ok(client, service: str, kind: str, **fields) -> dict:
    response = add_channel(client, service, kind, **fields)
    assert response.status_code == 201, response.body
    return response.json_body


def webhook(client, service: str, receiver: Receiver) -> dict:
    return channel_ok(client, service, "webhook", url=receiver.url)


def slack(client, service: str, receiver: Receiver) -> dict:
    return channel_ok(client, service, "slack", url=receiver.url)


def run() -> dict:
    return delivery.run()


def events_of(bodies: list[dict]) -> list[tuple[int, str]]:
    """(incident id, event) of each webhook body, in arrival order."""
    return [(body["incident"]["id"], body["event"]) for body in bodies]


def slack_events(receiver: Receiver) -> list[tuple[int, str]]:
    found = []
    for body in receiver.bodies():
        match = SLACK_HEADLINE.search(body["text"])
        assert match, body["text"]
        found.append((int(match.group(2)), f"incident.{match.group(1).lower()}"))
    return found


def notification_entries(client, incident_id: int) -> list[str]:
    timeline = get_incident(client, incident_id)["timeline"]
    return [entry["message"] for entry in timeline if entry["kind"] == "notification"]


def outbox_waiting() -> list[int]:
    return [incident.id for incident in shards.keys_in(Incident.outbox_index, store.OUTBOX_QUEUE, None)]


def deliveries_of(incident_id: int) -> list[Delivery]:
    return list(Delivery.query(incident_id, consistent_read=True))


def delete_channel(client, channel_id: str):
    return client.http.delete(f"{CHANNELS}/{channel_id}")


# --- the channel API ----------------------------------------------------------------------------


def test_each_kind_of_channel_is_created_and_a_webhook_secret_is_shown_only_once(client):
    hook = channel_ok(client, "payments", "webhook", url="https://hooks.example.com/oncall")
    room = channel_ok(client, "payments", "slack", url="https://hooks.slack.com/services/T0/B0/x", name="#pay")
    topic = channel_ok(client, "payments", "sns", topic_arn=TOPIC_ARN)

    assert hook["secret"].startswith("whsec_") and len(hook["secret"]) > 30
    assert "secret" not in room and "secret" not in topic
    assert (room["kind"], room["name"], room["url"], room["topic_arn"]) == (
        "slack",
        "#pay",
        "https://hooks.slack.com/services/T0/B0/x",
        None,
    )
    assert (topic["kind"], topic["url"], topic["topic_arn"]) == ("sns", None, TOPIC_ARN)
    assert hook["created_by"] == "admin"

    for path in (f"{CHANNELS}/", f"{CHANNELS}?service_name=payments"):
        response = client.http.get(path)
        assert response.status_code == 200, response.body
        listed = response.json_body["channels"]
        assert {channel["id"] for channel in listed} == {hook["id"], room["id"], topic["id"]}
        assert all("secret" not in channel for channel in listed), listed
        assert hook["secret"] not in response.body.decode()


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"kind": "webhook", "url": "ftp://hooks.example.com/x"}, "url"),
        ({"kind": "webhook", "url": "javascript:alert(1)"}, "url"),
        ({"kind": "slack", "url": "https://"}, "url"),
        ({"kind": "webhook"}, "url"),
        ({"kind": "sns"}, "topic_arn"),
        ({"kind": "sns", "topic_arn": "arn:aws:sqs:us-east-1:123456789012:q"}, "topic_arn"),
        ({"kind": "sns", "topic_arn": TOPIC_ARN, "url": "https://example.com"}, "url"),
        ({"kind": "slack", "url": "https://hooks.slack.com/x", "topic_arn": TOPIC_ARN}, "topic_arn"),
        ({"kind": "email", "url": "https://example.com"}, "kind"),
        ({"kind": "webhook", "url": "https://example.com", "secret": "mine"}, "secret"),
        ({"kind": "webhook", "url": "https://example.com", "headers": {}}, "headers"),
    ],
)
def test_an_invalid_channel_is_a_400_naming_the_field_and_nothing_is_written(client, fields, field):
    response = post(client, CHANNELS, {"service_name": "payments", "name": "x", **fields})
    assert response.status_code == 400, response.body
    assert response.json_body["code"] == "invalid_input"
    assert response.json_body["field"] == field, response.json_body
    assert client.http.get(f"{CHANNELS}?service_name=payments").json_body["channels"] == []


def test_a_service_has_at_most_10_channels_and_deleting_one_makes_room(client):
    made = [channel_ok(client, "payments", "webhook", url=f"https://example.com/{n}") for n in range(10)]
    eleventh = add_channel(client, "payments", "webhook", url="https://example.com/11")
    assert eleventh.status_code == 409, eleventh.body
    assert eleventh.json_body["field"] == "service_name"
    # The cap is per service.
    channel_ok(client, "search", "webhook", url="https://example.com/other")
    pages = all_pages(client, CHANNELS, "channels", "service_name=payments&limit=3")
    assert [len(page) for page in pages] == [3, 3, 3, 1]
    assert sorted(channel["id"] for page in pages for channel in page) == sorted(made_one["id"] for made_one in made)
    feed = [channel for page in all_pages(client, CHANNELS, "channels", "limit=4") for channel in page]
    assert len(feed) == 11 and len({channel["id"] for channel in feed}) == 11

    assert delete_channel(client, made[0]["id"]).status_code == 204
    channel_ok(client, "payments", "webhook", url="https://example.com/11")
    assert add_channel(client, "payments", "webhook", url="https://example.com/12").status_code == 409


def test_deleting_a_channel_is_204_then_404(client):
    made = channel_ok(client, "payments", "slack", url="https://hooks.slack.com/x")
    first = delete_channel(client, made["id"])
    assert first.status_code == 204, first.body
    again = delete_channel(client, made["id"])
    assert again.status_code == 404, again.body
    assert again.json_body["code"] == "not_found"
    assert client.http.get(f"{CHANNELS}?service_name=payments").json_body["channels"] == []
    assert delete_channel(client, "not-an-id").status_code == 400


def test_only_admins_list_add_or_delete_channels(client):
    # Commit 7db3f2e: a Slack webhook URL is itself a credential, so listing is admin-only too.
    made = channel_ok(client, "payments", "webhook", url="https://example.com/hook")
    alice = client.as_user("alice")

    listed = alice.http.get(f"{CHANNELS}?service_name=payments")
    assert listed.status_code == 403, listed.body
    assert b"example.com" not in listed.body
    refused = add_channel(alice, "payments", "webhook", url="https://example.com/mine")
    assert refused.status_code == 403, refused.body
    assert refused.json_body["code"] == "forbidden"
    assert delete_channel(alice, made["id"]).status_code == 403
    assert [channel["id"] for channel in client.http.get(CHANNELS).json_body["channels"]] == [made["id"]]


# --- what arrives -------------------------------------------------------------------------------


def test_every_transition_reaches_every_channel_exactly_once_in_order(client, receivers, manual_clock):
    hook_receiver, slack_receiver = receivers(), receivers()
    hook = webhook(client, "payments", hook_receiver)
    slack(client, "payments", slack_receiver)
    on_call_now(client, "payments", "alice")

    opened = trigger_ok(client, "payments", "card declines spiking", severity="error")
    number = opened["id"]
    assert run()["delivered"] == 2
    manual_clock.advance(seconds=301)
    assert check_escalations(client)["incidents"] == [number]
    assert run()["delivered"] == 2
    assert acknowledge(client, number, "alice").status_code == 200
    assert run()["delivered"] == 2
    assert resolve(client, number, "alice").status_code == 200
    assert run()["delivered"] == 2
    assert run() == {"dispatched": 0, "attempted": 0, "delivered": 0, "failed": 0, "retrying": 0}

    kinds = ["triggered", "escalated", "acknowledged", "resolved"]
    expected = [(number, f"incident.{kind}") for kind in kinds]
    assert events_of(hook_receiver.bodies()) == expected
    assert slack_events(slack_receiver) == expected
    assert len(hook_receiver.all()) == len(slack_receiver.all()) == 4

    bodies = hook_receiver.bodies()
    assert [body["event_id"] for body in bodies] == [f"{number}-{n}" for n in range(4)]
    assert [body["incident"]["status"] for body in bodies] == ["TRIGGERED", "ESCALATED", "ACKNOWLEDGED", "RESOLVED"]
    assert [body["actor"] for body in bodies] == ["admin", "escalation", "alice", "alice"]
    for body in bodies:
        incident = body["incident"]
        assert incident["id"] == number
        assert incident["service_name"] == "payments"
        assert incident["title"] == "card declines spiking"
        assert incident["severity"] == "error"
        assert incident["assigned_to"] == "alice"
        assert incident["created_at"] == opened["created_at"]
    assert bodies[0]["at"] == opened["created_at"]

    for request in hook_receiver.all():
        assert request.method == "POST"
        assert request.path == "/hooks/incoming"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["x-oncall-event"] == request.json()["event"]
        assert verify_webhook(hook["secret"], request)
    delivery_ids = [request.headers["x-oncall-delivery"] for request in hook_receiver.all()]
    assert len(set(delivery_ids)) == 4

    timeline = get_incident(client, number)["timeline"]
    notified = [entry for entry in timeline if entry["kind"] == "notification"]
    assert len(notified) == 8
    assert all(entry["actor"] == "notifications" for entry in notified)
    assert sum("Notified Webhook" in entry["message"] for entry in notified) == 4
    assert sum("Notified Slack" in entry["message"] for entry in notified) == 4
    assert outbox_waiting() == []


def test_one_run_sends_a_backlog_of_transitions_in_order(client, receivers):
    hook_receiver = receivers()
    webhook(client, "payments", hook_receiver)
    first = trigger_ok(client, "payments", "first")["id"]
    second = trigger_ok(client, "payments", "second")["id"]
    acknowledge(client, first)
    acknowledge(client, second)
    resolve(client, first)
    assert sorted(outbox_waiting()) == [first, second]

    outcome = run()
    assert outcome["dispatched"] == 5 and outcome["delivered"] == 5, outcome
    received = events_of(hook_receiver.bodies())
    assert sorted(received) == sorted(
        [
            (first, "incident.triggered"),
            (first, "incident.acknowledged"),
            (first, "incident.resolved"),
            (second, "incident.triggered"),
            (second, "incident.acknowledged"),
        ]
    )
    for number in (first, second):
        of_one = [event for incident, event in received if incident == number]
        assert of_one == ["incident.triggered", "incident.acknowledged", "incident.resolved"][: len(of_one)]
    assert outbox_waiting() == []


def test_the_stream_pass_sends_what_its_records_show_and_reads_no_queue(client, receiver):
    webhook(client, "payments", receiver)
    stream = Stream(("id",), Incident.Meta.stream_view_type, [NOTIFIER_STREAM_FILTER])

    def records_of(meter) -> list[dict]:
        return stream.passing([written for written in meter.writes if written.table == Incident.Meta.table_name])

    with metered() as opening:
        number = trigger_ok(client, "payments", "disk full")["id"]
    with metered() as acknowledging:
        acknowledge(client, number)
    records = records_of(opening) + records_of(acknowledging)
    assert len(records) == 2

    # Each record in a pass of its own. The first's image is stale (it shows one
    # transition of two): its pass finds where the item stands and hands over both;
    # the second's finds them handed.
    with metered() as passes:
        outcomes = [client.lambda_.invoke("notification_stream", {"Records": [record]}).payload for record in records]
    assert [(o["dispatched"], o["delivered"]) for o in outcomes] == [(2, 2), (0, 0)], outcomes
    assert events_of(receiver.bodies()) == [(number, "incident.triggered"), (number, "incident.acknowledged")]
    assert outbox_waiting() == []
    # No queue is read: the only queries are for the service's channels, one a pass.
    assert [charge.operation for charge in passes.charges].count("Query") == 2
    # Of the two hand-overs only the first, with a transition still waiting, leaves the
    # incident in the outbox: its record wakes a pass (that finds nothing), the last's none.
    assert len(records_of(passes)) == 1

    # Lambda delivers a batch again after a failure: nothing is handed over or sent twice.
    again = client.lambda_.invoke("notification_stream", {"Records": records}).payload
    assert again == {"dispatched": 0, "attempted": 0, "delivered": 0, "failed": 0, "retrying": 0}
    assert len(receiver.bodies()) == 2


def test_a_folded_duplicate_sends_nothing(client, receiver):
    webhook(client, "payments", receiver)
    opened = trigger_ok(client, "payments", "disk full")
    run()
    assert len(receiver.all()) == 1

    folded = trigger_ok(client, "payments", "disk full")
    assert folded["deduplicated"] is True and folded["id"] == opened["id"]
    assert outbox_waiting() == []
    assert run() == {"dispatched": 0, "attempted": 0, "delivered": 0, "failed": 0, "retrying": 0}
    assert len(receiver.all()) == 1
    assert len(deliveries_of(opened["id"])) == 1


def test_a_service_without_channels_sends_nothing_and_leaves_the_outbox_empty(client, receiver):
    webhook(client, "payments", receiver)
    quiet = trigger_ok(client, "search", "slow queries")["id"]
    acknowledge(client, quiet)
    assert outbox_waiting() == [quiet]

    outcome = run()
    assert outcome["attempted"] == 0 and outcome["dispatched"] == 2, outcome
    assert receiver.all() == []
    assert outbox_waiting() == []
    assert deliveries_of(quiet) == []
    assert Incident.get(quiet).notified_events == 2
    assert notification_entries(client, quiet) == []


def test_the_webhook_signature_verifies_with_the_secret_and_tampering_breaks_it(client, receiver):
    hook = webhook(client, "payments", receiver)
    trigger_ok(client, "payments", "signed ünïcode ☃ title")
    run()
    [request] = receiver.all()
    assert verify_webhook(hook["secret"], request)
    assert request.headers["x-oncall-timestamp"] == str(int(clock.now().timestamp()))
    assert request.json()["incident"]["title"] == "signed ünïcode ☃ title"

    def altered(**changes) -> Received:
        return Received(**{**request.__dict__, **changes})

    tampered_body = request.body.replace(b'"incident.triggered"', b'"incident.resolved"')
    assert tampered_body != request.body
    assert not verify_webhook(hook["secret"], altered(body=tampered_body))
    later = str(int(request.headers["x-oncall-timestamp"]) + 1)
    assert not verify_webhook(hook["secret"], altered(headers={**request.headers, "x-oncall-timestamp": later}))
    assert not verify_webhook(hook["secret"] + "x", request)
    other = channel_ok(client, "payments", "webhook", url="https://example.com/hook")
    assert other["secret"] != hook["secret"]
    assert not verify_webhook(other["secret"], request)


def test_slack_escapes_markup_in_titles(client, receiver):
    slack(client, "payments", receiver)
    number = trigger_ok(client, "payments", "<!channel> & <img>")["id"]
    run()
    [request] = receiver.all()
    body = request.json()
    assert set(body) == {"text", "blocks"}
    texts = [body["text"]]
    for block in body["blocks"]:
        if "text" in block:
            texts.append(block["text"]["text"])
        texts += [element["text"] for element in block.get("elements", [])]
    assert len(texts) == 4
    for text in texts:
        assert "<!channel>" not in text and "<img>" not in text, text
        assert not re.search(r"&(?!amp;|lt;|gt;)", text), text
    assert f"#{number} &lt;!channel&gt; &amp; &lt;img&gt;" in body["text"]
    assert "&lt;!channel&gt; &amp; &lt;img&gt;" in body["blocks"][0]["text"]["text"]
    assert body["blocks"][0]["type"] == "section"


# --- failures and retries -----------------------------------------------------------------------


def test_a_failing_receiver_gets_the_message_on_the_third_attempt_after_the_backoff(client, receivers, manual_clock):
    failing = receivers(fail_with=[500, 500])
    hook = webhook(client, "payments", failing)
    number = trigger_ok(client, "payments", "flaky receiver")["id"]

    assert run()["retrying"] == 1
    assert len(failing.all()) == 1
    manual_clock.advance(seconds=9.9)
    assert run()["attempted"] == 0
    assert len(failing.all()) == 1, "sent before the first backoff (10 s) elapsed"
    manual_clock.advance(seconds=0.1)
    assert run()["retrying"] == 1
    assert len(failing.all()) == 2
    manual_clock.advance(seconds=29)
    assert run()["attempted"] == 0
    assert len(failing.all()) == 2, "sent before the second backoff (30 s) elapsed"
    manual_clock.advance(seconds=1)
    assert run()["delivered"] == 1
    manual_clock.advance(hours=1)
    assert run()["attempted"] == 0

    attempts = failing.all()
    assert [request.answered for request in attempts] == [500, 500, 200]
    assert len({request.headers["x-oncall-delivery"] for request in attempts}) == 1
    assert len({request.body for request in attempts}) == 1
    assert all(verify_webhook(hook["secret"], request) for request in attempts)
    assert [body["event"] for body in failing.bodies()] == ["incident.triggered"]

    entries = notification_entries(client, number)
    assert len(entries) == 3
    assert "attempt 1 of 8" in entries[0] and "HTTP 500" in entries[0] and "next attempt in 10 s" in entries[0]
    assert "attempt 2 of 8" in entries[1] and "next attempt in 30 s" in entries[1]
    assert entries[2].startswith("Notified Webhook") and "HTTP 200" in entries[2]
    [stored] = deliveries_of(number)
    assert (stored.state, stored.attempts, stored.due_at) == ("delivered", 3, None)


@pytest.mark.parametrize("status", [400, 404, 410, 301, 302])
def test_a_4xx_or_3xx_answer_is_permanent(client, receivers, manual_clock, status):
    refusing = receivers(fail_with=[status] * 5)
    webhook(client, "payments", refusing)
    number = trigger_ok(client, "payments", "gone")["id"]

    outcome = run()
    assert outcome["failed"] == 1 and outcome["retrying"] == 0, outcome
    manual_clock.advance(hours=2)
    assert run()["attempted"] == 0
    assert len(refusing.all()) == 1
    [entry] = notification_entries(client, number)
    assert f"HTTP {status}" in entry and "attempt 1 of 8" in entry and "will not retry" in entry
    [stored] = deliveries_of(number)
    assert (stored.state, stored.attempts) == ("failed", 1)
    assert stored.last_error.startswith(f"the receiver answered HTTP {status}"), stored.last_error
    if status < 400:
        assert "a redirect, which is not followed" in entry


@pytest.mark.parametrize("status", [408, 409, 425, 429, 502, 503])
def test_timeouts_rate_limits_and_5xx_are_retried(client, receivers, manual_clock, status):
    flaky = receivers(fail_with=[status])
    webhook(client, "payments", flaky)
    number = trigger_ok(client, "payments", "try again")["id"]
    assert run()["retrying"] == 1
    manual_clock.advance(seconds=10)
    assert run()["delivered"] == 1
    assert [request.answered for request in flaky.all()] == [status, 200]
    assert len(notification_entries(client, number)) == 2


def test_an_unreachable_url_is_retried(client, manual_clock):
    channel_ok(client, "payments", "webhook", url=closed_port_url())
    number = trigger_ok(client, "payments", "nobody listens")["id"]
    assert run()["retrying"] == 1
    manual_clock.advance(seconds=10)
    assert run()["retrying"] == 1
    entries = notification_entries(client, number)
    assert len(entries) == 2
    assert all("could not connect to the receiver" in entry for entry in entries), entries
    assert "attempt 2 of 8" in entries[1] and "next attempt in 30 s" in entries[1]
    [stored] = deliveries_of(number)
    assert (stored.state, stored.attempts) == ("pending", 2)


def test_after_8_failed_attempts_it_gives_up(client, receivers, manual_clock):
    down = receivers(fail_with=[503] * 20)
    webhook(client, "payments", down)
    number = trigger_ok(client, "payments", "never answers")["id"]

    waits = []
    for attempt in range(1, 9):
        outcome = run()
        assert outcome["attempted"] == 1, (attempt, outcome)
        assert len(down.all()) == attempt
        if attempt < 8:
            wait = delivery.backoff(attempt)
            waits.append(wait.total_seconds())
            manual_clock.advance(seconds=wait.total_seconds() - 1)
            assert run()["attempted"] == 0, f"attempt {attempt + 1} came before its backoff"
            manual_clock.advance(seconds=1)
    assert outcome["failed"] == 1
    assert waits == [10, 30, 90, 270, 810, 900, 900]

    manual_clock.advance(days=1)
    assert run()["attempted"] == 0
    assert len(down.all()) == 8
    entries = notification_entries(client, number)
    assert len(entries) == 8
    assert "attempt 8 of 8" in entries[-1] and "giving up" in entries[-1]
    assert "next attempt in 15 min" in entries[-2]
    [stored] = deliveries_of(number)
    assert (stored.state, stored.attempts, stored.due_at, stored.last_error) == (
        "failed",
        8,
        None,
        "the receiver answered HTTP 503",
    )


# --- receivers that hang ------------------------------------------------------------------------

# What a run may take beyond one send deadline: its DynamoDB reads and writes (in-process moto).
SLACK = 1.5


def test_hanging_receivers_hold_only_their_own_channels_and_for_one_deadline(client, receivers, send_timeout):
    """Ten channels whose receiver answers a byte every 0.3 s for ever, and a healthy channel
    of another service, several incidents each: the healthy channel gets every message in the
    same run, each hanging attempt ends at the deadline with its connection closed, no other
    message is tried on a hanging channel, and the run lasts one deadline."""
    deadline = send_timeout(2)
    healthy = receivers()
    webhook(client, "payments", healthy)
    with Trickler(every=0.3) as trickler:
        for n in range(channels.MAX_PER_SERVICE):
            channel_ok(client, "search", "webhook", name=f"hook {n}", url=trickler.url)
        expected, hanging = [], []
        for n in range(3):
            hanging.append(trigger_ok(client, "search", f"search outage {n}")["id"])
            number = trigger_ok(client, "payments", f"payments outage {n}")["id"]
            acknowledge(client, number)
            expected += [(number, "incident.triggered"), (number, "incident.acknowledged")]
        # Handed over first, so the run's time is its sending.
        assert outbox.dispatch_waiting(clock.now()).events == 9

        started = time.monotonic()
        outcome = run()
        took = time.monotonic() - started
        received = events_of(healthy.bodies())
        closed = trickler.wait_closed(channels.MAX_PER_SERVICE, timeout=5)
        attempts_seen = len(trickler.requests)

    assert received == expected
    assert took < deadline + SLACK, took
    assert outcome == {"dispatched": 0, "attempted": 16, "delivered": 6, "failed": 0, "retrying": 10}
    assert attempts_seen == channels.MAX_PER_SERVICE, "one attempt per hanging channel"
    # Nothing is left reading the trickler: the sender closed every connection by the deadline.
    assert len(closed) == channels.MAX_PER_SERVICE, closed
    assert max(closed) - started < deadline + SLACK, [at - started for at in closed]

    held = [d for number in hanging for d in deliveries_of(number)]
    assert len(held) == 3 * channels.MAX_PER_SERVICE
    assert all(d.state == "pending" for d in held)
    tried = [d for d in held if d.attempts == 1]
    assert len(tried) == channels.MAX_PER_SERVICE and all(d.attempts == 0 for d in held if d not in tried)
    assert {d.last_error for d in tried} == {"the receiver did not answer within 2 s"}
    # The unclaimed ones wait with the one that failed, so they are not due now either.
    assert all(d.due_at > clock.now() for d in held)
    assert run()["attempted"] == 0
    entries = notification_entries(client, hanging[0])
    assert sorted(entries) == sorted(
        f"Could not notify Webhook 'hook {n}' of triggered (attempt 1 of 8): "
        "the receiver did not answer within 2 s; next attempt in 10 s."
        for n in range(channels.MAX_PER_SERVICE)
    )


def test_a_channel_that_hung_sends_its_waiting_messages_in_order_once_it_answers(client, send_timeout, manual_clock):
    send_timeout(1)
    with Trickler(every=0.3) as receiver:
        channel_ok(client, "search", "webhook", url=receiver.url)
        numbers = []
        for n in range(3):
            numbers.append(trigger_ok(client, "search", f"outage {n}")["id"])
            acknowledge(client, numbers[-1])
        first = run()
        assert (first["attempted"], first["retrying"]) == (1, 1), first
        manual_clock.advance(seconds=9.9)
        assert run()["attempted"] == 0, "the waiting messages came due before the retry"

        receiver.heal()
        manual_clock.advance(seconds=0.1)
        second = run()
        assert (second["attempted"], second["delivered"]) == (6, 6), second
        bodies = receiver.bodies()

    assert events_of(bodies[1:]) == [
        (number, f"incident.{event}") for number in numbers for event in ("triggered", "acknowledged")
    ]
    assert events_of(bodies[:1]) == [(numbers[0], "incident.triggered")]
    stored = {(d.incident_id, d.event_kind): d for number in numbers for d in deliveries_of(number)}
    assert stored[(numbers[0], "triggered")].attempts == 2
    assert all(
        d.attempts == 1 and d.state == "delivered" for key, d in stored.items() if key != (numbers[0], "triggered")
    )


def test_an_unreachable_channel_does_not_keep_other_channels_out_of_the_batch(
    client, receivers, manual_clock, monkeypatch
):
    """A run reads at most BATCH due deliveries, the oldest first. A dead channel's backlog
    must not fill every run's batch: what it cannot send waits for its retry, unclaimed."""
    monkeypatch.setattr(delivery, "BATCH", 3)
    channel_ok(client, "search", "webhook", url=closed_port_url())
    healthy = receivers()
    webhook(client, "payments", healthy)
    dead = [trigger_ok(client, "search", f"search outage {n}")["id"] for n in range(5)]
    assert outbox.dispatch_waiting(clock.now()).events == 5
    manual_clock.advance(seconds=1)
    paid = [trigger_ok(client, "payments", f"payments outage {n}")["id"] for n in range(3)]

    outcomes = [run() for _ in range(3)]

    assert sorted(number for number, _ in events_of(healthy.bodies())) == paid
    spent = sum(d.attempts for number in dead for d in deliveries_of(number))
    assert spent == 2, "one attempt per run that found the dead channel due"
    assert [outcome["attempted"] for outcome in outcomes] == [1, 2, 2]


class HangingSns:
    """An SNS client whose publishes hang until released (an SNS endpoint that stopped answering)."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = threading.Event()
        self._lock = threading.Lock()

    def publish(self, **fields) -> dict:
        with self._lock:
            self.calls += 1
        self.release.wait(30)
        return {"MessageId": "00000000-0000-0000-0000-000000000000"}


def test_a_hanging_sns_topic_holds_only_its_own_channel_and_for_one_deadline(
    client, receivers, send_timeout, monkeypatch
):
    deadline = send_timeout(2)
    hanging = HangingSns()
    monkeypatch.setattr(aws, "sns_client", lambda: hanging)
    channel_ok(client, "db", "sns", topic_arn=TOPIC_ARN)
    healthy = receivers()
    webhook(client, "payments", healthy)
    for n in range(3):
        trigger_ok(client, "db", f"db outage {n}")
        trigger_ok(client, "payments", f"payments outage {n}")
    try:
        started = time.monotonic()
        outcome = run()
        took = time.monotonic() - started
    finally:
        hanging.release.set()
    assert took < deadline + SLACK, took
    assert len(healthy.accepted()) == 3
    assert hanging.calls == 1
    assert (outcome["delivered"], outcome["retrying"]) == (3, 1), outcome


# --- crashes and overlapping runs ---------------------------------------------------------------


def test_transitions_committed_without_a_run_are_delivered_by_a_later_run(client, receiver, manual_clock):
    hook = webhook(client, "payments", receiver)
    number = trigger_ok(client, "payments", "the deliverer was down")["id"]
    acknowledge(client, number)
    # The process that committed these died before any delivery run.
    stored = Incident.get(number)
    assert (len(stored.events), stored.notified_events, stored.outbox_partition) == (
        2,
        0,
        shards.partition(store.OUTBOX_QUEUE, number),
    )
    assert stored.outbox_at == START, "the outbox keeps the oldest owed time"

    manual_clock.advance(minutes=30)
    assert run()["delivered"] == 2
    assert events_of(receiver.bodies()) == [(number, "incident.triggered"), (number, "incident.acknowledged")]
    assert all(verify_webhook(hook["secret"], request) for request in receiver.all())
    assert outbox_waiting() == []
    assert run()["attempted"] == 0
    assert len(receiver.all()) == 2


def test_a_dispatched_delivery_whose_run_died_before_sending_is_sent_later(client, receiver):
    webhook(client, "payments", receiver)
    number = trigger_ok(client, "payments", "dispatched, then the run died")["id"]
    assert outbox.dispatch_waiting(clock.now()).events == 1
    assert receiver.all() == [] and outbox_waiting() == []
    outcome = run()
    assert (outcome["dispatched"], outcome["delivered"]) == (0, 1)
    assert events_of(receiver.bodies()) == [(number, "incident.triggered")]


def test_a_transition_between_the_outbox_read_and_the_hand_over_is_sent_in_the_same_run(client, receiver):
    webhook(client, "payments", receiver)
    number = trigger_ok(client, "payments", "acknowledged while dispatching")["id"]
    # The dispatcher's copy from the outbox index has only the trigger; the ack lands right after.
    with right_after(Incident, "Query", lambda: incidents.acknowledge(number, "alice")) as responder:
        outcome = run()
    assert responder["ran"] and responder["error"] is None
    assert outcome["dispatched"] == 2 and outcome["delivered"] == 2, outcome
    assert events_of(receiver.bodies()) == [(number, "incident.triggered"), (number, "incident.acknowledged")]
    assert outbox_waiting() == []
    assert run()["attempted"] == 0


def test_a_transition_right_after_the_hand_over_is_owed_again_and_sent_by_the_next_run(client, receiver):
    webhook(client, "payments", receiver)
    number = trigger_ok(client, "payments", "acknowledged right after the hand-over")["id"]
    events = db.connection().client.meta.events
    landed = {}

    def acknowledge_once(**kwargs):
        if not landed:
            landed["ack"] = run_threads([lambda: incidents.acknowledge(number, "alice")])

    events.register("after-call.dynamodb.TransactWriteItems", acknowledge_once)
    try:
        first = run()
    finally:
        events.unregister("after-call.dynamodb.TransactWriteItems", acknowledge_once)
    assert landed["ack"][1] == [None]
    assert (first["dispatched"], first["delivered"]) == (1, 1)
    assert outbox_waiting() == [number]
    second = run()
    assert (second["dispatched"], second["delivered"]) == (1, 1)
    assert events_of(receiver.bodies()) == [(number, "incident.triggered"), (number, "incident.acknowledged")]
    assert outbox_waiting() == []


def test_a_claimed_delivery_whose_sender_died_is_retried_once_after_the_lease(client, receiver, manual_clock):
    webhook(client, "payments", receiver)
    number = trigger_ok(client, "payments", "the sender died")["id"]
    outbox.dispatch_waiting(clock.now())
    [due] = list(shards.read_all(Delivery, shards.keys_in(Delivery.due_index, delivery_store.QUEUE, None)))
    assert delivery._claim(due, clock.now()) is True
    # ...and the process that claimed it died before sending or recording anything.

    assert run()["attempted"] == 0
    manual_clock.advance(seconds=59.9)
    assert run()["attempted"] == 0
    assert receiver.all() == []
    manual_clock.advance(seconds=0.1)
    assert run()["delivered"] == 1
    manual_clock.advance(minutes=10)
    assert run()["attempted"] == 0
    assert len(receiver.all()) == 1
    [stored] = deliveries_of(number)
    assert (stored.state, stored.attempts) == ("delivered", 2)
    entries = notification_entries(client, number)
    assert len(entries) == 1 and entries[0].startswith("Notified Webhook"), entries

    # The dead run's late record (were it to wake up) changes nothing.
    delivery._record(due, delivery.FAILED, "stale", retry_in=None, error="stale")
    [stored] = deliveries_of(number)
    assert (stored.state, stored.last_error) == ("delivered", None)
    assert len(notification_entries(client, number)) == 1


def test_overlapping_runs_deliver_each_event_to_each_receiver_exactly_once(client, receivers):
    hook_a, hook_b, room = receivers(), receivers(), receivers()
    webhook(client, "payments", hook_a)
    slack(client, "payments", room)
    webhook(client, "search", hook_b)
    expected_a, expected_b = [], []
    for n in range(4):
        for service, expected in (("payments", expected_a), ("search", expected_b)):
            number = trigger_ok(client, service, f"{service} outage {n}")["id"]
            expected.append((number, "incident.triggered"))
            if n % 2 == 0:
                acknowledge(client, number)
                expected.append((number, "incident.acknowledged"))

    results, errors = run_threads([run] * 8)
    assert errors == [None] * 8
    assert sum(result["dispatched"] for result in results) == len(expected_a) + len(expected_b)
    assert sum(result["delivered"] for result in results) == 2 * len(expected_a) + len(expected_b)
    assert sum(result["attempted"] for result in results) == 2 * len(expected_a) + len(expected_b)

    assert Counter(events_of(hook_a.bodies())) == Counter(expected_a)
    assert Counter(slack_events(room)) == Counter(expected_a)
    assert Counter(events_of(hook_b.bodies())) == Counter(expected_b)
    assert (len(expected_a), len(expected_b)) == (6, 6)
    assert (len(hook_a.all()), len(room.all()), len(hook_b.all())) == (6, 6, 6)
    assert run()["attempted"] == 0
    assert outbox_waiting() == []
    assert len(hook_a.all()) == 6


def test_a_receiver_that_does_not_answer_in_time_is_retried(client, receivers, manual_clock, monkeypatch):
    monkeypatch.setenv("ONCALL_NOTIFY_TIMEOUT_SECONDS", "1")
    settings.cache_clear()
    try:
        slow = receivers(before_answer=lambda n: time.sleep(1.5) if n == 1 else None)
        webhook(client, "payments", slow)
        number = trigger_ok(client, "payments", "slow receiver")["id"]
        assert run()["retrying"] == 1
        manual_clock.advance(seconds=10)
        assert run()["delivered"] == 1
    finally:
        monkeypatch.delenv("ONCALL_NOTIFY_TIMEOUT_SECONDS")
        settings.cache_clear()
    first, second = notification_entries(client, number)
    assert "the receiver did not answer within 1 s" in first and "next attempt in 10 s" in first, first
    assert second.startswith("Notified Webhook")
    # The receiver did get the first request: the stable delivery id is how it drops the repeat.
    requests = slow.all()
    assert len(requests) == 2
    assert requests[0].headers["x-oncall-delivery"] == requests[1].headers["x-oncall-delivery"]


def test_a_run_slower_than_the_lease_does_not_send_what_another_run_took_over(client, receivers, manual_clock):
    """Each send takes 5 s (an answer just inside the 5 s HTTP timeout); one incident's 13 events
    go to one channel in order, so the 13th is sent 60 s after the run claimed it. The minute
    schedule's run starting then must not send it too."""
    other_run = {}

    def five_seconds_each(n: int) -> None:
        manual_clock.advance(seconds=5)
        if n == 12 and not other_run:
            other_run["result"] = run_threads([run])

    receiver = receivers(before_answer=five_seconds_each)
    webhook(client, "payments", receiver)
    for level in range(1, 11):
        assert add_level(client, "payments", level, user=f"level-{level}").status_code == 201
    number = trigger_ok(client, "payments", "slow receiver, long history")["id"]
    for _ in range(10):
        manual_clock.advance(seconds=301)
        assert check_escalations(client)["incidents"] == [number]
    acknowledge(client, number)
    resolve(client, number)
    assert len(Incident.get(number).events) == 13

    run()
    assert other_run["result"][1] == [None]
    received = [request.json()["event_id"] for request in receiver.all()]
    assert Counter(received) == Counter(f"{number}-{n}" for n in range(13)), Counter(received).most_common(2)


# --- SNS ----------------------------------------------------------------------------------------


def test_an_sns_channel_publishes_to_its_topic(client):
    sns = boto3.client("sns", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    topic_arn = sns.create_topic(Name="oncall-pages")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="pages")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    channel_ok(client, "payments", "sns", topic_arn=topic_arn)

    number = trigger_ok(client, "payments", "Datenbank überlastet ☃\nzweite Zeile")["id"]
    outcome = run()
    assert outcome["delivered"] == 1, outcome

    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    envelope = json.loads(messages[0]["Body"])
    subject = envelope["Subject"]
    assert subject.isascii() and "\n" not in subject and len(subject) < 100, subject
    assert subject == f"Triggered: #{number} Datenbank ?berlastet ??zweite Zeile (payments)"
    assert envelope["TopicArn"] == topic_arn
    text = envelope["Message"]
    assert "Datenbank überlastet ☃" in text
    assert "Service: payments" in text and "Status: TRIGGERED" in text
    [entry] = notification_entries(client, number)
    message_id = json.loads(messages[0]["Body"])["MessageId"]
    assert entry == f"Notified SNS topic 'sns of payments' of triggered: SNS took it as message {message_id}.", entry


def test_an_sns_topic_that_does_not_exist_is_a_permanent_failure(client):
    channel_ok(client, "payments", "sns", topic_arn="arn:aws:sns:us-east-1:123456789012:missing")
    number = trigger_ok(client, "payments", "nowhere to publish")["id"]
    outcome = run()
    assert outcome["failed"] == 1, outcome
    [entry] = notification_entries(client, number)
    assert "will not retry" in entry


# --- deleted channels ---------------------------------------------------------------------------


def test_deleting_a_channel_after_dispatch_cancels_its_pending_delivery(client, receiver, manual_clock):
    hook = webhook(client, "payments", receiver)
    number = trigger_ok(client, "payments", "channel removed meanwhile")["id"]
    assert outbox.dispatch_waiting(clock.now()).events == 1
    assert delete_channel(client, hook["id"]).status_code == 204

    outcome = run()
    assert outcome["attempted"] == 1 and outcome["delivered"] == 0, outcome
    manual_clock.advance(hours=1)
    assert run()["attempted"] == 0
    assert receiver.all() == []
    [stored] = deliveries_of(number)
    assert (stored.state, stored.due_at) == ("cancelled", None)
    [entry] = notification_entries(client, number)
    assert "channel was deleted" in entry


def test_deleting_a_channel_while_a_delivery_waits_to_retry_cancels_it(client, receivers, manual_clock):
    failing = receivers(fail_with=[500] * 3)
    hook = webhook(client, "payments", failing)
    number = trigger_ok(client, "payments", "retry then removed")["id"]
    assert run()["retrying"] == 1
    assert delete_channel(client, hook["id"]).status_code == 204
    manual_clock.advance(seconds=10)
    run()
    manual_clock.advance(hours=1)
    run()
    assert len(failing.all()) == 1
    entries = notification_entries(client, number)
    assert len(entries) == 2 and "channel was deleted" in entries[1]


# --- the API trigger and the round-trip budget --------------------------------------------------


def test_the_deliver_endpoint_runs_a_pass_for_admins_and_responders(client, receiver):
    webhook(client, "payments", receiver)
    trigger_ok(client, "payments", "deliver now")
    response = client.as_user("alice").http.post("/api/notifications/deliver", headers=JSON, body="")
    assert response.status_code == 200, response.body
    assert response.json_body == {"dispatched": 1, "attempted": 1, "delivered": 1, "failed": 0, "retrying": 0}
    assert len(receiver.all()) == 1
    integration = client.with_token(client.keyring.integration("payments"))
    assert integration.http.post("/api/notifications/deliver", headers=JSON, body="").status_code == 403


@pytest.fixture
def key_cache(monkeypatch):
    monkeypatch.setenv("ONCALL_KEY_CACHE_SECONDS", "60")
    settings.cache_clear()
    assert settings().key_cache_seconds == 60
    yield
    access.forget_keys()
    monkeypatch.delenv("ONCALL_KEY_CACHE_SECONDS")
    settings.cache_clear()


def test_acknowledge_is_still_one_write_with_channels(client, receiver, requests_made, key_cache):
    webhook(client, "payments", receiver)
    slack(client, "payments", receiver)
    number = trigger_ok(client, "payments", "budget")["id"]
    assert client.http.get("/api/me").status_code == 200

    with requests_made.measure() as calls:
        response = acknowledge(client, number)
    assert response.status_code == 200, response.body
    # The announcement is owed by the update itself; the GetItem is the alert tally the
    # answer shows (read at the same time), not the channels.
    assert calls == Counter({"UpdateItem": 1, "GetItem": 1})
    assert outbox_waiting() == [number]


def test_a_run_with_nothing_owed_or_due_is_a_query_per_shard_of_each_queue(
    client, receivers, requests_made, manual_clock
):
    ok, failing = receivers(), receivers(fail_with=[500])
    webhook(client, "payments", ok)
    webhook(client, "search", failing)
    for n in range(3):
        number = trigger_ok(client, "payments", f"history {n}")["id"]
        acknowledge(client, number)
    trigger_ok(client, "search", "will retry")
    run()

    with requests_made.measure() as calls:
        assert run() == {"dispatched": 0, "attempted": 0, "delivered": 0, "failed": 0, "retrying": 0}
    assert calls == Counter({"Query": 2 * shards.SHARDS}), "the outbox's and the deliveries' shards, nothing else"

    manual_clock.advance(seconds=10)
    assert run()["delivered"] == 1
    with requests_made.measure() as calls:
        run()
    assert calls == Counter({"Query": 2 * shards.SHARDS})


def test_backoff_is_the_base_times_three_to_the_attempts_capped_at_15_minutes():
    assert [delivery.backoff(n) for n in (1, 2, 3, 4, 5, 6, 8)] == [
        timedelta(seconds=10),
        timedelta(seconds=30),
        timedelta(seconds=90),
        timedelta(seconds=270),
        timedelta(seconds=810),
        timedelta(minutes=15),
        timedelta(minutes=15),
    ]


def test_a_transition_from_an_integration_key_is_delivered_with_its_actor(client, receiver):
    webhook(client, "payments", receiver)
    integration = client.with_token(client.keyring.integration("payments"))
    opened = trigger_ok(as_actor(integration, None), "payments", "from prometheus")
    run()
    [body] = receiver.bodies()
    assert body["incident"]["id"] == opened["id"]
    assert body["actor"] == "integration payments (integration key)"
