"""Prometheus Alertmanager's webhook: the sample payloads of tests/wire_formats,
one incident per alert group (folding, resolving, reopening), the service, title,
description and severity derived from labels and annotations, what the incident
keeps of the notification, who may send it, and malformed bodies refused with
nothing written."""

import copy
import hashlib
import json
from pathlib import Path

import pytest

from chalicelib.integration import alertmanager
from chalicelib.models import Incident
from tests.flows import JSON, get_incident, list_incidents, writes

WIRE_FORMATS = Path(__file__).resolve().parent / "wire_formats"
PATH = "/api/integrations/alertmanager"


def sample(name: str) -> dict:
    return json.loads((WIRE_FORMATS / f"alertmanager-webhook-{name}.json").read_text(encoding="utf-8"))


FIRING = sample("firing")
RESOLVED = sample("resolved")
GROUP_KEY = FIRING["groupKey"]
DEDUP_KEY = hashlib.sha256(GROUP_KEY.encode()).hexdigest()


def send(client, token: str, body, *, raw: bytes | None = None, headers: dict | None = None):
    payload = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode()
    sent = {**JSON, "Authorization": f"Bearer {token}", **(headers or {})}
    return client.anonymous.request("POST", PATH, headers=sent, body=payload)


def group(status="firing", group_key='{}:{alertname="Disk"}', common_labels=None, alerts=None, **fields) -> dict:
    """A small notification: one alert unless `alerts` says otherwise."""
    common = {"alertname": "DiskFull"} if common_labels is None else common_labels
    if alerts is None:
        alerts = [{"status": status, "labels": dict(common), "annotations": {}}]
    return {
        "version": "4",
        "groupKey": group_key,
        "status": status,
        "receiver": "team-db",
        "groupLabels": {},
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": "http://am:9093",
        "alerts": alerts,
        **fields,
    }


def incidents(client) -> list[dict]:
    return list_incidents(client, "?limit=100")["incidents"]


# --- the sample payloads ---------------------------------------------------------------------


def test_the_firing_sample_opens_one_incident_for_the_group(client, keyring):
    token = keyring.integration("payments")
    response = send(client, token, FIRING)
    assert response.status_code == 201, response.body
    outcome = response.json_body
    assert outcome == {
        "status": "firing",
        "action": "triggered",
        "service_name": "payments",
        "dedup_key": DEDUP_KEY,
        "incident_id": outcome["incident_id"],
        "alert_count": 1,
    }
    incident = get_incident(client, outcome["incident_id"])
    assert incident["service_name"] == "payments"
    assert incident["title"] == "5xx rate above 5% on payments-api"
    assert incident["description"] == "7.2% of requests failed in the last 5m\n6.1% of requests failed in the last 5m"
    assert incident["severity"] == "critical"
    assert incident["status"] == "TRIGGERED"
    assert incident["dedup_key"] == DEDUP_KEY
    assert incident["created_by"] == "integration payments (integration key)"
    assert incident["source"] == "alertmanager: oncall"
    details = incident["details"]
    assert details["groupKey"] == GROUP_KEY
    assert details["externalURL"] == "http://alertmanager.example.com:9093"
    assert details["truncatedAlerts"] == 0
    assert details["commonLabels"] == FIRING["commonLabels"]
    assert details["commonAnnotations"] == FIRING["commonAnnotations"]
    assert details["groupLabels"] == FIRING["groupLabels"]
    assert [alert["labels"] for alert in details["alerts"]] == [alert["labels"] for alert in FIRING["alerts"]]
    assert [alert["annotations"] for alert in details["alerts"]] == [a["annotations"] for a in FIRING["alerts"]]
    assert {alert["generatorURL"] for alert in details["alerts"]} == {FIRING["alerts"][0]["generatorURL"]}
    assert [alert["fingerprint"] for alert in details["alerts"]] == ["1a30ba71cca2921f", "77c1d0e8f2a3b4c5"]
    assert incident["timeline"][0]["actor"] == "integration payments (integration key)"


