"""The incident state machine over HTTP: acknowledge, resolve, the refusals, ids and the timeline."""

import pytest

from chalicelib.errors import InvalidTransition
from chalicelib.incident import incidents
from tests.flows import JSON, acknowledge, check_escalations, get_incident, put, resolve, trigger_ok


def test_ack_then_resolve_records_who_and_when(client, manual_clock):
    incident = trigger_ok(client)
    manual_clock.advance(seconds=30)

    # The key names the actor; a user in the body (the original API's way) is ignored.
    acked = put(client.as_user("alice"), f"/api/incidents/{incident['id']}/acknowledge/", {"user": "mallory"})

    assert acked.status_code == 200
    assert acked.json_body["status"] == "ACKNOWLEDGED"
    assert acked.json_body["acknowledged_by"] == "alice"
    assert acked.json_body["acknowledged_at"] == "2026-03-01T12:00:30.000Z"
    assert acked.json_body["id"] == incident["id"]

    manual_clock.advance(seconds=60)
    resolved = client.as_user("bob").http.post(
        f"/api/incidents/{incident['id']}/resolve", headers=JSON, body='{"user": "mallory"}'
    )

    assert resolved.status_code == 200
    assert resolved.json_body["status"] == "RESOLVED"
    assert resolved.json_body["resolved_by"] == "bob"
    assert resolved.json_body["resolved_at"] == "2026-03-01T12:01:30.000Z"
    assert resolved.json_body["acknowledged_by"] == "alice"

    stored = get_incident(client, incident["id"])
    assert (stored["status"], stored["acknowledged_by"], stored["resolved_by"]) == ("RESOLVED", "alice", "bob")


def test_methods_path_forms_refusals_and_bad_ids(client):
    """Every combination walks TRIGGERED -> ACKNOWLEDGED -> RESOLVED with the refusals on the way."""
    for method in ("put", "post"):
        for slash in ("", "/"):
            _walk_life_cycle(client, method, slash)

    for path in ("/api/incidents/999/", "/api/incidents/999/acknowledge/", "/api/incidents/999/resolve/"):
        response = client.http.get(path) if path.count("/") == 4 else client.http.put(path, headers=JSON, body="")
        assert response.status_code == 404, path
        assert response.json_body["code"] == "not_found"

    for raw in ("abc", "0", "-1", "1.5", "9" * 40, "00", "1e3", "%20"):
        for method, suffix in (("get", ""), ("put", "acknowledge/"), ("post", "resolve/")):
            response = getattr(client.http, method)(f"/api/incidents/{raw}/{suffix}", headers=JSON, body="")
            assert response.status_code == 400, (raw, suffix, response.status_code, response.body)
            assert response.json_body["field"] == "id"
    assert get_incident(client, 1)["status"] == "RESOLVED"


def _walk_life_cycle(client, method, slash):
    incident = trigger_ok(client, "db", f"{method} with {slash!r}")
    base = f"/api/incidents/{incident['id']}"
    call = getattr(client.http, method)

    early_resolve = call(f"{base}/resolve{slash}", headers=JSON, body="")
    assert early_resolve.status_code == 400
    assert early_resolve.json_body["code"] == "invalid_transition"
    assert "TRIGGERED" in early_resolve.json_body["error"]

    assert call(f"{base}/acknowledge{slash}", headers=JSON, body="").status_code == 200
    second_ack = call(f"{base}/acknowledge{slash}", headers=JSON, body="")
    assert second_ack.status_code == 400
    assert second_ack.json_body["code"] == "invalid_transition"
    assert "ACKNOWLEDGED" in second_ack.json_body["error"]

    assert call(f"{base}/resolve{slash}", headers=JSON, body="").status_code == 200
    for action in ("acknowledge", "resolve"):
        refused = call(f"{base}/{action}{slash}", headers=JSON, body="")
        assert refused.status_code == 400
        assert refused.json_body["code"] == "invalid_transition"
        assert "RESOLVED" in refused.json_body["error"]

    detail = client.http.get(f"{base}{slash}")
    assert detail.status_code == 200
    assert detail.json_body["status"] == "RESOLVED"


