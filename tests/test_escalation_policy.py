"""Escalation policies: levels that page users or whoever is on call, each with its
own wait, repeated rounds, exhaustion, acknowledgement stopping the climb, overlapping
sweeps, validation, and the original level API still working as it did."""

from datetime import timedelta

import pytest

from chalicelib import clock, config, shards
from chalicelib.api.payloads import LevelBody, PolicyBody
from chalicelib.escalation import policy, sweep
from chalicelib.incident import incidents, store
from chalicelib.incident import timeline as timeline_module
from chalicelib.models import Incident
from chalicelib.notify import delivery
from tests.flows import (
    Lines,
    acknowledge,
    add_level,
    add_shift,
    check_escalations,
    get_incident,
    get_json,
    on_call_now,
    post,
    put,
    run_threads,
    trigger_body,
    trigger_ok,
)
from tests.receivers import Receiver

LEVELS = "/api/escalation/levels/"


def policy_path(service: str) -> str:
    return f"/api/escalation/policies/{service}"


@pytest.fixture
def receiver():
    with Receiver() as started:
        yield started


def level_ok(client, service: str, number: int, targets: list[dict], wait_minutes: int) -> dict:
    body = {"service_name": service, "level": number, "targets": targets, "wait_minutes": wait_minutes}
    response = post(client, LEVELS, body)
    assert response.status_code == 201, response.body
    return response.json_body


def set_repeat(client, service: str, repeat: int) -> dict:
    response = put(client, policy_path(service), {"repeat": repeat})
    assert response.status_code == 200, response.body
    return response.json_body


def listen(client, service: str, receiver: Receiver) -> None:
    body = {"service_name": service, "kind": "webhook", "name": f"pages of {service}", "url": receiver.url}
    assert post(client, "/api/notifications/channels/", body).status_code == 201


def escalation_pages(receiver: Receiver) -> list[tuple[str, str]]:
    """(text, assignee) of every incident.escalated message the receiver took."""
    return [
        (body["text"], body["incident"]["assigned_to"])
        for body in receiver.bodies()
        if body["event"] == "incident.escalated"
    ]


def escalated_messages(client, incident_id: int) -> list[str]:
    return [e["message"] for e in get_incident(client, incident_id)["timeline"] if e["kind"] == "escalated"]


def exhausted_messages(client, incident_id: int) -> list[str]:
    return [e["message"] for e in get_incident(client, incident_id)["timeline"] if e["kind"] == "exhausted"]


def is_due(incident_id: int) -> bool:
    due = shards.keys_in(Incident.due_index, store.DUE_QUEUE, None)
    return incident_id in [incident.id for incident in due]


def step_after(client, manual_clock, seconds: int, incident_id: int) -> None:
    """Nothing happens a second before the step is due; at the due time the step is taken."""
    manual_clock.advance(seconds=seconds - 1)
    assert check_escalations(client)["escalated"] == 0
    manual_clock.advance(seconds=1)
    assert check_escalations(client) == {"escalated": 1, "incidents": [incident_id]}


# --- the climb ----------------------------------------------------------------------------------


