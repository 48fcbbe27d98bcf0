"""Schemathesis fuzzes every operation of the OpenAPI document against a real local
server of this module's own: once with the admin key, once with no key at all.

Every answer must be no 5xx and conform to the document: a documented status, a
documented content type, a body matching the documented schema. With the admin
key no answer may be 401 or 403; without a key every protected operation must
answer 401. The last test checks how many requests were sent and that the admin
key survived the fuzzing.

Reproducible: Hypothesis runs derandomized from a fixed seed, without an example
database, so CI sends the same requests every time. A failure prints a curl
command that reproduces it (with the key filtered out; add -H 'Authorization:
Bearer <tests.e2e.client.ADMIN_TOKEN>' for the admin run).
"""

import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import app as oncall_app
from tests.e2e.client import ADMIN_TOKEN, expect, get, make_key, request
from tests.e2e.conftest import launch

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Fuzzed cases per operation and run, on top of the schema's examples and the
# coverage phase (boundary values, wrong types, missing fields, other methods).
# About 12,300 requests in all, in about 3 minutes on one core.
MAX_EXAMPLES = 40
SEED = 20260301
MIN_REQUESTS = 300
TIMEOUT = 30.0
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

# Methods the coverage phase sends to every path besides the documented ones,
# including two no route takes at all (also covered on their own below).
UNEXPECTED_METHODS = ["delete", "get", "options", "patch", "post", "put", "trace", "query"]
UNKNOWN_METHODS = ("TRACE", "QUERY")

# The document, built in-process from the route declarations the server renders it
# from: pytest needs the operations before any server runs. The first test checks
# that the server serves exactly this document.
DOCUMENT = oncall_app.API.document()
schema = schemathesis.openapi.from_dict(
    DOCUMENT,
    config=schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "phases": {"coverage": {"unexpected-methods": UNEXPECTED_METHODS}},
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
                # Which key a request carries is this module's choice, never a generated one.
                "with-security-parameters": False,
            },
        }
    ),
)
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)

# (run, operation) -> answers counted by status; a request sent with another method
# than the operation's (the coverage phase's probes) counts as e.g. "PATCH 405".
SENT: dict[tuple[str, str], Counter] = {}


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    """A demo-free server of this module's own, so generated data reaches no other test."""
    local = launch(tmp_path_factory.mktemp("oncall-fuzz"))
    yield local
    local.stop()


@pytest.fixture(scope="module")
def session():
    """The fuzzing's connections, kept open between requests: without one, schemathesis
    makes a session, and so a connection, for every request."""
    with requests.Session() as shared:
        yield shared


@pytest.fixture(scope="module")
def admin_key_id(fuzz_server) -> str:
    return expect(get(fuzz_server.url, "/api/me"))["key_id"]


def test_the_served_document_is_the_one_fuzzed(fuzz_server):
    assert expect(get(fuzz_server.url, "/api/openapi.json")) == DOCUMENT


def test_every_json_answer_has_a_schema():
    vague = [
        f"{method.upper()} {path} {status}"
        for path, operations in DOCUMENT["paths"].items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if response.get("content", {}).get("application/json", {}).get("schema") == {"type": "object"}
    ]
    assert not vague, f"answers documented as any object (give the route its answer= model): {vague}"


def _protected(case) -> bool:
    return bool(case.operation.definition.raw.get("security"))


