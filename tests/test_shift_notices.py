""" "You are on call" notices: one message before someone's turn starts (a shift or a
rotation's handoff), by their most immediate high-urgency method, once however many
passes run."""

from datetime import timedelta

from chalicelib import clock
from chalicelib.notify import shift_notices
from tests.flows import add_shift, post, run_threads
from tests.messages import sent_sms
from tests.test_pages import email_sender, person  # noqa: F401 (email_sender: a fixture)

NUMBER = "+14155550100"


def notices_to(number=NUMBER) -> list[str]:
    return [text for to, text in sent_sms() if to == number and "you are on call" in text]


def shift_from(client, service, user, minutes, hours=8):
    start = clock.now() + timedelta(minutes=minutes)
    response = add_shift(client, service, user, clock.iso(start), clock.iso(start + timedelta(hours=hours)))
    assert response.status_code == 201, response.body


def test_a_turn_starting_within_the_hour_is_noticed_once(client, manual_clock):
    person(client, "alice", sms=NUMBER, time_zone="Europe/Berlin")
    shift_from(client, "payments", "alice", minutes=90)
    assert shift_notices.run() == {"noticed": 0}  # 90 minutes away: not yet

    manual_clock.advance(seconds=31 * 60)
    results, errors = run_threads([shift_notices.run] * 4)
    assert errors == [None] * 4 and sum(r["noticed"] for r in results) == 1
    # The tests' clock starts at 12:00 UTC: the turn starts at 13:30 UTC, 14:30 in Berlin.
    assert notices_to() == ["oncall: you are on call for payments from Sun 14:30 (Europe/Berlin)."]
    manual_clock.advance(seconds=10 * 60)
    assert shift_notices.run() == {"noticed": 0}
    assert len(notices_to()) == 1


def test_a_rotation_handoff_is_noticed_and_a_continuing_turn_is_not(client, manual_clock):
    person(client, "alice", sms=NUMBER)
    person(client, "bob", sms="+14155550101")
    rotation = {
        "service_name": "search",
        "name": "primary",
        "participants": ["alice", "bob"],
        "shift_length": 1,
        "shift_unit": "hours",
        "handoff_time": "12:30",
        "time_zone": "UTC",
        "start_date": "2026-03-01",
    }
    assert post(client, "/api/oncall/rotations/", rotation).status_code == 201
    # 12:00: the first handoff is at 12:30, to alice, the next at 13:30, to bob.
    assert shift_notices.run() == {"noticed": 1}
    assert len(notices_to()) == 1 and notices_to("+14155550101") == []
    manual_clock.advance(seconds=45 * 60)
    assert shift_notices.run() == {"noticed": 1}
    assert len(notices_to("+14155550101")) == 1 and len(notices_to()) == 1


def test_someone_with_no_way_to_be_told_is_skipped(client, manual_clock):
    post(client, "/api/users/", {"name": "erin"})
    shift_from(client, "payments", "erin", minutes=30)
    assert shift_notices.run() == {"noticed": 0}
