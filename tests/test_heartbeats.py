"""Heartbeat monitors: made by admins, pinged by jobs, fired by the overdue check
once per missed check-in, resolved by the next ping (docs/heartbeats.md)."""

import json
import logging
from collections import Counter
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest

from chalicelib.db import Transaction
from chalicelib.heartbeat import overdue
from chalicelib.models import Heartbeat
from chalicelib.shards import SHARDS
from tests import dynamo
from tests.faults import BOTOCORE_ATTEMPTS, Script
from tests.flows import JSON, get_incident, get_json, list_incidents, post, right_after, run_threads


def create(client, service="backups", name="nightly", interval=3600, grace=None) -> dict:
    body = {"service_name": service, "name": name, "interval_seconds": interval}
    if grace is not None:
        body["grace_seconds"] = grace
    response = post(client, "/api/heartbeats/", body)
    assert response.status_code == 201, response.body
    return response.json_body


def ping_path(heartbeat: dict) -> str:
    return urlsplit(heartbeat["ping_url"]).path


def ping(client, heartbeat: dict, method="POST"):
    """A ping through the secret URL, with no key."""
    return client.anonymous.request(method, ping_path(heartbeat))


def patch(client, path: str, body: dict):
    return client.http.request("PATCH", path, headers=JSON, body=json.dumps(body))


def check(client) -> dict:
    response = post(client, "/api/heartbeats/check")
    assert response.status_code == 200, response.body
    return response.json_body


def heartbeat(client, heartbeat_id: str) -> dict:
    return get_json(client, f"/api/heartbeats/{heartbeat_id}")


@contextmanager
def transactions_throttled(faults):
    """Every TransactWriteItems inside throttled, each of botocore's attempts of each of
    the transaction's own (the `faults` fixture's retries take no time)."""
    dynamo.interceptor = Script([("TransactWriteItems", "throttled")] * (Transaction.ATTEMPTS * BOTOCORE_ATTEMPTS))
    try:
        yield
    finally:
        dynamo.interceptor = faults


def incidents_of(client, service="backups") -> list[dict]:
    return list_incidents(client, f"?service_name={service}")["incidents"]


def test_a_new_heartbeat_shows_its_secret_once_and_waits_for_its_first_ping(client):
    made = create(client, interval=600)
    assert made["status"] == "waiting"
    assert made["grace_seconds"] == 300  # the default
    assert made["last_ping_at"] is None and made["next_due_at"] is None
    assert made["secret"].startswith("hb_")
    assert made["ping_url"] == f"http://localhost/api/heartbeats/{made['id']}/ping/{made['secret']}"
    stored = Heartbeat.get(made["id"])
    assert made["secret"] not in str(stored.serialize())
    shown = heartbeat(client, made["id"])
    assert "secret" not in shown and "ping_url" not in shown
    assert shown == {key: value for key, value in made.items() if key not in ("secret", "ping_url")}

    again = post(client, "/api/heartbeats", {"service_name": "backups", "name": "nightly", "interval_seconds": 60})
    assert again.status_code == 409 and again.json_body["field"] == "name"
    # The same name in another service is another heartbeat.
    assert create(client, service="reports")["id"] != made["id"]


def test_it_fires_exactly_once_after_interval_plus_grace_and_not_a_second_before(client, manual_clock):
    made = create(client, interval=600, grace=120)
    pinged = ping(client, made)
    assert pinged.status_code == 200, pinged.body
    assert pinged.json_body["status"] == "up"
    last_ping = pinged.json_body["last_ping_at"]

    manual_clock.advance(seconds=719)
    assert check(client) == {"fired": 0, "heartbeats": []}
    assert heartbeat(client, made["id"])["status"] == "up"

    manual_clock.advance(seconds=1)
    assert check(client) == {"fired": 1, "heartbeats": [made["id"]]}
    for minutes in (1, 2, 3, 60):
        manual_clock.advance(minutes=minutes)
        assert check(client)["fired"] == 0

    [incident] = incidents_of(client)
    assert incident["title"] == f"Heartbeat nightly missed its check-in, last seen {last_ping}"
    assert incident["dedup_key"] == f"heartbeat:{made['id']}"
    assert incident["source"] == "heartbeat" and incident["details"]["heartbeat_id"] == made["id"]
    assert incident["status"] == "TRIGGERED" and incident["created_by"] == "heartbeat"
    late = heartbeat(client, made["id"])
    assert late["status"] == "late" and late["next_due_at"] is None