def test_three_levels_repeated_once_climb_two_rounds_then_the_policy_is_exhausted(client, manual_clock, receiver):
    listen(client, "db", receiver)
    on_call_now(client, "db", "alice")
    level_ok(client, "db", 1, [{"user": "bob"}], wait_minutes=2)
    level_ok(client, "db", 2, [{"user": "carol"}, {"oncall": "db"}], wait_minutes=10)
    level_ok(client, "db", 5, [{"user": "dave"}], wait_minutes=3)
    assert set_repeat(client, "db", 1)["repeat"] == 1

    opened = trigger_ok(client, "db", "replication stopped")
    number = opened["id"]
    assert opened["assigned_to"] == "alice" and opened["escalation_round"] == 0
    delivery.run()
    assert escalation_pages(receiver) == []

    # (seconds until the step, level, round, assignee, what the timeline and the page say)
    climb = [
        (300, 1, 1, "bob", "Escalated to level 1: paging bob."),
        (120, 2, 1, "carol", "Escalated to level 2: paging carol, alice (on call for db)."),
        (600, 5, 1, "dave", "Escalated to level 5: paging dave."),
        (180, 1, 2, "bob", "Escalated to level 1 (round 2): paging bob."),
        (120, 2, 2, "carol", "Escalated to level 2 (round 2): paging carol, alice (on call for db)."),
        (600, 5, 2, "dave", "Escalated to level 5 (round 2): paging dave."),
    ]
    for step, (wait, level, round_number, assignee, message) in enumerate(climb, start=1):
        step_after(client, manual_clock, wait, number)
        stored = get_incident(client, number)
        assert (stored["status"], stored["escalation_level"], stored["escalation_round"]) == (
            "ESCALATED",
            level,
            round_number,
        )
        assert stored["assigned_to"] == assignee
        assert escalated_messages(client, number) == [m for _, _, _, _, m in climb[:step]]
        assert delivery.run()["delivered"] == 1
        assert escalation_pages(receiver) == [(m, who) for _, _, _, who, m in climb[:step]]
        assert escalation_pages(receiver)[-1] == (message, assignee)
        assert is_due(number)

    # The last level's wait runs out in the last round: the policy is exhausted.
    manual_clock.advance(seconds=179)
    assert check_escalations(client)["escalated"] == 0
    assert exhausted_messages(client, number) == []
    manual_clock.advance(seconds=1)
    with Lines("oncall.alerts") as log:
        assert check_escalations(client) == {"escalated": 0, "incidents": []}
    assert len(log.containing("exhausted after 2 round(s)")) == 1
    assert exhausted_messages(client, number) == ["Escalation policy exhausted after 2 rounds."]
    stored = get_incident(client, number)
    assert (stored["status"], stored["escalation_level"], stored["assigned_to"]) == ("ESCALATED", 5, "dave")
    assert not is_due(number)

    for _ in range(5):
        manual_clock.advance(minutes=30)
        assert check_escalations(client)["escalated"] == 0
    delivery.run()
    assert len(escalation_pages(receiver)) == 6
    assert len(escalated_messages(client, number)) == 6
    assert exhausted_messages(client, number) == ["Escalation policy exhausted after 2 rounds."]
    assert acknowledge(client, number, "dave").status_code == 200


def test_an_acknowledgement_mid_climb_stops_it(client, manual_clock, receiver):
    listen(client, "db", receiver)
    for number, user in ((1, "bob"), (2, "carol"), (3, "dave")):
        level_ok(client, "db", number, [{"user": user}], wait_minutes=5)
    set_repeat(client, "db", 2)
    number = trigger_ok(client, "db", "disk full")["id"]

    step_after(client, manual_clock, 300, number)
    step_after(client, manual_clock, 300, number)
    manual_clock.advance(seconds=60)
    acked = acknowledge(client, number, "carol")
    assert acked.status_code == 200 and acked.json_body["assigned_to"] == "carol"
    assert not is_due(number)

    for _ in range(12):
        manual_clock.advance(minutes=5)
        assert check_escalations(client)["escalated"] == 0
    delivery.run()
    assert [text for text, _ in escalation_pages(receiver)] == [
        "Escalated to level 1: paging bob.",
        "Escalated to level 2: paging carol.",
    ]
    events = [body["event"] for body in receiver.bodies()]
    assert events == ["incident.triggered", "incident.escalated", "incident.escalated", "incident.acknowledged"]
    stored = get_incident(client, number)
    assert (stored["status"], stored["escalation_level"], stored["escalation_round"]) == ("ACKNOWLEDGED", 2, 1)
    assert len(escalated_messages(client, number)) == 2
    assert exhausted_messages(client, number) == []


def test_an_oncall_target_pages_whoever_is_on_call_for_that_service_at_the_step(client, manual_clock):
    on_call_now(client, "db", "olga")
    start = clock.now()
    override = add_shift(
        client,
        "db",
        "quinn",
        clock.iso(start + timedelta(minutes=10)),
        clock.iso(start + timedelta(hours=2)),
        is_override=True,
    )
    assert override.status_code == 201, override.body
    level_ok(client, "web", 1, [{"oncall": "db"}], wait_minutes=10)
    level_ok(client, "web", 2, [{"oncall": "db"}, {"oncall": "search"}, {"user": "pat"}], wait_minutes=10)
    level_ok(client, "web", 3, [{"oncall": "search"}], wait_minutes=10)
    opened = trigger_ok(client, "web", "5xx spike")
    assert opened["assigned_to"] is None  # nobody is on call for web itself

    step_after(client, manual_clock, 300, opened["id"])
    assert get_incident(client, opened["id"])["assigned_to"] == "olga"
    # The override began meanwhile: the step asks who is on call at its own moment.
    step_after(client, manual_clock, 600, opened["id"])
    assert get_incident(client, opened["id"])["assigned_to"] == "quinn"
    step_after(client, manual_clock, 600, opened["id"])
    # Nobody could be paged at level 3: the incident stays with whoever had it.
    assert get_incident(client, opened["id"])["assigned_to"] == "quinn"
    assert escalated_messages(client, opened["id"]) == [
        "Escalated to level 1: paging olga (on call for db).",
        "Escalated to level 2: paging quinn (on call for db), pat; nobody is on call for search.",
        "Escalated to level 3: nobody is on call for search; nobody was paged.",
    ]


