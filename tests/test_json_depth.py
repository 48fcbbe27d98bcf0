"""JSON nesting is bounded where it enters: 32 levels of arrays and objects are
accepted, 33 are refused with a 400 naming the field, and 950 or 100,000 levels
(which crashed PynamoDB's serialiser with a RecursionError, a 500 and an incident
number spent) are refused the same way before anything is written, by every
route and handler that parses JSON from outside."""

import json

import pytest

from chalicelib import jsontext
from tests.flows import JSON, get_incident, trigger_ok, writes
from tests.test_alertmanager import FIRING
from tests.test_alertmanager import send as send_alertmanager
from tests.test_cloudwatch import alarm, lambda_event, notification, sign, sns_trusted
from tests.test_cloudwatch import post as post_sns
from tests.test_pagerduty import accepted, refused, sample
from tests.test_pagerduty import send as send_pagerduty

DEEP = "__deep__"


def nested(levels: int) -> str:
    """JSON text of `levels` objects, each the value of the one around it."""
    return '{"a":' * levels + "1" + "}" * levels


def nested_arrays(levels: int) -> str:
    return "[" * levels + "1" + "]" * levels


def with_nested(body: dict, levels: int) -> bytes:
    """`body` as JSON with its DEEP placeholder replaced by `levels` nested arrays
    (two bytes a level: 100,000 levels stay under the body limits)."""
    text = json.dumps(body)
    assert text.count(f'"{DEEP}"') == 1
    return text.replace(f'"{DEEP}"', nested_arrays(levels)).encode()


# --- the check itself -------------------------------------------------------------------------


@pytest.mark.parametrize("opening, closing", [("[", "]"), ('{"k": ', "}")])
def test_depth_is_counted_on_the_raw_text(opening, closing):
    for levels in (0, 1, 32, 33, 100_000):
        assert jsontext.depth(opening * levels + "1" + closing * levels) == levels
    assert jsontext.loads(opening * 32 + "1" + closing * 32) is not None
    with pytest.raises(jsontext.TooDeep):
        jsontext.loads(opening * 33 + "1" + closing * 33)


def test_brackets_inside_strings_do_not_count():
    text = json.dumps({"a": "[" * 1000, "b": '\\"{{{{', "c": ['"]]]]"']})
    assert jsontext.depth(text) == 2
    assert jsontext.loads(text.encode())["a"] == "[" * 1000
    unterminated = '{"a": "' + "[" * 1000
    assert jsontext.depth(unterminated) == 1
    with pytest.raises(jsontext.NotJson) as refused_text:
        jsontext.loads(unterminated)
    assert not isinstance(refused_text.value, jsontext.TooDeep)


def test_the_refusal_names_the_leading_keys():
    assert refusal_field('{"payload": {"custom_details": ' + nested(40) + "}}") == "payload.custom_details"
    assert refusal_field('{"title": ' + "[" * 40 + "]" * 40 + "}") == "title"
    assert refusal_field("[" * 40 + "]" * 40) is None
    assert refusal_field('{"' + "k" * 1000 + '": ' + nested(40) + "}") == "k" * 63 + "….a"
    assert refusal_field('{"x": 1, "b\\u00e9": [' + nested(40) + "]}") == "bé"


def refusal_field(text: str) -> str | None:
    with pytest.raises(jsontext.TooDeep) as refusal:
        jsontext.loads(text)
    return refusal.value.field


def test_bytes_are_read_in_any_encoding_json_reads():
    body = {"title": "é🚨"}
    for encoding in ("utf-8", "utf-16", "utf-32", "utf-8-sig"):
        assert jsontext.loads(json.dumps(body, ensure_ascii=False).encode(encoding)) == body
    with pytest.raises(jsontext.NotJson):
        jsontext.loads(b"\xff\xfe\xfd")


# --- every way in ------------------------------------------------------------------------------


def next_id_after(client, last_id: int) -> None:
    """Nothing was spent by the refusals: the next incident gets the next number."""
    assert trigger_ok(client, "after", "the next one")["id"] == last_id + 1


