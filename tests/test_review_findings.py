"""Failures found in review, kept as tests: an incident that cannot be written must not
stop the sweep, an incident's history is bounded so it can always be closed, a slow
SNS publish cannot outlast its lease, and a late message says what was true at its
event."""

import threading
import time

from pynamodb.exceptions import UpdateError

from chalicelib import clock, config
from chalicelib.api.payloads import ChannelBody, LevelBody
from chalicelib.escalation import policy, sweep
from chalicelib.incident import incidents, timeline
from chalicelib.models import Delivery, Incident
from chalicelib.notify import channels, delivery
from chalicelib.transport import aws
from tests.flows import acknowledge, on_call_now, trigger_body
from tests.receivers import Receiver

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:oncall-pages"


def fill_history(incident_id: int) -> None:
    """Make the incident item too large to take one more event, as a stand-in for any
    write that fails for one incident (the product bounds the history itself)."""
    for size in (20_000, 2_000, 200, 20):
        batch = 16
        while batch:
            fillers = [timeline.event("escalated", "escalation", "x", clock.now()) for _ in range(batch)]
            for filler in fillers:
                filler.message = "x" * size
            try:
                Incident(incident_id).update(actions=[Incident.events.set(Incident.events.append(fillers))])
            except UpdateError:
                batch //= 2


def test_one_incident_whose_step_cannot_be_written_does_not_stop_every_other_escalation(client, manual_clock):
    policy.create_level(LevelBody(service_name="db", level=1, user="bob", wait_minutes=1))
    policy.create_level(LevelBody(service_name="web", level=1, user="carol", wait_minutes=1))
    full, _ = incidents.trigger(trigger_body("db", "replication stopped", description="d" * 65_536), "monitor")
    fill_history(full["id"])
    manual_clock.advance(seconds=60)
    healthy, _ = incidents.trigger(trigger_body("web", "5xx rate"), "monitor")
    manual_clock.advance(seconds=300)

    try:
        outcome = sweep.run()
    except Exception as error:  # what the scheduled Lambda does, every minute
        outcome = {"error": repr(error)}

    assert healthy["id"] in outcome.get("incidents", []), outcome
    assert incidents.get_item(healthy["id"]).status == "ESCALATED"


def test_the_history_stays_bounded_so_the_incident_can_always_be_closed(client, manual_clock, two_shards):
    """The longest climb the API allows (long names, many levels, repeats, a 64 KiB
    description) stops at ESCALATION_EVENTS transitions, and the incident can still
    be acknowledged and resolved; reassignment is refused once MAX_EVENTS is reached."""
    # (two_shards: each of the climb's sweeps queries every shard of the due queue.)
    targets = [{"user": f"{n}" + "é" * 126} for n in range(10)]
    for number in range(1, 31):
        policy.create_level(
            LevelBody.model_validate({"service_name": "db", "level": number, "targets": targets, "wait_minutes": 1})
        )
    client.http.put("/api/escalation/policies/db", headers={"Content-Type": "application/json"}, body='{"repeat": 9}')
    opened, _ = incidents.trigger(trigger_body("db", "replication stopped", description="d" * 65_536), "monitor")
    for _ in range(400):
        manual_clock.advance(minutes=6)
        sweep.run()
        if incidents.get_item(opened["id"]).due_at is None:
            break
    climbed = incidents.get_item(opened["id"])
    assert climbed.due_at is None, "the climb never stopped"
    assert timeline.transitions(climbed) == timeline.ESCALATION_EVENTS
    detail = client.http.get(f"/api/incidents/{opened['id']}").json_body
    assert "Escalation stopped after" in detail["timeline"][-1]["message"]

    for number in range(timeline.MAX_EVENTS - timeline.ESCALATION_EVENTS):
        reassigned = client.http.post(
            f"/api/incidents/{opened['id']}/reassign",
            headers={"Content-Type": "application/json"},
            body='{"user": "%s"}' % ("ü" * 127 + str(number % 2)),
        )
        assert reassigned.status_code == 200, reassigned.body
    refused = client.http.post(
        f"/api/incidents/{opened['id']}/reassign", headers={"Content-Type": "application/json"}, body='{"user": "zoe"}'
    )
    assert refused.status_code == 409, refused.body

    response = acknowledge(client, opened["id"], "alice")
    assert response.status_code == 200, response.body
    assert incidents.resolve(opened["id"], "alice")["status"] == "RESOLVED"


class BlockingSns:
    """An SNS client whose first publish hangs until released, as boto3's does for
    minutes against an unreachable endpoint (60 s connect and read timeouts,
    retried)."""

    def __init__(self) -> None:
        self.published: list[dict] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()

    def publish(self, **fields) -> dict:
        with self._lock:
            self.published.append(fields)
            first = len(self.published) == 1
        if first:
            self.entered.set()
            assert self.release.wait(30)
        return {"MessageId": f"m-{len(self.published)}"}


def test_a_slow_sns_publish_cannot_outlast_its_lease(client, manual_clock, monkeypatch):
    """A publish that hangs is abandoned at the send timeout, far inside the
    60 s lease, and retried by the delivery's backoff: no overlapping run can take
    the delivery while the first send may still go out."""
    monkeypatch.setenv("ONCALL_NOTIFY_TIMEOUT_SECONDS", "1")
    config.settings.cache_clear()
    fake = BlockingSns()
    monkeypatch.setattr(aws, "sns_client", lambda: fake)
    channels.create_channel(ChannelBody(service_name="db", kind="sns", name="pages", topic_arn=TOPIC_ARN), "admin")
    opened, _ = incidents.trigger(trigger_body("db", "replication stopped"), "monitor")
    try:
        started = time.monotonic()
        outcome = delivery.run()
        took = time.monotonic() - started
    finally:
        fake.release.set()
    assert took < 1 + 1 < delivery.LEASE.total_seconds(), took
    assert outcome["retrying"] == 1
    [only] = list(Delivery.query(opened["id"], consistent_read=True))
    assert (only.state, only.attempts, only.last_error) == ("pending", 1, "SNS did not answer within 1 s")


def test_the_sns_client_tries_once_within_the_send_timeout():
    aws.forget_clients()
    try:
        tuned = aws.sns_client().meta.config
        timeout = config.settings().notify_timeout_seconds
        assert (tuned.connect_timeout, tuned.read_timeout) == (timeout, timeout)
        assert tuned.retries["total_max_attempts"] == 1
    finally:
        aws.forget_clients()


def test_each_message_names_the_assignee_as_of_its_own_event(client, manual_clock):
    on_call_now(client, "db", "alice")
    policy.create_level(LevelBody(service_name="db", level=1, user="bob", wait_minutes=5))
    with Receiver() as receiver:
        channels.create_channel(ChannelBody(service_name="db", kind="webhook", name="pages", url=receiver.url), "admin")
        opened, _ = incidents.trigger(trigger_body("db", "replication stopped"), "monitor")
        assert opened["assigned_to"] == "alice"
        # The deliverer is late (a failed run, a throttled stream): the sweep steps first.
        manual_clock.advance(seconds=300)
        assert sweep.run()["incidents"] == [opened["id"]]
        delivery.run()
        assignees = {body["event"]: body["incident"]["assigned_to"] for body in receiver.bodies()}

    assert assignees == {"incident.triggered": "alice", "incident.escalated": "bob"}
