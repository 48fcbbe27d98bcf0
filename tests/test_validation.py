"""Bad input answers 400 (or 413) with {"error", "code", "field"}, names the
field, and writes nothing; odd but valid text is stored and returned exactly."""

import base64
import json

from chalicelib import signing
from tests.flows import JSON, get_incident, list_incidents, list_schedules, metrics, post, put, trigger, writes

VALID = {"service_name": "checkout", "title": "Error rate above 5%"}
TRIGGER = "/api/incidents/trigger/"


def with_fields(**fields):
    body = {**VALID, **fields}
    return {name: value for name, value in body.items() if value is not ...}


BAD_BODIES = [
    (with_fields(service_name=...), "service_name"),
    (with_fields(service_name=""), "service_name"),
    (with_fields(service_name="   "), "service_name"),
    (with_fields(service_name="\t\n"), "service_name"),
    (with_fields(service_name=42), "service_name"),
    (with_fields(service_name=["checkout"]), "service_name"),
    (with_fields(service_name=None), "service_name"),
    (with_fields(service_name=True), "service_name"),
    (with_fields(service_name={"name": "checkout"}), "service_name"),
    (with_fields(title=...), "title"),
    (with_fields(title=""), "title"),
    (with_fields(title="  \t "), "title"),
    (with_fields(title=3.5), "title"),
    (with_fields(title=["disk", "full"]), "title"),
    (with_fields(title=None), "title"),
    (with_fields(title=False), "title"),
    (with_fields(title="x" * 1025), "title"),
    (with_fields(description=7), "description"),
    (with_fields(description=["a"]), "description"),
    (with_fields(description="é" * 32769), "description"),
    (with_fields(description="🚨" * 16385), "description"),
    (with_fields(description="a" * (64 * 1024 + 1)), "description"),
    (with_fields(severity="urgent"), "severity"),
    (with_fields(severity="CRITICAL"), "severity"),
    (with_fields(severity=1), "severity"),
    (with_fields(dedup_key=""), "dedup_key"),
    (with_fields(dedup_key="   "), "dedup_key"),
    (with_fields(dedup_key=12), "dedup_key"),
    (with_fields(user=""), "user"),
    (with_fields(priority="high"), "priority"),
    ({}, "service_name"),
]

BAD_RAW_BODIES = [
    ('{"service_name": "checkout", "title": "x"', "application/json"),
    ("{'service_name': 'checkout'}", "application/json"),
    ('[{"service_name": "checkout", "title": "x"}]', "application/json"),
    ("[]", "application/json"),
    ('"checkout"', "application/json"),
    ("null", "application/json"),
    ("", "application/json"),
    ("   ", "application/json"),
    ("service_name=checkout&title=x", "application/x-www-form-urlencoded"),
    ("service_name: checkout", "text/plain"),
]


def assert_error(response, status, field, code="invalid_input"):
    assert response.status_code == status, response.body
    body = response.json_body
    assert set(body) == {"error", "code", "field"}
    assert body["code"] == code
    assert body["field"] == field
    assert isinstance(body["error"], str) and body["error"].strip()


def assert_nothing_stored(client):
    assert list_incidents(client)["incidents"] == []
    totals = metrics(client)
    assert totals["total_incidents"] == 0
    assert totals["alerts"] == 0


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def encode_cursor(key) -> str:
    """A cursor signed with the real secret: what only the server could make, so
    these reach the checks behind the signature (the key's shape and partition)."""
    payload = json.dumps(key).encode()
    return f"{b64(payload)}.{b64(signing.CURSORS.sign(payload))}"


def decode_cursor(cursor: str) -> dict:
    payload = cursor.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_bad_trigger_fields_answer_400_naming_the_field_and_write_nothing(client, requests_made):
    failures = []
    with requests_made.measure() as calls:
        for body, field in BAD_BODIES:
            response = post(client, TRIGGER, body)
            try:
                assert_error(response, 400, field)
            except AssertionError:
                failures.append((field, json.dumps(body)[:80], response.status_code, response.body[:200]))
    assert failures == [], failures
    assert writes(calls) == {}
    assert_nothing_stored(client)


