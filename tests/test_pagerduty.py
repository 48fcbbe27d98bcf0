"""PagerDuty Events API v2 at /v2/enqueue: the sample events of tests/wire_formats,
dedup_key rules (fresh key without one, folding, ack/resolve on the open incident,
the key free again after resolve), routing keys, and malformed events answered in
PagerDuty's shape with nothing written."""

import json
from pathlib import Path

import pytest

from chalicelib.models import Incident
from tests.flows import JSON, get_incident, writes

WIRE_FORMATS = Path(__file__).resolve().parent / "wire_formats"
PATH = "/v2/enqueue"
ACTOR = "integration payments (integration key)"


def sample(action: str, token: str) -> dict:
    path = WIRE_FORMATS / f"pagerduty-events-v2-{action}.json"
    event = json.loads(path.read_text(encoding="utf-8"))
    event["routing_key"] = token
    return event


def send(client, event, path=PATH):
    body = event if isinstance(event, (bytes, str)) else json.dumps(event)
    return client.anonymous.post(path, headers=JSON, body=body)


def incidents(client) -> list[dict]:
    return client.http.get("/api/incidents/list/all/").json_body["incidents"]


def accepted(response, dedup_key=None):
    assert response.status_code == 202, response.body
    body = response.json_body
    assert body["status"] == "success" and body["message"] == "Event processed"
    if dedup_key is not None:
        assert body["dedup_key"] == dedup_key
    return body["dedup_key"]


def refused(response, *fragments, status=400):
    assert response.status_code == status, response.body
    body = response.json_body
    assert body["status"] == "invalid event" and body["message"] == "Event object is invalid"
    assert isinstance(body["errors"], list) and body["errors"]
    for fragment in fragments:
        assert any(fragment in error for error in body["errors"]), body["errors"]
    assert "code" not in body


@pytest.fixture
def token(keyring):
    return keyring.integration("payments")


def test_the_samples_trigger_acknowledge_and_resolve(client, token):
    accepted(send(client, sample("trigger", token)), "db-primary/connections")
    [incident] = incidents(client)
    assert incident["service_name"] == "payments"
    assert incident["title"] == "Primary DB refusing connections"
    assert incident["severity"] == "critical"
    assert incident["status"] == "TRIGGERED"
    assert incident["source"] == "db-primary-1.prod.internal"
    assert incident["created_by"] == ACTOR
    assert incident["dedup_key"] == "db-primary/connections"
    assert incident["details"] == {
        "component": "postgres",
        "group": "payments-db",
        "class": "connectivity",
        "timestamp": "2026-11-26T08:42:58.315+0000",
        "client": "Example Monitoring",
        "client_url": "https://monitoring.example.com",
        "custom_details": {"active_connections": 0, "error": "timeout after 5s"},
        "links": [{"href": "https://grafana.example.com/d/db", "text": "DB dashboard"}],
        "images": [],
    }

    accepted(send(client, sample("trigger", token)))
    assert get_incident(client, incident["id"])["alert_count"] == 2

    accepted(send(client, sample("acknowledge", token)), "db-primary/connections")
    acked = get_incident(client, incident["id"])
    assert acked["status"] == "ACKNOWLEDGED" and acked["acknowledged_by"] == ACTOR
    accepted(send(client, sample("acknowledge", token)))  # already acknowledged: a no-op
    assert get_incident(client, incident["id"])["acknowledged_by"] == ACTOR

    accepted(send(client, sample("resolve", token)), "db-primary/connections")
    resolved = get_incident(client, incident["id"])
    assert resolved["status"] == "RESOLVED" and resolved["resolved_by"] == ACTOR

    # The key is free again: the same trigger opens a new incident.
    accepted(send(client, sample("trigger", token)))
    assert [i["id"] for i in incidents(client)][0] != incident["id"]
    assert len(incidents(client)) == 2


def test_resolve_closes_from_triggered_too(client, token):
    accepted(send(client, sample("trigger", token)))
    accepted(send(client, sample("resolve", token)))
    [incident] = incidents(client)
    assert incident["status"] == "RESOLVED" and incident["resolved_by"] == ACTOR


@pytest.mark.parametrize("severity", ["critical", "error", "warning", "info"])
def test_severity_maps(client, token, severity):
    event = sample("trigger", token)
    event["payload"]["severity"] = severity
    accepted(send(client, event))
    assert incidents(client)[0]["severity"] == severity


def test_without_a_dedup_key_every_trigger_opens_a_new_incident(client, token):
    event = sample("trigger", token)
    del event["dedup_key"]
    keys = {accepted(send(client, event)) for _ in range(3)}
    assert len(keys) == 3
    found = incidents(client)
    assert len(found) == 3 and {i["dedup_key"] for i in found} == keys
    # The returned key acts on its incident.
    key = sorted(keys)[0]
    accepted(send(client, {"routing_key": token, "event_action": "resolve", "dedup_key": key}), key)
    assert [i["status"] for i in incidents(client) if i["dedup_key"] == key] == ["RESOLVED"]


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_ack_or_resolve_for_an_unknown_key_is_accepted_and_writes_nothing(client, token, action, requests_made):
    with requests_made.measure() as calls:
        accepted(send(client, sample(action, token)), "db-primary/connections")
    assert writes(calls) == {}
    assert incidents(client) == []


def test_the_trailing_slash_path_works(client, token):
    accepted(send(client, sample("trigger", token), path=PATH + "/"))
    assert len(incidents(client)) == 1


