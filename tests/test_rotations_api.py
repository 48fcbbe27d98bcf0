"""Rotations over HTTP: create, list, delete and validate them; who is on call at any
instant; the final schedule across daylight-saving changes, written out by hand; and
incidents assigned to a rotation's holder within the new-incident request budget."""

import re
from urllib.parse import quote

import pytest

from chalicelib import signing
from chalicelib.apikey import access
from chalicelib.config import settings
from tests.flows import add_shift, all_pages, get_json, post, trigger
from tests.test_round_trips import NEW_INCIDENT

HEX_ID = re.compile(r"[0-9a-f]{32}")


def rotation_body(service="db", name="primary", **fields) -> dict:
    body = {
        "service_name": service,
        "name": name,
        "participants": ["alice", "bob", "carol"],
        "shift_length": 1,
        "shift_unit": "days",
        "handoff_time": "09:00",
        "time_zone": "America/New_York",
        "start_date": "2026-02-27",
    }
    body.update(fields)
    return body


def add_rotation(client, service="db", name="primary", **fields) -> dict:
    response = post(client, "/api/oncall/rotations", rotation_body(service, name, **fields))
    assert response.status_code == 201, response.body
    return response.json_body


def final(client, service, start, end) -> list[dict]:
    body = get_json(client, f"/api/oncall/shifts?service_name={service}&from={quote(start)}&to={quote(end)}")
    assert (body["service_name"], body["from"], body["to"]) == (service, start, end)
    return body["intervals"]


def who(intervals) -> list[tuple]:
    return [(i["start"], i["end"], i["user"], i["gap"]) for i in intervals]


def current(client, service, at=None) -> dict:
    suffix = f"&at={quote(at)}" if at else ""
    return get_json(client, f"/api/oncall/current?service_name={service}{suffix}")


# --- create, list, delete ---------------------------------------------------------------------------


def test_create_list_paginate_and_delete_rotations(client):
    created = post(
        client,
        "/api/oncall/rotations/",
        rotation_body(
            layer=3,
            shift_unit="weeks",
            shift_length=2,
            handoff_weekday="monday",
            restrictions=[{"weekdays": ["saturday", "sunday"], "start": "22:00", "end": "06:00"}],
        ),
    )
    assert created.status_code == 201, created.body
    body = created.json_body
    assert HEX_ID.fullmatch(body["id"])
    assert body == {
        "id": body["id"],
        "service_name": "db",
        "name": "primary",
        "layer": 3,
        "participants": ["alice", "bob", "carol"],
        "shift_length": 2,
        "shift_unit": "weeks",
        "handoff_time": "09:00",
        "handoff_weekday": "monday",
        "time_zone": "America/New_York",
        "start_date": "2026-02-27",
        "restrictions": [{"weekdays": ["saturday", "sunday"], "start": "22:00", "end": "06:00"}],
        "created_at": "2026-03-01T12:00:00.000Z",
    }
    defaults = add_rotation(client, "db", "secondary")
    assert (defaults["layer"], defaults["handoff_weekday"], defaults["restrictions"]) == (1, None, [])
    third = add_rotation(client, "db", "tertiary")
    web = [add_rotation(client, "web", f"web-{n}")["id"] for n in range(2)]
    # A shift in the same partition is not a rotation.
    assert add_shift(client, "db", "sam", "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z").status_code == 201

    db_pages = all_pages(client, "/api/oncall/rotations", "rotations", "service_name=db&limit=2")
    assert [len(page) for page in db_pages] == [2, 1]
    db_items = [item for page in db_pages for item in page]
    assert sorted(item["name"] for item in db_items) == ["primary", "secondary", "tertiary"]
    assert {item["id"] for item in db_items} == {body["id"], defaults["id"], third["id"]}
    assert next(item for item in db_items if item["id"] == body["id"]) == body

    every = all_pages(client, "/api/oncall/rotations", "rotations", "limit=2")
    assert [len(page) for page in every] == [2, 2, 1]
    assert sorted(item["service_name"] for page in every for item in page) == ["db", "db", "db", "web", "web"]
    assert get_json(client, "/api/oncall/rotations?service_name=nothing-here") == {
        "rotations": [],
        "next_cursor": None,
    }

    assert client.http.delete(f"/api/oncall/rotations/{body['id']}").status_code == 204
    again = client.http.delete(f"/api/oncall/rotations/{body['id']}/")
    assert again.status_code == 404
    assert again.json_body["code"] == "not_found"
    for bad in ("abc", body["id"].upper()):
        assert client.http.delete(f"/api/oncall/rotations/{bad}").status_code == 400, bad
    remaining = get_json(client, "/api/oncall/rotations?service_name=db")["rotations"]
    assert {item["id"] for item in remaining} == {defaults["id"], third["id"]}
    assert len(get_json(client, "/api/oncall/rotations?service_name=web")["rotations"]) == len(web)
    # The shift is still there, and deleting a rotation by a shift's id is not found.
    assert len(get_json(client, "/api/oncall/schedules?service_name=db")["schedules"]) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
        ({"time_zone": "EST5EDT/../../etc"}, "time_zone"),
        ({"time_zone": ""}, "time_zone"),
        ({"handoff_time": "24:00"}, "handoff_time"),
        ({"handoff_time": "9:00"}, "handoff_time"),
        ({"handoff_time": "09:60"}, "handoff_time"),
        ({"handoff_weekday": "monday"}, "handoff_weekday"),
        ({"shift_unit": "weeks", "handoff_weekday": "someday"}, "handoff_weekday"),
        ({"participants": []}, "participants"),
        ({"participants": [""]}, "participants.0"),
        ({"start_date": "1969-12-31"}, "start_date"),
        ({"start_date": "2100-01-01"}, "start_date"),
        ({"start_date": "2026-02-30"}, "start_date"),
        ({"start_date": "2026-3-1"}, "start_date"),
        ({"colour": "blue"}, "colour"),
        ({"shift_unit": "months"}, "shift_unit"),
        ({"shift_length": 0}, "shift_length"),
        ({"layer": 0}, "layer"),
        ({"restrictions": [{"weekdays": ["funday"], "start": "09:00", "end": "17:00"}]}, "restrictions.0.weekdays.0"),
        ({"restrictions": [{"weekdays": [], "start": "09:00", "end": "17:00"}]}, "restrictions.0.weekdays"),
        ({"restrictions": [{"weekdays": ["monday"], "start": "09:00", "end": "25:00"}]}, "restrictions.0.end"),
        ({"restrictions": [{"weekdays": ["monday"], "start": "09:00"}]}, "restrictions.0.end"),
    ],
)
def test_bad_rotations_are_400_naming_the_field(client, change, field):
    response = post(client, "/api/oncall/rotations", rotation_body(**change))
    assert response.status_code == 400, response.body
    assert response.json_body["code"] == "invalid_input"
    assert response.json_body["field"] == field
    assert get_json(client, "/api/oncall/rotations")["rotations"] == []