def test_oncalls_own_bodies(client, requests_made):
    first = trigger_ok(client, "db", "before")["id"]
    body = {"service_name": "db", "title": DEEP}
    # 32 levels in all: the depth is accepted, the title is refused for being no string.
    response = client.http.post("/api/incidents/trigger/", headers=JSON, body=with_nested(body, 31))
    assert response.status_code == 400 and response.json_body["field"] == "title", response.body
    assert "deep" not in response.json_body["error"]
    for levels in (32, 950, 100_000):
        with requests_made.measure() as calls:
            response = client.http.post("/api/incidents/trigger/", headers=JSON, body=with_nested(body, levels))
        assert response.status_code == 400, response.body
        assert response.json_body == {
            "error": "title nests arrays and objects more than 32 levels deep.",
            "code": "invalid_input",
            "field": "title",
        }
        assert writes(calls) == {}
    next_id_after(client, first)


def test_pagerduty_custom_details(client, keyring, requests_made):
    token = keyring.integration("payments")
    event = sample("trigger", token)
    event["payload"]["custom_details"] = DEEP
    # The event and its payload are two levels: 30 more make 32 in all.
    accepted(send_pagerduty(client, with_nested(event, 30)))
    [incident] = client.http.get("/api/incidents/list/all/").json_body["incidents"]
    assert jsontext.depth(json.dumps(get_incident(client, incident["id"])["details"]["custom_details"])) == 30
    event["dedup_key"] = "another"
    for levels in (31, 950, 100_000):
        with requests_made.measure() as calls:
            response = send_pagerduty(client, with_nested(event, levels))
        refused(response, "'payload.custom_details' is invalid: it nests arrays and objects more than 32 levels deep")
        assert writes(calls) == {}
    next_id_after(client, incident["id"])


def test_alertmanager_fields_it_does_not_read(client, keyring, requests_made):
    token = keyring.integration("payments")
    body = {**FIRING, "fromANewerVersion": DEEP}
    opened = send_alertmanager(client, token, None, raw=with_nested(body, 31))
    assert opened.status_code == 201, opened.body
    body["groupKey"] = "another group"
    for levels in (32, 950, 100_000):
        with requests_made.measure() as calls:
            response = send_alertmanager(client, token, None, raw=with_nested(body, levels))
        assert response.status_code == 400, response.body
        assert response.json_body["field"] == "fromANewerVersion"
        assert writes(calls) == {}
    next_id_after(client, opened.json_body["incident_id"])


def test_cloudwatch_alarms_through_the_lambda_subscription(client, requests_made):
    message = alarm()
    message["Trigger"] = DEEP
    # The alarm is one level: 31 more in its Trigger make 32.
    opened = client.lambda_.invoke("cloudwatch_alarms", lambda_event_with(message, 31)).payload
    assert [outcome["action"] for outcome in opened] == ["triggered"]
    message["AlarmArn"] += "-another"
    for levels in (32, 950, 100_000):
        with requests_made.measure() as calls:
            assert client.lambda_.invoke("cloudwatch_alarms", lambda_event_with(message, levels)).payload == []
        assert writes(calls) == {}
    next_id_after(client, opened[0]["incident_id"])


def lambda_event_with(message: dict, levels: int) -> dict:
    event = lambda_event(message)
    event["Records"][0]["Sns"]["Message"] = with_nested(message, levels).decode()
    return event


def test_cloudwatch_alarms_and_envelopes_over_https(client, requests_made):
    with sns_trusted():
        message = alarm()
        message["Trigger"] = DEEP
        opened = post_sns(client, sign({**notification(), "Message": with_nested(message, 31).decode()}))
        assert opened.status_code == 200 and opened.json_body["action"] == "triggered", opened.body
        message["AlarmArn"] += "-another"
        attributes = {**notification(), "MessageAttributes": DEEP}
        for levels in (32, 950, 100_000):
            with requests_made.measure() as calls:
                inner = post_sns(client, sign({**notification(), "Message": with_nested(message, levels).decode()}))
                envelope = post_sns(client, None, raw=with_nested(attributes, levels))
            assert inner.status_code == 400 and inner.json_body["field"] == "Message", inner.body
            assert "more than 32 levels deep" in inner.json_body["error"]
            assert envelope.status_code == 400 and envelope.json_body["field"] == "MessageAttributes", envelope.body
            assert writes(calls) == {}
    next_id_after(client, opened.json_body["incident_id"])
