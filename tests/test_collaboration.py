"""Working together on incidents, in process: notes in the timeline, reassignment
(announced through the outbox like a transition), and bulk acknowledge and resolve
where each id answers for itself. Each request's DynamoDB round trips are counted."""

from collections import Counter

import pytest

from chalicelib import shards
from chalicelib.incident import incidents, store
from chalicelib.models import Incident, TimelineEntry
from chalicelib.notify import delivery
from tests.flows import acknowledge, as_actor, get_incident, post, resolve, run_threads, trigger_ok, writes
from tests.receivers import Receiver
from tests.test_round_trips import key_cache  # noqa: F401 (a fixture)

MISSING = 999_999


def note(client, incident_id, body, user="rita"):
    return post(as_actor(client, user), f"/api/incidents/{incident_id}/notes", body)


def reassign(client, incident_id, body, user="rita"):
    return post(as_actor(client, user), f"/api/incidents/{incident_id}/reassign", body)


def bulk(client, action, ids, user="rita"):
    return post(as_actor(client, user), f"/api/incidents/bulk/{action}", {"ids": ids})


def refused(response, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, response.body
    body = response.json_body
    assert body["code"] == code, body
    if field is not None:
        assert body.get("field") == field, body
    return body


def timeline_of(client, incident_id, kind: str) -> list[dict]:
    return [entry for entry in get_incident(client, incident_id)["timeline"] if entry["kind"] == kind]


def outbox_waiting() -> list[int]:
    return [incident.id for incident in shards.keys_in(Incident.outbox_index, store.OUTBOX_QUEUE, None)]


@pytest.fixture(autouse=True)
def _ritas_key(client):
    """Rita's responder key made before any request is measured."""
    client.keyring.responder("rita")


@pytest.fixture
def receiver():
    with Receiver() as started:
        yield started


def webhook(client, service: str, receiver: Receiver) -> None:
    body = {"service_name": service, "kind": "webhook", "name": f"hook of {service}", "url": receiver.url}
    assert post(client, "/api/notifications/channels", body).status_code == 201


# --- notes ----------------------------------------------------------------------------------------


def test_a_note_is_201_and_its_author_is_the_keys_user(client, manual_clock):
    number = trigger_ok(client, "payments", "card declines")["id"]
    manual_clock.advance(seconds=5)

    response = note(client, number, {"text": "Looking at the gateway logs."})

    assert response.status_code == 201, response.body
    entry = response.json_body
    assert entry["kind"] == "note" and entry["actor"] == "rita"
    assert entry["message"] == "Looking at the gateway logs."
    assert set(entry) == {"at", "kind", "actor", "message"}
    assert timeline_of(client, number, "note") == [entry]
    # The admin's key writes as its own user.
    manual_clock.advance(seconds=1)
    assert note(client, number, {"text": "Paged the bank."}, user=None).json_body["actor"] == "admin"
    assert [e["actor"] for e in timeline_of(client, number, "note")] == ["rita", "admin"]


def test_a_user_in_a_note_body_is_refused_not_trusted(client, requests_made):
    number = trigger_ok(client)["id"]
    with requests_made.measure() as calls:
        response = note(client, number, {"text": "it was me", "user": "mallory"})
    refused(response, 400, "invalid_input", "user")
    assert writes(calls) == {}
    assert timeline_of(client, number, "note") == []


def test_a_note_on_a_missing_incident_is_404_and_writes_nothing(client):
    response = note(client, MISSING, {"text": "anyone here?"})
    refused(response, 404, "not_found")
    assert str(MISSING) in response.json_body["error"]
    assert list(TimelineEntry.query(MISSING)) == []


@pytest.mark.parametrize(
    "body",
    [{}, {"text": ""}, {"text": "   \n\t"}, {"text": "x" * 4097}, {"text": 42}, {"text": None}, {"text": ["a"]}],
    ids=["missing", "empty", "blank", "too-long", "number", "null", "list"],
)
def test_an_invalid_note_is_a_400_naming_text(client, body):
    number = trigger_ok(client)["id"]
    refused(note(client, number, body), 400, "invalid_input", "text")
    assert timeline_of(client, number, "note") == []


def test_a_note_is_stored_exactly_as_sent_markup_and_all(client, manual_clock):
    number = trigger_ok(client)["id"]
    texts = [
        "<img src=x onerror=alert(1)> & <!channel> **bold** `code`",
        "ünïcode ☃ 🚨 עברית\n\ttabs and\r\nnewlines  ",
        "y" * 4096,
    ]
    for text in texts:
        assert note(client, number, {"text": text}).status_code == 201
        manual_clock.advance(seconds=1)
    assert [e["message"] for e in timeline_of(client, number, "note")] == texts


def test_a_resolved_incident_takes_notes(client):
    number = trigger_ok(client)["id"]
    acknowledge(client, number)
    resolve(client, number)
    response = note(client, number, {"text": "Postmortem: the certificate expired."})
    assert response.status_code == 201, response.body
    assert get_incident(client, number)["status"] == "RESOLVED"


def test_a_note_is_not_a_notification(client, receiver):
    webhook(client, "payments", receiver)
    number = trigger_ok(client, "payments", "disk full")["id"]
    assert delivery.run()["delivered"] == 1

    assert note(client, number, {"text": "freeing space"}).status_code == 201

    assert outbox_waiting() == []
    assert delivery.run()["dispatched"] == 0
    assert [body["event"] for body in receiver.bodies()] == ["incident.triggered"]


# --- reassign -------------------------------------------------------------------------------------


def test_reassigning_records_the_event_and_the_channels_announce_it(client, receiver):
    webhook(client, "payments", receiver)
    number = trigger_ok(client, "payments", "queue backlog")["id"]

    response = reassign(client, number, {"user": "bob"})

    assert response.status_code == 200, response.body
    assert response.json_body["assigned_to"] == "bob"
    assert response.json_body["status"] == "TRIGGERED"
    [event] = timeline_of(client, number, "reassigned")
    assert (event["actor"], event["message"]) == ("rita", "Reassigned to bob.")
    assert outbox_waiting() == [number]

    assert delivery.run()["delivered"] == 2
    announced = receiver.bodies()[-1]
    assert announced["event"] == "incident.reassigned"
    assert announced["actor"] == "rita" and announced["text"] == "Reassigned to bob."
    assert announced["incident"]["assigned_to"] == "bob"
    assert announced["incident"]["status"] == "TRIGGERED"


def test_an_acknowledged_incident_keeps_its_status_when_reassigned(client):
    number = trigger_ok(client)["id"]
    acknowledge(client, number, "alice")
    response = reassign(client, number, {"user": "carol"})
    assert response.status_code == 200, response.body
    assert (response.json_body["status"], response.json_body["assigned_to"]) == ("ACKNOWLEDGED", "carol")
    assert response.json_body["acknowledged_by"] == "alice"


def test_a_resolved_incident_cannot_be_reassigned(client, requests_made):
    number = trigger_ok(client)["id"]
    acknowledge(client, number)
    resolve(client, number)
    with requests_made.measure() as calls:
        response = reassign(client, number, {"user": "bob"})
    body = refused(response, 400, "invalid_transition")
    assert "RESOLVED" in body["error"]
    # The refusal names the status from the item the cancelled write returned.
    assert calls["TransactWriteItems"] == 1 and calls["UpdateItem"] == 0
    detail = get_incident(client, number)
    assert detail["assigned_to"] is None
    assert timeline_of(client, number, "reassigned") == []


def test_reassigning_to_the_current_assignee_is_a_400_saying_so(client):
    number = trigger_ok(client)["id"]
    assert reassign(client, number, {"user": "bob"}).status_code == 200
    body = refused(reassign(client, number, {"user": "bob"}), 400, "invalid_input", "user")
    assert "already assigned to bob" in body["error"]
    assert len(timeline_of(client, number, "reassigned")) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "user"),
        ({"user": ""}, "user"),
        ({"user": " "}, "user"),
        ({"user": "u" * 129}, "user"),
        ({"user": 7}, "user"),
        ({"user": "bob", "note": "x"}, "note"),
    ],
    ids=["missing", "empty", "blank", "too-long", "number", "unknown-field"],
)
def test_an_invalid_reassignment_is_a_400_naming_the_field(client, body, field):
    number = trigger_ok(client)["id"]
    refused(reassign(client, number, body), 400, "invalid_input", field)
    assert get_incident(client, number)["assigned_to"] is None