def test_a_responder_reads_rotations_and_schedules_but_does_not_change_them(client):
    created = add_rotation(client)
    responder = client.as_user("alice")
    assert get_json(responder, "/api/oncall/rotations")["rotations"][0]["id"] == created["id"]
    assert get_json(responder, "/api/oncall/current?service_name=db")["user"] == "bob"
    assert get_json(responder, "/api/oncall/shifts?service_name=db")["intervals"]
    refused = post(responder, "/api/oncall/rotations", rotation_body(name="mine"))
    assert refused.status_code == 403
    assert refused.json_body["code"] == "forbidden"
    assert responder.http.delete(f"/api/oncall/rotations/{created['id']}").status_code == 403
    assert client.anonymous.get("/api/oncall/rotations").status_code == 401
    assert len(get_json(client, "/api/oncall/rotations")["rotations"]) == 1


# --- who is on call at an instant -------------------------------------------------------------------


def test_current_at_past_and_future_instants_with_until_and_source(client):
    # alice, bob, carol daily at 09:00 New York from 2026-02-27; the clocks go forward 2026-03-08.
    rotation = add_rotation(client)
    source = {"kind": "rotation", "id": rotation["id"], "name": "primary", "layer": 1}

    now = current(client, "db")
    assert now == {
        "service_name": "db",
        "at": "2026-03-01T12:00:00.000Z",
        "user": "bob",
        "schedule_id": rotation["id"],
        "is_override": False,
        "source": source,
        "until": "2026-03-01T14:00:00.000Z",
    }
    before = current(client, "db", "2026-02-27T13:59:59.999Z")
    assert (before["user"], before["source"], before["until"]) == (None, None, "2026-02-27T14:00:00.000Z")
    first = current(client, "db", "2026-02-27T14:00:00Z")
    assert (first["user"], first["until"]) == ("alice", "2026-02-28T14:00:00.000Z")
    # carol from Saturday 2026-03-07 09:00 EST (14:00Z) to Sunday 09:00 EDT (13:00Z): 23 hours.
    saturday = current(client, "db", "2026-03-07T20:00:00-05:00")
    assert (saturday["at"], saturday["user"], saturday["until"]) == (
        "2026-03-08T01:00:00.000Z",
        "carol",
        "2026-03-08T13:00:00.000Z",
    )
    sunday = current(client, "db", "2026-03-08T13:00:00Z")
    assert (sunday["user"], sunday["until"]) == ("alice", "2026-03-09T13:00:00.000Z")
    # Far in the future: 2099-12-31T13:00Z is 08:00 EST, in the shift handed off 2099-12-30 09:00,
    # 26969 days after 2026-02-27: shift 26969, and 26969 % 3 == 2 (carol).
    future = current(client, "db", "2099-12-31T13:00:00Z")
    assert (future["user"], future["until"], future["source"]) == ("carol", "2099-12-31T14:00:00.000Z", source)

    solo = add_rotation(client, "solo", "solo", participants=["sam"], start_date="1970-01-01")
    forever = current(client, "solo", "2099-06-01T00:00:00Z")
    assert (forever["user"], forever["schedule_id"], forever["until"]) == ("sam", solo["id"], None)

    for bad in ("yesterday", "2026-03-01T12:00:00", "1969-12-31T23:59:59Z"):
        response = client.http.get(f"/api/oncall/current?service_name=db&at={quote(bad)}")
        assert response.status_code == 400, bad
        assert response.json_body["field"] == "at"


