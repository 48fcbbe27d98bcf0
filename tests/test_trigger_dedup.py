"""Triggering alerts over HTTP: new incidents, folded duplicates and the dedup window.

Each test walks one scenario end to end (the per-test table setup is the
expensive part of this suite, so scenarios are grouped)."""

from tests.flows import acknowledge, check_escalations, get_incident, on_call_now, resolve, trigger, trigger_ok

INCIDENT_FIELDS = {
    "id",
    "service_name",
    "title",
    "description",
    "severity",
    "status",
    "assigned_to",
    "created_at",
    "acknowledged_at",
    "acknowledged_by",
    "resolved_at",
    "resolved_by",
    "escalated_at",
    "escalation_level",
    "alert_count",
    "last_alert_at",
}


def test_new_alert_is_201_with_full_incident_and_duplicates_are_200_deduplicated(client, manual_clock):
    response = trigger(client, "db", "disk full", description="sda1 at 99%", severity="warning", user="prom")

    assert response.status_code == 201
    incident = response.json_body
    assert INCIDENT_FIELDS <= set(incident)
    assert isinstance(incident["id"], int) and incident["id"] >= 1
    assert incident["service_name"] == "db"
    assert incident["title"] == "disk full"
    assert incident["description"] == "sda1 at 99%"
    assert incident["severity"] == "warning"
    assert incident["status"] == "TRIGGERED"
    assert incident["alert_count"] == 1
    assert incident["escalation_level"] == 0
    assert incident["created_at"] == "2026-03-01T12:00:00.000Z"
    assert incident["last_alert_at"] == incident["created_at"]
    for field in ("acknowledged_at", "acknowledged_by", "resolved_at", "resolved_by", "escalated_at"):
        assert incident[field] is None
    assert "deduplicated" not in incident

    for expected_count in (2, 3, 4):
        manual_clock.advance(seconds=10)
        duplicate = trigger(client, "db", "disk full", description="changed", severity="info")
        assert duplicate.status_code == 200
        assert duplicate.json_body["deduplicated"] is True
        assert duplicate.json_body["id"] == incident["id"]
        assert duplicate.json_body["alert_count"] == expected_count

    stored = get_incident(client, incident["id"])
    assert stored["alert_count"] == 4
    assert stored["last_alert_at"] == "2026-03-01T12:00:30.000Z"
    assert stored["created_at"] == "2026-03-01T12:00:00.000Z"
    assert stored["severity"] == "warning"
    assert stored["description"] == "sda1 at 99%"

    plain = trigger(client, "web", "5xx").json_body
    assert plain["severity"] == "critical"
    assert plain["description"] == ""


def test_derived_key_is_service_plus_title_and_explicit_keys_stay_apart(client):
    a = trigger_ok(client, "db", "disk full")
    other_title = trigger(client, "db", "cpu hot")
    other_service = trigger(client, "web", "disk full")
    explicit_same_text = trigger(client, "db", "x", dedup_key="disk full")
    explicit_other_service = trigger(client, "web", "x", dedup_key="disk full")
    again = trigger(client, "db", "disk full")

    opened = (other_title, other_service, explicit_same_text, explicit_other_service)
    for response in opened:
        assert response.status_code == 201, response.body
    ids = [a["id"]] + [response.json_body["id"] for response in opened]
    assert len(set(ids)) == 5
    assert again.status_code == 200
    assert again.json_body["id"] == a["id"]
    assert ids == sorted(ids)


def test_window_slides_with_each_alert_and_a_gap_opens_a_new_incident(client, manual_clock):
    first = trigger_ok(client)
    for _ in range(18):
        manual_clock.advance(seconds=200)
        response = trigger(client)
        assert response.status_code == 200
        assert response.json_body["id"] == first["id"]
    assert get_incident(client, first["id"])["alert_count"] == 19

    manual_clock.advance(seconds=300)
    edge = trigger(client)
    assert edge.status_code == 200, "an alert exactly one window after the last still folds"
    assert edge.json_body["id"] == first["id"]

    manual_clock.advance(seconds=301)
    after_gap = trigger(client)

    assert after_gap.status_code == 201
    assert after_gap.json_body["id"] > first["id"]
    assert after_gap.json_body["alert_count"] == 1
    assert get_incident(client, first["id"])["alert_count"] == 20


