"""The final schedule as iCalendar: events per on-call interval, RFC 5545 escaping and folding."""

from datetime import datetime, timezone

from chalicelib.schedule import ical
from tests.flows import add_rotation

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def interval(start, end, user, source=None, gap=False):
    return {"start": start, "end": end, "user": user, "gap": gap, "source": source}


def unfolded(text: str) -> list[str]:
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    return text.replace("\r\n ", "").split("\r\n")[:-1]


def test_each_interval_with_someone_on_call_is_an_event_and_gaps_are_not():
    text = ical.schedule(
        "payments",
        [
            interval("2026-03-01T08:00:00.000Z", "2026-03-02T08:00:00.000Z", "alice", {"kind": "shift", "id": "a"}),
            interval("2026-03-02T08:00:00.000Z", "2026-03-02T09:00:00.000Z", None, gap=True),
            interval("2026-03-02T09:00:00.000Z", "2026-03-03T08:00:00.000Z", "bob", {"kind": "override", "id": "b"}),
        ],
        NOW,
    )
    lines = unfolded(text)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert lines.count("BEGIN:VEVENT") == 2
    assert "DTSTART:20260301T080000Z" in lines and "DTEND:20260302T080000Z" in lines
    assert "SUMMARY:On call for payments: bob" in lines
    assert len({line for line in lines if line.startswith("UID:")}) == 2


def test_text_is_escaped_and_long_lines_are_folded_between_characters():
    name = "ops; night, shift\\x\n" + "é" * 80
    source = {"kind": "rotation", "id": "c", "name": name, "layer": 1}
    text = ical.schedule("payments", [interval("2026-03-01T00:00:00Z", "2026-03-01T01:00:00Z", "ü" * 60, source)], NOW)
    for physical in text.split("\r\n"):
        assert len(physical.encode()) <= 75
    lines = unfolded(text)
    description = next(line for line in lines if line.startswith("DESCRIPTION:"))
    assert description == "DESCRIPTION:From the rotation ops\\; night\\, shift\\\\x\\n" + "é" * 80
    assert "SUMMARY:On call for payments: " + "ü" * 60 in lines


def test_the_route_answers_the_service_schedule_as_a_calendar(client):
    assert add_rotation(client, "payments").status_code == 201
    response = client.http.get(
        "/api/oncall/shifts.ics?service_name=payments&from=2026-03-01T08:00:00Z&to=2026-03-03T08:00:00Z"
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    lines = unfolded(response.body.decode())
    assert [line for line in lines if line.startswith("SUMMARY:")] == [
        "SUMMARY:On call for payments: alice",
        "SUMMARY:On call for payments: bob",
    ]
    bad = client.http.get("/api/oncall/shifts.ics?service_name=payments&from=yesterday")
    assert bad.status_code == 400 and bad.json_body["field"] == "from"
