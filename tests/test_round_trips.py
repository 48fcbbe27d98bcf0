"""Exact DynamoDB requests per operation for each flow: the design's round-trip
budget (a new incident <= 4, a duplicate <= 2, ...) and no Scan anywhere.

The operations are counted with the caller's key already verified (as it is for
ONCALL_KEY_CACHE_SECONDS in AWS); what verifying a key costs is counted on its own."""

from collections import Counter

import pytest

from chalicelib import shards, signing
from chalicelib.apikey import access
from chalicelib.config import settings
from chalicelib.incident import incidents
from tests.flows import (
    acknowledge,
    add_rotation,
    add_shift,
    check_escalations,
    list_incidents,
    resolve,
    trigger,
    trigger_body,
)


def use_key_cache(monkeypatch, seconds: int) -> None:
    monkeypatch.setenv("ONCALL_KEY_CACHE_SECONDS", str(seconds))
    settings.cache_clear()
    # Read now, from the test's environment (the test client swaps in a stage's
    # environment while it handles a request).
    assert settings().key_cache_seconds == seconds


@pytest.fixture
def key_cache(monkeypatch):
    use_key_cache(monkeypatch, 60)
    yield
    access.forget_keys()
    monkeypatch.delenv("ONCALL_KEY_CACHE_SECONDS")
    settings.cache_clear()


@pytest.fixture(autouse=True)
def warm(key_cache, client):
    """The admin's key verified and the cursor secret read, as in a warm process."""
    assert client.http.get("/api/me").status_code == 200
    signing.CURSORS.sign(b"")


# The dedup item's window, the incident number, who is on call and the service's
# maintenance windows (a Query each), and the transaction.
NEW_INCIDENT = Counter({"UpdateItem": 2, "Query": 2, "TransactWriteItems": 1})


def measured(requests_made, call):
    with requests_made.measure() as calls:
        response = call()
    assert "Scan" not in calls
    return response, calls


def test_trigger_new_incident_costs_5_and_a_duplicate_3(client, requests_made):
    shift = add_shift(client, "payments", "alice", "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z")
    assert shift.status_code == 201, shift.body

    response, calls = measured(requests_made, lambda: trigger(client, "payments", "card declines spiking"))
    assert response.status_code == 201
    assert response.json_body["assigned_to"] == "alice"
    assert calls == NEW_INCIDENT

    response, calls = measured(requests_made, lambda: trigger(client, "payments", "card declines spiking"))
    assert response.status_code == 200
    assert response.json_body["deduplicated"] is True
    assert response.json_body["alert_count"] == 2
    # The dedup item's window, the count on the incident's alert tally (a transaction for
    # its idempotency token; the incident item is not written), and the tally as stored
    # for the answer.
    assert calls == Counter({"UpdateItem": 1, "TransactWriteItems": 1, "GetItem": 1})

    # An explicit key binds while its incident is open: its dedup item is read, not written.
    for expected in (201, 200):
        response, calls = measured(requests_made, lambda: trigger(client, "payments", "disk", dedup_key="disk-1"))
        assert response.status_code == expected
    assert calls == Counter({"GetItem": 2, "TransactWriteItems": 1})

    response, calls = measured(requests_made, lambda: trigger(client, "search", "nobody on call here"))
    assert response.status_code == 201
    assert response.json_body["assigned_to"] is None
    assert calls == NEW_INCIDENT