def test_the_scheduled_sweep_runs_the_check_too(client, manual_clock):
    made = create(client, interval=60, grace=0)
    ping(client, made)
    manual_clock.advance(seconds=60)
    event = client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=["arn:aws:events:::rule/sweep"]
    )
    result = client.lambda_.invoke("escalation_sweep", event).payload
    assert result["heartbeats_fired"] == 1 and result["escalated"] == 0
    assert len(incidents_of(client)) == 1


def test_a_heartbeat_never_pinged_never_fires(client, manual_clock):
    made = create(client, interval=60, grace=0)
    for _ in range(3):
        manual_clock.advance(days=1)
        assert check(client)["fired"] == 0
    assert incidents_of(client) == []
    assert heartbeat(client, made["id"])["status"] == "waiting"


def test_overlapping_checks_fire_each_heartbeat_once(client, manual_clock):
    made = [create(client, service=f"svc-{n % 3}", name=f"job {n}", interval=60, grace=0) for n in range(12)]
    for one in made:
        assert ping(client, one).status_code == 200
    manual_clock.advance(minutes=5)

    # The domain function from threads: the test client swaps os.environ per call.
    results, errors = run_threads([overdue.run] * 6)

    assert errors == [None] * 6
    fired = [heartbeat_id for result in results for heartbeat_id in result["heartbeats"]]
    assert sorted(fired) == sorted(one["id"] for one in made)
    assert sum(len(incidents_of(client, f"svc-{n}")) for n in range(3)) == 12


def test_the_next_ping_resolves_the_incident_and_the_timeline_says_so(client, manual_clock):
    made = create(client, name="backup", interval=3600, grace=600)
    ping(client, made)
    manual_clock.advance(hours=2)
    assert check(client)["fired"] == 1
    [incident] = incidents_of(client)

    manual_clock.advance(minutes=5)
    again = ping(client, made, method="GET")
    assert again.status_code == 200 and again.json_body["status"] == "up"

    resolved = get_incident(client, incident["id"])
    assert resolved["status"] == "RESOLVED" and resolved["resolved_by"] == "heartbeat"
    messages = [entry["message"] for entry in resolved["timeline"]]
    assert "Heartbeat backup checked in again; resolved by its monitoring source." in messages
    assert heartbeat(client, made["id"])["status"] == "up"

    # Late again later: a new incident, resolved by the ping after it.
    manual_clock.advance(hours=2)
    assert check(client)["fired"] == 1
    assert [i["status"] for i in incidents_of(client)] == ["TRIGGERED", "RESOLVED"]
    ping(client, made)
    assert [i["status"] for i in incidents_of(client)] == ["RESOLVED", "RESOLVED"]


def test_a_ping_whose_resolve_failed_is_healed_by_the_next_one(client, manual_clock, faults):
    made = create(client, interval=60, grace=0)
    ping(client, made)
    manual_clock.advance(minutes=2)
    check(client)
    [incident] = incidents_of(client)
    # DynamoDB throttles every attempt of the resolve: the ping is recorded all the same.
    with transactions_throttled(faults):
        assert ping(client, made).status_code == 200
    assert get_incident(client, incident["id"])["status"] == "TRIGGERED"
    assert heartbeat(client, made["id"])["status"] == "up"
    ping(client, made)
    assert get_incident(client, incident["id"])["status"] == "RESOLVED"
    # Nothing is bound any more: the next ping resolves nothing and answers as usual.
    assert ping(client, made).status_code == 200


def test_a_responders_acknowledgement_does_not_keep_the_ping_from_resolving(client, manual_clock):
    made = create(client, interval=60, grace=0)
    ping(client, made)
    manual_clock.advance(minutes=2)
    check(client)
    [incident] = incidents_of(client)
    assert post(client, f"/api/incidents/{incident['id']}/acknowledge").status_code == 200
    ping(client, made)
    assert get_incident(client, incident["id"])["status"] == "RESOLVED"


