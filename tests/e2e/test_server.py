"""The real local server over HTTP: the contract, the demo, the sweep timer,
shutdown, and an external DynamoDB endpoint."""

import socket
import time
import uuid
from urllib.parse import urlsplit

import boto3
import pytest

from oncall_local.emulator import Emulator
from tests.e2e.client import ADMIN_TOKEN, expect, get, list_service, make_key, post, request, trigger

ESCALATION_DEADLINE = 10.0


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def open_incident(url: str, service: str | None = None) -> dict:
    return expect(trigger(url, service or unique("svc"), unique("alert")), 201)


def assert_json_error(reply, status: int, code: str) -> dict:
    assert reply.status == status, reply
    assert reply.content_type.startswith("application/json"), reply
    body = reply.json()
    assert body.get("code") == code, body
    assert isinstance(body.get("error"), str) and body["error"].strip(), body
    return body


def refuses_connections(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


# --- the contract -------------------------------------------------------------------


def test_health(server):
    reply = get(server, "/api/health")
    assert expect(reply) == {"status": "ok"}
    assert reply.content_type.startswith("application/json"), reply


def test_trigger_creates_an_incident_and_a_duplicate_folds_into_it(server):
    service, title = unique("db"), unique("disk full")
    first = expect(trigger(server, service, title, severity="error"), 201)
    assert first["status"] == "TRIGGERED"
    assert first["service_name"] == service
    assert first["title"] == title
    assert first["severity"] == "error"
    assert first["alert_count"] == 1
    assert "deduplicated" not in first

    again = expect(trigger(server, service, title), 200)
    assert again["deduplicated"] is True
    assert again["id"] == first["id"]
    assert again["alert_count"] == 2

    stored = expect(get(server, f"/api/incidents/{first['id']}/"))
    assert stored["alert_count"] == 2
    assert stored["status"] == "TRIGGERED"
    assert [incident["id"] for incident in list_service(server, service)] == [first["id"]]


@pytest.mark.parametrize("method", ["PUT", "POST"])
@pytest.mark.parametrize("slash", ["/", ""], ids=["slash", "no-slash"])
def test_acknowledge_then_resolve(server, method, slash):
    incident = open_incident(server)
    number = incident["id"]

    alice = make_key(server, "responder", "alice")
    acked = expect(request(server, method, f"/api/incidents/{number}/acknowledge{slash}", token=alice))
    assert acked["id"] == number
    assert acked["status"] == "ACKNOWLEDGED"
    assert acked["acknowledged_by"] == "alice"
    assert acked["acknowledged_at"]

    resolved = expect(request(server, method, f"/api/incidents/{number}/resolve{slash}", {"user": "bob"}, token=alice))
    assert resolved["status"] == "RESOLVED"
    assert resolved["resolved_by"] == "alice"
    assert resolved["resolved_at"]

    assert expect(get(server, f"/api/incidents/{number}{slash}"))["status"] == "RESOLVED"


def test_acknowledge_and_resolve_without_a_body(server):
    number = open_incident(server)["id"]
    assert expect(request(server, "PUT", f"/api/incidents/{number}/acknowledge/"))["status"] == "ACKNOWLEDGED"
    assert expect(request(server, "PUT", f"/api/incidents/{number}/resolve/"))["status"] == "RESOLVED"


def test_invalid_transitions_answer_400_json(server):
    number = open_incident(server)["id"]

    body = assert_json_error(post(server, f"/api/incidents/{number}/resolve/"), 400, "invalid_transition")
    assert "TRIGGERED" in body["error"], body

    expect(post(server, f"/api/incidents/{number}/acknowledge/"))
    assert_json_error(post(server, f"/api/incidents/{number}/acknowledge/"), 400, "invalid_transition")

    expect(post(server, f"/api/incidents/{number}/resolve/"))
    for action in ("acknowledge", "resolve"):
        body = assert_json_error(post(server, f"/api/incidents/{number}/{action}/"), 400, "invalid_transition")
        assert "RESOLVED" in body["error"], body

    assert expect(get(server, f"/api/incidents/{number}/"))["status"] == "RESOLVED"


def test_unknown_incident_is_404_json(server):
    assert_json_error(post(server, "/api/incidents/987654321/acknowledge/"), 404, "not_found")
    assert_json_error(get(server, "/api/incidents/987654321/"), 404, "not_found")


BAD_REQUESTS = [
    ("GET", "/api/no-such-route/", None, "application/json"),
    ("GET", "/no/such/page", None, "application/json"),
    ("POST", "/api/incidents/trigger/", b'{"service_name": "x", "title": ', "application/json"),
    ("POST", "/api/incidents/trigger/", b"\xff\xfe not json", "application/json"),
    ("POST", "/api/incidents/trigger/", b'["service_name", "title"]', "application/json"),
    ("POST", "/api/incidents/trigger/", b"", "application/json"),
    ("POST", "/api/incidents/trigger/", b'{"service_name": "x"}', "application/json"),
    ("POST", "/api/incidents/trigger/", b'{"service_name": "x", "title": "t", "severity": 5}', "application/json"),
    ("POST", "/api/incidents/trigger/", b"<alert/>", "application/xml"),
    ("GET", "/api/incidents/trigger/", None, "application/json"),
    ("DELETE", "/api/incidents/1/", None, "application/json"),
    ("PUT", "/api/incidents/1/acknowledge/", b"{not json", "application/json"),
    ("GET", "/api/incidents/not-a-number/", None, "application/json"),
    ("GET", "/api/incidents/list/all/?limit=banana", None, "application/json"),
    ("GET", "/api/incidents/list/all/?cursor=garbage", None, "application/json"),
    ("GET", "/api/incidents/list/all/?status=SLEEPING", None, "application/json"),
]


@pytest.mark.parametrize("method,path,raw,content_type", BAD_REQUESTS)
def test_bad_requests_get_a_4xx_never_a_500_or_a_trace(server, method, path, raw, content_type):
    reply = request(server, method, path, raw=raw, content_type=content_type)
    assert 400 <= reply.status < 500, reply
    assert not reply.content_type.startswith("text/html"), reply
    text = reply.body.decode("utf-8", errors="replace")
    assert "Traceback" not in text and "<html" not in text.lower(), reply
    assert isinstance(reply.json(), dict), reply


def test_the_server_is_still_healthy_after_bad_requests(server):
    for method, path, raw, content_type in BAD_REQUESTS:
        request(server, method, path, raw=raw, content_type=content_type)
    assert expect(get(server, "/api/health")) == {"status": "ok"}


# --- the demo -----------------------------------------------------------------------


def test_demo_incidents_and_who_is_on_call(start_server):
    url = start_server(demo=True).url

    listed = expect(get(url, "/api/incidents/list/all/"))["incidents"]
    by_service = {incident["service_name"]: incident for incident in listed}
    assert set(by_service) == {"payments", "search"}, listed
    assert by_service["payments"]["status"] == "TRIGGERED"
    assert by_service["payments"]["assigned_to"] == "alice"
    assert by_service["search"]["status"] == "ACKNOWLEDGED"
    assert by_service["search"]["assigned_to"] == "dave"

    payments = expect(get(url, "/api/oncall/current/?service_name=payments"))
    assert payments["service_name"] == "payments"
    assert payments["user"] == "alice"
    assert payments["schedule_id"]
    search = expect(get(url, "/api/oncall/current?service_name=search"))
    assert search["user"] == "dave"
    assert search["schedule_id"] and search["schedule_id"] != payments["schedule_id"]

    nobody = expect(get(url, "/api/oncall/current/?service_name=no-such-service"))
    assert nobody["user"] is None

    checkout = expect(get(url, "/api/oncall/shifts/?service_name=checkout"))
    assert checkout["intervals"] and not any(interval["gap"] for interval in checkout["intervals"])
    assert {interval["source"]["name"] for interval in checkout["intervals"]} == {"primary", "daytime"}


# --- the sweep timer --------------------------------------------------------------------


def test_the_timer_alone_escalates_an_unacknowledged_incident(start_server):
    url = start_server(ONCALL_ESCALATE_AFTER_SECONDS="1", ONCALL_SWEEP_INTERVAL_SECONDS="1").url
    number = open_incident(url)["id"]

    deadline = time.monotonic() + ESCALATION_DEADLINE
    incident = expect(get(url, f"/api/incidents/{number}/"))
    while incident["status"] != "ESCALATED" and time.monotonic() < deadline:
        time.sleep(0.25)
        incident = expect(get(url, f"/api/incidents/{number}/"))
    assert incident["status"] == "ESCALATED", f"not escalated after {ESCALATION_DEADLINE} s: {incident}"
    assert incident["escalated_at"]

    late = expect(post(url, f"/api/incidents/{number}/acknowledge/", {"user": "late-responder"}))
    assert late["status"] == "ACKNOWLEDGED"


# --- shutdown -------------------------------------------------------------------------------


def test_sigterm_stops_the_server_and_its_dynamodb(start_server):
    local = start_server()
    dynamodb = local.dynamodb_endpoint()
    assert dynamodb, local.tail()
    assert not refuses_connections(dynamodb)
    open_incident(local.url)

    started = time.monotonic()
    code = local.stop()
    took = time.monotonic() - started

    assert code == 0, local.tail()
    assert "oncall stopped" in local.output(), local.tail()
    assert took < 10, took
    assert refuses_connections(local.url)
    assert refuses_connections(dynamodb)


def test_the_embedded_dynamodb_holds_the_data_whatever_endpoints_the_environment_names(start_server):
    """The server answers its own AWS requests in process: a global endpoint (here a port
    nothing listens on) and FIPS or dual-stack endpoints must not take them elsewhere."""
    local = start_server(
        AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_USE_FIPS_ENDPOINT="true", AWS_USE_DUALSTACK_ENDPOINT="true"
    )
    assert local.dynamodb_endpoint(), local.tail()
    service = unique("svc")
    incident = open_incident(local.url, service)
    assert [found["id"] for found in list_service(local.url, service)] == [incident["id"]]
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=local.dynamodb_endpoint(),
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    item = dynamodb.get_item(TableName="oncall-local-incidents", Key={"id": {"N": str(incident["id"])}}).get("Item")
    assert item and item["service_name"] == {"S": service}, item


# --- an external DynamoDB --------------------------------------------------------------------


def test_an_external_dynamodb_endpoint_holds_the_data(start_server):
    emulator = Emulator().start()
    try:
        local = start_server(AWS_ENDPOINT_URL_DYNAMODB=emulator.endpoint)
        assert local.dynamodb_endpoint() is None, "the server started its own DynamoDB"
        assert f"using DynamoDB at {emulator.endpoint}" in local.output(), local.tail()

        incident = open_incident(local.url)

        dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=emulator.endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        tables = [name for name in dynamodb.list_tables()["TableNames"] if name.startswith("oncall-local-")]
        assert "oncall-local-incidents" in tables, tables
        assert len(tables) >= 5, tables

        item = dynamodb.get_item(
            TableName="oncall-local-incidents", Key={"id": {"N": str(incident["id"])}}, ConsistentRead=True
        ).get("Item")
        assert item, f"incident {incident['id']} is not in the external table"
        assert item["service_name"] == {"S": incident["service_name"]}
        assert item["title"] == {"S": incident["title"]}
        assert item["status"] == {"S": "TRIGGERED"}

        local.stop()
        assert not refuses_connections(emulator.endpoint), "stopping the server stopped a DynamoDB it did not own"
    finally:
        emulator.stop()


@pytest.mark.parametrize("token", [None, ADMIN_TOKEN], ids=["no-key", "admin-key"])
def test_a_path_no_route_matches_is_a_json_404(server, token):
    for method, path in (("GET", "/api/nothing-here"), ("POST", "/api/incidents/1/explode/"), ("GET", "/etc/passwd")):
        reply = request(server, method, path, token=token)
        assert reply.status == 404, reply
        assert reply.content_type.startswith("application/json"), reply
        assert reply.json()["code"] == "not_found"
