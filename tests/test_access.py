"""Access control: every operation of app.API.operations with every kind of caller
(the matrix in tests/access_matrix.py), the two header forms, integration keys
bound to services, responders who may not manage, the key naming the actor,
revocation, and tokens and their hashes kept out of listings, responses and logs."""

import base64
import hashlib
import json
import logging
import re
import secrets
from datetime import timedelta
from pathlib import Path

import pytest

import app
from chalicelib import clock
from chalicelib.apikey import access
from chalicelib.incident import links
from chalicelib.models import KeyToken
from tests import access_matrix
from tests.access_matrix import ADMIN, BAD_KEY, COLUMNS, EXPECTED, INTEGRATION, NO_KEY, RESPONDER, REVOKED_KEY, SERVICE
from tests.flows import JSON, right_after, writes
from tests.messages import code_sent_to
from tests.test_cloudwatch import signed_alarm, sns_trusted
from tests.test_round_trips import key_cache  # noqa: F401 (a fixture)

README = Path(__file__).resolve().parent.parent / "README.md"
# The user the matrix's responder key acts as: the rows of a user's own settings name it.
SELF = "rita"
SUCCESS = {200, 201, 202, 204}
# Answers that are right for an admitted caller although not a success: what only the
# local runtime serves is not found under test.
NOT_HERE = {(("GET", "/api/local/messages"), ADMIN, 404)}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def unknown_token() -> str:
    """Shaped like a real token, but no key has it."""
    return "oncall_" + secrets.token_urlsafe(32)


def call(client, method: str, path: str, headers: dict, body=None):
    """One request with exactly `headers` (plus the JSON content type): no key is added."""
    payload = b"" if body is None else json.dumps(body).encode()
    return client.anonymous.request(method, path, headers={**JSON, **headers}, body=payload)


def admin_json(client, method: str, path: str, body=None, expect: int = 200) -> dict:
    response = client.http.request(method, path, headers=JSON, body=b"" if body is None else json.dumps(body))
    assert response.status_code == expect, (method, path, response.status_code, response.body)
    return response.json_body


# --- the matrix ------------------------------------------------------------------------------


class Fixtures:
    """Fresh data for each cell, made through the API with the admin key, so that
    every cell starts from its own incident, shift, level or key."""

    def __init__(self, client) -> None:
        self.client = client
        self.count = 0
        self.levels = 0
        self.users: set[str] = set()

    def unique(self) -> int:
        self.count += 1
        return self.count

    def incident(self, acknowledged: bool = False) -> int:
        body = {"service_name": SERVICE, "title": f"matrix incident {self.unique()}"}
        incident_id = admin_json(self.client, "POST", "/api/incidents/trigger", body, expect=201)["id"]
        if acknowledged:
            admin_json(self.client, "POST", f"/api/incidents/{incident_id}/acknowledge")
        return incident_id

    def shift_body(self) -> dict:
        now = clock.now()
        return {
            "service_name": SERVICE,
            "user": f"user{self.unique()}",
            "start_time": clock.iso(now - timedelta(hours=1)),
            "end_time": clock.iso(now + timedelta(hours=8)),
        }

    def shift_id(self) -> str:
        return admin_json(self.client, "POST", "/api/oncall/schedules", self.shift_body(), expect=201)["id"]

    def window_body(self) -> dict:
        now = clock.now()
        return {
            "service_name": SERVICE,
            "start": clock.iso(now),
            "end": clock.iso(now + timedelta(hours=1)),
            "reason": f"upgrade {self.unique()}",
        }

    def window_id(self) -> str:
        return admin_json(self.client, "POST", "/api/maintenance", self.window_body(), expect=201)["id"]

    def level_body(self) -> dict:
        self.levels += 1
        return {"service_name": SERVICE, "level": self.levels, "user": f"user{self.unique()}"}

    def level_id(self) -> str:
        return admin_json(self.client, "POST", "/api/escalation/levels", self.level_body(), expect=201)["id"]

    def rotation_body(self) -> dict:
        return {
            "service_name": SERVICE,
            "name": f"rotation {self.unique()}",
            "participants": ["alice", "bob"],
            "shift_length": 1,
            "shift_unit": "weeks",
            "handoff_time": "09:00",
            "time_zone": "Europe/Berlin",
            "start_date": "2026-01-05",
        }

    def rotation_id(self) -> str:
        return admin_json(self.client, "POST", "/api/oncall/rotations", self.rotation_body(), expect=201)["id"]

    def heartbeat_body(self) -> dict:
        return {"service_name": SERVICE, "name": f"matrix job {self.unique()}", "interval_seconds": 60}

    def heartbeat(self) -> dict:
        return admin_json(self.client, "POST", "/api/heartbeats", self.heartbeat_body(), expect=201)

    def heartbeat_ping_path(self) -> str:
        """The path of a fresh heartbeat's ping URL, secret included."""
        return "/api/" + self.heartbeat()["ping_url"].split("/api/", 1)[1]

    def key_body(self) -> dict:
        number = self.unique()
        return {"name": f"matrix key {number}", "role": "responder", "user": f"user{number}"}

    def key_id(self) -> str:
        return admin_json(self.client, "POST", "/api/keys", self.key_body(), expect=201)["id"]

    def channel_body(self) -> dict:
        # A service of its own per channel, clear of the per-service cap.
        number = self.unique()
        return {
            "service_name": f"{SERVICE}-{number}",
            "kind": "webhook",
            "name": f"matrix hook {number}",
            "url": "http://127.0.0.1:9/hook",
        }

    def channel_id(self) -> str:
        return admin_json(self.client, "POST", "/api/notifications/channels", self.channel_body(), expect=201)["id"]

    def user(self, name: str | None = None) -> str:
        """A user made by the admin: `name` (once), or a fresh one."""
        name = name or f"user{self.unique()}"
        if name not in self.users:
            admin_json(self.client, "POST", "/api/users", {"name": name}, expect=201)
            self.users.add(name)
        return name

    def method_body(self, kind: str = "email") -> dict:
        number = self.unique()
        if kind == "sms":
            return {"kind": "sms", "address": f"+1415555{number:04d}"}
        return {"kind": "email", "address": f"matrix{number}@example.com"}

    def calendar_feed(self, user: str) -> dict:
        """A feed of `user`'s made by the admin: each cell of the matrix makes one, so the
        feeds that are only fetched belong to a user of their own, clear of the cap."""
        return admin_json(self.client, "POST", f"/api/users/{user}/calendar-feeds", {}, expect=201)

    def room(self) -> str:
        """The responder's own user, with none of the contact methods (nor rules) earlier
        cells made, so that no cell meets the caps."""
        path = f"/api/users/{self.user(SELF)}/contact-methods"
        for method in admin_json(self.client, "GET", path)["contact_methods"]:
            assert self.client.http.request("DELETE", f"{path}/{method['id']}").status_code == 204
        return SELF

    def method(self, kind: str = "email") -> dict:
        """A contact method of the responder's own user."""
        path = f"/api/users/{self.room()}/contact-methods"
        return admin_json(self.client, "POST", path, self.method_body(kind), expect=201)

    def unverified(self) -> tuple[str, dict]:
        """A fresh SMS number of the responder's user: its path and the code sent to it."""
        method = self.method("sms")
        return f"/api/users/{SELF}/contact-methods/{method['id']}/verify", {"code": code_sent_to(method["address"])}

    def rule_body(self) -> dict:
        return {"contact_method_id": self.method()["id"], "delay_minutes": 0, "urgency": "high"}

    def rule_id(self) -> str:
        path = f"/api/users/{self.user(SELF)}/notification-rules"
        return admin_json(self.client, "POST", path, self.rule_body(), expect=201)["id"]

    def link(self) -> str:
        """A page's signed link acknowledging a fresh incident as the responder's user."""
        return links.token(self.incident(), "acknowledge", SELF, clock.now())

    def pagerduty_event(self) -> dict:
        number = self.unique()
        key = {"name": f"pagerduty {number}", "role": "integration", "services": [SERVICE]}
        token = admin_json(self.client, "POST", "/api/keys", key, expect=201)["token"]
        payload = {"summary": f"matrix page {number}", "source": "matrix", "severity": "error"}
        return {"routing_key": token, "event_action": "trigger", "payload": payload}