def test_firing_again_folds_and_resolved_resolves_then_a_new_firing_reopens(client, keyring, manual_clock):
    token = keyring.integration("payments")
    first = send(client, token, FIRING).json_body
    manual_clock.advance(minutes=5)
    again = send(client, token, FIRING)
    assert again.status_code == 200, again.body
    assert again.json_body["action"] == "folded"
    assert again.json_body["incident_id"] == first["incident_id"]
    assert again.json_body["alert_count"] == 2  # one per notification, not per alert in it
    assert len(incidents(client)) == 1

    manual_clock.advance(minutes=20)  # longer than the dedup window: the group key still binds
    resolved = send(client, token, RESOLVED)
    assert resolved.status_code == 200, resolved.body
    assert resolved.json_body == {**first, "status": "resolved", "action": "resolved", "alert_count": 2}
    incident = get_incident(client, first["incident_id"])
    assert incident["status"] == "RESOLVED"
    assert incident["resolved_by"] == "integration payments (integration key)"
    assert incident["timeline"][-1]["message"] == "Resolved by its monitoring source."

    reopened = send(client, token, FIRING)
    assert reopened.status_code == 201, reopened.body
    assert reopened.json_body["incident_id"] != first["incident_id"]
    assert [i["status"] for i in incidents(client)] == ["TRIGGERED", "RESOLVED"]


def test_resolved_closes_an_acknowledged_or_escalated_incident_too(client, keyring):
    token = keyring.integration("payments")
    incident_id = send(client, token, FIRING).json_body["incident_id"]
    assert client.http.post(f"/api/incidents/{incident_id}/acknowledge/").status_code == 200
    assert send(client, token, RESOLVED).json_body["action"] == "resolved"
    assert get_incident(client, incident_id)["status"] == "RESOLVED"


def test_resolved_for_an_unknown_group_does_nothing(client, keyring, requests_made):
    token = keyring.integration("payments")
    with requests_made.measure() as calls:
        response = send(client, token, RESOLVED)
    assert response.status_code == 200, response.body
    assert response.json_body["action"] == "nothing"
    assert response.json_body["incident_id"] is None
    assert writes(calls) == {}
    assert incidents(client) == []


def test_resolved_after_a_person_resolved_it_does_nothing(client, keyring):
    token = keyring.integration("payments")
    incident_id = send(client, token, FIRING).json_body["incident_id"]
    client.http.post(f"/api/incidents/{incident_id}/acknowledge/")
    assert client.http.post(f"/api/incidents/{incident_id}/resolve/").status_code == 200
    response = send(client, token, RESOLVED)
    assert response.status_code == 200 and response.json_body["action"] == "nothing"
    assert get_incident(client, incident_id)["resolved_by"] == "admin"


def test_groups_are_told_apart_by_their_group_key(client, keyring):
    token = keyring.integration("payments")
    one = send(client, token, FIRING).json_body
    other = send(client, token, {**FIRING, "groupKey": GROUP_KEY + "x"}).json_body
    assert one["action"] == other["action"] == "triggered"
    assert one["incident_id"] != other["incident_id"]
    # A plain trigger with the same title does not fold into the group's incident.
    plain = client.http.post(
        "/api/incidents/trigger/",
        headers=JSON,
        body=json.dumps({"service_name": "payments", "title": "5xx rate above 5% on payments-api"}),
    )
    assert plain.status_code == 201


def test_the_trailing_slash_works_too(client, keyring):
    token = keyring.integration("payments")
    response = client.anonymous.request(
        "POST", PATH + "/", headers={**JSON, "Authorization": f"Bearer {token}"}, body=json.dumps(FIRING).encode()
    )
    assert response.status_code == 201, response.body


# --- service ----------------------------------------------------------------------------------


def test_the_service_label_picks_among_the_keys_services(client, keyring):
    token = keyring.integration("payments", "search")
    response = send(client, token, group(common_labels={"alertname": "Lag", "service": "search"}))
    assert response.status_code == 201, response.body
    assert response.json_body["service_name"] == "search"
    in_group_labels = group(group_key="g2", common_labels={"alertname": "Lag"}, groupLabels={"service": "payments"})
    assert send(client, token, in_group_labels).json_body["service_name"] == "payments"


def test_without_a_service_label_the_keys_service_is_used(client, keyring):
    one = keyring.integration("payments")
    assert send(client, one, group()).json_body["service_name"] == "payments"
    several = keyring.integration("search", "billing", "payments")
    # Several services and no label: the first in sorted order.
    assert send(client, several, group(group_key="g2")).json_body["service_name"] == "billing"