def test_reassigning_a_missing_incident_is_404(client):
    refused(reassign(client, MISSING, {"user": "bob"}), 404, "not_found")


def test_32_concurrent_reassignments_all_commit_and_none_is_lost(client):
    number = trigger_ok(client)["id"]
    users = [f"responder-{n}" for n in range(32)]

    results, errors = run_threads([lambda user=user: incidents.reassign(number, user, "lead") for user in users])

    assert errors == [None] * 32
    assert sorted(result["assigned_to"] for result in results) == sorted(users)
    events = [event for event in Incident.get(number).events if event.kind == "reassigned"]
    assert len(events) == 32
    assert sorted(event.message for event in events) == sorted(f"Reassigned to {user}." for user in users)
    assert get_incident(client, number)["assigned_to"] == events[-1].message.removeprefix("Reassigned to ")[:-1]


# --- bulk -----------------------------------------------------------------------------------------


def mixed_incidents(client) -> dict[str, int]:
    """One incident in each state a bulk request meets, and an id no incident has."""
    ids = {state: trigger_ok(client, "bulk", state)["id"] for state in ("open", "acknowledged", "resolved")}
    acknowledge(client, ids["acknowledged"])
    acknowledge(client, ids["resolved"])
    resolve(client, ids["resolved"])
    return {**ids, "missing": MISSING}


def outcomes(answer: dict) -> list[tuple[int, int, str | None]]:
    return [(r["id"], r["status"], r.get("error", {}).get("code")) for r in answer["results"]]