# (method, path) -> a function of Fixtures giving (the path to call, the JSON body or None):
# a valid request, so an admitted caller gets the success status.
RECIPES = {
    ("GET", "/api/health"): lambda f: ("/api/health", None),
    ("GET", "/"): lambda f: ("/", None),
    ("GET", "/console/{name}"): lambda f: ("/console/index.html", None),
    ("GET", "/api/openapi.json"): lambda f: ("/api/openapi.json", None),
    ("GET", "/api/me"): lambda f: ("/api/me", None),
    ("POST", "/api/incidents/trigger"): lambda f: (
        "/api/incidents/trigger",
        {"service_name": SERVICE, "title": f"matrix alert {f.unique()}"},
    ),
    ("PUT", "/api/incidents/{incident_id}/acknowledge"): lambda f: (f"/api/incidents/{f.incident()}/acknowledge", {}),
    ("POST", "/api/incidents/{incident_id}/acknowledge"): lambda f: (f"/api/incidents/{f.incident()}/acknowledge", {}),
    ("PUT", "/api/incidents/{incident_id}/resolve"): lambda f: (f"/api/incidents/{f.incident(True)}/resolve", {}),
    ("POST", "/api/incidents/{incident_id}/resolve"): lambda f: (f"/api/incidents/{f.incident(True)}/resolve", {}),
    ("GET", "/api/incidents/{incident_id}"): lambda f: (f"/api/incidents/{f.incident()}", None),
    ("GET", "/api/incidents/list/all"): lambda f: (f"/api/incidents/list/all?service_name={SERVICE}", None),
    ("POST", "/api/incidents/escalate/check"): lambda f: ("/api/incidents/escalate/check", None),
    ("POST", "/api/incidents/{incident_id}/notes"): lambda f: (
        f"/api/incidents/{f.incident()}/notes",
        {"text": f"matrix note {f.unique()}"},
    ),
    ("POST", "/api/incidents/{incident_id}/reassign"): lambda f: (
        f"/api/incidents/{f.incident()}/reassign",
        {"user": f"user{f.unique()}"},
    ),
    ("POST", "/api/incidents/bulk/acknowledge"): lambda f: (
        "/api/incidents/bulk/acknowledge",
        {"ids": [f.incident(), f.incident()]},
    ),
    ("POST", "/api/incidents/bulk/resolve"): lambda f: ("/api/incidents/bulk/resolve", {"ids": [f.incident(True)]}),
    ("GET", "/api/metrics"): lambda f: (f"/api/metrics?service_name={SERVICE}", None),
    ("GET", "/api/metrics/services"): lambda f: ("/api/metrics/services", None),
    ("GET", "/api/reports"): lambda f: (f"/api/reports?service_name={SERVICE}&bucket=week", None),
    ("GET", "/api/oncall/schedules"): lambda f: (f"/api/oncall/schedules?service_name={SERVICE}", None),
    ("POST", "/api/oncall/schedules"): lambda f: ("/api/oncall/schedules", f.shift_body()),
    ("DELETE", "/api/oncall/schedules/{schedule_id}"): lambda f: (f"/api/oncall/schedules/{f.shift_id()}", None),
    ("GET", "/api/maintenance"): lambda f: (f"/api/maintenance?service_name={SERVICE}", None),
    ("POST", "/api/maintenance"): lambda f: ("/api/maintenance", f.window_body()),
    ("POST", "/api/maintenance/{window_id}/end"): lambda f: (f"/api/maintenance/{f.window_id()}/end", None),
    ("DELETE", "/api/maintenance/{window_id}"): lambda f: (f"/api/maintenance/{f.window_id()}", None),
    ("GET", "/api/oncall/current"): lambda f: (f"/api/oncall/current?service_name={SERVICE}", None),
    ("GET", "/api/oncall/shifts"): lambda f: (f"/api/oncall/shifts?service_name={SERVICE}", None),
    ("GET", "/api/oncall/shifts.ics"): lambda f: (f"/api/oncall/shifts.ics?service_name={SERVICE}", None),
    ("GET", "/api/oncall/rotations"): lambda f: (f"/api/oncall/rotations?service_name={SERVICE}", None),
    ("POST", "/api/oncall/rotations"): lambda f: ("/api/oncall/rotations", f.rotation_body()),
    ("DELETE", "/api/oncall/rotations/{rotation_id}"): lambda f: (f"/api/oncall/rotations/{f.rotation_id()}", None),
    ("GET", "/api/escalation/levels"): lambda f: (f"/api/escalation/levels?service_name={SERVICE}", None),
    ("POST", "/api/escalation/levels"): lambda f: ("/api/escalation/levels", f.level_body()),
    ("DELETE", "/api/escalation/levels/{level_id}"): lambda f: (f"/api/escalation/levels/{f.level_id()}", None),
    ("GET", "/api/escalation/policies/{service_name}"): lambda f: (f"/api/escalation/policies/{SERVICE}", None),
    ("PUT", "/api/escalation/policies/{service_name}"): lambda f: (
        f"/api/escalation/policies/{SERVICE}",
        {"repeat": 1},
    ),
    ("GET", "/api/heartbeats"): lambda f: (f"/api/heartbeats?service_name={SERVICE}", None),
    ("POST", "/api/heartbeats"): lambda f: ("/api/heartbeats", f.heartbeat_body()),
    ("POST", "/api/heartbeats/check"): lambda f: ("/api/heartbeats/check", None),
    ("GET", "/api/heartbeats/{heartbeat_id}"): lambda f: (f"/api/heartbeats/{f.heartbeat()['id']}", None),
    ("PATCH", "/api/heartbeats/{heartbeat_id}"): lambda f: (
        f"/api/heartbeats/{f.heartbeat()['id']}",
        {"interval_seconds": 120},
    ),
    ("DELETE", "/api/heartbeats/{heartbeat_id}"): lambda f: (f"/api/heartbeats/{f.heartbeat()['id']}", None),
    ("POST", "/api/heartbeats/{heartbeat_id}/ping"): lambda f: (f"/api/heartbeats/{f.heartbeat()['id']}/ping", None),
    ("GET", "/api/heartbeats/{heartbeat_id}/ping"): lambda f: (f"/api/heartbeats/{f.heartbeat()['id']}/ping", None),
    ("POST", "/api/heartbeats/{heartbeat_id}/ping/{secret}"): lambda f: (f.heartbeat_ping_path(), None),
    ("GET", "/api/heartbeats/{heartbeat_id}/ping/{secret}"): lambda f: (f.heartbeat_ping_path(), None),
    ("GET", "/api/keys"): lambda f: ("/api/keys", None),
    ("POST", "/api/keys"): lambda f: ("/api/keys", f.key_body()),
    ("DELETE", "/api/keys/{key_id}"): lambda f: (f"/api/keys/{f.key_id()}", None),
    ("GET", "/api/notifications/channels"): lambda f: ("/api/notifications/channels", None),
    ("POST", "/api/notifications/channels"): lambda f: ("/api/notifications/channels", f.channel_body()),
    ("DELETE", "/api/notifications/channels/{channel_id}"): lambda f: (
        f"/api/notifications/channels/{f.channel_id()}",
        None,
    ),
    ("POST", "/api/notifications/deliver"): lambda f: ("/api/notifications/deliver", None),
    ("GET", "/api/users"): lambda f: ("/api/users", None),
    ("POST", "/api/users"): lambda f: ("/api/users", {"name": f"user{f.unique()}"}),
    ("GET", "/api/users/{name}"): lambda f: (f"/api/users/{f.user(SELF)}", None),
    ("PUT", "/api/users/{name}"): lambda f: (f"/api/users/{f.user(SELF)}", {"time_zone": "Europe/Berlin"}),
    ("DELETE", "/api/users/{name}"): lambda f: (f"/api/users/{f.user()}", None),
    ("GET", "/api/users/{name}/contact-methods"): lambda f: (f"/api/users/{f.user(SELF)}/contact-methods", None),
    ("POST", "/api/users/{name}/contact-methods"): lambda f: (
        f"/api/users/{f.room()}/contact-methods",
        f.method_body(),
    ),
    ("DELETE", "/api/users/{name}/contact-methods/{method_id}"): lambda f: (
        f"/api/users/{SELF}/contact-methods/{f.method()['id']}",
        None,
    ),
    ("POST", "/api/users/{name}/contact-methods/{method_id}/verify"): lambda f: f.unverified(),
    ("GET", "/api/users/{name}/notification-rules"): lambda f: (
        f"/api/users/{f.user(SELF)}/notification-rules",
        None,
    ),
    ("POST", "/api/users/{name}/notification-rules"): lambda f: (
        f"/api/users/{f.user(SELF)}/notification-rules",
        f.rule_body(),
    ),
    ("DELETE", "/api/users/{name}/notification-rules/{rule_id}"): lambda f: (
        f"/api/users/{SELF}/notification-rules/{f.rule_id()}",
        None,
    ),
    ("GET", "/api/users/{name}/calendar-feeds"): lambda f: (f"/api/users/{SELF}/calendar-feeds", None),
    ("POST", "/api/users/{name}/calendar-feeds"): lambda f: (
        f"/api/users/{SELF}/calendar-feeds",
        {"service_name": SERVICE},
    ),
    ("DELETE", "/api/users/{name}/calendar-feeds/{feed_id}"): lambda f: (
        f"/api/users/{SELF}/calendar-feeds/{f.calendar_feed(SELF)['id']}",
        None,
    ),
    ("GET", "/calendar/{token}"): lambda f: (
        "/calendar/" + f.calendar_feed(f"feeds{f.unique()}")["url"].rsplit("/", 1)[1],
        None,
    ),
    ("POST", "/api/integrations/slack/interactivity"): lambda f: ("/api/integrations/slack/interactivity", {}),
    ("GET", "/act/{token}"): lambda f: (f"/act/{f.link()}", None),
    ("POST", "/act/{token}"): lambda f: (f"/act/{f.link()}", {}),
    ("GET", "/api/local/messages"): lambda f: ("/api/local/messages", None),
    ("POST", "/v2/enqueue"): lambda f: ("/v2/enqueue", f.pagerduty_event()),
    ("POST", "/api/integrations/cloudwatch"): lambda f: ("/api/integrations/cloudwatch", signed_alarm(f.unique())),
    ("POST", "/api/integrations/alertmanager"): lambda f: (
        "/api/integrations/alertmanager",
        {
            "version": "4",
            "groupKey": f'{{}}:{{alertname="matrix {f.unique()}"}}',
            "status": "firing",
            "receiver": "oncall",
            "commonLabels": {"alertname": "matrix", "service": SERVICE},
            "alerts": [{"status": "firing", "labels": {"alertname": "matrix", "service": SERVICE}}],
        },
    ),
}