def test_a_key_with_several_services_uses_component_else_the_first(client, keyring):
    token = keyring.integration("search", "payments")
    event = sample("trigger", token)  # component "postgres" is not one of them
    accepted(send(client, event))
    assert incidents(client)[0]["service_name"] == "payments"
    event["payload"]["component"] = "search"
    event["dedup_key"] = "other"
    accepted(send(client, event))
    assert incidents(client)[0]["service_name"] == "search"
    accepted(send(client, {"routing_key": token, "event_action": "acknowledge", "dedup_key": "other"}))
    assert incidents(client)[0]["status"] == "ACKNOWLEDGED"


def test_another_services_key_does_not_touch_the_incident(client, keyring, token):
    accepted(send(client, sample("trigger", token)))
    other = keyring.integration("search")
    accepted(send(client, sample("resolve", other)))
    assert incidents(client)[0]["status"] == "TRIGGERED"


def test_huge_details_are_omitted_with_a_note(client, token):
    event = sample("trigger", token)
    event["payload"]["custom_details"] = {"blob": "x" * 100_000}
    accepted(send(client, event))
    details = incidents(client)[0]["details"]
    assert "custom_details" not in details and "omitted" in details
    assert details["component"] == "postgres"


def test_details_stay_within_64_kib_as_stored(client, token):
    """Details are measured as stored (UTF-8, 4 bytes an emoji): six wide short fields
    and wide custom details pass 64 KiB together, so custom_details goes with a note
    and the fields stay whole."""
    event = sample("trigger", token)
    wide = "🚨" * 1024
    event["payload"].update({"component": wide, "group": wide, "class": wide, "timestamp": wide})
    event.update(client=wide, client_url=wide)
    event["payload"]["custom_details"] = {"note": "🚨" * 12_000}
    accepted(send(client, event))
    details = incidents(client)[0]["details"]
    assert len(Incident.details.serialize(details).encode()) <= 64 * 1024
    assert "custom_details" not in details and details["omitted"].startswith("custom_details, ")
    assert details["component"] == details["client_url"] == wide


def _invalid_events(token):
    def trigger(**changes):
        event = sample("trigger", token)
        for dotted, value in changes.items():
            target = event
            *parents, last = dotted.split("__")
            for parent in parents:
                target = target[parent]
            if value is ...:
                del target[last]
            else:
                target[last] = value
        return event

    return [
        (b"", "missing"),
        (b"{not json", "JSON"),
        (b"[1, 2]", "JSON object"),
        (trigger(routing_key=...), "'routing_key' is missing"),
        (trigger(event_action=...), "'event_action' is missing"),
        (trigger(event_action="snooze"), "event_action"),
        (trigger(payload=...), "'payload' is missing"),
        (trigger(payload="text"), "payload"),
        (trigger(payload__summary=...), "'payload.summary' is missing"),
        (trigger(payload__summary=" "), "payload.summary"),
        (trigger(payload__summary="s" * 1025), "payload.summary"),
        (trigger(payload__source=...), "'payload.source' is missing"),
        (trigger(payload__severity=...), "'payload.severity' is missing"),
        (trigger(payload__severity="fatal"), "payload.severity"),
        (trigger(payload__severity=1), "payload.severity"),
        (trigger(dedup_key=12), "dedup_key"),
        (trigger(dedup_key="k" * 256), "dedup_key"),
        (trigger(links="x"), "links"),
        ({"routing_key": token, "event_action": "resolve"}, "'dedup_key' is missing"),
        ({"routing_key": token, "event_action": "acknowledge", "dedup_key": ""}, "dedup_key"),
    ]


def test_malformed_events_are_400_in_pagerdutys_shape_and_write_nothing(client, token, requests_made):
    for event, fragment in _invalid_events(token):
        with requests_made.measure() as calls:
            response = send(client, event)
        refused(response, fragment)
        assert writes(calls) == {}, event
    assert incidents(client) == []


def test_routing_keys_that_are_not_live_integration_keys_are_invalid(client, keyring, token, requests_made):
    revoked = keyring.integration("search")
    key_id = client.http.get("/api/me", headers={"Authorization": f"Bearer {revoked}"}).json_body["key_id"]
    assert client.http.delete(f"/api/keys/{key_id}/").status_code == 200
    for routing_key in ("R0UT1NGKEY0000000000000000000001", revoked, keyring.admin(), keyring.responder("alice")):
        for action in ("trigger", "acknowledge", "resolve"):
            with requests_made.measure() as calls:
                response = send(client, sample(action, routing_key))
            refused(response, "Invalid routing key")
            assert writes(calls) == {}
    assert incidents(client) == []


def test_an_event_over_512_kb_is_413_and_one_under_is_accepted(client, token):
    event = sample("trigger", token)
    event["payload"]["custom_details"] = {"blob": "x" * (400 * 1024)}
    accepted(send(client, event))
    event["payload"]["custom_details"] = {"blob": "x" * (513 * 1024)}
    refused(send(client, event), "512", status=413)


def test_throttling_is_429_in_pagerdutys_shape_with_retry_after(client, token, faults):
    # DynamoDB throttles every attempt, botocore's and the product's alike.
    faults.arm("throttled", at=1, repeat=1000)
    response = send(client, sample("trigger", token))
    faults.disarm()
    assert response.status_code == 429
    assert response.json_body["status"] == "throttle event"
    assert response.headers["Retry-After"].isdigit()
    assert send(client, sample("trigger", token)).status_code == 202
