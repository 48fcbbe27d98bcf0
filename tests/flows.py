"""Shared test helpers: JSON requests and the common API flows (incidents, shifts,
escalation levels, metrics), threads released together, a second actor run at
an exact point of the first, a DynamoDB request that fails or whose answer is
lost, a log collector and a filter for DynamoDB writes."""

import json
import logging
import threading
from contextlib import contextmanager
from datetime import timedelta

from chalicelib import clock
from chalicelib.api.payloads import TriggerBody

JSON = {"Content-Type": "application/json"}
WRITE_OPERATIONS = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


# Requests


def send(client, method, path, body=None):
    """`body` as JSON (an empty body when None) with the JSON content type."""
    payload = "" if body is None else json.dumps(body)
    return getattr(client.http, method)(path, headers=JSON, body=payload)


def post(client, path, body=None):
    return send(client, "post", path, body)


def put(client, path, body=None):
    return send(client, "put", path, body)


def get_json(client, path):
    """GET `path`, expect 200 and return the JSON body."""
    response = client.http.get(path)
    assert response.status_code == 200, response.body
    return response.json_body


def all_pages(client, path, key, query="") -> list[list]:
    """Follow next_cursor to the end; return each page's `key` items."""
    found, cursor = [], None
    while True:
        suffix = query + (f"&cursor={cursor}" if cursor else "")
        page = get_json(client, f"{path}?{suffix}")
        found.append(page[key])
        cursor = page["next_cursor"]
        if cursor is None:
            return found


# Incidents


def as_actor(client, user):
    """The client acting as responder `user` (the key names the actor), or as it is."""
    return client.as_user(user) if user else client


def trigger(client, service="db", title="disk full", user=None, **fields):
    body = {"service_name": service, "title": title, **fields}
    return post(as_actor(client, user), "/api/incidents/trigger/", body)


def trigger_ok(client, service="db", title="disk full", **fields) -> dict:
    """Trigger, expect 201 (new) or 200 (folded) and return the incident."""
    response = trigger(client, service, title, **fields)
    assert response.status_code in (200, 201), response.body
    return response.json_body


def trigger_body(service="db", title="disk full", **fields) -> TriggerBody:
    """The payload for calling chalicelib.incident.incidents.trigger directly."""
    return TriggerBody(service_name=service, title=title, **fields)


def acknowledge(client, incident_id, user=None):
    return post(as_actor(client, user), f"/api/incidents/{incident_id}/acknowledge/")


def resolve(client, incident_id, user=None):
    return post(as_actor(client, user), f"/api/incidents/{incident_id}/resolve/")


def get_incident(client, incident_id) -> dict:
    return get_json(client, f"/api/incidents/{incident_id}/")


def list_incidents(client, query="") -> dict:
    return get_json(client, f"/api/incidents/list/all/{query}")


def check_escalations(client) -> dict:
    response = post(client, "/api/incidents/escalate/check/")
    assert response.status_code == 200, response.body
    return response.json_body


def metrics(client, service=None) -> dict:
    return get_json(client, "/api/metrics/" + (f"?service_name={service}" if service else ""))


# Shifts and escalation levels


def add_shift(client, service, user, start, end, **fields):
    body = {"service_name": service, "user": user, "start_time": start, "end_time": end, **fields}
    return post(client, "/api/oncall/schedules/", body)


def add_rotation(client, service, participants=("alice", "bob"), **fields):
    """A daily rotation handed off at 09:00 Berlin time from 2026-03-01, unless `fields` say otherwise."""
    body = {
        "service_name": service,
        "name": "primary",
        "participants": list(participants),
        "shift_length": 1,
        "shift_unit": "days",
        "handoff_time": "09:00",
        "time_zone": "Europe/Berlin",
        "start_date": "2026-03-01",
        **fields,
    }
    return post(client, "/api/oncall/rotations/", body)


def on_call_now(client, service, user, hours=8, **fields) -> dict:
    """A shift from an hour ago to `hours` from now; expect 201 and return it."""
    now = clock.now()
    start, end = clock.iso(now - timedelta(hours=1)), clock.iso(now + timedelta(hours=hours))
    response = add_shift(client, service, user, start, end, **fields)
    assert response.status_code == 201, response.body
    return response.json_body


def list_schedules(client, query="") -> dict:
    return get_json(client, f"/api/oncall/schedules/{query}")