@pytest.fixture(autouse=True)
def _sns_signed_by_the_test_key():
    """The CloudWatch route takes no key: its valid request is a message signed as SNS
    signs, with the certificate served by tests/test_cloudwatch.py's fake network."""
    with sns_trusted():
        yield


def refusal_problems(response) -> list[str]:
    """What is wrong with a 401/403 answer: the JSON error shape, its code, the challenge."""
    body = response.json_body
    wanted_code = {401: "unauthenticated", 403: "forbidden"}[response.status_code]
    if not isinstance(body, dict) or not {"error", "code"} <= set(body) <= {"error", "code", "field"}:
        return [f"body {body!r} is not the JSON error shape"]
    problems = []
    if body["code"] != wanted_code:
        problems.append(f"code {body['code']!r}")
    if not isinstance(body["error"], str) or not body["error"]:
        problems.append("no error sentence")
    if response.status_code == 401 and "Bearer" not in response.headers.get("WWW-Authenticate", ""):
        problems.append("no WWW-Authenticate: Bearer")
    return problems


def caller_headers(client, keyring) -> dict[str, dict]:
    revoked = keyring.token("admin", "revoked admin")
    revoked_id = call(client, "GET", "/api/me", bearer(revoked)).json_body["key_id"]
    admin_json(client, "DELETE", f"/api/keys/{revoked_id}")
    return {
        NO_KEY: {},
        BAD_KEY: bearer(unknown_token()),
        REVOKED_KEY: bearer(revoked),
        ADMIN: bearer(keyring.admin()),
        RESPONDER: bearer(keyring.responder(SELF)),
        INTEGRATION: bearer(keyring.integration(SERVICE)),
    }