# --- the final schedule -------------------------------------------------------------------------------


def test_final_schedule_across_spring_forward_in_new_york_with_a_handoff_in_the_skipped_hour(client):
    # Handoff at 02:30, which 2026-03-08 skips (02:00 EST -> 03:00 EDT at 07:00Z): that day at the jump.
    rotation = add_rotation(client, handoff_time="02:30", start_date="2026-03-06")
    intervals = final(client, "db", "2026-03-06T00:00:00.000Z", "2026-03-10T12:00:00.000Z")
    assert who(intervals) == [
        ("2026-03-06T00:00:00.000Z", "2026-03-06T07:30:00.000Z", None, True),
        ("2026-03-06T07:30:00.000Z", "2026-03-07T07:30:00.000Z", "alice", False),
        ("2026-03-07T07:30:00.000Z", "2026-03-08T07:00:00.000Z", "bob", False),
        ("2026-03-08T07:00:00.000Z", "2026-03-09T06:30:00.000Z", "carol", False),
        ("2026-03-09T06:30:00.000Z", "2026-03-10T06:30:00.000Z", "alice", False),
        ("2026-03-10T06:30:00.000Z", "2026-03-10T12:00:00.000Z", "bob", False),
    ]
    assert intervals[0]["source"] is None
    assert all(i["source"]["id"] == rotation["id"] for i in intervals[1:])


def test_final_schedule_across_fall_back_in_berlin_with_a_handoff_in_the_repeated_hour(client):
    # Every 8 hours from 02:30 Berlin; 2026-10-25 repeats 02:00-03:00 (CEST -> CET at 01:00Z):
    # 02:30 is its first occurrence (00:30Z), and that day's 10:30 is 9 hours later.
    add_rotation(
        client,
        "api",
        participants=["anna", "ben"],
        shift_length=8,
        shift_unit="hours",
        handoff_time="02:30",
        time_zone="Europe/Berlin",
        start_date="2026-10-24",
    )
    intervals = final(client, "api", "2026-10-24T20:00:00.000Z", "2026-10-26T12:00:00.000Z")
    assert who(intervals) == [
        ("2026-10-24T20:00:00.000Z", "2026-10-25T00:30:00.000Z", "anna", False),
        ("2026-10-25T00:30:00.000Z", "2026-10-25T09:30:00.000Z", "ben", False),
        ("2026-10-25T09:30:00.000Z", "2026-10-25T17:30:00.000Z", "anna", False),
        ("2026-10-25T17:30:00.000Z", "2026-10-26T01:30:00.000Z", "ben", False),
        ("2026-10-26T01:30:00.000Z", "2026-10-26T09:30:00.000Z", "anna", False),
        ("2026-10-26T09:30:00.000Z", "2026-10-26T12:00:00.000Z", "ben", False),
    ]
    assert current(client, "api", "2026-10-25T01:30:00Z")["user"] == "ben"  # 02:30 CET, the repeat