def test_acknowledge_costs_2_and_resolve_2_and_reading_an_incident_2(client, requests_made):
    number = trigger(client).json_body["id"]
    trigger(client)

    # The UpdateItem, and the alert tally read at the same time: a folded alert's count
    # is on its tally, not on the item the update returns (it was 1 request before).
    response, calls = measured(requests_made, lambda: acknowledge(client, number))
    assert response.status_code == 200
    assert response.json_body["alert_count"] == 2
    assert calls == Counter({"UpdateItem": 1, "GetItem": 1})

    # The incident and its tally in one BatchGetItem (a GetItem before), then the
    # transaction that also copies the count onto the incident and closes the tally.
    response, calls = measured(requests_made, lambda: resolve(client, number))
    assert response.status_code == 200
    assert response.json_body["status"] == "RESOLVED"
    assert response.json_body["alert_count"] == 2
    assert calls == Counter({"BatchGetItem": 1, "TransactWriteItems": 1})

    # The incident and its tally in one BatchGetItem, then its history.
    response, calls = measured(requests_made, lambda: client.http.get(f"/api/incidents/{number}/"))
    assert response.status_code == 200
    assert response.json_body["alert_count"] == 2
    assert calls == Counter({"BatchGetItem": 1, "Query": 1})


def test_metrics_cost_1_and_a_list_page_a_query_per_list_partition_and_a_batch_read(client, requests_made):
    for n in range(6):
        created = trigger(client, "api" if n % 2 else "web", f"check {n}").json_body
        if n % 3 == 0:
            acknowledge(client, created["id"])

    sharded = {"Query": shards.SHARDS, "BatchGetItem": 1}
    one_service = {"Query": 1, "BatchGetItem": 1}
    reads = {
        # The totals are the services' rows summed: a page of the services index per
        # hundred services, and the rows of each page in one BatchGetItem.
        "/api/metrics/": {"Query": 1, "BatchGetItem": 1},
        "/api/metrics/?service_name=api": {"GetItem": 1},
        # The services' keys from the services index, then their rows.
        "/api/metrics/services": {"Query": 1, "BatchGetItem": 1},
        # The lists every incident is in are spread over shards: a Query each, in parallel;
        # the page's incidents and their alert tallies in one BatchGetItem.
        "/api/incidents/list/all/?limit=2": sharded,
        "/api/incidents/list/all/?status=ACKNOWLEDGED": sharded,
        "/api/incidents/list/all/?service_name=api&limit=2": one_service,
        "/api/incidents/list/all/?service_name=web&status=TRIGGERED&limit=1": one_service,
    }
    for path, expected in reads.items():
        response, calls = measured(requests_made, lambda path=path: client.http.get(path))
        assert response.status_code == 200, path
        assert calls == Counter(expected), path

    cursor = list_incidents(client, "?limit=2")["next_cursor"]
    response, calls = measured(
        requests_made, lambda: client.http.get(f"/api/incidents/list/all/?limit=2&cursor={cursor}")
    )
    assert response.status_code == 200
    assert len(response.json_body["incidents"]) == 2
    assert calls == Counter(sharded)


