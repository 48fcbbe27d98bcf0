"""Small helpers shared by the API tests: JSON requests, common flows, threads
started together, and a way to run a second actor at an exact point of the first."""

import json
import threading
from contextlib import contextmanager

JSON = {"Content-Type": "application/json"}
WRITE_OPERATIONS = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


def post(client, path, body=None, method="post"):
    payload = "" if body is None else json.dumps(body)
    return getattr(client.http, method)(path, headers=JSON, body=payload)


def trigger(client, service="checkout", title="Error rate above 5%", **fields):
    return post(client, "/api/incidents/trigger/", {"service_name": service, "title": title, **fields})


def acknowledge(client, incident_id, user=None, method="put"):
    body = {"user": user} if user else None
    return post(client, f"/api/incidents/{incident_id}/acknowledge/", body, method)


def resolve(client, incident_id, user=None, method="put"):
    body = {"user": user} if user else None
    return post(client, f"/api/incidents/{incident_id}/resolve/", body, method)


def sweep(client):
    response = post(client, "/api/incidents/escalate/check/")
    assert response.status_code == 200, response.body
    return response.json_body


def listed(client, query=""):
    response = client.http.get(f"/api/incidents/list/all/{query}")
    assert response.status_code == 200, response.body
    return response.json_body


def metrics(client, query=""):
    response = client.http.get(f"/api/metrics/{query}")
    assert response.status_code == 200, response.body
    return response.json_body


def add_shift(client, service, user, start, end, is_override=False):
    body = {"service_name": service, "user": user, "start_time": start, "end_time": end, "is_override": is_override}
    response = post(client, "/api/oncall/schedules/", body)
    assert response.status_code == 201, response.body
    return response.json_body


def add_level(client, service, level, user=None, channel=None):
    body = {"service_name": service, "level": level}
    if user:
        body["user"] = user
    if channel:
        body["notification_channel"] = channel
    response = post(client, "/api/escalation/levels/", body)
    assert response.status_code == 201, response.body
    return response.json_body


def writes(calls) -> dict:
    return {name: n for name, n in calls.items() if name in WRITE_OPERATIONS}


def run_threads(targets, timeout=60):
    """Start every callable at once (behind a barrier); return their results and errors."""
    barrier = threading.Barrier(len(targets))
    results: list = [None] * len(targets)
    errors: list = [None] * len(targets)

    def runner(index, target):
        barrier.wait()
        try:
            results[index] = target()
        except Exception as error:  # collected and inspected by the test
            errors[index] = error

    threads = [threading.Thread(target=runner, args=(i, t)) for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a worker thread did not finish"
    return results, errors


@contextmanager
def right_after(model, operation, action):
    """Run `action` to completion right after the next `operation` request made
    through `model`'s table connection returns, before the caller's next request:
    a chosen interleaving of two actors, made through botocore's event hooks.

    Yields a dict whose "result" / "error" hold what the action returned or raised.
    """
    events = model._get_connection().connection.client.meta.events
    outcome = {"ran": False, "result": None, "error": None}
    event_name = f"after-call.dynamodb.{operation}"

    def handler(**kwargs):
        if outcome["ran"]:
            return
        outcome["ran"] = True
        results, errors = run_threads([action])
        outcome["result"], outcome["error"] = results[0], errors[0]

    events.register(event_name, handler)
    try:
        yield outcome
    finally:
        events.unregister(event_name, handler)