def test_unparseable_non_object_or_non_json_bodies_are_refused(client, requests_made):
    failures = []
    with requests_made.measure() as calls:
        for raw, content_type in BAD_RAW_BODIES:
            response = client.http.post(TRIGGER, headers={"Content-Type": content_type}, body=raw)
            try:
                assert_error(response, 400, "body")
            except AssertionError:
                failures.append((raw[:40], content_type, response.status_code, response.body[:200]))
    assert failures == [], failures
    response = client.http.post(TRIGGER, headers={"Content-Type": "application/xml"}, body="<alert/>")
    assert response.status_code == 415
    assert set(response.json_body) >= {"error", "code"}
    assert writes(calls) == {}
    assert_nothing_stored(client)


def test_a_body_over_256_kib_answers_413_and_256_kib_is_accepted(client, requests_made):
    prefix = json.dumps(VALID)[:-1]
    at_limit = prefix + " " * (256 * 1024 - len(prefix) - 1) + "}"
    assert len(at_limit.encode()) == 256 * 1024

    with requests_made.measure() as calls:
        response = client.http.post(TRIGGER, headers=JSON, body=at_limit + " ")
    assert_error(response, 413, "body", code="payload_too_large")
    assert writes(calls) == {}
    assert_nothing_stored(client)

    assert client.http.post(TRIGGER, headers=JSON, body=at_limit).status_code == 201


def test_limits_are_inclusive_and_counted_in_utf8_bytes(client):
    accepted = [
        with_fields(title="t" * 1024),
        with_fields(title="ü" * 1024, service_name="s" * 128),
        with_fields(title="two-byte", description="é" * 32768),
        with_fields(title="four-byte", description="🚨" * 16384),
        with_fields(title="ascii", description="a" * 64 * 1024),
    ]
    for body in accepted:
        response = post(client, TRIGGER, body)
        assert response.status_code == 201, (body["title"][:10], response.body[:200])
        assert response.json_body["title"] == body["title"]
        assert response.json_body["description"] == body.get("description", "")
    assert metrics(client)["total_incidents"] == len(accepted)


def test_bad_acknowledge_body_answers_400_and_leaves_the_incident_alone(client, requests_made):
    number = trigger(client).json_body["id"]
    bad = [({"user": 5}, "user"), ({"user": ""}, "user"), ({"who": "alice"}, "who")]
    with requests_made.measure() as calls:
        for body, field in bad:
            assert_error(put(client, f"/api/incidents/{number}/acknowledge/", body), 400, field)
        response = client.http.put(f"/api/incidents/{number}/acknowledge/", headers=JSON, body="{not json")
        assert_error(response, 400, "body")
    assert writes(calls) == {}
    assert list_incidents(client)["incidents"][0]["status"] == "TRIGGERED"