def observe_matrix(client, keyring, requests_made) -> dict[tuple[str, str], tuple]:
    """Send every catalogued operation as every caller. A cell is the status, or the
    status and what was wrong besides it (a refusal that wrote, a bad error body)."""
    fixtures = Fixtures(client)
    headers = caller_headers(client, keyring)
    observed: dict[tuple[str, str], tuple] = {}
    for operation in app.API.operations:
        name = (operation.method, operation.path)
        recipe = RECIPES.get(name)
        if recipe is None:
            observed[name] = ("no request recipe in tests/test_access.py",) * len(COLUMNS)
            continue
        row = []
        for column in COLUMNS:
            path, body = recipe(fixtures)
            with requests_made.measure() as calls:
                response = call(client, operation.method, path, headers[column], body)
            problems = []
            if response.status_code in (401, 403):
                problems += refusal_problems(response)
                if writes(calls):
                    problems.append(f"wrote {sorted(writes(calls))}")
            elif response.status_code not in SUCCESS and (name, column, response.status_code) not in NOT_HERE:
                problems.append(f"answered {response.body!r:.200}")
            row.append(f"{response.status_code} ({'; '.join(problems)})" if problems else response.status_code)
        observed[name] = tuple(row)
    return observed


def matrix_differences(observed: dict, expected: dict) -> list[str]:
    lines = []
    for name in expected.keys() - observed.keys():
        lines.append(f"{name[0]} {name[1]}: in tests/access_matrix.py but not in app.API.operations")
    for name, cells in observed.items():
        if name not in expected:
            lines.append(f"{name[0]} {name[1]}: no entry in tests/access_matrix.py EXPECTED; observed {cells}")
            continue
        for column, want, got in zip(COLUMNS, expected[name], cells, strict=True):
            if want != got:
                lines.append(f"{name[0]} {name[1]} [{column}]: expected {want}, got {got}")
    return lines