def test_restricted_rotation_leaves_gaps_and_overrides_and_shifts_combine(client):
    # Weekends 09:00-17:00 New York; 2026-03-08 (Sunday) is in daylight time.
    weekend = add_rotation(
        client,
        "db",
        "weekend",
        participants=["wes"],
        start_date="2026-03-01",
        restrictions=[{"weekdays": ["saturday", "sunday"], "start": "09:00", "end": "17:00"}],
    )
    span = ("2026-03-07T00:00:00.000Z", "2026-03-09T00:00:00.000Z")
    alone = final(client, "db", *span)
    assert who(alone) == [
        ("2026-03-07T00:00:00.000Z", "2026-03-07T14:00:00.000Z", None, True),
        ("2026-03-07T14:00:00.000Z", "2026-03-07T22:00:00.000Z", "wes", False),
        ("2026-03-07T22:00:00.000Z", "2026-03-08T13:00:00.000Z", None, True),
        ("2026-03-08T13:00:00.000Z", "2026-03-08T21:00:00.000Z", "wes", False),
        ("2026-03-08T21:00:00.000Z", "2026-03-09T00:00:00.000Z", None, True),
    ]
    assert [i["source"] for i in alone if i["gap"]] == [None, None, None]

    plain = add_shift(client, "db", "sam", span[0], span[1]).json_body
    override = add_shift(
        client, "db", "olga", "2026-03-07T20:00:00Z", "2026-03-08T02:00:00Z", is_override=True
    ).json_body
    combined = final(client, "db", *span)
    assert [(i["start"], i["end"], i["user"], i["source"]["kind"], i["source"]["id"]) for i in combined] == [
        ("2026-03-07T00:00:00.000Z", "2026-03-07T14:00:00.000Z", "sam", "shift", plain["id"]),
        ("2026-03-07T14:00:00.000Z", "2026-03-07T20:00:00.000Z", "wes", "rotation", weekend["id"]),
        ("2026-03-07T20:00:00.000Z", "2026-03-08T02:00:00.000Z", "olga", "override", override["id"]),
        ("2026-03-08T02:00:00.000Z", "2026-03-08T13:00:00.000Z", "sam", "shift", plain["id"]),
        ("2026-03-08T13:00:00.000Z", "2026-03-08T21:00:00.000Z", "wes", "rotation", weekend["id"]),
        ("2026-03-08T21:00:00.000Z", "2026-03-09T00:00:00.000Z", "sam", "shift", plain["id"]),
    ]
    assert not any(i["gap"] for i in combined)
    at_override = current(client, "db", "2026-03-07T21:00:00Z")
    assert (at_override["user"], at_override["is_override"], at_override["until"]) == (
        "olga",
        True,
        "2026-03-08T02:00:00.000Z",
    )
    after = current(client, "db", "2026-03-08T02:00:00Z")
    assert (after["user"], after["source"]["kind"], after["until"]) == ("sam", "shift", "2026-03-08T13:00:00.000Z")


def test_the_higher_layer_wins_while_active_whatever_the_creation_order(client):
    upper = add_rotation(
        client,
        "api",
        "business-hours",
        layer=2,
        participants=["ute"],
        handoff_time="08:00",
        time_zone="Europe/Berlin",
        start_date="2026-10-01",
        restrictions=[
            {"weekdays": ["monday", "tuesday", "wednesday", "thursday", "friday"], "start": "08:00", "end": "18:00"}
        ],
    )
    lower = add_rotation(
        client,
        "api",
        "follow-the-sun",
        participants=["lena"],
        shift_unit="weeks",
        handoff_time="10:00",
        time_zone="Europe/Berlin",
        start_date="2026-10-01",
    )
    # Monday 2026-10-26, the day after Berlin's clocks went back (CET, +01:00), and Sunday before it.
    intervals = final(client, "api", "2026-10-24T22:00:00.000Z", "2026-10-26T23:00:00.000Z")
    assert [(i["start"], i["end"], i["user"], i["source"]["layer"], i["source"]["id"]) for i in intervals] == [
        ("2026-10-24T22:00:00.000Z", "2026-10-26T07:00:00.000Z", "lena", 1, lower["id"]),
        ("2026-10-26T07:00:00.000Z", "2026-10-26T17:00:00.000Z", "ute", 2, upper["id"]),
        ("2026-10-26T17:00:00.000Z", "2026-10-26T23:00:00.000Z", "lena", 1, lower["id"]),
    ]
    # Friday 2026-10-23 is still summer time (+02:00).
    friday = final(client, "api", "2026-10-23T00:00:00.000Z", "2026-10-24T00:00:00.000Z")
    assert who(friday) == [
        ("2026-10-23T00:00:00.000Z", "2026-10-23T06:00:00.000Z", "lena", False),
        ("2026-10-23T06:00:00.000Z", "2026-10-23T16:00:00.000Z", "ute", False),
        ("2026-10-23T16:00:00.000Z", "2026-10-24T00:00:00.000Z", "lena", False),
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", "to"),
        ("from=2026-03-01T00:00:00Z&to=2026-03-01T00:00:00Z", "to"),
        ("from=2026-03-01T00:00:00Z&to=2026-06-01T00:00:01Z", "to"),
        ("from=yesterday&to=2026-03-01T00:00:00Z", "from"),
        ("from=2026-03-01T00:00:00Z&to=2026-03-02", "to"),
        ("from=2026-03-01T00:00:00&to=2026-03-02T00:00:00Z", "from"),
        ("from=2026-03-01T00:00:00Z&to=2100-01-02T00:00:00Z", "to"),
    ],
)
def test_bad_final_schedule_spans_are_400_naming_the_field(client, query, field):
    response = client.http.get(f"/api/oncall/shifts?service_name=db&{query.replace('+', '%2B')}")
    assert response.status_code == 400, response.body
    assert response.json_body["field"] == field