def test_bad_limits_and_forged_tampered_or_foreign_cursors_answer_400(client):
    lists = ["/api/incidents/list/all/", "/api/oncall/schedules/", "/api/escalation/levels/", "/api/metrics/services"]
    failures = []
    for path in lists:
        for limit in ["0", "101", "-1", "abc", "1.5", "1e2", " 5", "²"]:
            response = client.http.get(f"{path}?limit={limit}")
            try:
                assert_error(response, 400, "limit")
            except AssertionError:
                failures.append((path, f"limit={limit}", response.status_code))
        assert client.http.get(f"{path}?limit=100").status_code == 200

    for service, count in (("checkout", 3), ("search", 3)):
        for n in range(count):
            assert trigger(client, service, f"alert {n}").status_code == 201
    feed_cursor = list_incidents(client, "?limit=1")["next_cursor"]
    checkout_cursor = list_incidents(client, "?service_name=checkout&limit=1")["next_cursor"]
    triggered_cursor = list_incidents(client, "?status=TRIGGERED&limit=1")["next_cursor"]
    assert feed_cursor and checkout_cursor and triggered_cursor
    key = decode_cursor(feed_cursor)

    cases = {
        "not base64": ("", "!!!not a cursor!!!"),
        "unsigned": ("", b64(json.dumps(key).encode())),
        "edited, with the old signature": (
            "",
            b64(json.dumps({**key, "id": {"N": "999"}}).encode()) + "." + feed_cursor.split(".")[1],
        ),
        "another cursor's signature": ("", feed_cursor.split(".")[0] + "." + checkout_cursor.split(".")[1]),
        "a signature of the wrong length": ("", feed_cursor[:-2]),
        "base64 of text": ("", encode_cursor("hello")[1:]),
        "a JSON list": ("", encode_cursor([1, 2])),
        "missing the id": ("", encode_cursor({"list": key["list"]})),
        "an extra key": ("", encode_cursor({**key, "status": {"S": "RESOLVED"}})),
        "another list": ("", encode_cursor({**key, "list": {"S": "elsewhere"}})),
        "id of the wrong type": ("", encode_cursor({**key, "id": {"S": "5"}})),
        "id that is no number": ("", encode_cursor({**key, "id": {"N": "five"}})),
        "id with two minus signs": ("", encode_cursor({**key, "id": {"N": "--5"}})),
        "id in superscript digits": ("", encode_cursor({**key, "id": {"N": "²"}})),
        "truncated": ("", feed_cursor[: len(feed_cursor) // 2]),
        "another service's cursor": ("service_name=search&", checkout_cursor),
        "the feed's cursor on a service": ("service_name=checkout&", feed_cursor),
        "a service's cursor on the feed": ("", checkout_cursor),
        "another status's cursor": ("status=RESOLVED&", triggered_cursor),
    }
    for name, (query, cursor) in cases.items():
        response = client.http.get(f"/api/incidents/list/all/?{query}cursor={cursor}")
        try:
            assert_error(response, 400, "cursor")
        except AssertionError:
            failures.append((name, response.status_code, response.body[:120]))
    schedules = client.http.get(f"/api/oncall/schedules/?cursor={feed_cursor}")
    if schedules.status_code != 400:
        failures.append(("an incident cursor on schedules", schedules.status_code, schedules.body[:120]))
    assert failures == [], failures

    second = list_incidents(client, f"?service_name=checkout&limit=1&cursor={checkout_cursor}")
    assert len(second["incidents"]) == 1


def test_unicode_markup_and_control_characters_are_stored_exactly(client):
    titles = [
        "<script>alert('pwned')</script>",
        "&amp; &lt;b&gt; \"double\" 'single' \\back\\slash",
        "Ünïcödé — 日本語 — Ελληνικά — 🚨🔥",
        "right-to-left \u202e override and zero\u200bwidth",
        "tab\there\nnew line\r\nbell\x07 escape\x1b[31m red",
        "nul\x00inside",
        "  padded on both sides  ",
    ]
    service = "sérvice/日本 <b>"
    for title in titles:
        created = trigger(client, service, title, description=title * 2)
        assert created.status_code == 201, created.body
        number = created.json_body["id"]
        assert created.json_body["title"] == title
        stored = get_incident(client, number)
        assert (stored["service_name"], stored["title"], stored["description"]) == (service, title, title * 2)
        again = trigger(client, service, title)
        assert again.status_code == 200 and again.json_body["id"] == number

    listed_titles = [incident["title"] for incident in list_incidents(client, "?limit=100")["incidents"]]
    assert listed_titles == titles[::-1]


def test_malformed_ids_in_paths_answer_400_never_500(client):
    number = trigger(client).json_body["id"]
    assert client.http.get(f"/api/incidents/{number}/").status_code == 200
    requests = []
    for raw in ["abc", "0", "-1", "1.5", "1e3", "0x1", "9" * 30, str(2**53), "²"]:
        requests += [
            ("GET", f"/api/incidents/{raw}/"),
            ("PUT", f"/api/incidents/{raw}/acknowledge/"),
            ("POST", f"/api/incidents/{raw}/resolve/"),
        ]
    for raw in ["abc", "0" * 31, "g" * 32, "A" * 32, "²" * 32]:
        requests += [("DELETE", f"/api/oncall/schedules/{raw}/"), ("DELETE", f"/api/escalation/levels/{raw}/")]
    failures = []
    for method, path in requests:
        response = client.http.request(method, path, headers=JSON, body="")
        try:
            assert_error(response, 400, "id")
        except AssertionError:
            failures.append((method, path, response.status_code))
    assert failures == [], failures
    assert list_incidents(client)["incidents"][0]["status"] == "TRIGGERED"


def test_bad_shift_times_answer_400_naming_the_field_and_write_nothing(client, requests_made):
    good = {
        "service_name": "db",
        "user": "alice",
        "start_time": "2026-03-01T09:00:00Z",
        "end_time": "2026-03-01T17:00:00Z",
    }
    cases = [
        ({"start_time": "2026-03-01T09:00:00"}, "start_time"),
        ({"end_time": "2026-03-01T17:00:00"}, "end_time"),
        ({"start_time": "2026-02-30T09:00:00Z"}, "start_time"),
        ({"start_time": "yesterday"}, "start_time"),
        ({"start_time": 1772355600}, "start_time"),
        ({"end_time": None}, "end_time"),
        ({"end_time": "2026-03-01T09:00:00Z"}, "end_time"),
        ({"end_time": "2026-03-01T08:00:00Z"}, "end_time"),
        ({"end_time": "2026-03-01T11:00:00+02:00"}, "end_time"),
        ({"start_time": "0001-01-01T00:00:00+01:00"}, "start_time"),
        ({"end_time": "9999-12-31T23:30:00-01:00"}, "end_time"),
    ]
    failures = []
    with requests_made.measure() as calls:
        for change, field in cases:
            response = post(client, "/api/oncall/schedules/", {**good, **change})
            try:
                assert_error(response, 400, field)
            except AssertionError:
                failures.append((change, response.status_code, response.body[:120]))
    assert failures == [], failures
    assert writes(calls) == {}
    assert list_schedules(client, "?include_ended=true")["schedules"] == []


def test_service_names_in_queries_are_held_to_the_body_limits(client):
    paths = ["/api/incidents/list/all/", "/api/metrics/", "/api/oncall/schedules/", "/api/escalation/levels/"]
    failures = []
    for path in [*paths, "/api/oncall/current/"]:
        for bad in ["%20%20", "x" * 129]:
            response = client.http.get(f"{path}?service_name={bad}")
            try:
                assert_error(response, 400, "service_name")
            except AssertionError:
                failures.append((path, bad[:10], response.status_code))
        assert client.http.get(f"{path}?service_name={'x' * 128}").status_code == 200, path
    assert_error(client.http.get("/api/oncall/current/"), 400, "service_name")
    assert failures == [], failures


def test_json_nested_too_deep_is_a_400_not_a_crash(client, requests_made):
    with requests_made.measure() as calls:
        for depth in (1000, 20_000):
            for opening, closing, field in (("[", "]", "body"), ('{"a":', "}", "a.a")):
                raw = opening * depth + "1" + closing * depth
                response = client.http.post("/api/incidents/trigger/", headers=JSON, body=raw)
                assert_error(response, 400, field)
    assert writes(calls) == {}


# --- 503 says when to come back -----------------------------------------------------------


def test_every_busy_answer_carries_retry_after():
    from botocore.exceptions import ClientError
    from pynamodb.exceptions import PutError

    from chalicelib.errors import Busy
    from chalicelib.routes import http

    @http.json_errors
    def contended():
        raise Busy("Too many concurrent changes; retry the request.")

    @http.json_errors
    def waits_for_a_lease():
        raise Busy("Held by another delivery.", retry_after=41.2)

    @http.json_errors
    def throttled():
        cause = ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "PutItem")
        raise PutError("throttled", cause=cause)

    for view, seconds in ((contended, "1"), (waits_for_a_lease, "42"), (throttled, "1")):
        response = view()
        assert response.status_code == 503 and response.body["code"] == "busy"
        assert response.headers["Retry-After"] == seconds