def test_every_operation_answers_every_caller_as_the_matrix_says(client, keyring, requests_made):
    observed = observe_matrix(client, keyring, requests_made)
    differences = matrix_differences(observed, EXPECTED)
    assert not differences, "cells that differ from tests/access_matrix.py:\n" + "\n".join(differences)
    assert observed == EXPECTED


def test_the_matrix_check_reports_each_wrong_cell():
    """A new route without an entry, a stale entry and a wrong cell are each named."""
    observed = {**EXPECTED, ("GET", "/api/new"): (401,) * 6, ("GET", "/api/keys"): (401, 401, 401, 200, 200, 403)}
    expected = {**EXPECTED, ("GET", "/api/gone"): (200,) * 6}
    assert sorted(matrix_differences(observed, expected)) == [
        "GET /api/gone: in tests/access_matrix.py but not in app.API.operations",
        "GET /api/keys [responder]: expected 403, got 200",
        "GET /api/new: no entry in tests/access_matrix.py EXPECTED; observed (401, 401, 401, 401, 401, 401)",
    ]


def test_every_operation_has_a_request_recipe_and_a_matrix_entry():
    catalogued = {(operation.method, operation.path) for operation in app.API.operations}
    assert catalogued == set(EXPECTED) == set(RECIPES)
    assert len(catalogued) == len(app.API.operations), "an operation is catalogued twice"


# --- the two header forms ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        ("Authorization", "Bearer {}"),
        ("Authorization", "bearer {}"),
        ("Authorization", "BEARER {}"),
        ("authorization", "BeArEr {}"),
        ("Authorization", "  Bearer   {}  "),
        ("X-API-Key", "{}"),
        ("x-api-key", "{}"),
        ("X-Api-Key", "  {} "),
    ],
)
def test_both_header_forms_carry_the_key(client, keyring, header):
    name, template = header
    token = keyring.responder("rita")
    response = call(client, "GET", "/api/me", {name: template.format(token)})
    assert response.status_code == 200, response.body
    assert response.json_body["role"] == "responder"
    assert response.json_body["user"] == "rita"
    ack = call(client, "POST", f"/api/incidents/{trigger_as_admin(client)}/acknowledge", {name: template.format(token)})
    assert ack.status_code == 200, ack.body
    assert ack.json_body["acknowledged_by"] == "rita"


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic {basic}",
        "Token {token}",
        "ApiKey {token}",
        "Bearer: {token}",
        "{token}",
        "Bearer",
        "Bearer ",
        "Digest username={token}",
    ],
)
def test_an_authorization_header_that_is_not_bearer_is_401(client, keyring, authorization):
    token = keyring.admin()
    basic = base64.b64encode(f"admin:{token}".encode()).decode()
    value = authorization.format(token=token, basic=basic)
    for headers in ({"Authorization": value}, {"Authorization": value, "X-API-Key": token}):
        response = call(client, "GET", "/api/me", headers)
        assert response.status_code == 401, (headers, response.body)
        assert response.json_body["code"] == "unauthenticated"
        assert response.json_body["field"] == "authorization"


@pytest.mark.parametrize(
    "presented",
    [
        "unknown",
        "oncall_",
        "oncall_" + "A" * 300,
        "oncall_ÿ",
        "{token}x",
        "{upper}",
        "{hash}",
    ],
    ids=["unknown", "prefix-only", "too-long", "non-ascii", "extra-char", "other-case", "the-stored-hash"],
)
def test_a_malformed_or_unknown_key_is_401(client, keyring, presented):
    token = keyring.admin()
    value = presented.format(token=token, upper=token.upper(), hash=hashlib.sha256(token.encode()).hexdigest())
    for headers in (bearer(value), {"X-API-Key": value}):
        response = call(client, "GET", "/api/keys", headers)
        assert response.status_code == 401, (headers, response.body)
        assert response.json_body["code"] == "unauthenticated"


def test_public_routes_ignore_any_key(client):
    for headers in ({}, bearer(unknown_token()), {"Authorization": "Basic abc"}, {"X-API-Key": "x"}):
        assert call(client, "GET", "/api/health", headers).status_code == 200
        assert call(client, "GET", "/", headers).status_code == 200


# --- focused checks ---------------------------------------------------------------------------------


def trigger_as_admin(client, service=SERVICE, title="disk full") -> int:
    body = {"service_name": service, "title": title}
    return admin_json(client, "POST", "/api/incidents/trigger", body, expect=201)["id"]


def all_incidents(client) -> list[dict]:
    return admin_json(client, "GET", "/api/incidents/list/all?limit=100")["incidents"]


def test_an_integration_key_triggers_only_its_own_services(client, keyring, requests_made):
    token = keyring.integration("payments")
    search_id = trigger_as_admin(client, "search", "index lag")

    for title in ("cpu high", "index lag"):  # a new alert, and a repeat of search's open incident
        with requests_made.measure() as calls:
            response = call(
                client, "POST", "/api/incidents/trigger", bearer(token), {"service_name": "search", "title": title}
            )
        assert response.status_code == 403, response.body
        assert response.json_body["code"] == "forbidden"
        assert response.json_body["field"] == "service_name"
        assert "search" in response.json_body["error"] and "payments" in response.json_body["error"]
        assert writes(calls) == {}
    assert [(i["id"], i["alert_count"]) for i in all_incidents(client)] == [(search_id, 1)]

    own = call(client, "POST", "/api/incidents/trigger", bearer(token), {"service_name": "payments", "title": "5xx"})
    assert own.status_code == 201, own.body
    assert own.json_body["service_name"] == "payments"
    assert own.json_body["created_by"] == "integration payments (integration key)"
    again = call(client, "POST", "/api/incidents/trigger", bearer(token), {"service_name": "payments", "title": "5xx"})
    assert again.status_code == 200 and again.json_body["deduplicated"] is True

    both = keyring.integration("payments", "search")
    for service in ("payments", "search"):
        response = call(client, "POST", "/api/incidents/trigger", bearer(both), {"service_name": service, "title": "x"})
        assert response.status_code == 201, response.body
    refused = call(client, "POST", "/api/incidents/trigger", bearer(both), {"service_name": "billing", "title": "x"})
    assert refused.status_code == 403 and refused.json_body["field"] == "service_name"


