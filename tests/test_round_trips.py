"""Exact DynamoDB requests per operation for each flow: the design's round-trip
budget (a new incident <= 4, a duplicate <= 2, ...) and no Scan anywhere."""

from collections import Counter

from chalicelib import incidents
from chalicelib.payloads import TriggerBody
from tests.helpers import JSON, acknowledge, add_shift, resolve, sweep, trigger

NEW_INCIDENT = Counter({"UpdateItem": 2, "Query": 1, "TransactWriteItems": 1})


def measured(requests_made, call):
    with requests_made.measure() as calls:
        response = call()
    assert "Scan" not in calls
    return response, calls


def test_trigger_new_incident_costs_4_and_a_duplicate_2(client, requests_made):
    add_shift(client, "payments", "alice", "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z")

    response, calls = measured(requests_made, lambda: trigger(client, "payments", "card declines spiking"))
    assert response.status_code == 201
    assert response.json_body["assigned_to"] == "alice"
    assert calls == NEW_INCIDENT

    response, calls = measured(requests_made, lambda: trigger(client, "payments", "card declines spiking"))
    assert response.status_code == 200
    assert response.json_body["deduplicated"] is True
    assert calls == Counter({"UpdateItem": 1, "TransactWriteItems": 1})

    response, calls = measured(requests_made, lambda: trigger(client, "search", "nobody on call here"))
    assert response.status_code == 201
    assert response.json_body["assigned_to"] is None
    assert calls == NEW_INCIDENT


def test_acknowledge_costs_1_and_resolve_2(client, requests_made):
    number = trigger(client).json_body["id"]

    response, calls = measured(requests_made, lambda: acknowledge(client, number, "alice"))
    assert response.status_code == 200
    assert calls == Counter({"UpdateItem": 1})

    response, calls = measured(requests_made, lambda: resolve(client, number, "alice"))
    assert response.status_code == 200
    assert response.json_body["status"] == "RESOLVED"
    assert calls == Counter({"GetItem": 1, "TransactWriteItems": 1})


def test_metrics_cost_1_and_a_list_page_1_filtered_or_not(client, requests_made):
    for n in range(6):
        created = trigger(client, "api" if n % 2 else "web", f"check {n}").json_body
        if n % 3 == 0:
            acknowledge(client, created["id"], "bob")

    reads = {
        "/api/metrics/": "GetItem",
        "/api/metrics/?service_name=api": "GetItem",
        "/api/metrics/services": "Query",
        "/api/incidents/list/all/?limit=2": "Query",
        "/api/incidents/list/all/?service_name=api&limit=2": "Query",
        "/api/incidents/list/all/?status=ACKNOWLEDGED": "Query",
        "/api/incidents/list/all/?service_name=web&status=TRIGGERED&limit=1": "Query",
    }
    for path, operation in reads.items():
        response, calls = measured(requests_made, lambda path=path: client.http.get(path))
        assert response.status_code == 200, path
        assert calls == Counter({operation: 1}), path

    cursor = client.http.get("/api/incidents/list/all/?limit=2").json_body["next_cursor"]
    response, calls = measured(
        requests_made, lambda: client.http.get(f"/api/incidents/list/all/?limit=2&cursor={cursor}")
    )
    assert response.status_code == 200
    assert len(response.json_body["incidents"]) == 2
    assert calls == Counter({"Query": 1})


def test_a_sweep_costs_1_when_nothing_is_due_however_long_the_history(client, requests_made, manual_clock):
    def empty_sweep():
        response, calls = measured(
            requests_made, lambda: client.http.post("/api/incidents/escalate/check/", headers=JSON)
        )
        assert response.status_code == 200
        assert response.json_body == {"escalated": 0, "incidents": []}
        return calls

    assert empty_sweep() == Counter({"Query": 1})

    for n in range(60):
        opened, _ = incidents.trigger(TriggerBody(service_name=f"svc-{n % 7}", title=f"history {n}"))
        if n % 10 != 9:
            incidents.acknowledge(opened["id"], "alice")
        if n % 5 == 0:
            incidents.resolve(opened["id"], "alice")
    manual_clock.advance(seconds=301)
    due, calls = measured(requests_made, lambda: sweep(client))
    assert due["escalated"] == 6
    assert calls == Counter({"Query": 1 + 6, "TransactWriteItems": 6}), (
        "the due index, each service's levels, each step"
    )
    manual_clock.advance(days=3)

    assert empty_sweep() == Counter({"Query": 1})
