"""Request and flow helpers for the incident, schedule and escalation tests."""

import json
import logging
import threading
from datetime import datetime, timedelta, timezone

from chalicelib import clock
from chalicelib.payloads import TriggerBody

JSON = {"Content-Type": "application/json"}


def post(client, path, body=None, *, raw=None, headers=None):
    data = raw if raw is not None else (json.dumps(body) if body is not None else "")
    return client.http.post(path, headers=headers or JSON, body=data)


def put(client, path, body=None):
    return client.http.put(path, headers=JSON, body=json.dumps(body) if body is not None else "")


def trigger(client, service="db", title="disk full", **fields):
    return post(client, "/api/incidents/trigger/", {"service_name": service, "title": title, **fields})


def trigger_ok(client, service="db", title="disk full", **fields) -> dict:
    response = trigger(client, service, title, **fields)
    assert response.status_code in (200, 201), response.body
    return response.json_body


def ack(client, incident_id, user=None):
    return post(client, f"/api/incidents/{incident_id}/acknowledge/", {"user": user} if user else None)


def resolve(client, incident_id, user=None):
    return post(client, f"/api/incidents/{incident_id}/resolve/", {"user": user} if user else None)


def get_incident(client, incident_id) -> dict:
    response = client.http.get(f"/api/incidents/{incident_id}/")
    assert response.status_code == 200, response.body
    return response.json_body


def list_incidents(client, query="") -> dict:
    response = client.http.get(f"/api/incidents/list/all/{query}")
    assert response.status_code == 200, response.body
    return response.json_body


def all_incidents(client, query_args="") -> list[dict]:
    """Every incident, following cursors page by page."""
    found, cursor = [], None
    while True:
        args = "limit=100" + (f"&cursor={cursor}" if cursor else "") + (f"&{query_args}" if query_args else "")
        page = list_incidents(client, "?" + args)
        found += page["incidents"]
        cursor = page["next_cursor"]
        if not cursor:
            return found


def metrics(client, service=None) -> dict:
    path = "/api/metrics/" + (f"?service_name={service}" if service else "")
    response = client.http.get(path)
    assert response.status_code == 200, response.body
    return response.json_body


def sweep(client) -> dict:
    response = post(client, "/api/incidents/escalate/check/")
    assert response.status_code == 200, response.body
    return response.json_body


def iso(instant: datetime) -> str:
    return clock.iso(instant)


def shift(client, service, user, start, end, **fields):
    body = {"service_name": service, "user": user, "start_time": start, "end_time": end, **fields}
    return post(client, "/api/oncall/schedules/", body)


def on_call_now(client, service, user, hours=8, **fields) -> dict:
    now = clock.now()
    response = shift(client, service, user, iso(now - timedelta(hours=1)), iso(now + timedelta(hours=hours)), **fields)
    assert response.status_code == 201, response.body
    return response.json_body


def level(client, service, number, user=None, channel=None):
    body = {"service_name": service, "level": number}
    if user:
        body["user"] = user
    if channel:
        body["notification_channel"] = channel
    return post(client, "/api/escalation/levels/", body)


def body(service="db", title="disk full", **fields) -> TriggerBody:
    return TriggerBody(service_name=service, title=title, **fields)


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


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


def in_threads(count: int, work, timeout: float = 60) -> tuple[list, list]:
    """Run work(i) for i in range(count) on `count` threads released together;
    return (results, errors), each indexed by i."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as error:
            errors[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a worker thread did not finish in time"
    return results, errors
