"""The escalation sweep: timing, levels, the missing-path case and overlapping sweeps."""

from chalicelib.escalation import policy, sweep
from chalicelib.incident import incidents
from tests.flows import (
    Lines,
    acknowledge,
    add_level,
    check_escalations,
    get_incident,
    metrics,
    run_threads,
    trigger_body,
    trigger_ok,
)


def scheduled_sweep(client) -> dict:
    event = client.events.generate_cw_event(
        source="aws.events",
        detail_type="Scheduled Event",
        detail={},
        resources=["arn:aws:events:us-east-1:123456789012:rule/oncall-dev-escalation_sweep"],
    )
    return client.lambda_.invoke("escalation_sweep", event).payload


def test_nothing_escalates_before_300_seconds_and_the_scheduled_function_escalates_after(client, manual_clock):
    first = trigger_ok(client, "db", "disk full")
    manual_clock.advance(seconds=100)
    second = trigger_ok(client, "db", "cpu hot")

    manual_clock.advance(seconds=199)
    assert check_escalations(client) == {"escalated": 0, "incidents": []}
    # The scheduled function runs the heartbeats' overdue check too (tests/test_heartbeats.py).
    assert scheduled_sweep(client) == {"escalated": 0, "incidents": [], "heartbeats_fired": 0}

    manual_clock.advance(seconds=1)
    assert scheduled_sweep(client) == {"escalated": 1, "incidents": [first["id"]], "heartbeats_fired": 0}
    assert get_incident(client, second["id"])["status"] == "TRIGGERED"

    manual_clock.advance(seconds=100)
    assert check_escalations(client) == {"escalated": 1, "incidents": [second["id"]]}

    stored = get_incident(client, first["id"])
    assert stored["status"] == "ESCALATED"
    assert stored["escalated_at"] == "2026-03-01T12:05:00.000Z"
    assert metrics(client)["escalated_incidents"] == 2


def test_without_levels_the_incident_is_flagged_and_the_missing_path_logged_once(client, manual_clock):
    incident = trigger_ok(client, "payments", "card declines")
    manual_clock.advance(seconds=301)

    with Lines("oncall.alerts") as log:
        assert check_escalations(client)["incidents"] == [incident["id"]]
        for _ in range(10):
            manual_clock.advance(seconds=60)
            assert check_escalations(client)["escalated"] == 0
            assert scheduled_sweep(client)["escalated"] == 0

    assert len(log.containing("No escalation path defined for payments")) == 1
    stored = get_incident(client, incident["id"])
    assert stored["status"] == "ESCALATED"
    assert stored["escalation_level"] == 0
    escalations = [entry for entry in stored["timeline"] if entry["kind"] == "escalated"]
    assert len(escalations) == 1
    assert "No escalation path defined for payments" in escalations[0]["message"]

    late = acknowledge(client, incident["id"], "dave")
    assert late.status_code == 200
    assert late.json_body["status"] == "ACKNOWLEDGED"


def test_two_levels_climb_one_per_interval_then_stop(client, manual_clock):
    assert add_level(client, "db", 1, user="bob", channel="sms").status_code == 201
    assert add_level(client, "db", 2, user="carol", channel="phone").status_code == 201
    assert add_level(client, "web", 1, user="zed").status_code == 201
    incident = trigger_ok(client, "db", "replication lag")

    with Lines("oncall.alerts") as log:
        manual_clock.advance(seconds=301)
        assert check_escalations(client)["incidents"] == [incident["id"]]
        after_first = get_incident(client, incident["id"])
        assert (after_first["status"], after_first["escalation_level"]) == ("ESCALATED", 1)

        manual_clock.advance(seconds=299)
        assert check_escalations(client)["escalated"] == 0
        manual_clock.advance(seconds=1)
        assert scheduled_sweep(client)["incidents"] == [incident["id"]]
        after_second = get_incident(client, incident["id"])
        assert (after_second["status"], after_second["escalation_level"]) == ("ESCALATED", 2)

        for _ in range(4):
            manual_clock.advance(seconds=301)
            assert check_escalations(client)["escalated"] == 0

    assert get_incident(client, incident["id"])["escalation_level"] == 2
    assert len(log.containing("Notifying bob via sms")) == 1
    assert len(log.containing("Notifying carol via phone")) == 1
    assert log.containing("zed") == []
    assert log.containing("No escalation path") == []
    messages = [entry["message"] for entry in after_second["timeline"] if entry["kind"] == "escalated"]
    assert len(messages) == 2
    assert "level 1" in messages[0] and "bob" in messages[0]
    assert "level 2" in messages[1] and "carol" in messages[1]
    assert after_second["escalated_at"] == after_first["escalated_at"] == "2026-03-01T12:05:01.000Z"
    assert metrics(client, "db")["escalated_incidents"] == 1


