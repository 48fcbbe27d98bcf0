"""On-call schedules and escalation levels over HTTP, and the "who is on call" lookup."""

import re
from datetime import timedelta

import pytest

from chalicelib.clock import iso
from chalicelib.errors import NotFound
from chalicelib.escalation import policy
from chalicelib.schedule import oncall
from tests.conftest import START
from tests.flows import (
    add_level,
    add_shift,
    all_pages,
    current_on_call,
    get_json,
    list_schedules,
    on_call_now,
    post,
    run_threads,
    trigger_ok,
)

HEX_ID = re.compile(r"[0-9a-f]{32}")


def test_create_list_and_delete_shifts(client, manual_clock):
    created = add_shift(
        client, "db", "alice", "2026-03-01T14:00:00+02:00", "2026-03-01T20:00:00.5+02:00", is_override=True
    )

    assert created.status_code == 201
    body = created.json_body
    assert HEX_ID.fullmatch(body["id"])
    assert body["service_name"] == "db"
    assert body["user"] == "alice"
    assert body["start_time"] == "2026-03-01T12:00:00.000Z"
    assert body["end_time"] == "2026-03-01T18:00:00.500Z"
    assert body["is_override"] is True
    assert body["created_at"] == "2026-03-01T12:00:00.000Z"

    for hour in range(1, 5):
        add_shift(client, "db", f"db-{hour}", iso(START), iso(START + timedelta(hours=hour)))
    for hour in range(1, 3):
        add_shift(client, "web", f"web-{hour}", iso(START), iso(START + timedelta(hours=hour)))
    ended = add_shift(client, "db", "night", iso(START - timedelta(hours=8)), iso(START - timedelta(hours=1)))
    assert ended.status_code == 201

    db_pages = all_pages(client, "/api/oncall/schedules/", "schedules", "service_name=db&limit=2")
    assert [len(page) for page in db_pages] == [2, 2, 1]
    db_users = [item["user"] for page in db_pages for item in page]
    assert db_users == ["db-1", "db-2", "db-3", "db-4", "alice"]
    assert all(item["service_name"] == "db" for page in db_pages for item in page)

    every_page = all_pages(client, "/api/oncall/schedules/", "schedules", "limit=3")
    everyone = sorted(item["user"] for page in every_page for item in page)
    assert everyone == sorted(["alice", "db-1", "db-2", "db-3", "db-4", "web-1", "web-2"])
    assert len(every_page) == 3

    with_ended = list_schedules(client, "?service_name=db&include_ended=true")["schedules"]
    assert [item["user"] for item in with_ended][0] == "night"
    assert len(with_ended) == 6
    assert len(list_schedules(client, "?include_ended=true&limit=100")["schedules"]) == 8

    manual_clock.advance(hours=2)
    assert [item["user"] for item in list_schedules(client, "?service_name=db")["schedules"]] == [
        "db-3",
        "db-4",
        "alice",
    ]

    deleted = client.http.delete(f"/api/oncall/schedules/{body['id']}/")
    assert deleted.status_code == 204
    again = client.http.delete(f"/api/oncall/schedules/{body['id']}")
    assert again.status_code == 404
    assert again.json_body["code"] == "not_found"
    assert "alice" not in [item["user"] for item in list_schedules(client, "?service_name=db")["schedules"]]
    for bad in ("abc", "0", body["id"].upper(), body["id"] + "0"):
        response = client.http.delete(f"/api/oncall/schedules/{bad}/")
        assert response.status_code == 400, bad
        assert response.json_body["field"] == "id"


def test_lookup_covers_start_inclusive_end_exclusive_also_across_midnight(client, manual_clock):
    start, end = START + timedelta(hours=1), START + timedelta(hours=2)
    created = add_shift(client, "db", "alice", iso(start), iso(end)).json_body
    add_shift(client, "db", "night-owl", "2026-03-01T22:00:00Z", "2026-03-02T06:00:00Z")
    add_shift(client, "db", "day", "2026-03-02T06:00:00Z", "2026-03-02T22:00:00Z")

    manual_clock.advance(hours=1, milliseconds=-1)
    assert current_on_call(client, "db")["user"] is None
    manual_clock.advance(milliseconds=1)
    now_on_call = current_on_call(client, "db")
    assert now_on_call["user"] == "alice"
    assert now_on_call["schedule_id"] == created["id"]
    assert now_on_call["service_name"] == "db"
    manual_clock.advance(hours=1, milliseconds=-1)
    assert current_on_call(client, "db")["user"] == "alice"
    manual_clock.advance(milliseconds=1)
    nobody = current_on_call(client, "db")
    assert nobody["user"] is None
    assert nobody["schedule_id"] is None
    assert trigger_ok(client, "db", "gap")["assigned_to"] is None

    manual_clock.advance(hours=8, milliseconds=-1)
    assert current_on_call(client, "db")["user"] is None
    manual_clock.advance(milliseconds=1)
    assert current_on_call(client, "db")["user"] == "night-owl"
    manual_clock.advance(hours=1, minutes=30)
    assert current_on_call(client, "db")["user"] == "night-owl"
    manual_clock.advance(hours=6, minutes=29, seconds=59, milliseconds=999)
    assert manual_clock().isoformat() == "2026-03-02T05:59:59.999000+00:00"
    assert current_on_call(client, "db")["user"] == "night-owl"
    assert trigger_ok(client, "db", "overnight")["assigned_to"] == "night-owl"
    manual_clock.advance(milliseconds=1)
    assert current_on_call(client, "db")["user"] == "day"