def test_overlapping_sweeps_take_every_step_exactly_once(manual_clock):
    for number, user in ((1, "bob"), (4, "carol")):
        policy.create_level(LevelBody(service_name="db", level=number, user=user, wait_minutes=7))
    policy.set_policy("db", PolicyBody(repeat=1))
    opened = [incidents.trigger(trigger_body("db", f"alert {n}"), "monitor")[0]["id"] for n in range(6)]
    waits = [300, 420, 420, 420]
    expected = [(1, 1, "bob"), (4, 1, "carol"), (1, 2, "bob"), (4, 2, "carol")]

    for step, (wait, (level, round_number, assignee)) in enumerate(zip(waits, expected, strict=True), start=1):
        manual_clock.advance(seconds=wait)
        with Lines("oncall.alerts") as log:
            results, errors = run_threads([sweep.run] * 8)
        assert errors == [None] * 8
        swept = [incident_id for result in results for incident_id in result["incidents"]]
        assert sorted(swept) == sorted(opened), step
        assert len(log.containing("INCIDENT ESCALATED")) == len(opened)
        for incident_id in opened:
            stored = Incident.get(incident_id)
            assert (stored.escalation_level, stored.escalation_round, stored.assigned_to) == (
                level,
                round_number,
                assignee,
            )
            # The trigger, then one event (one page) per step taken.
            assert timeline_module.transitions(stored) == 1 + step

    manual_clock.advance(seconds=420)
    with Lines("oncall.alerts") as log:
        results, errors = run_threads([sweep.run] * 8)
    assert errors == [None] * 8
    assert sum(result["escalated"] for result in results) == 0
    assert len(log.containing("exhausted after 2 round(s)")) == len(opened)
    for incident_id in opened:
        timeline = incidents.detail(incident_id)["timeline"]
        assert [entry["kind"] for entry in timeline].count("exhausted") == 1
        assert timeline_module.transitions(Incident.get(incident_id)) == 5
        assert not is_due(incident_id)
    assert sweep.run()["escalated"] == 0


# --- the policy API ------------------------------------------------------------------------------


def test_the_policy_shows_levels_in_order_with_targets_waits_and_the_repeat(client):
    empty = get_json(client, policy_path("db"))
    assert empty == {"service_name": "db", "repeat": 0, "levels": []}
    level_ok(client, "db", 3, [{"oncall": "db"}, {"user": "erin"}], wait_minutes=30)
    assert add_level(client, "db", 1, user="bob", channel="sms").status_code == 201
    level_ok(client, "web", 1, [{"user": "zed"}], wait_minutes=1)
    set_repeat(client, "db", 3)

    policy = get_json(client, policy_path("db"))
    assert (policy["service_name"], policy["repeat"]) == ("db", 3)
    summary = [(lv["level"], lv["targets"], lv["wait_minutes"], lv["user"]) for lv in policy["levels"]]
    assert summary == [
        (1, [{"user": "bob"}], 5, "bob"),
        (3, [{"oncall": "db"}, {"user": "erin"}], 30, None),
    ]
    assert get_json(client, policy_path("web"))["repeat"] == 0
    # Setting it again replaces it; a name with any characters travels percent-encoded.
    assert set_repeat(client, "db", 0)["repeat"] == 0
    assert set_repeat(client, "pay%20ments%2Feu", 2)["service_name"] == "pay ments/eu"
    assert get_json(client, policy_path("pay%20ments%2Feu"))["repeat"] == 2