def test_the_incident_and_the_heartbeat_leaving_the_due_index_are_one_write(client, manual_clock, faults):
    made = create(client, interval=60, grace=0)
    ping(client, made)
    manual_clock.advance(minutes=2)
    # The transaction that would open the incident is refused every attempt: nothing
    # opens, and the claim runs out two minutes later, when the check fires it once.
    with transactions_throttled(faults):
        assert check(client)["fired"] == 0
    assert incidents_of(client) == []
    manual_clock.advance(minutes=1)
    assert check(client)["fired"] == 0
    manual_clock.advance(minutes=1)
    assert check(client)["fired"] == 1
    stored = Heartbeat.get(made["id"], consistent_read=True)
    assert stored.due_ms is None and stored.due_partition is None and stored.late_since == manual_clock()
    for _ in range(5):
        manual_clock.advance(minutes=3)
        assert check(client)["fired"] == 0
    [incident] = incidents_of(client)
    assert incident["alert_count"] == 1


def test_a_responder_key_cannot_ping_a_heartbeats_incident_resolved(client, manual_clock):
    made = create(client, interval=60, grace=0)
    ping(client, made)
    manual_clock.advance(minutes=2)
    check(client)
    refused = client.as_user("rita").http.post(f"/api/heartbeats/{made['id']}/ping")
    assert refused.status_code == 403
    assert [incident["status"] for incident in incidents_of(client)] == ["TRIGGERED"]


def test_a_ping_that_races_the_check_wins(client, manual_clock):
    made = create(client, interval=60, grace=0)
    ping(client, made)
    manual_clock.advance(minutes=2)

    # The ping lands right after the check claimed the heartbeat, before its trigger.
    with right_after(Heartbeat, "UpdateItem", lambda: ping(client, made)) as raced:
        result = overdue.run()
    assert raced["ran"] and raced["error"] is None and raced["result"].status_code == 200
    assert result == {"fired": 0, "heartbeats": []}
    assert incidents_of(client) == []
    shown = heartbeat(client, made["id"])
    assert shown["status"] == "up" and shown["next_due_at"] is not None


def test_a_wrong_secret_and_an_unknown_id_answer_the_same_404(client):
    made = create(client)
    path = ping_path(made)
    wrong_secret = path[: -len(made["secret"])] + "hb_" + "x" * 43
    unknown_id = path.replace(made["id"], "0" * 32)
    malformed = path.replace(made["id"], "nope")
    answers = [client.anonymous.request("POST", p) for p in (wrong_secret, unknown_id, malformed)]
    assert [a.status_code for a in answers] == [404, 404, 404]
    assert answers[0].json_body == answers[1].json_body == answers[2].json_body
    assert heartbeat(client, made["id"])["status"] == "waiting"


def test_api_keys_may_ping_an_integration_key_only_for_its_services(client, keyring):
    made = create(client, service="backups")
    keyed = f"/api/heartbeats/{made['id']}/ping"

    other = client.with_token(keyring.integration("payments"))
    refused = other.http.post(keyed)
    assert refused.status_code == 403 and refused.json_body["field"] == "service_name"
    assert heartbeat(client, made["id"])["status"] == "waiting"

    own = client.with_token(keyring.integration("backups"))
    assert own.http.post(keyed).status_code == 200
    assert own.http.get(keyed).json_body["status"] == "up"
    assert own.http.post(f"/api/heartbeats/{'0' * 32}/ping").status_code == 404
    assert client.anonymous.request("POST", keyed).status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"service_name": "s", "name": "n", "interval_seconds": 59}, "interval_seconds"),
        ({"service_name": "s", "name": "n", "interval_seconds": 86401}, "interval_seconds"),
        ({"service_name": "s", "name": "n", "interval_seconds": "60"}, "interval_seconds"),
        ({"service_name": "s", "name": "n", "interval_seconds": 60, "grace_seconds": -1}, "grace_seconds"),
        ({"service_name": "s", "interval_seconds": 60}, "name"),
        ({"service_name": " ", "name": "n", "interval_seconds": 60}, "service_name"),
        ({"service_name": "s", "name": "n", "interval_seconds": 60, "secret": "mine"}, "secret"),
    ],
)
def test_validation_errors_name_the_field(client, body, field):
    response = post(client, "/api/heartbeats", body)
    assert response.status_code == 400
    assert response.json_body["field"] == field and field in response.json_body["error"]