def test_an_integration_key_cannot_touch_its_own_services_incidents(client, keyring, requests_made):
    token = keyring.integration(SERVICE)
    incident_id = trigger_as_admin(client)
    for method, path in [
        ("POST", f"/api/incidents/{incident_id}/acknowledge"),
        ("PUT", f"/api/incidents/{incident_id}/resolve"),
        ("GET", f"/api/incidents/{incident_id}"),
        ("POST", "/api/incidents/escalate/check"),
    ]:
        with requests_made.measure() as calls:
            response = call(client, method, path, bearer(token), {} if method != "GET" else None)
        assert response.status_code == 403, (method, path, response.body)
        assert writes(calls) == {}
    assert admin_json(client, "GET", f"/api/incidents/{incident_id}")["status"] == "TRIGGERED"


def listed(client) -> dict:
    """What the manage operations change: shifts, levels and keys (ids), as the admin sees them."""
    return {
        "shifts": [s["id"] for s in admin_json(client, "GET", "/api/oncall/schedules?include_ended=true")["schedules"]],
        "levels": [lv["id"] for lv in admin_json(client, "GET", "/api/escalation/levels")["levels"]],
        "keys": [(k["id"], k["revoked_at"]) for k in admin_json(client, "GET", "/api/keys?limit=100")["keys"]],
    }


def test_a_responder_cannot_manage_schedules_levels_or_keys(client, keyring, requests_made):
    fixtures = Fixtures(client)
    token = keyring.responder("rita")
    shift_id, level_id, key_id = fixtures.shift_id(), fixtures.level_id(), fixtures.key_id()
    before = listed(client)
    attempts = [
        ("POST", "/api/oncall/schedules", fixtures.shift_body()),
        ("DELETE", f"/api/oncall/schedules/{shift_id}", None),
        ("POST", "/api/escalation/levels", fixtures.level_body()),
        ("DELETE", f"/api/escalation/levels/{level_id}", None),
        ("POST", "/api/keys", {"name": "escalate myself", "role": "admin", "user": "rita"}),
        ("DELETE", f"/api/keys/{key_id}", None),
        ("GET", "/api/keys", None),
    ]
    for method, path, body in attempts:
        with requests_made.measure() as calls:
            response = call(client, method, path, bearer(token), body)
        assert response.status_code == 403, (method, path, response.body)
        assert response.json_body["code"] == "forbidden"
        assert "responder" in response.json_body["error"]
        assert writes(calls) == {}, (method, path)
    assert listed(client) == before
    assert any(shift_id == s for s in before["shifts"]) and any(level_id == lv for lv in before["levels"])


def test_the_actor_is_the_keys_user_whatever_the_body_says(client, keyring):
    rita = bearer(keyring.responder("rita"))
    mallory = {"user": "mallory"}
    created = call(client, "POST", "/api/incidents/trigger", rita, {"service_name": SERVICE, "title": "t", **mallory})
    assert created.status_code == 201 and created.json_body["created_by"] == "rita"
    incident_id = created.json_body["id"]

    acked = call(client, "PUT", f"/api/incidents/{incident_id}/acknowledge", rita, mallory)
    assert acked.status_code == 200, acked.body
    assert acked.json_body["acknowledged_by"] == "rita"
    resolved = call(client, "POST", f"/api/incidents/{incident_id}/resolve", rita, mallory)
    assert resolved.status_code == 200, resolved.body
    assert resolved.json_body["resolved_by"] == "rita"

    detail = admin_json(client, "GET", f"/api/incidents/{incident_id}")
    assert (detail["created_by"], detail["acknowledged_by"], detail["resolved_by"]) == ("rita", "rita", "rita")
    assert {event["actor"] for event in detail["timeline"]} == {"rita"}
    assert "mallory" not in json.dumps(detail)

    # An admin key acts as its own user too.
    other = trigger_as_admin(client, title="other")
    acked = call(client, "POST", f"/api/incidents/{other}/acknowledge", bearer(keyring.admin()), mallory)
    assert acked.json_body["acknowledged_by"] == "admin"


def test_a_revoked_key_stops_working_on_the_very_next_request(client, keyring):
    token = keyring.responder("rita")
    me = call(client, "GET", "/api/me", bearer(token))
    assert me.status_code == 200
    key_id = me.json_body["key_id"]
    incident_id = trigger_as_admin(client)

    revoked = admin_json(client, "DELETE", f"/api/keys/{key_id}")
    assert revoked["id"] == key_id and revoked["revoked_at"] == clock.iso(clock.now())

    for method, path, headers in [
        ("GET", "/api/me", bearer(token)),
        ("GET", "/api/me", {"X-API-Key": token}),
        ("POST", f"/api/incidents/{incident_id}/acknowledge", bearer(token)),
    ]:
        response = call(client, method, path, headers)
        assert response.status_code == 401, response.body
        assert response.json_body["code"] == "unauthenticated"
    assert admin_json(client, "GET", f"/api/incidents/{incident_id}")["status"] == "TRIGGERED"

    # Revoking again succeeds and keeps the first revocation time; the key stays revoked.
    revoked_at = revoked["revoked_at"]
    assert admin_json(client, "DELETE", f"/api/keys/{key_id}")["revoked_at"] == revoked_at
    assert call(client, "GET", "/api/me", bearer(token)).status_code == 401
    assert {k["id"]: k["revoked_at"] for k in admin_json(client, "GET", "/api/keys")["keys"]}[key_id] == revoked_at


