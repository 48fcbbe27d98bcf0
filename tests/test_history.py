"""An incident's transitions wait on its item only until the outbox hands them to the
channels; then they live in the timeline table, and the item no longer grows with
its history (chalicelib/incident/timeline.py, chalicelib/notify/outbox.py)."""

from collections import Counter

from chalicelib import clock, itemsize
from chalicelib.incident import incidents, timeline
from chalicelib.models import Incident
from chalicelib.notify import delivery, outbox
from tests import dynamo
from tests.faults import Script
from tests.flows import acknowledge, get_incident, on_call_now, post, resolve, trigger_ok
from tests.test_notifications import webhook

TRANSITIONS = {"triggered", "acknowledged", "reassigned", "resolved", "escalated"}


def transitions_shown(client, number: int) -> list[str]:
    return [entry["kind"] for entry in get_incident(client, number)["timeline"] if entry["kind"] in TRANSITIONS]


def reassign(client, number: int, user: str):
    return post(client, f"/api/incidents/{number}/reassign/", {"user": user})


def test_handed_transitions_leave_the_item_and_the_timeline_shows_each_once_in_order(client, receivers):
    webhook(client, "payments", receivers())
    number = trigger_ok(client, "payments", "card declines")["id"]
    delivery.run()
    assert reassign(client, number, "bob").status_code == 200
    assert acknowledge(client, number, "bob").status_code == 200
    delivery.run()
    assert resolve(client, number, "bob").status_code == 200
    delivery.run()

    stored = Incident.get(number)
    assert (stored.events, stored.notified_events, stored.event_count) == ([], 4, 4)
    assert (stored.handed_status, stored.handed_assignee) == ("RESOLVED", "bob")
    assert stored.outbox_partition is None
    assert transitions_shown(client, number) == ["triggered", "reassigned", "acknowledged", "resolved"]


def test_messages_handed_one_run_at_a_time_say_what_was_true_at_their_event(client, receivers):
    hook = receivers()
    webhook(client, "payments", hook)
    on_call_now(client, "payments", "alice")
    number = trigger_ok(client, "payments", "card declines")["id"]
    delivery.run()
    assert reassign(client, number, "bob").status_code == 200
    delivery.run()
    assert acknowledge(client, number, "bob").status_code == 200
    assert reassign(client, number, "carol").status_code == 200
    delivery.run()
    assert resolve(client, number, "carol").status_code == 200
    delivery.run()

    said = [(body["event"], body["incident"]["status"], body["incident"]["assigned_to"]) for body in hook.bodies()]
    assert said == [
        ("incident.triggered", "TRIGGERED", "alice"),
        ("incident.reassigned", "TRIGGERED", "bob"),
        ("incident.acknowledged", "ACKNOWLEDGED", "bob"),
        ("incident.reassigned", "ACKNOWLEDGED", "carol"),
        ("incident.resolved", "RESOLVED", "carol"),
    ]
    assert [body["event_id"] for body in hook.bodies()] == [f"{number}-{n}" for n in range(5)]


def test_a_history_read_that_a_move_overtakes_shows_the_transition_once(client):
    number = trigger_ok(client, "payments", "card declines")["id"]
    acknowledge(client, number)
    read_before_the_move = incidents.get_item(number)
    assert len(read_before_the_move.events) == 2
    delivery.run()
    assert Incident.get(number).events == []

    kinds = Counter(entry["kind"] for entry in timeline.history(read_before_the_move))
    assert (kinds["triggered"], kinds["acknowledged"]) == (1, 1)


def test_a_lost_answer_whose_transition_was_handed_over_meanwhile_is_answered_as_the_success_it_was(
    client, faults, monkeypatch
):
    number = trigger_ok(client, "payments", "card declines")["id"]

    def hand_over():
        # In the caller's thread: the emulator's lock is held while the fault is served.
        with dynamo.interceptor_off():
            outbox.dispatch(Incident.get(number, consistent_read=True), [], clock.now())

    monkeypatch.setattr(dynamo, "interceptor", Script([("UpdateItem", "lost")], between=hand_over))
    answer = post(client, f"/api/incidents/{number}/acknowledge/")
    monkeypatch.setattr(dynamo, "interceptor", None)

    assert answer.status_code == 200, answer.body
    assert answer.json_body["status"] == "ACKNOWLEDGED"
    assert Incident.get(number).events == []
    assert transitions_shown(client, number) == ["triggered", "acknowledged"]


def test_the_item_stays_the_same_size_however_long_the_history(client):
    number = trigger_ok(client, "payments", "card declines")["id"]
    delivery.run()
    sizes = []
    for n in range(60):
        assert reassign(client, number, f"responder-{n}").status_code == 200
        delivery.run()
        stored = Incident.get(number)
        sizes.append(itemsize.item_size(stored.serialize()))
    # Only the assignee's name changes length (responder-9 to responder-10).
    assert max(sizes) - min(sizes) <= 2
    assert timeline.transitions(Incident.get(number)) == 61
    assert transitions_shown(client, number).count("reassigned") == 60