def test_a_change_names_its_field_and_needs_one(client):
    made = create(client)
    path = f"/api/heartbeats/{made['id']}"
    assert patch(client, path, {}).json_body["field"] == "interval_seconds"
    assert patch(client, path, {"grace_seconds": 86401}).json_body["field"] == "grace_seconds"
    assert patch(client, "/api/heartbeats/nope", {"grace_seconds": 1}).json_body["field"] == "heartbeat_id"
    assert patch(client, f"/api/heartbeats/{'0' * 32}", {"grace_seconds": 1}).status_code == 404


def test_a_change_of_interval_keeps_the_ping_url_and_moves_the_due_time(client, manual_clock):
    made = create(client, interval=3600, grace=0)
    first = ping(client, made).json_body
    changed = patch(client, f"/api/heartbeats/{made['id']}", {"interval_seconds": 120})
    assert changed.status_code == 200, changed.body
    assert changed.json_body["interval_seconds"] == 120 and changed.json_body["grace_seconds"] == 0
    assert changed.json_body["next_due_at"] < first["next_due_at"]

    manual_clock.advance(seconds=120)
    assert check(client)["fired"] == 1
    again = ping(client, made)
    assert again.status_code == 200
    assert [i["status"] for i in incidents_of(client)] == ["RESOLVED"]


def test_a_deleted_heartbeat_stops_answering(client, manual_clock):
    made = create(client, interval=60, grace=0)
    ping(client, made)
    assert client.http.delete(f"/api/heartbeats/{made['id']}").status_code == 204
    assert client.http.delete(f"/api/heartbeats/{made['id']}").status_code == 404
    assert ping(client, made).status_code == 404
    assert client.http.get(f"/api/heartbeats/{made['id']}").status_code == 404
    manual_clock.advance(hours=1)
    assert check(client)["fired"] == 0


def test_the_list_pages_by_service_then_name_without_secrets(client):
    for service, names in (("alpha", ["c", "a", "b"]), ("beta", ["z", "y"])):
        for name in names:
            create(client, service=service, name=name)
    seen, cursor = [], None
    while True:
        page = get_json(client, "/api/heartbeats?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        assert len(page["heartbeats"]) <= 2
        assert all("secret" not in one and "ping_url" not in one for one in page["heartbeats"])
        seen += [(one["service_name"], one["name"]) for one in page["heartbeats"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [("alpha", "a"), ("alpha", "b"), ("alpha", "c"), ("beta", "y"), ("beta", "z")]

    first = get_json(client, "/api/heartbeats?service_name=beta&limit=1")
    assert [one["name"] for one in first["heartbeats"]] == ["y"]
    rest = get_json(client, f"/api/heartbeats?service_name=beta&limit=1&cursor={first['next_cursor']}")
    assert [one["name"] for one in rest["heartbeats"]] == ["z"]
    # A cursor of one list does not start another.
    crossed = client.http.get(f"/api/heartbeats?service_name=alpha&cursor={first['next_cursor']}")
    assert crossed.status_code == 400 and crossed.json_body["field"] == "cursor"


def test_a_ping_costs_an_update_and_a_read_and_an_idle_check_a_query_per_shard(client, manual_clock, requests_made):
    made = create(client, interval=60, grace=0)
    with requests_made.measure() as calls:
        assert ping(client, made).status_code == 200
    # The ping itself, and the heartbeat's dedup binding (nothing open).
    assert calls == Counter({"UpdateItem": 1, "GetItem": 1})

    manual_clock.advance(minutes=2)
    check(client)
    with requests_made.measure() as calls:
        assert ping(client, made).status_code == 200
    # With its incident open: the resolve reads the incident and its tally (one
    # BatchGetItem) and commits one transaction.
    assert calls == Counter({"UpdateItem": 1, "GetItem": 1, "BatchGetItem": 1, "TransactWriteItems": 1})

    with requests_made.measure() as calls:
        assert overdue.run() == {"fired": 0, "heartbeats": []}
    assert calls == Counter({"Query": SHARDS})


def test_no_log_line_carries_the_secret(client, manual_clock, caplog):
    caplog.set_level(logging.DEBUG)
    made = create(client, interval=60, grace=0)
    ping(client, made)
    manual_clock.advance(minutes=2)
    check(client)
    ping(client, made)
    client.anonymous.request("GET", ping_path(made) + "x")
    assert caplog.records
    assert made["secret"] not in caplog.text