def current_on_call(client, service) -> dict:
    return get_json(client, f"/api/oncall/current/?service_name={service}")


def add_level(client, service, number, user=None, channel=None):
    body = {"service_name": service, "level": number}
    if user:
        body["user"] = user
    if channel:
        body["notification_channel"] = channel
    return post(client, "/api/escalation/levels/", body)


# DynamoDB requests, logs and threads


def writes(calls) -> dict:
    """The write operations among counted DynamoDB requests."""
    return {name: n for name, n in calls.items() if name in WRITE_OPERATIONS}


class Lines(logging.Handler):
    """Collects the messages of one logger while the block runs."""

    def __init__(self, logger_name: str = "oncall.alerts") -> None:
        super().__init__(logging.DEBUG)
        self.logger = logging.getLogger(logger_name)
        self.lines: list[str] = []
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self._guard:
            self.lines.append(record.getMessage())

    def __enter__(self) -> "Lines":
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        self.logger.removeHandler(self)

    def containing(self, text: str) -> list[str]:
        return [line for line in self.lines if text in line]


def run_threads(targets, timeout: float = 60) -> tuple[list, list]:
    """Start every callable on its own thread, released together by a barrier;
    return (results, errors), each in the order of `targets`."""
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
        assert not thread.is_alive(), "a worker thread did not finish in time"
    return results, errors


def _names_table(params: dict, table: str) -> bool:
    """Whether a request (botocore's request dict) reads or writes `table`: every
    table's requests go through one client."""
    body = json.loads(params["body"])
    return body.get("TableName") == table or table in body.get("RequestItems", {})


@contextmanager
def dynamodb_fails(model, operation, times: int = 1, code: str = "InternalServerError"):
    """The next `times` `operation` requests to `model`'s table fail
    with `code`, as DynamoDB answers when it is unavailable; nothing is sent."""
    from botocore.exceptions import ClientError

    events = model._get_connection().connection.client.meta.events
    event_name = f"before-call.dynamodb.{operation}"
    left = [times]

    def handler(params, **kwargs):
        if left[0] > 0 and _names_table(params, model.Meta.table_name):
            left[0] -= 1
            raise ClientError({"Error": {"Code": code, "Message": "injected by the test"}}, operation)

    events.register(event_name, handler)
    try:
        yield
    finally:
        events.unregister(event_name, handler)
    assert left[0] == 0, f"{operation} was not requested {times} time(s)"


@contextmanager
def answer_lost(model, operation):
    """The next `operation` to `model`'s table is applied twice, as
    when the SDK sends a request again after losing the answer to an attempt that
    applied it: the caller sees only the second attempt's answer."""
    client = model._get_connection().connection.client
    event_name = f"before-call.dynamodb.{operation}"
    state = {"applied": False}

    def handler(params, **kwargs):
        if state["applied"] or not _names_table(params, model.Meta.table_name):
            return
        state["applied"] = True
        client._make_api_call(operation, json.loads(params["body"]))

    client.meta.events.register(event_name, handler)
    try:
        yield
    finally:
        client.meta.events.unregister(event_name, handler)
    assert state["applied"], f"{operation} was not requested"


@contextmanager
def right_after(model, operation, action):
    """Run `action` to completion right after the next `operation` request made
    to `model`'s table returns, before the caller's next request:
    a chosen interleaving of two actors, made through botocore's event hooks.

    Yields a dict whose "ran" / "result" / "error" tell whether the action ran
    and what it returned or raised.
    """
    events = model._get_connection().connection.client.meta.events
    outcome = {"ran": False, "result": None, "error": None}
    table = model.Meta.table_name

    def mark(params, context, **kwargs):
        if _names_table(params, table):
            context["right_after"] = outcome

    def handler(context, **kwargs):
        if outcome["ran"] or context.get("right_after") is not outcome:
            return
        outcome["ran"] = True
        results, errors = run_threads([action])
        outcome["result"], outcome["error"] = results[0], errors[0]

    events.register(f"before-call.dynamodb.{operation}", mark)
    events.register(f"after-call.dynamodb.{operation}", handler)
    try:
        yield outcome
    finally:
        events.unregister(f"before-call.dynamodb.{operation}", mark)
        events.unregister(f"after-call.dynamodb.{operation}", handler)
