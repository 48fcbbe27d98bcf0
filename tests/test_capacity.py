"""Capacity per operation, priced as DynamoDB bills it (tests/capacity.py), and the
partitions each operation writes under: no key every incident's writes share but
the incident-number counter."""

from collections import Counter

import pytest

from chalicelib.api.payloads import TriggerBody
from chalicelib.incident import incidents
from chalicelib.models import NOTIFIER_STREAM_FILTER, Incident
from chalicelib.notify import delivery
from tests.capacity import metered
from tests.capacity_model import Stream
from tests.flows import acknowledge, add_level, check_escalations, metrics, on_call_now, post, resolve, trigger

STATS = "oncall-test-stats"


def stats_partitions(meter) -> Counter:
    return Counter({key: units for (table, key), units in meter.partitions.items() if table == STATS})


def test_metrics_rows_are_the_services_own_and_nothing_else_counts(client):
    written: Counter = Counter()
    for n in range(32):
        with metered() as meter:
            number = trigger(client, f"svc-{n % 4}", f"alert {n}").json_body["id"]
            acknowledge(client, number)
            resolve(client, number)
        written.update(stats_partitions(meter))
    counter = written.pop("counter")
    assert counter == 32  # the one key every new incident writes: its number
    assert sorted(written) == [f"metrics-service#svc-{n}" for n in range(4)]
    totals = metrics(client)
    assert (totals["total_incidents"], totals["resolved_incidents"], totals["alerts"]) == (32, 32, 32)


# --- write units per operation, the same at 1 and at 100 transitions of history ---------------

INCIDENTS = "oncall-test-incidents"
TALLIES = "oncall-test-alert-tallies"


def incident_writes(meter) -> list:
    return [written for written in meter.writes if written.table == INCIDENTS]


def typical_alert(dedup_key: str) -> dict:
    """An alert as an integration sends it: a 60-character title, a 400-byte
    description and half a kilobyte of details (an incident of about 1.2 KB)."""
    body = TriggerBody(
        service_name="payments",
        title="Checkout error rate above 5% for 10 minutes on payments-api",
        description="d" * 400,
        dedup_key=dedup_key,
    )
    details = {"query": "rate(http_errors[5m])" * 12, "value": "7.2%", "runbook": "x" * 200}
    answer, _ = incidents.trigger(body, "monitor", incidents.Origin(source="prometheus-prod", details=details))
    return answer


@pytest.mark.parametrize("history", [1, 100])
def test_write_units_per_operation_do_not_grow_with_the_history(client, history):
    with metered() as first_of_service:
        typical_alert("another alert")
    with metered() as opening:
        number = typical_alert(f"checkout-{history}")["id"]
    delivery.run()
    for n in range(history - 1):
        assert post(client, f"/api/incidents/{number}/reassign/", {"user": f"responder-{n}"}).status_code == 200
    # The notifier hands the transitions over, as the incidents stream has it do.
    delivery.run()
    with metered() as folding:
        assert typical_alert(f"checkout-{history}")["deduplicated"]
    with metered() as acknowledging:
        acknowledge(client, number)
    delivery.run()
    with metered() as resolving:
        resolve(client, number)

    # (the incident 4 in a transaction, its dedup item 2, the service's metrics row 2,
    # its report row of the day and dedup key 2 (chalicelib/report/buckets.py, under
    # 1 KB), the number 1, an entry in each of the feed, by-service, by-status, due and
    # outbox indexes; the service's first also enters the services index)
    assert opening.write_units == 16
    assert first_of_service.write_units == 17
    # (the count 2 on the incident's alert tally, an item of under 1 KB, in a
    # transaction of one item; the explicit key's dedup item is read, not written, and
    # the incident is not written: it was 4)
    assert folding.write_units == 2
    # (the incident 2; the due entry leaves, the outbox entry comes, the status list moves)
    assert acknowledging.write_units == 6
    # (the incident 4, the dedup item's delete 2, the tally closed 2, the service's
    # metrics row 2, the report row of its opening day 2, the outbox entry comes, the
    # status list moves)
    assert resolving.write_units == 15
    assert [written.table for written in folding.writes].count(INCIDENTS) == 0
    assert [written.table for written in folding.writes].count(TALLIES) == 1


def test_the_stream_wakes_the_notifier_for_transitions_and_not_for_folded_alerts(client):
    filters = [NOTIFIER_STREAM_FILTER]
    stream = Stream(("id",), Incident.Meta.stream_view_type, filters)
    with metered() as opening:
        number = typical_alert("checkout")["id"]
    with metered() as handing_over:
        delivery.run()
    with metered() as folding:
        typical_alert("checkout")
    with metered() as acknowledging:
        acknowledge(client, number)

    assert len(stream.passing(incident_writes(opening))) == 1
    # A folded alert writes its alert tally, not the incident: no record at all.
    assert incident_writes(folding) == []
    # Handing over the last transition takes the incident out of the outbox: no wake-up.
    assert len(incident_writes(handing_over)) == 1 and stream.passing(incident_writes(handing_over)) == []
    assert len(stream.passing(incident_writes(acknowledging))) == 1


def test_a_page_costs_thirteen_write_units_and_seven_reads(client, monkeypatch):
    """The notifier's pass over a new incident, without and with its assignee paged by
    one SMS rule: the page is made in the hand-over (+3, a delivery of about 1.5 KB in
    the transaction), claimed (3) and recorded with its timeline entry (5) and the
    person's report row of the day (2); it reads the person (their user, methods and
    rules) when made, and the due delivery, its contact method, and the incident with
    the person (their time zone) when sent."""
    from tests.test_pages import email_sender, person  # noqa: F401

    monkeypatch.setenv("ONCALL_EMAIL_FROM", "oncall@example.com")
    trigger(client, "payments", "warm up")  # the service's first incident writes more
    delivery.run()
    person(client, "alice", sms="+14155550100")
    trigger(client, "payments", "nobody paged")
    with metered() as unpaged:
        delivery.run()
    on_call_now(client, "payments", "alice")
    trigger(client, "payments", "alice paged")
    with metered() as paged:
        assert delivery.run()["delivered"] == 1
    assert paged.write_units - unpaged.write_units == 13
    assert paged.read_units - unpaged.read_units == 7


def test_an_escalation_step_costs_two_more_units_the_first_time_for_the_report(client, manual_clock):
    """The sweep's step: the incident 4 (a transaction) and its due entry moved 2; the
    first step also moves the status list (2) and counts the incident as escalated on
    the service's metrics row (2) and on the report row of its opening day (2)."""
    add_level(client, "payments", 1, "alice")
    add_level(client, "payments", 2, "bob")
    number = typical_alert("checkout")["id"]
    steps = []
    for _ in range(2):
        manual_clock.advance(minutes=16)
        with metered() as stepping:
            assert check_escalations(client)["incidents"] == [number]
        steps.append(stepping)
    first, second = steps
    assert (first.write_units, second.write_units) == (12, 6)
    assert Counter(written.table for written in first.writes)["oncall-test-reports"] == 1
    assert Counter(written.table for written in second.writes)["oncall-test-reports"] == 0