def test_the_newest_first_list_over_shards_pages_through_every_incident_once_in_order(client):
    made = [trigger(client, f"svc-{n % 3}", f"check {n}").json_body["id"] for n in range(40)]
    for number in made[::4]:
        acknowledge(client, number)
    for query, expected in (
        ("", made),
        ("status=ACKNOWLEDGED&", made[::4]),
        ("service_name=svc-1&", made[1::3]),
    ):
        seen, cursor = [], None
        while True:
            page = list_incidents(client, f"?{query}limit=7" + (f"&cursor={cursor}" if cursor else ""))
            seen += [incident["id"] for incident in page["incidents"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == sorted(expected, reverse=True), query


def test_a_sweep_costs_a_query_per_shard_when_nothing_is_due_however_long_the_history(
    client, requests_made, manual_clock
):
    def empty_sweep():
        client.http.get("/api/me")  # keep the key verified across the clock's jumps
        swept, calls = measured(requests_made, lambda: check_escalations(client))
        assert swept == {"escalated": 0, "incidents": []}
        return calls

    # The due queue's shards, read in parallel (chalicelib/shards.py).
    assert empty_sweep() == Counter({"Query": shards.SHARDS})

    for n in range(60):
        opened, _ = incidents.trigger(trigger_body(f"svc-{n % 7}", f"history {n}"), "monitor")
        if n % 10 != 9:
            incidents.acknowledge(opened["id"], "alice")
        if n % 5 == 0:
            incidents.resolve(opened["id"], "alice")
    manual_clock.advance(seconds=301)
    client.http.get("/api/me")
    due, calls = measured(requests_made, lambda: check_escalations(client))
    assert due["escalated"] == 6
    assert calls == Counter({"Query": shards.SHARDS + 6, "BatchGetItem": 1, "TransactWriteItems": 6}), (
        "the due queue's shards, the due incidents, each service's levels, each step"
    )
    manual_clock.advance(days=3)

    assert empty_sweep() == Counter({"Query": shards.SHARDS})


def test_verifying_a_key_costs_1_get_and_nothing_while_cached(client, keyring, requests_made, manual_clock):
    responder = client.with_token(keyring.responder("alice"))
    _, first = measured(requests_made, lambda: responder.http.get("/api/me"))
    assert first == Counter({"GetItem": 1})
    _, cached = measured(requests_made, lambda: responder.http.get("/api/me"))
    assert cached == Counter()
    manual_clock.advance(seconds=61)
    _, expired = measured(requests_made, lambda: responder.http.get("/api/me"))
    assert expired == Counter({"GetItem": 1})


def test_without_the_cache_every_request_reads_its_key(client, requests_made, monkeypatch):
    use_key_cache(monkeypatch, 0)
    for _ in range(2):
        _, calls = measured(requests_made, lambda: client.http.get("/api/me"))
        assert calls == Counter({"GetItem": 1})


def test_who_is_on_call_and_the_final_schedule_cost_one_query_with_rotations_and_shifts(client, requests_made):
    for layer in (1, 2):
        made = add_rotation(
            client,
            "payments",
            layer=layer,
            name=f"layer {layer}",
            shift_length=8,
            shift_unit="hours",
            handoff_time="06:00",
            start_date="2020-01-01",
        )
        assert made.status_code == 201
    add_shift(client, "payments", "carol", "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z", is_override=True)

    for path in (
        "/api/oncall/current/?service_name=payments&at=2026-03-01T12:00:00Z",
        "/api/oncall/shifts/?service_name=payments&from=2026-03-01T00:00:00Z&to=2026-03-15T00:00:00Z",
    ):
        response, calls = measured(requests_made, lambda path=path: client.http.get(path))
        assert response.status_code == 200, response.body
        assert calls == Counter({"Query": 1}), path

    response, calls = measured(requests_made, lambda: trigger(client, "payments", "rotation on call"))
    assert response.json_body["assigned_to"] == "carol"
    assert calls == NEW_INCIDENT


def test_an_open_incidents_detail_also_reads_its_services_levels(client, requests_made):
    number = trigger(client, "db", "disk full").json_body["id"]
    response, calls = measured(requests_made, lambda: client.http.get(f"/api/incidents/{number}/"))
    assert response.status_code == 200
    assert response.json_body["next_escalation"]["level"] is None  # the service has no levels
    # The incident and its tally, its history, and the levels its next step climbs.
    assert calls == Counter({"BatchGetItem": 1, "Query": 2})


def test_a_report_costs_one_query_a_service_and_over_every_service_one_more(client, requests_made):
    for service in ("api", "web", "db"):
        trigger(client, service, "one a service")
    # The service's rows of the range, however long (a year here), in one Query.
    response, calls = measured(requests_made, lambda: client.http.get("/api/reports/?service_name=api&from=2025-03-02"))
    assert response.status_code == 200
    assert response.json_body["totals"]["incidents"] == 1
    assert calls == Counter({"Query": 1})
    # The services the metrics list (a Query of their index a hundred), then each one's, in parallel.
    response, calls = measured(requests_made, lambda: client.http.get("/api/reports/"))
    assert response.json_body["totals"]["incidents"] == 3
    assert calls == Counter({"Query": 1 + 3})