def test_explicit_dedup_key_binds_while_open_and_is_released_by_resolve(client, manual_clock):
    first = trigger_ok(client, "db", "disk full", dedup_key="host-7/disk")
    manual_clock.advance(hours=5)

    folded = trigger(client, "db", "a different title", dedup_key="host-7/disk")

    assert folded.status_code == 200
    assert folded.json_body["id"] == first["id"]
    assert folded.json_body["deduplicated"] is True
    assert get_incident(client, first["id"])["alert_count"] == 2

    assert acknowledge(client, first["id"]).status_code == 200
    assert resolve(client, first["id"]).status_code == 200
    reopened = trigger(client, "db", "disk full", dedup_key="host-7/disk")

    assert reopened.status_code == 201
    assert reopened.json_body["id"] != first["id"]
    closed = get_incident(client, first["id"])
    assert closed["status"] == "RESOLVED"
    assert closed["alert_count"] == 2


def test_acknowledged_and_escalated_incidents_fold_and_resolved_ones_do_not(client, manual_clock):
    acked = trigger_ok(client, "db", "acked alert")
    escalated = trigger_ok(client, "db", "escalated alert")
    assert acknowledge(client, acked["id"], "alice").status_code == 200
    for _ in range(2):
        manual_clock.advance(seconds=200)
        assert trigger(client, "db", "acked alert").status_code == 200
        assert trigger(client, "db", "escalated alert").status_code == 200
    manual_clock.advance(seconds=1)
    assert check_escalations(client)["incidents"] == [escalated["id"]]
    manual_clock.advance(seconds=100)

    to_acked = trigger(client, "db", "acked alert")
    to_escalated = trigger(client, "db", "escalated alert")

    assert (to_acked.status_code, to_acked.json_body["id"]) == (200, acked["id"])
    assert (to_escalated.status_code, to_escalated.json_body["id"]) == (200, escalated["id"])
    assert get_incident(client, acked["id"])["status"] == "ACKNOWLEDGED"
    assert get_incident(client, acked["id"])["alert_count"] == 4
    assert get_incident(client, escalated["id"])["status"] == "ESCALATED"
    assert get_incident(client, escalated["id"])["alert_count"] == 4

    assert resolve(client, acked["id"], "alice").status_code == 200
    manual_clock.advance(seconds=5)
    fresh = trigger(client, "db", "acked alert")
    assert fresh.status_code == 201
    assert fresh.json_body["id"] not in (acked["id"], escalated["id"])
    assert fresh.json_body["status"] == "TRIGGERED"
    again = trigger(client, "db", "acked alert")
    assert (again.status_code, again.json_body["id"]) == (200, fresh.json_body["id"])


def test_resolving_a_stale_incident_does_not_free_the_newer_incidents_key(client, manual_clock):
    a = trigger_ok(client)
    manual_clock.advance(seconds=301)
    b = trigger(client)
    assert b.status_code == 201
    b_id = b.json_body["id"]
    assert b_id > a["id"]
    assert get_incident(client, a["id"])["status"] == "TRIGGERED"

    assert acknowledge(client, a["id"]).status_code == 200
    assert resolve(client, a["id"]).status_code == 200
    manual_clock.advance(seconds=10)
    response = trigger(client)

    assert response.status_code == 200
    assert response.json_body["id"] == b_id
    assert get_incident(client, b_id)["alert_count"] == 2
    assert get_incident(client, a["id"])["alert_count"] == 1


def test_new_incidents_go_to_whoever_is_on_call_or_stay_unassigned(client):
    on_call_now(client, "db", "alice")
    on_call_now(client, "web", "bob")

    db_incident = trigger(client, "db", "disk full", user="prometheus").json_body
    web_incident = trigger(client, "web", "5xx").json_body
    nobody = trigger(client, "queue", "backlog")

    assert db_incident["assigned_to"] == "alice"
    assert web_incident["assigned_to"] == "bob"
    assert get_incident(client, db_incident["id"])["assigned_to"] == "alice"
    assert nobody.status_code == 201
    assert nobody.json_body["assigned_to"] is None
    first_entry = get_incident(client, nobody.json_body["id"])["timeline"][0]
    assert first_entry["message"].endswith("; unassigned: nobody is on call.")
    assert get_incident(client, db_incident["id"])["timeline"][0]["actor"] == "prometheus"
    assert db_incident["id"] < web_incident["id"] < nobody.json_body["id"]