@pytest.mark.usefixtures("key_cache")
def test_with_the_key_cache_on_a_key_revoked_while_it_is_being_read_is_not_cached(client, keyring):
    """As under `make run` (keys cached 60 s): a request reads the key, the key is revoked
    through this process before that request caches what it read; the next request with
    the key is refused, not served from the cache for a minute."""
    token = keyring.responder("rita")
    key_id = call(client, "GET", "/api/me", bearer(token)).json_body["key_id"]
    access.forget_keys()

    def revoke():
        assert admin_json(client, "DELETE", f"/api/keys/{key_id}")["revoked_at"]

    with right_after(KeyToken, "GetItem", revoke) as revoked:
        assert call(client, "GET", "/api/me", bearer(token)).status_code == 200
    assert revoked["ran"] and revoked["error"] is None, revoked
    response = call(client, "GET", "/api/me", bearer(token))
    assert response.status_code == 401, response.body


def test_an_admin_key_that_revokes_itself_is_refused_next(client, keyring):
    token = keyring.token("admin", "ada")
    key_id = call(client, "GET", "/api/me", bearer(token)).json_body["key_id"]
    assert call(client, "DELETE", f"/api/keys/{key_id}", bearer(token)).status_code == 200
    response = call(client, "POST", "/api/keys", bearer(token), {"name": "n", "role": "admin", "user": "ada"})
    assert response.status_code == 401


def test_revoking_an_unknown_key_is_404_and_a_malformed_id_400(client):
    assert call(client, "DELETE", f"/api/keys/{'0' * 32}", {}).status_code == 401
    response = client.http.delete(f"/api/keys/{'0' * 32}")
    assert response.status_code == 404 and response.json_body["code"] == "not_found"
    response = client.http.delete("/api/keys/not-an-id")
    assert response.status_code == 400 and response.json_body["field"] == "id"


def created_keys(client, count: int) -> list[dict]:
    bodies = [{"name": f"tool {n}", "role": "integration", "services": [SERVICE]} for n in range(count)]
    bodies += [{"name": "rita's key", "role": "responder", "user": "rita"}]
    return [admin_json(client, "POST", "/api/keys", body, expect=201) for body in bodies]


def secrets_of(created: list[dict], *tokens: str) -> dict[str, str]:
    """Every token and its SHA-256 hex, named for the failure message."""
    found = {}
    for token in [key["token"] for key in created] + list(tokens):
        found[f"token {token[:12]}…"] = token
        found[f"hash of {token[:12]}…"] = hashlib.sha256(token.encode()).hexdigest()
    return found


def leaks(text: str, secret_values: dict[str, str]) -> list[str]:
    lowered = text.lower()
    return [name for name, value in secret_values.items() if value.lower() in lowered]


KEY_FIELDS = {"id", "name", "role", "user", "services", "created_at", "created_by", "revoked_at"}