def test_a_responder_reads_the_policy_but_may_not_set_it(client):
    set_repeat(client, "db", 2)
    rita = client.as_user("rita")
    assert get_json(rita, policy_path("db"))["repeat"] == 2
    refused = put(rita, policy_path("db"), {"repeat": 5})
    assert refused.status_code == 403
    assert get_json(client, policy_path("db"))["repeat"] == 2


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"targets": []}, "targets"),
        ({"targets": [{"user": f"u{n}"} for n in range(11)]}, "targets"),
        ({"targets": "bob"}, "targets"),
        ({"targets": [{}]}, "targets.0"),
        ({"targets": [{"user": "bob", "oncall": "db"}]}, "targets.0"),
        ({"targets": [{"user": "bob"}, {"email": "bob@example.com"}]}, "targets.1.email"),
        ({"targets": [{"user": " "}]}, "targets.0.user"),
        ({"targets": [{"oncall": 7}]}, "targets.0.oncall"),
        ({"targets": [{"user": "carol"}], "user": "bob"}, "targets"),
        ({"wait_minutes": 0}, "wait_minutes"),
        ({"wait_minutes": 1441}, "wait_minutes"),
        ({"wait_minutes": "5"}, "wait_minutes"),
        ({"wait_minutes": 2.5}, "wait_minutes"),
    ],
)
def test_a_level_that_is_not_valid_is_refused_naming_the_field(client, fields, field):
    response = post(client, LEVELS, {"service_name": "db", "level": 1, **fields})
    assert response.status_code == 400, response.body
    assert (response.json_body["code"], response.json_body["field"]) == ("invalid_input", field)
    assert get_json(client, f"{LEVELS}?service_name=db")["levels"] == []


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("db", {"repeat": 10}, "repeat"),
        ("db", {"repeat": -1}, "repeat"),
        ("db", {"repeat": "1"}, "repeat"),
        ("db", {"repeat": True}, "repeat"),
        ("db", {}, "repeat"),
        ("db", {"repeat": 1, "levels": []}, "levels"),
        ("%20", {"repeat": 1}, "service_name"),
        ("x" * 129, {"repeat": 1}, "service_name"),
    ],
)
def test_a_policy_that_is_not_valid_is_refused_naming_the_field(client, path, body, field):
    response = put(client, policy_path(path), body)
    assert response.status_code == 400, response.body
    assert (response.json_body["code"], response.json_body["field"]) == ("invalid_input", field)
    assert get_json(client, policy_path("db"))["repeat"] == 0


# --- the original level API ------------------------------------------------------------------------


def test_the_original_level_api_is_a_simple_policy(client, manual_clock, monkeypatch):
    with_user = add_level(client, "db", 1, user="bob", channel="sms")
    assert with_user.status_code == 201
    assert (with_user.json_body["targets"], with_user.json_body["wait_minutes"]) == ([{"user": "bob"}], 5)
    # A level naming nobody is still accepted: it notifies its channel and reassigns nobody.
    nobody = add_level(client, "db", 2)
    assert nobody.status_code == 201
    assert (nobody.json_body["targets"], nobody.json_body["user"]) == ([], None)

    on_call_now(client, "db", "alice")
    number = trigger_ok(client, "db", "slow queries")["id"]
    step_after(client, manual_clock, 300, number)
    step_after(client, manual_clock, 300, number)
    stored = get_incident(client, number)
    assert (stored["escalation_level"], stored["assigned_to"]) == (2, "bob")
    assert escalated_messages(client, number) == [
        "Escalated to level 1: paging bob.",
        "Escalated to level 2: notifying log.",
    ]

    # The default wait is ONCALL_ESCALATE_AFTER_SECONDS in minutes, rounded up.
    monkeypatch.setenv("ONCALL_ESCALATE_AFTER_SECONDS", "90")
    config.settings.cache_clear()
    assert add_level(client, "web", 1, user="zed").json_body["wait_minutes"] == 2


def test_an_incidents_detail_names_the_next_escalation_step_and_when(client, manual_clock):
    add_level(client, "db", 1, user="alice")
    add_level(client, "db", 2, user="bob")
    incident = trigger_ok(client, "db", "disk full")
    detail = get_incident(client, incident["id"])
    assert detail["next_escalation"] == {
        "at": "2026-03-01T12:05:00.000Z",
        "level": 1,
        "round": 1,
        "targets": [{"user": "alice"}],
    }
    manual_clock.advance(seconds=301)
    check_escalations(client)
    assert get_incident(client, incident["id"])["next_escalation"]["level"] == 2
    acknowledge(client, incident["id"])
    assert get_incident(client, incident["id"])["next_escalation"] is None