def test_levels_with_gaps_are_climbed_by_their_numbers(client, manual_clock):
    for number, user in ((5, "erin"), (1, "alice"), (3, "carol")):
        assert add_level(client, "db", number, user=user).status_code == 201
    incident = trigger_ok(client, "db", "replica lag")
    climbed = []
    for _ in range(4):
        manual_clock.advance(seconds=301)
        check_escalations(client)
        climbed.append(get_incident(client, incident["id"])["escalation_level"])
    assert climbed == [1, 3, 5, 5]
    messages = [e["message"] for e in get_incident(client, incident["id"])["timeline"] if e["kind"] == "escalated"]
    assert [m.split(":")[0] for m in messages] == [
        "Escalated to level 1",
        "Escalated to level 3",
        "Escalated to level 5",
    ]
    assert "erin" in messages[-1]


def test_an_ack_between_sweeps_stops_the_climb(client, manual_clock):
    add_level(client, "db", 1, user="bob")
    add_level(client, "db", 2, user="carol")
    incident = trigger_ok(client)
    manual_clock.advance(seconds=301)
    assert check_escalations(client)["incidents"] == [incident["id"]]
    manual_clock.advance(seconds=100)

    acked = acknowledge(client, incident["id"], "bob")
    assert acked.status_code == 200

    for _ in range(3):
        manual_clock.advance(seconds=301)
        assert check_escalations(client)["escalated"] == 0
    stored = get_incident(client, incident["id"])
    assert (stored["status"], stored["escalation_level"], stored["acknowledged_by"]) == ("ACKNOWLEDGED", 1, "bob")

    early = trigger_ok(client, "db", "acked before due")
    acknowledge(client, early["id"])
    manual_clock.advance(seconds=600)
    assert check_escalations(client)["escalated"] == 0
    assert get_incident(client, early["id"])["status"] == "ACKNOWLEDGED"


def test_overlapping_sweeps_escalate_each_incident_exactly_once(manual_clock):
    level_body = policy.LevelBody(service_name="svc-1", level=1, user="bob")
    policy.create_level(level_body)
    opened = [incidents.trigger(trigger_body(f"svc-{n % 3}", f"alert {n}"), "monitor")[0]["id"] for n in range(30)]
    manual_clock.advance(seconds=301)

    with Lines("oncall.alerts") as log:
        results, errors = run_threads([sweep.run] * 8)

    assert errors == [None] * 8
    assert sum(result["escalated"] for result in results) == 30
    escalated_ids = [incident_id for result in results for incident_id in result["incidents"]]
    assert sorted(escalated_ids) == sorted(opened)
    assert len(log.containing("INCIDENT ESCALATED")) == 30
    assert len(log.containing("Notifying bob")) == 10
    for n, incident_id in enumerate(opened):
        if n % 3 != 1:
            expected = f"No escalation path defined for svc-{n % 3} (incident {incident_id})"
            assert len(log.containing(expected)) == 1, expected
    assert len(log.containing("No escalation path defined")) == 20
    assert incidents.metrics.read()["escalated_incidents"] == 30
    for incident_id in opened:
        stored = incidents.detail(incident_id)
        assert stored["status"] == "ESCALATED"
        assert len([e for e in stored["timeline"] if e["kind"] == "escalated"]) == 1
    assert sweep.run()["escalated"] == 0


def test_acks_racing_a_sweep_are_never_lost(manual_clock):
    opened = [incidents.trigger(trigger_body("db", f"alert {n}"), "monitor")[0]["id"] for n in range(20)]
    manual_clock.advance(seconds=301)

    def work(i):
        if i < 4:
            return sweep.run()
        return incidents.acknowledge(opened[i - 4], f"responder-{i - 4}")

    results, errors = run_threads([lambda i=i: work(i) for i in range(24)])

    assert errors == [None] * 24
    for n, incident_id in enumerate(opened):
        stored = incidents.detail(incident_id)
        assert stored["status"] == "ACKNOWLEDGED", stored
        assert stored["acknowledged_by"] == f"responder-{n}"
        kinds = [entry["kind"] for entry in stored["timeline"]]
        assert kinds.count("acknowledged") == 1
        assert kinds.count("escalated") <= 1
        assert kinds[-1] == "acknowledged"
    swept = [incident_id for result in results[:4] for incident_id in result["incidents"]]
    assert len(swept) == len(set(swept))
    manual_clock.advance(seconds=900)
    assert sweep.run()["escalated"] == 0
    assert all(incidents.detail(i)["status"] == "ACKNOWLEDGED" for i in opened)