def _refused_before_the_view(case, response) -> bool:
    """What Chalice answers itself, before the view and so before the key is checked:
    a method the path does not take (405, or 200 to a CORS preflight OPTIONS) and a
    Content-Type the route does not read (415; every route reads application/json)."""
    if case.method.upper() != case.operation.method.upper():
        return True
    sent = (response.request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    return response.status_code == 415 and sent not in ("", "application/json")


def _send(run: str, case, base_url: str, session: requests.Session, headers: dict[str, str] | None = None):
    """Send the case, count it, then run the checks on the answer."""
    response = case.call(base_url=base_url, session=session, headers=headers, timeout=TIMEOUT)
    sent = case.method.upper()
    answer = str(response.status_code) if sent == case.operation.method.upper() else f"{sent} {response.status_code}"
    SENT.setdefault((run, case.operation.label), Counter())[answer] += 1
    case.validate_response(response, checks=CHECKS, headers=headers, transport_kwargs={"base_url": base_url})
    return response


def _explain(case, response) -> str:
    return f"{case.method.upper()} {case.formatted_path} answered {response.status_code}: {response.text[:300]}"


@schema.parametrize()
@FUZZ_SETTINGS
def test_fuzz_with_the_admin_key(case, fuzz_server, session, admin_key_id):
    if case.operation.label == "DELETE /api/keys/{key_id}" and case.path_parameters.get("key_id") == admin_key_id:
        # Ids come back in GET /api/keys and /api/me, and schemathesis reuses values it
        # has seen: revoking the key in use would turn the rest of the run into 401s.
        case.path_parameters["key_id"] = "0" * 32
    response = _send("admin", case, fuzz_server.url, session, ADMIN)
    if _protected(case) and not _refused_before_the_view(case, response):
        assert response.status_code not in (401, 403), _explain(case, response)


@schema.parametrize()
@FUZZ_SETTINGS
def test_fuzz_without_a_key(case, fuzz_server, session):
    response = _send("anonymous", case, fuzz_server.url, session)
    if _protected(case) and not _refused_before_the_view(case, response):
        assert response.status_code == 401, _explain(case, response)


def _conforms(base_url: str, method: str, path: str, status: int, *, token: str = ADMIN_TOKEN, **data):
    """Send one chosen request through schemathesis, run the same checks on the answer,
    and check its status: the answers random data rarely reaches (folds, transitions,
    204s, conflicts, other roles) must conform as well."""
    case = schema[path][method].Case(**data)
    response = case.call(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)
    case.validate_response(response, checks=CHECKS)
    assert response.status_code == status, _explain(case, response)
    content_type = response.headers.get("content-type", [""])[0]
    return response.json() if response.content and content_type.startswith("application/json") else None


def test_a_whole_lifecycle_conforms_to_the_document(fuzz_server):
    url, service = fuzz_server.url, f"lifecycle-{uuid.uuid4().hex[:8]}"
    now = datetime.now(timezone.utc)
    level = _conforms(
        url, "POST", "/api/escalation/levels", 201, body={"service_name": service, "level": 1, "user": "bob"}
    )
    _conforms(url, "POST", "/api/escalation/levels", 409, body={"service_name": service, "level": 1})
    shift_times = {
        "start_time": (now - timedelta(hours=1)).isoformat(),
        "end_time": (now + timedelta(hours=1)).isoformat(),
    }
    shift = _conforms(
        url, "POST", "/api/oncall/schedules", 201, body={"service_name": service, "user": "alice", **shift_times}
    )
    assert _conforms(url, "GET", "/api/oncall/current", 200, query={"service_name": service})["user"] == "alice"

    alert = {"service_name": service, "title": "disk full", "dedup_key": "disk"}
    incident = _conforms(url, "POST", "/api/incidents/trigger", 201, body=alert)
    assert _conforms(url, "POST", "/api/incidents/trigger", 200, body=alert)["deduplicated"] is True
    _conforms(url, "POST", "/api/incidents/trigger", 201, body={"service_name": service, "title": "cpu"})
    number = {"path_parameters": {"incident_id": incident["id"]}}
    _conforms(url, "POST", "/api/incidents/{incident_id}/resolve", 400, **number)
    _conforms(url, "PUT", "/api/incidents/{incident_id}/acknowledge", 200, body={}, **number)
    _conforms(url, "POST", "/api/incidents/{incident_id}/acknowledge", 400, **number)
    _conforms(url, "PUT", "/api/incidents/{incident_id}/resolve", 200, **number)
    assert _conforms(url, "GET", "/api/incidents/{incident_id}", 200, **number)["timeline"]
    _conforms(url, "POST", "/api/incidents/escalate/check", 200)

    page = _conforms(url, "GET", "/api/incidents/list/all", 200, query={"service_name": service, "limit": 1})
    assert page["next_cursor"]
    _conforms(
        url, "GET", "/api/incidents/list/all", 200, query={"service_name": service, "cursor": page["next_cursor"]}
    )
    _conforms(url, "GET", "/api/incidents/list/all", 400, query={"cursor": page["next_cursor"]})
    _conforms(url, "GET", "/api/metrics", 200, query={"service_name": service})
    _conforms(url, "GET", "/api/metrics/services", 200, query={"limit": 100})
    _conforms(url, "GET", "/api/oncall/schedules", 200, query={"service_name": service, "include_ended": True})
    _conforms(url, "GET", "/api/escalation/levels", 200, query={"service_name": service})
    paging = {"service_name": service, "level": 2, "targets": [{"oncall": service}, {"user": "c"}], "wait_minutes": 9}
    _conforms(url, "POST", "/api/escalation/levels", 201, body=paging)
    policy = {"path_parameters": {"service_name": service}}
    _conforms(url, "PUT", "/api/escalation/policies/{service_name}", 200, body={"repeat": 1}, **policy)
    assert _conforms(url, "GET", "/api/escalation/policies/{service_name}", 200, **policy)["repeat"] == 1

    integration = make_key(url, "integration", services=[service])
    _conforms(
        url, "POST", "/api/incidents/trigger", 201, token=integration, body={"service_name": service, "title": "x"}
    )
    _conforms(
        url, "POST", "/api/incidents/trigger", 403, token=integration, body={"service_name": "other", "title": "x"}
    )
    _conforms(url, "GET", "/api/me", 200, token=integration)
    responder = make_key(url, "responder", user="carol")
    _conforms(url, "GET", "/api/keys", 403, token=responder)
    created = _conforms(url, "POST", "/api/keys", 201, body={"name": "fuzz", "role": "responder", "user": "dave"})
    _conforms(url, "GET", "/api/keys", 200)
    revoked = {"path_parameters": {"key_id": created["id"]}}
    assert _conforms(url, "DELETE", "/api/keys/{key_id}", 200, **revoked)["revoked_at"]
    _conforms(url, "DELETE", "/api/keys/{key_id}", 200, **revoked)
    _conforms(url, "GET", "/api/me", 401, token=created["token"])

    _conforms(url, "DELETE", "/api/oncall/schedules/{schedule_id}", 204, path_parameters={"schedule_id": shift["id"]})
    _conforms(url, "DELETE", "/api/oncall/schedules/{schedule_id}", 404, path_parameters={"schedule_id": shift["id"]})
    _conforms(url, "DELETE", "/api/escalation/levels/{level_id}", 204, path_parameters={"level_id": level["id"]})
    for name in DOCUMENT["paths"]["/console/{name}"]["get"]["parameters"][0]["schema"]["examples"]:
        _conforms(url, "GET", "/console/{name}", 200, path_parameters={"name": name})
    _conforms(url, "GET", "/", 200)


def _example_path(path: str) -> str:
    samples = {"{incident_id}": "1", "{name}": "index.html"}
    for placeholder in ("{incident_id}", "{name}", "{schedule_id}", "{level_id}", "{key_id}"):
        path = path.replace(placeholder, samples.get(placeholder, "0" * 32))
    return path


@pytest.mark.parametrize("method", UNKNOWN_METHODS)
def test_methods_no_route_takes_answer_a_json_error(fuzz_server, method):
    wrong = []
    for path in DOCUMENT["paths"]:
        reply = request(fuzz_server.url, method, _example_path(path), timeout=TIMEOUT)
        if reply.status >= 500 or not reply.content_type.startswith("application/json"):
            wrong.append(
                f"{method} {_example_path(path)}: HTTP {reply.status} ({reply.content_type}) {reply.body[:60]!r}"
            )
    assert not wrong, "\n".join(wrong)


def test_enough_requests_were_sent_and_the_admin_key_survived(fuzz_server, capsys, record_property):
    if not SENT:
        pytest.skip("the fuzz tests did not run")
    by_run = Counter()
    for (run, _), answers in SENT.items():
        by_run[run] += answers.total()
    total = by_run.total()
    summary = f"schemathesis sent {total} requests ({', '.join(f'{run}: {n}' for run, n in by_run.items())})"
    lines = [f"{run:9} {operation:50} {dict(sorted(answers.items()))}" for (run, operation), answers in SENT.items()]
    print("\n" + summary + "\n" + "\n".join(lines))
    (fuzz_server.log_path.parent / "fuzz-summary.txt").write_text(summary + "\n" + "\n".join(lines) + "\n")
    record_property("fuzz_requests", total)
    with capsys.disabled():
        print(f"\n{summary}; by status in {fuzz_server.log_path.parent / 'fuzz-summary.txt'}")
    assert total >= MIN_REQUESTS, summary
    assert expect(get(fuzz_server.url, "/api/me"))["role"] == "admin"