def test_escalated_incident_acks_late_resolve_needs_ack_first_and_resolved_is_terminal(client, manual_clock):
    incident = trigger_ok(client)
    manual_clock.advance(seconds=301)
    assert check_escalations(client)["incidents"] == [incident["id"]]

    refused = resolve(client, incident["id"])
    assert refused.status_code == 400
    assert refused.json_body["code"] == "invalid_transition"
    assert "ESCALATED" in refused.json_body["error"]
    assert get_incident(client, incident["id"])["status"] == "ESCALATED"

    late = acknowledge(client, incident["id"], "carol")
    assert late.status_code == 200
    assert late.json_body["status"] == "ACKNOWLEDGED"
    assert late.json_body["acknowledged_by"] == "carol"

    assert resolve(client, incident["id"], "carol").status_code == 200
    for _ in range(2):
        assert acknowledge(client, incident["id"]).status_code == 400
        assert resolve(client, incident["id"]).status_code == 400
    manual_clock.advance(seconds=600)
    assert check_escalations(client)["escalated"] == 0
    final = get_incident(client, incident["id"])
    assert final["status"] == "RESOLVED"
    assert final["resolved_by"] == "carol"


def test_timeline_lists_trigger_ack_escalation_and_resolve_with_actors(client, manual_clock):
    incident = trigger_ok(client, "db", "disk full", user="prometheus")
    manual_clock.advance(seconds=60)
    trigger_ok(client, "db", "disk full", user="grafana")
    manual_clock.advance(seconds=241)
    assert check_escalations(client)["incidents"] == [incident["id"]]
    manual_clock.advance(seconds=30)
    assert acknowledge(client, incident["id"], "alice").status_code == 200
    manual_clock.advance(seconds=30)
    assert resolve(client, incident["id"], "bob").status_code == 200

    final = get_incident(client, incident["id"])
    timeline = final["timeline"]

    # A folded duplicate is counted on the incident, not written to its history.
    assert (final["alert_count"], final["last_alert_at"]) == (2, "2026-03-01T12:01:00.000Z")
    kinds = [entry["kind"] for entry in timeline]
    assert kinds == ["triggered", "escalated", "acknowledged", "resolved"]
    assert [entry["actor"] for entry in timeline] == ["prometheus", "escalation", "alice", "bob"]
    assert [entry["at"] for entry in timeline] == [
        "2026-03-01T12:00:00.000Z",
        "2026-03-01T12:05:01.000Z",
        "2026-03-01T12:05:31.000Z",
        "2026-03-01T12:06:01.000Z",
    ]
    assert all(entry["message"] for entry in timeline)


def test_monitoring_source_resolve_closes_triggered_and_escalated_incidents(client, manual_clock):
    escalated = trigger_ok(client, "db", "old")
    manual_clock.advance(seconds=301)
    assert check_escalations(client)["incidents"] == [escalated["id"]]
    triggered = trigger_ok(client, "db", "new")

    with pytest.raises(InvalidTransition):
        incidents.resolve(triggered["id"], "responder")

    for incident in (triggered, escalated):
        result = incidents.resolve(incident["id"], "alertmanager", by_source=True)
        assert result["status"] == "RESOLVED"
        assert result["resolved_by"] == "alertmanager"
        stored = get_incident(client, incident["id"])
        assert stored["status"] == "RESOLVED"
        last = stored["timeline"][-1]
        assert (last["kind"], last["actor"]) == ("resolved", "alertmanager")
        assert "source" in last["message"]

    with pytest.raises(InvalidTransition) as refused:
        incidents.resolve(triggered["id"], "alertmanager", by_source=True)
    assert "RESOLVED" in refused.value.message
    reopened = trigger_ok(client, "db", "new")
    assert reopened["id"] > triggered["id"]