def test_a_service_label_the_key_may_not_trigger_is_403_and_writes_nothing(client, keyring, requests_made):
    token = keyring.integration("payments")
    for body in (
        group(common_labels={"alertname": "x", "service": "search"}),
        group(common_labels={"alertname": "x"}, groupLabels={"service": "search"}),
        group(status="resolved", common_labels={"alertname": "x", "service": "search"}),
        group(common_labels={"alertname": "x", "service": "s" * 300}),
    ):
        with requests_made.measure() as calls:
            response = send(client, token, body)
        assert response.status_code == 403, response.body
        assert response.json_body["code"] == "forbidden"
        assert response.json_body["field"] == "service_name"
        assert "payments" in response.json_body["error"]
        assert writes(calls) == {}
    assert incidents(client) == []


# --- who may send ----------------------------------------------------------------------------


def test_an_admin_key_needs_a_service_label(client, keyring, requests_made):
    admin = keyring.admin()
    response = send(client, admin, FIRING)
    assert response.status_code == 201, response.body
    assert get_incident(client, response.json_body["incident_id"])["created_by"] == "admin"
    with requests_made.measure() as calls:
        unlabelled = send(client, admin, group())
    assert unlabelled.status_code == 400, unlabelled.body
    assert unlabelled.json_body["code"] == "invalid_input"
    assert unlabelled.json_body["field"] == "commonLabels.service"
    assert writes(calls) == {}
    blank = send(client, admin, group(common_labels={"alertname": "x", "service": " "}))
    assert blank.status_code == 400 and blank.json_body["field"] == "commonLabels.service"


def test_a_responder_key_is_refused(client, keyring, requests_made):
    token = keyring.integration("payments")
    send(client, token, FIRING)
    rita = keyring.responder("rita")
    for body in (FIRING, RESOLVED):
        with requests_made.measure() as calls:
            response = send(client, rita, body)
        assert response.status_code == 403, response.body
        assert response.json_body["code"] == "forbidden"
        assert writes(calls) == {}
    assert [i["status"] for i in incidents(client)] == ["TRIGGERED"]


def test_no_key_or_an_unknown_key_is_401(client):
    for headers in ({}, {"Authorization": "Bearer oncall_nope"}):
        response = client.anonymous.request("POST", PATH, headers={**JSON, **headers}, body=json.dumps(FIRING))
        assert response.status_code == 401
        assert response.json_body["code"] == "unauthenticated"


# --- title, description, severity ------------------------------------------------------------------


@pytest.mark.parametrize(
    "common_annotations, alert_annotations, common_labels, alert_labels, title",
    [
        ({"summary": "common"}, {"summary": "own"}, {"alertname": "A"}, {"alertname": "B"}, "common"),
        ({}, {"summary": "own"}, {"alertname": "A"}, {"alertname": "B"}, "own"),
        ({"summary": "  "}, {"summary": ""}, {"alertname": "A"}, {"alertname": "B"}, "A"),
        ({}, {}, {}, {"alertname": "B"}, "B"),
        ({}, {}, {}, {"job": "x"}, 'Alertmanager alert group {}:{alertname="Disk"}'),
    ],
)
def test_the_title(client, keyring, common_annotations, alert_annotations, common_labels, alert_labels, title):
    token = keyring.integration("payments")
    alerts = [{"status": "firing", "labels": alert_labels, "annotations": alert_annotations}]
    body = group(common_labels=common_labels, commonAnnotations=common_annotations, alerts=alerts)
    incident_id = send(client, token, body).json_body["incident_id"]
    assert get_incident(client, incident_id)["title"] == title


def test_the_first_firing_alert_names_a_firing_group(client, keyring):
    token = keyring.integration("payments")
    alerts = [
        {"status": "resolved", "labels": {"alertname": "Old"}, "annotations": {"summary": "gone", "description": "a"}},
        {"status": "firing", "labels": {"alertname": "New"}, "annotations": {"summary": "here", "description": "b"}},
    ]
    incident_id = send(client, token, group(common_labels={}, alerts=alerts)).json_body["incident_id"]
    incident = get_incident(client, incident_id)
    assert (incident["title"], incident["description"]) == ("here", "b\na")