def test_key_listing_never_shows_a_token_or_its_hash(client, keyring):
    created = created_keys(client, 3)
    assert all(set(key) == KEY_FIELDS | {"token"} for key in created)
    admin_json(client, "DELETE", f"/api/keys/{created[0]['id']}")
    hidden = secrets_of(created, keyring.admin())

    pages, cursor = [], None
    while True:
        page = admin_json(client, "GET", "/api/keys?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        pages.append(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    everything = admin_json(client, "GET", "/api/keys")
    listed_keys = [key for page in pages for key in page["keys"]]
    assert len(pages) == 3 and len(listed_keys) == len(everything["keys"]) == 5
    for key in listed_keys + everything["keys"]:
        assert set(key) == KEY_FIELDS, key
    for page in pages + [everything]:
        assert leaks(json.dumps(page), hidden) == []
    by_id = {key["id"]: key for key in listed_keys}
    revoked_at = clock.iso(clock.now())
    for number, key in enumerate(created):
        shown = {name: value for name, value in key.items() if name != "token"}
        assert by_id[key["id"]] == shown | {"revoked_at": revoked_at if number == 0 else None}


def decoded_cursor(cursor: str) -> str:
    payload = cursor.partition(".")[0]
    return base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()


def test_the_key_list_cursor_does_not_carry_a_token_hash(client, keyring):
    created = created_keys(client, 2)
    cursor = admin_json(client, "GET", "/api/keys?limit=1")["next_cursor"]
    assert cursor is not None
    assert leaks(decoded_cursor(cursor), secrets_of(created, keyring.admin())) == []


class EveryRecord(logging.Handler):
    """Every log record, with the root logger at DEBUG as a deployer turning on
    debugging would set it (the app keeps the AWS SDK's request dumps at INFO)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []
        self.sources: list[str] = []
        self._loggers: list[tuple[logging.Logger, int]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        self.sources.append(f"{record.name} {record.levelname}")

    def __enter__(self) -> "EveryRecord":
        loggers = [logging.getLogger()] + [
            logger for logger in logging.root.manager.loggerDict.values() if isinstance(logger, logging.Logger)
        ]
        for logger in loggers:
            self._loggers.append((logger, logger.level))
            if logger is logging.root:
                logger.setLevel(logging.DEBUG)
            if logger is logging.root or not logger.propagate:
                logger.addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        for logger, level in self._loggers:
            logger.setLevel(level)
            logger.removeHandler(self)


def key_flow(client, keyring, capsys) -> dict[str, list[str]]:
    """Create keys, use them in both header forms, refuse them, revoke them and list
    them, capturing every log record (the root logger at DEBUG), stdout and stderr and
    every answer. Returns each token or token hash found, by where it was found."""
    answers: list[tuple[str, str]] = []  # (the request, the whole answer: status, headers, body)
    creations: list[dict] = []

    def send(method, path, headers, body=None, *, creation=False):
        response = call(client, method, path, headers, body)
        if creation:
            creations.append(response.json_body)
        else:
            answers.append((f"{method} {path}", f"{response.status_code} {dict(response.headers)} {response.body!r}"))
        return response

    admin = bearer(keyring.admin())
    capsys.readouterr()
    with EveryRecord() as records:
        for body in (
            {"name": "prometheus", "role": "integration", "services": ["payments"]},
            {"name": "rita", "role": "responder", "user": "rita"},
            {"name": "ada", "role": "admin", "user": "ada"},
        ):
            assert send("POST", "/api/keys", admin, body, creation=True).status_code == 201
        tool, rita, ada = (key["token"] for key in creations)

        alert = {"service_name": "payments", "title": "5xx"}
        incident_id = send("POST", "/api/incidents/trigger", bearer(tool), alert).json_body["id"]
        assert send("POST", "/api/incidents/trigger", {"X-API-Key": tool}, alert).status_code == 200
        assert (
            send("POST", "/api/incidents/trigger", bearer(tool), {**alert, "service_name": "search"}).status_code == 403
        )
        assert send("POST", f"/api/incidents/{incident_id}/acknowledge", bearer(tool)).status_code == 403
        assert send("PUT", f"/api/incidents/{incident_id}/acknowledge", bearer(rita), {"user": "x"}).status_code == 200
        assert send("PUT", f"/api/incidents/{incident_id}/resolve", {"X-API-Key": rita}).status_code == 200
        assert send("POST", "/api/incidents/escalate/check", bearer(rita)).status_code == 200
        assert send("GET", f"/api/incidents/{incident_id}", bearer(rita)).status_code == 200
        assert send("GET", "/api/keys", bearer(rita)).status_code == 403
        assert send("GET", "/api/me", bearer(ada)).status_code == 200
        assert send("GET", "/api/openapi.json", bearer(tool)).status_code == 200
        assert send("GET", "/api/keys?limit=1", bearer(ada)).json_body["next_cursor"] is not None
        assert send("GET", "/api/keys?limit=100", bearer(ada)).status_code == 200
        for key in creations:
            assert send("DELETE", f"/api/keys/{key['id']}", admin).status_code == 200
        for token in (tool, rita, ada):
            assert send("GET", "/api/me", bearer(token)).status_code == 401
            assert send("GET", "/api/me", {"Authorization": f"Basic {token}"}).status_code == 401
            assert send("GET", "/api/me", {"X-API-Key": token + "x"}).status_code == 401
        assert send("GET", "/api/keys", admin).status_code == 200
        send("POST", "/api/keys", bearer("oncall_" + "A" * 300), {"name": "n", "role": "admin", "user": "u"})
    captured = capsys.readouterr()
    assert records.lines, "the handler saw no record at all"

    hidden = secrets_of(creations, keyring.admin())
    found: dict[str, list[str]] = {}
    for source, line in zip(records.sources, records.lines, strict=True):
        for name in leaks(line, hidden):
            found.setdefault(f"log record of {source}", []).append(f"{name} in {line[:160]!r}")
    for stream in ("out", "err"):
        for name in leaks(getattr(captured, stream), hidden):
            found.setdefault(f"std{stream}", []).append(name)
    for what, text in answers:
        for name in leaks(text, hidden):
            found.setdefault(f"answer to {what}", []).append(name)
    for key in creations:  # the creation answer holds its own token, and nothing else secret
        for name in leaks(json.dumps(key), {n: v for n, v in hidden.items() if v != key["token"]}):
            found.setdefault("answer to POST /api/keys", []).append(name)
    return found


def report(found: dict[str, list[str]]) -> str:
    return "\n".join(f"{where}: {len(names)}, e.g. {names[0]}" for where, names in sorted(found.items()))


def test_no_token_or_token_hash_in_any_log_line_or_answer_but_its_creation(client, keyring, capsys):
    found = key_flow(client, keyring, capsys)
    assert not found, "tokens or token hashes leaked:\n" + report(found)


# --- the README's table -----------------------------------------------------------------------------


def readme_sections(text: str) -> list[tuple[str, str]]:
    """(heading, body) of each `## ` section, in order."""
    parts = re.split(r"^(## .*)$", text, flags=re.MULTILINE)
    return [(parts[i].strip(), parts[i + 1]) for i in range(1, len(parts), 2)]


def test_the_readme_shows_the_matrix_the_tests_check():
    table = access_matrix.markdown_table()
    paste = f"\n\nThe table to paste into README.md's '## Access control' section:\n\n{table}\n"
    sections = readme_sections(README.read_text(encoding="utf-8"))
    headings = [heading for heading, _ in sections]
    assert "## Access control" in headings, "README.md has no '## Access control' section" + paste
    assert headings[headings.index("## Access control") - 1] == "## HTTP API", "put it right after '## HTTP API'"
    lines = [line.strip() for line in dict(sections)["## Access control"].splitlines()]
    header = table.splitlines()[0]
    assert header in lines, "README.md's '## Access control' has no table headed like the matrix" + paste
    start = lines.index(header)
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    shown = "\n".join(lines[start:end])
    assert shown == table, "README.md's access table differs from tests/access_matrix.py" + paste