def test_override_beats_regular_and_earliest_created_wins_among_equals(client, manual_clock):
    add_shift(client, "db", "carol", iso(START - timedelta(hours=1)), iso(START + timedelta(hours=9)))
    manual_clock.advance(seconds=1)
    add_shift(client, "db", "dave", iso(START - timedelta(hours=1)), iso(START + timedelta(hours=3)))
    manual_clock.advance(seconds=1)
    add_shift(client, "db", "erin", iso(START - timedelta(hours=2)), iso(START + timedelta(hours=1)))
    assert current_on_call(client, "db")["user"] == "carol"
    assert trigger_ok(client, "db", "one")["assigned_to"] == "carol"

    manual_clock.advance(seconds=1)
    first_override = on_call_now(client, "db", "olivia", hours=5, is_override=True)
    manual_clock.advance(seconds=1)
    on_call_now(client, "db", "oscar", hours=2, is_override=True)

    answer = current_on_call(client, "db")
    assert answer["user"] == "olivia"
    assert answer["schedule_id"] == first_override["id"]
    assert answer["is_override"] is True
    assert trigger_ok(client, "db", "two")["assigned_to"] == "olivia"
    assert current_on_call(client, "web")["user"] is None


def test_bad_shift_input_and_current_without_service_are_400(client):
    cases = [
        ({"start_time": "2026-03-01T12:00:00"}, "start_time"),
        ({"end_time": "2026-03-01T18:00:00"}, "end_time"),
        ({"start_time": "tomorrow"}, "start_time"),
        ({"end_time": "2026-03-01T11:00:00Z"}, "end_time"),
        ({"end_time": "2026-03-01T12:00:00Z"}, "end_time"),
        ({"user": ""}, "user"),
        ({"is_override": "yes"}, "is_override"),
    ]
    for change, field in cases:
        body = {
            "service_name": "db",
            "user": "alice",
            "start_time": "2026-03-01T12:00:00Z",
            "end_time": "2026-03-01T18:00:00Z",
            **change,
        }
        response = post(client, "/api/oncall/schedules/", body)
        assert response.status_code == 400, (change, response.body)
        assert response.json_body["field"] == field, change
        assert response.json_body["code"] == "invalid_input"
    assert list_schedules(client, "?include_ended=true")["schedules"] == []

    for path in ("/api/oncall/current/", "/api/oncall/current?service_name=", "/api/oncall/current?service_name=%20"):
        response = client.http.get(path)
        assert response.status_code == 400, path
        assert response.json_body["field"] == "service_name"


def test_escalation_levels_create_conflict_list_and_delete(client):
    first = add_level(client, "db", 1, user="bob", channel="sms")
    assert first.status_code == 201
    created = first.json_body
    assert HEX_ID.fullmatch(created["id"])
    assert (created["service_name"], created["level"], created["user"]) == ("db", 1, "bob")
    assert created["notification_channel"] == "sms"
    assert created["created_at"] == "2026-03-01T12:00:00.000Z"

    assert add_level(client, "db", 3).status_code == 201
    assert add_level(client, "db", 2, user="carol").status_code == 201
    assert add_level(client, "web", 1).status_code == 201
    duplicate = add_level(client, "db", 1, user="mallory")
    assert duplicate.status_code == 409
    assert duplicate.json_body["code"] == "conflict"
    assert duplicate.json_body["field"] == "level"
    for bad_level in (0, 101, "1", 1.5):
        response = add_level(client, "db", bad_level)
        assert response.status_code == 400, bad_level
        assert response.json_body["field"] == "level"

    listed = get_json(client, "/api/escalation/levels/?service_name=db")
    assert [(item["level"], item["user"]) for item in listed["levels"]] == [(1, "bob"), (2, "carol"), (3, None)]
    assert listed["next_cursor"] is None
    every = all_pages(client, "/api/escalation/levels/", "levels", "limit=2")
    assert [(item["service_name"], item["level"]) for page in every for item in page] == [
        ("db", 1),
        ("db", 2),
        ("db", 3),
        ("web", 1),
    ]

    assert client.http.delete(f"/api/escalation/levels/{created['id']}/").status_code == 204
    assert client.http.delete(f"/api/escalation/levels/{created['id']}/").status_code == 404
    assert client.http.delete("/api/escalation/levels/not-an-id/").status_code == 400
    remaining = get_json(client, "/api/escalation/levels?service_name=db")["levels"]
    assert [item["level"] for item in remaining] == [2, 3]
    assert add_level(client, "db", 1, user="bob").status_code == 201


def test_concurrent_deletes_of_one_shift_or_level_delete_it_once_and_then_404(client, requests_made):
    shift_id = on_call_now(client, "db", "alice")["id"]
    level_id = add_level(client, "db", 1, user="bob").json_body["id"]

    for delete, public_id in ((oncall.delete_shift, shift_id), (policy.delete_level, level_id)):
        with requests_made.measure() as calls:
            results, errors = run_threads([lambda delete=delete, public_id=public_id: delete(public_id)] * 12)
        # A delete that found the item and then lost the race to another answers as a
        # delete (the item is gone, as asked); one that did not find it answers 404.
        failures = [error for error in errors if error is not None]
        assert len(failures) <= 11, errors
        assert all(isinstance(error, NotFound) for error in failures), [type(error).__name__ for error in failures]
        assert calls["DeleteItem"] == 12 - len(failures)
        with pytest.raises(NotFound):
            delete(public_id)

    assert get_json(client, "/api/oncall/current?service_name=db")["user"] is None
    assert get_json(client, "/api/escalation/levels?service_name=db")["levels"] == []