def test_long_titles_and_descriptions_are_cut_not_refused(client, keyring):
    token = keyring.integration("payments")
    summary, description = "t" * 5000, "é" * 60_000  # 120,000 bytes of UTF-8
    body = group(commonAnnotations={"summary": summary, "description": description})
    response = send(client, token, body)
    assert response.status_code == 201, response.body
    incident = get_incident(client, response.json_body["incident_id"])
    assert len(incident["title"]) == 1024 and incident["title"].endswith("…")
    assert incident["title"].startswith("t" * 1023)
    assert len(incident["description"].encode()) <= 64 * 1024
    assert incident["description"].endswith("…") and set(incident["description"][:-1]) == {"é"}
    assert len(json.dumps(incident["details"], ensure_ascii=False).encode()) <= 64 * 1024


def test_descriptions_common_else_each_alerts_and_truncated_alerts_noted(client, keyring):
    token = keyring.integration("payments")
    alerts = [
        {"status": "firing", "labels": {"alertname": "A"}, "annotations": {"description": "one"}},
        {"status": "firing", "labels": {"alertname": "A"}, "annotations": {"description": "one"}},
        {"status": "firing", "labels": {"alertname": "A"}, "annotations": {"description": "two"}},
    ]
    incident_id = send(client, token, group(alerts=alerts, truncatedAlerts=7)).json_body["incident_id"]
    description = get_incident(client, incident_id)["description"]
    assert description == "one\ntwo\n(7 more alerts of this group were not sent: max_alerts.)"
    common = group(group_key="g2", alerts=alerts, commonAnnotations={"description": "all of them"})
    assert get_incident(client, send(client, token, common).json_body["incident_id"])["description"] == "all of them"
    bare = group(group_key="g3")
    assert get_incident(client, send(client, token, bare).json_body["incident_id"])["description"] == ""


@pytest.mark.parametrize(
    "label, severity",
    [
        ("critical", "critical"),
        ("CRITICAL", "critical"),
        ("page", "critical"),
        ("error", "error"),
        ("high", "error"),
        ("warning", "warning"),
        ("Warn", "warning"),
        ("info", "info"),
        ("none", "info"),
        ("low", "info"),
        ("bogus", "critical"),
        ("", "critical"),
        (None, "critical"),
    ],
)
def test_the_severity_label(client, keyring, label, severity):
    token = keyring.integration("payments")
    labels = {"alertname": "A"} if label is None else {"alertname": "A", "severity": label}
    incident_id = send(client, token, group(common_labels=labels)).json_body["incident_id"]
    assert get_incident(client, incident_id)["severity"] == severity


def test_without_a_common_severity_the_most_severe_alert_counts(client, keyring):
    token = keyring.integration("payments")
    alerts = [
        {"status": "firing", "labels": {"alertname": "A", "severity": "info"}},
        {"status": "firing", "labels": {"alertname": "A", "severity": "warning"}},
        {"status": "firing", "labels": {"alertname": "A"}},
    ]
    incident_id = send(client, token, group(common_labels={"alertname": "A"}, alerts=alerts)).json_body["incident_id"]
    assert get_incident(client, incident_id)["severity"] == "warning"


# --- source and details ---------------------------------------------------------------------------


def test_details_over_64_kib_drop_alerts_from_the_end_then_cut(client, keyring):
    token = keyring.integration("payments")
    alerts = [
        {"status": "firing", "labels": {"alertname": "A", "n": str(n)}, "annotations": {"description": "x" * 2000}}
        for n in range(60)
    ]
    response = send(client, token, group(alerts=alerts, receiver="r" * 500))
    assert response.status_code == 201, response.body
    incident = get_incident(client, response.json_body["incident_id"])
    details = incident["details"]
    assert len(Incident.details.serialize(details).encode()) <= 64 * 1024
    assert details["alertsOmitted"] == 60 - len(details["alerts"]) > 0
    assert [alert["labels"]["n"] for alert in details["alerts"]] == [str(n) for n in range(len(details["alerts"]))]
    assert incident["source"] == "alertmanager: " + "r" * 99 + "…"


def test_details_that_cannot_fit_keep_the_group_identity():
    labels = {f"label{n}": "v" * 10 for n in range(5000)}
    notification = alertmanager.AlertmanagerNotification.model_validate(group(common_labels=labels))
    details = alertmanager.details_for(notification)
    assert details["detailsTruncated"] is True and details["groupKey"] == notification.group_key
    assert len(json.dumps(details).encode()) <= 64 * 1024
    cut = alertmanager.details_for(
        alertmanager.AlertmanagerNotification.model_validate(group(commonAnnotations={"summary": "s" * 100_000}))
    )
    assert cut["commonAnnotations"]["summary"] == "s" * 4095 + "…"