def test_bulk_acknowledge_answers_each_id_in_the_order_given(client):
    ids = mixed_incidents(client)
    order = [ids["missing"], ids["open"], ids["resolved"], ids["acknowledged"]]

    response = bulk(client, "acknowledge", order)

    assert response.status_code == 200, response.body
    answer = response.json_body
    assert outcomes(answer) == [
        (ids["missing"], 404, "not_found"),
        (ids["open"], 200, None),
        (ids["resolved"], 400, "invalid_transition"),
        (ids["acknowledged"], 400, "invalid_transition"),
    ]
    assert (answer["succeeded"], answer["failed"]) == (1, 3)
    done = answer["results"][1]
    assert set(done) == {"id", "status", "incident"}
    assert (done["incident"]["status"], done["incident"]["acknowledged_by"]) == ("ACKNOWLEDGED", "rita")
    assert "RESOLVED" in answer["results"][2]["error"]["error"]
    assert "already acknowledged" in answer["results"][3]["error"]["error"]
    assert all(set(r) == {"id", "status", "error"} for r in answer["results"] if r["status"] != 200)
    assert get_incident(client, ids["open"])["acknowledged_by"] == "rita"


def test_bulk_resolve_applies_the_single_resolve_rules_per_id(client):
    ids = mixed_incidents(client)
    order = [ids["acknowledged"], ids["open"], ids["missing"], ids["resolved"]]

    answer = bulk(client, "resolve", order).json_body

    assert outcomes(answer) == [
        (ids["acknowledged"], 200, None),
        (ids["open"], 400, "invalid_transition"),
        (ids["missing"], 404, "not_found"),
        (ids["resolved"], 400, "invalid_transition"),
    ]
    assert "acknowledge it first" in answer["results"][1]["error"]["error"]
    assert (answer["succeeded"], answer["failed"]) == (1, 3)
    assert answer["results"][0]["incident"]["resolved_by"] == "rita"
    assert get_incident(client, ids["open"])["status"] == "TRIGGERED"


def test_an_integration_key_may_not_bulk_transition(client, requests_made):
    number = trigger_ok(client, "payments", "cpu")["id"]
    integration = client.with_token(client.keyring.integration("payments"))
    for action in ("acknowledge", "resolve"):
        with requests_made.measure() as calls:
            response = post(integration, f"/api/incidents/bulk/{action}", {"ids": [number]})
        refused(response, 403, "forbidden")
        assert writes(calls) == {}
    assert get_incident(client, number)["status"] == "TRIGGERED"


@pytest.mark.parametrize(
    ("ids_with", "field"),
    [
        (lambda n: [n + k for k in range(101)], "ids"),
        (lambda n: [], "ids"),
        (lambda n: [n, n + 1, n], "ids"),
        (lambda n: [str(n)], "ids.0"),
        (lambda n: [0, n], "ids.0"),
        (lambda n: [n + 0.5], "ids.0"),
        (lambda n: [n, 2**53], "ids.1"),
        (lambda n: [n, True], "ids.1"),
    ],
    ids=["101-ids", "none", "duplicates", "string", "zero", "fraction", "too-large", "boolean"],
)
def test_an_invalid_id_list_is_a_400_and_changes_nothing(client, requests_made, ids_with, field):
    number = trigger_ok(client)["id"]
    for action in ("acknowledge", "resolve"):
        with requests_made.measure() as calls:
            response = bulk(client, action, ids_with(number))
        refused(response, 400, "invalid_input", field)
        assert writes(calls) == {}
    assert get_incident(client, number)["status"] == "TRIGGERED"


def test_duplicates_are_named(client):
    body = refused(bulk(client, "acknowledge", [5, 7, 5, 7, 9]), 400, "invalid_input", "ids")
    assert "repeated: 5, 7" in body["error"]


def test_100_ids_are_accepted(client):
    numbers = [trigger_ok(client, "bulk", f"alert {n}")["id"] for n in range(3)]
    ids = numbers + [MISSING - n for n in range(97)]
    answer = bulk(client, "acknowledge", ids).json_body
    assert [r["id"] for r in answer["results"]] == ids
    assert (answer["succeeded"], answer["failed"]) == (3, 97)


# --- round trips ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("key_cache")
def test_a_note_costs_1_transaction_and_a_reassignment_1_transaction_and_a_read(client, requests_made):
    number = trigger_ok(client)["id"]
    rita = as_actor(client, "rita")
    assert rita.http.get("/api/me").status_code == 200  # her key verified, as in a warm process

    with requests_made.measure() as calls:
        assert note(client, number, {"text": "on it"}).status_code == 201
    assert calls == Counter({"TransactWriteItems": 1})

    with requests_made.measure() as calls:
        assert reassign(client, number, {"user": "bob"}).status_code == 200
    # A transaction for its idempotency token, which returns nothing: the answer is read,
    # the incident with its alert tally in one BatchGetItem (a GetItem of the incident before).
    assert calls == Counter({"TransactWriteItems": 1, "BatchGetItem": 1})