def test_final_schedule_spans_up_to_92_days_and_defaults_to_14_days_from_now(client):
    add_rotation(client, participants=["sam"], start_date="2026-01-01")
    longest = final(client, "db", "2026-03-01T00:00:00.000Z", "2026-06-01T00:00:00.000Z")
    assert who(longest) == [("2026-03-01T00:00:00.000Z", "2026-06-01T00:00:00.000Z", "sam", False)]
    default = get_json(client, "/api/oncall/shifts?service_name=db")
    assert (default["from"], default["to"]) == ("2026-03-01T12:00:00.000Z", "2026-03-15T12:00:00.000Z")
    assert who(default["intervals"]) == [("2026-03-01T12:00:00.000Z", "2026-03-15T12:00:00.000Z", "sam", False)]
    nothing = final(client, "empty", "2026-03-01T00:00:00.000Z", "2026-03-02T00:00:00.000Z")
    assert nothing == [
        {
            "start": "2026-03-01T00:00:00.000Z",
            "end": "2026-03-02T00:00:00.000Z",
            "user": None,
            "gap": True,
            "source": None,
        }
    ]


# --- incidents are assigned to the rotation's holder -------------------------------------------------


@pytest.fixture
def warm(client, monkeypatch):
    """The admin's key verified and cached and the cursor secret read, as in a warm process."""
    monkeypatch.setenv("ONCALL_KEY_CACHE_SECONDS", "60")
    settings.cache_clear()
    assert settings().key_cache_seconds == 60
    assert client.http.get("/api/me").status_code == 200
    signing.CURSORS.sign(b"")
    yield
    access.forget_keys()
    monkeypatch.delenv("ONCALL_KEY_CACHE_SECONDS")
    settings.cache_clear()


def test_trigger_assigns_the_rotation_holder_in_a_new_incidents_requests(client, warm, requests_made, manual_clock):
    add_rotation(client, "payments")  # bob until 2026-03-01T14:00Z, then carol
    assert add_shift(client, "payments", "sam", "2026-03-01T00:00:00Z", "2026-03-03T00:00:00Z").status_code == 201
    add_rotation(
        client,
        "payments",
        "nights",
        layer=2,
        participants=["nina"],
        restrictions=[{"weekdays": ["sunday"], "start": "22:00", "end": "06:00"}],
    )

    def opened(title):
        with requests_made.measure() as calls:
            response = trigger(client, "payments", title)
        assert response.status_code == 201, response.body
        assert calls == NEW_INCIDENT
        return response.json_body["assigned_to"]

    assert opened("card declines spiking") == "bob"
    manual_clock.advance(hours=2)
    client.http.get("/api/me")
    assert opened("latency") == "carol"
    # Sunday 22:00 EST is 03:00Z Monday: the night layer wins over the daily one.
    manual_clock.advance(hours=13)
    client.http.get("/api/me")
    assert opened("overnight") == "nina"
    override = add_shift(client, "payments", "olga", "2026-03-02T02:00:00Z", "2026-03-02T04:00:00Z", is_override=True)
    assert override.status_code == 201, override.body
    assert opened("overridden") == "olga"