def test_unknown_fields_from_newer_alertmanagers_are_ignored(client, keyring):
    token = keyring.integration("payments")
    body = copy.deepcopy(FIRING)
    body["someNewField"] = {"x": 1}
    body["alerts"][0]["silencedBy"] = ["abc"]
    response = send(client, token, body)
    assert response.status_code == 201, response.body
    assert "someNewField" not in json.dumps(get_incident(client, response.json_body["incident_id"]))


# --- malformed --------------------------------------------------------------------------------------


def _without(key):
    body = copy.deepcopy(FIRING)
    del body[key]
    return body


def _with(**changes):
    return {**copy.deepcopy(FIRING), **changes}


def _alert_with(**changes):
    body = copy.deepcopy(FIRING)
    body["alerts"][0].update(changes)
    return body


MALFORMED = {
    "no groupKey": (_without("groupKey"), "groupKey"),
    "no status": (_without("status"), "status"),
    "no alerts": (_without("alerts"), "alerts"),
    "no version": (_without("version"), "version"),
    "version 3": (_with(version="3"), "version"),
    "version as a number": (_with(version=4), "version"),
    "empty alerts": (_with(alerts=[]), "alerts"),
    "empty groupKey": (_with(groupKey=""), "groupKey"),
    "groupKey a number": (_with(groupKey=12), "groupKey"),
    "unknown status": (_with(status="pending"), "status"),
    "alerts an object": (_with(alerts={"status": "firing"}), "alerts"),
    "commonLabels a list": (_with(commonLabels=["service"]), "commonLabels"),
    "a label value a number": (_with(commonLabels={"service": "payments", "severity": 3}), "commonLabels.severity"),
    "truncatedAlerts a string": (_with(truncatedAlerts="0"), "truncatedAlerts"),
    "truncatedAlerts negative": (_with(truncatedAlerts=-1), "truncatedAlerts"),
    "receiver null": (_with(receiver=None), "receiver"),
    "an alert without labels": (_alert_with(labels=None), "alerts.0.labels"),
    "an alert with a bad status": (_alert_with(status="firinG"), "alerts.0.status"),
    "an annotation a list": (_alert_with(annotations={"summary": ["x"]}), "alerts.0.annotations.summary"),
    "an alert a string": (_with(alerts=["firing"]), "alerts.0"),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_notifications_are_400_and_write_nothing(client, keyring, requests_made, name):
    body, field = MALFORMED[name]
    token = keyring.integration("payments")
    with requests_made.measure() as calls:
        response = send(client, token, body)
    assert response.status_code == 400, response.body
    assert response.json_body["code"] == "invalid_input"
    assert response.json_body["field"] == field
    assert set(response.json_body) == {"error", "code", "field"}
    assert writes(calls) == {}
    assert incidents(client) == []


@pytest.mark.parametrize(
    "raw",
    [b"", b"   ", b"{", b"not json", b"[]", b'"firing"', b"null", b"\xff\xfe", b"[" * 100_000],
    ids=["empty", "blank", "cut", "text", "array", "string", "null", "not-utf8", "deep"],
)
def test_bad_json_is_400_and_writes_nothing(client, keyring, requests_made, raw):
    token = keyring.integration("payments")
    with requests_made.measure() as calls:
        response = send(client, token, None, raw=raw)
    assert response.status_code == 400, response.body
    assert response.json_body["code"] == "invalid_input"
    assert response.json_body["field"] == "body"
    assert writes(calls) == {}


def test_a_body_over_256_kib_is_413(client, keyring, requests_made):
    token = keyring.integration("payments")
    body = _with(commonAnnotations={"description": "x" * 300_000})
    with requests_made.measure() as calls:
        response = send(client, token, body)
    assert response.status_code == 413
    assert writes(calls) == {}


def test_the_openapi_document_describes_the_route(client):
    document = client.http.get("/api/openapi.json").json_body
    operation = document["paths"][PATH]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AlertmanagerNotification"
    }
    assert {"201", "200", "400", "401", "403", "413"} <= set(operation["responses"])
    notification = document["components"]["schemas"]["AlertmanagerNotification"]
    assert {"version", "groupKey", "status", "alerts"} <= set(notification["required"])
    assert "admin, integration" in operation["description"]
