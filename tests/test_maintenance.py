"""Maintenance windows: incidents opened during one page nobody, announce nowhere and
escalate never while it lasts; once it is over nothing is paged for the past, and an
incident still open escalates from then."""

from datetime import timedelta

import pytest

from chalicelib import clock
from chalicelib.errors import Busy
from chalicelib.incident import incidents
from chalicelib.maintenance import windows
from chalicelib.models import Delivery, Incident, MaintenanceWindow
from chalicelib.notify import delivery
from tests.flows import (
    acknowledge,
    add_level,
    all_pages,
    check_escalations,
    get_incident,
    on_call_now,
    post,
    resolve,
    right_after,
    run_threads,
    trigger,
    trigger_ok,
)
from tests.messages import sent_sms
from tests.receivers import Receiver
from tests.test_pages import email_sender, person  # noqa: F401 (email_sender: a fixture used by person)

WINDOWS = "/api/maintenance/"


def window(client, service="payments", *, starts_in=0, lasts=3600, reason="database upgrade", expect=201) -> dict:
    now = clock.now()
    body = {
        "service_name": service,
        "start": clock.iso(now + timedelta(seconds=starts_in)),
        "end": clock.iso(now + timedelta(seconds=starts_in + lasts)),
        "reason": reason,
    }
    response = post(client, WINDOWS, body)
    assert response.status_code == expect, response.body
    return response.json_body


def pages_to(number: str) -> list[str]:
    return [text for to, text in sent_sms() if to == number and text.startswith("oncall #")]


def deliveries_of(incident_id: int) -> list[Delivery]:
    return list(Delivery.query(incident_id, consistent_read=True))


def messages(client, incident_id) -> list[str]:
    return [entry["message"] for entry in get_incident(client, incident_id)["timeline"]]


@pytest.fixture
def paged_service(client, receivers):
    """payments: alice on call (SMS), bob at escalation level 1 (SMS), a webhook channel."""
    person(client, "alice", sms="+14155550100")
    person(client, "bob", sms="+14155550101")
    on_call_now(client, "payments", "alice", hours=24)
    assert add_level(client, "payments", 1, user="bob").status_code == 201
    hook: Receiver = receivers()
    made = post(
        client,
        "/api/notifications/channels/",
        {"service_name": "payments", "kind": "webhook", "name": "ops", "url": hook.url},
    )
    assert made.status_code == 201, made.body
    return hook


def test_a_window_is_added_listed_ended_early_and_removed(client, manual_clock):
    now = clock.now()
    active = window(client)
    assert active["state"] == "active"
    assert active["start"] == clock.iso(now) and active["end"] == clock.iso(now + timedelta(hours=1))
    assert active["created_by"] == "admin" and "ended_early_at" not in active
    upcoming = window(client, "search", starts_in=7200, reason="reindex")
    assert upcoming["state"] == "upcoming"

    listed = [w["id"] for page in all_pages(client, WINDOWS, "windows", "limit=1") for w in page]
    assert listed == [active["id"], upcoming["id"]]
    assert [w["id"] for w in client.http.get(f"{WINDOWS}?service_name=search").json_body["windows"]] == [upcoming["id"]]

    manual_clock.advance(seconds=600)
    ended = post(client, f"{WINDOWS}{active['id']}/end")
    assert ended.status_code == 200, ended.body
    assert ended.json_body["state"] == "ended"
    assert ended.json_body["end"] == ended.json_body["ended_early_at"] == clock.iso(clock.now())
    assert ended.json_body["planned_end"] == active["end"]
    # Ending it again answers as the first call did.
    assert post(client, f"{WINDOWS}{active['id']}/end").json_body == ended.json_body
    manual_clock.advance(seconds=1)
    assert [w["id"] for w in client.http.get(WINDOWS).json_body["windows"]] == [upcoming["id"]]
    with_ended = client.http.get(f"{WINDOWS}?include_ended=true").json_body["windows"]
    assert [w["id"] for w in with_ended] == [active["id"], upcoming["id"]]

    # An upcoming window ended now never starts.
    never = post(client, f"{WINDOWS}{upcoming['id']}/end").json_body
    assert never["start"] == never["end"] == clock.iso(clock.now())

    assert client.http.delete(f"{WINDOWS}{active['id']}").status_code == 204
    assert client.http.delete(f"{WINDOWS}{active['id']}").status_code == 404
    assert post(client, f"{WINDOWS}{active['id']}/end").status_code == 404


def test_a_window_over_by_its_own_end_cannot_be_ended_again(client, manual_clock):
    made = window(client, lasts=60)
    manual_clock.advance(seconds=61)
    refused = post(client, f"{WINDOWS}{made['id']}/end")
    assert refused.status_code == 409
    assert "over already" in refused.json_body["error"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"end": "2026-03-01T11:00:00Z"}, "end"),
        ({"start": "2026-03-01T13:00:00Z", "end": "2026-03-01T12:30:00Z"}, "end"),
        ({"end": "2026-04-15T12:00:00Z"}, "end"),
        ({"start": "2027-06-01T12:00:00Z", "end": "2027-06-01T13:00:00Z"}, "start"),
        ({"reason": " "}, "reason"),
        ({"start": "tomorrow"}, "start"),
        ({"service_name": ""}, "service_name"),
        ({"silence": True}, "silence"),
    ],
)
def test_a_bad_window_is_refused_naming_the_field(client, change, field):
    body = {"service_name": "payments", "start": "2026-03-01T12:00:00Z", "end": "2026-03-01T14:00:00Z", "reason": "x"}
    response = post(client, WINDOWS, {**body, **change})
    assert response.status_code == 400, response.body
    assert response.json_body["field"] == field
    assert client.http.get(f"{WINDOWS}?include_ended=true").json_body["windows"] == []


def test_only_admins_add_end_or_remove_windows(client):
    made = window(client)
    responder = client.as_user("alice")
    assert responder.http.get(WINDOWS).status_code == 200
    body = {
        "service_name": "db",
        "start": clock.iso(clock.now()),
        "end": clock.iso(clock.now() + timedelta(hours=1)),
        "reason": "x",
    }
    assert post(responder, WINDOWS, body).status_code == 403
    assert post(responder, f"{WINDOWS}{made['id']}/end").status_code == 403
    assert responder.http.delete(f"{WINDOWS}{made['id']}").status_code == 403


def test_inside_a_window_nothing_pages_or_announces_and_escalation_waits_for_its_end(
    client, manual_clock, paged_service
):
    made = window(client, lasts=3600)
    opened = trigger_ok(client, "payments", "replica lag")
    assert opened["suppressed"] is True and opened["suppressed_by"] == made["id"]
    assert opened["assigned_to"] == "alice"
    assert "suppressed by maintenance" in messages(client, opened["id"])[0]
    assert "database upgrade" in messages(client, opened["id"])[0]

    # Alerts still fold into it; acknowledging nothing, the hour passes in silence.
    folded = trigger(client, "payments", "replica lag")
    assert folded.status_code == 200 and folded.json_body["deduplicated"] is True
    for _ in range(11):
        manual_clock.advance(seconds=300)
        assert check_escalations(client)["escalated"] == 0
        delivery.run()
    detail = get_incident(client, opened["id"])
    assert detail["status"] == "TRIGGERED" and detail["suppressed"] is True
    assert detail["next_escalation"] is None
    assert deliveries_of(opened["id"]) == []
    assert pages_to("+14155550100") == [] and paged_service.all() == []

    # The window is over (at 3600 s): the sweep ends the suppression with one transition
    # that pages whoever has the incident now (nothing for the hour before), and the
    # escalation wait starts then.
    manual_clock.advance(seconds=300)
    assert check_escalations(client)["escalated"] == 0
    detail = get_incident(client, opened["id"])
    assert detail["suppressed"] is False and detail["suppressed_by"] == made["id"]
    resumed = detail["timeline"][-1]
    assert resumed["kind"] == "resumed" and resumed["actor"] == "maintenance"
    assert resumed["message"].startswith("Maintenance is over and the incident is still open: paging alice")
    assert delivery.run()["delivered"] == 2
    [page] = pages_to("+14155550100")
    assert page.startswith(f"oncall #{opened['id']}")
    assert [body["event"] for body in paged_service.bodies()] == ["incident.resumed"]

    manual_clock.advance(seconds=299)
    assert check_escalations(client)["escalated"] == 0
    manual_clock.advance(seconds=1)
    assert check_escalations(client)["incidents"] == [opened["id"]]
    assert delivery.run()["delivered"] == 2
    [page] = pages_to("+14155550101")
    assert page.startswith(f"oncall #{opened['id']}")
    assert len(pages_to("+14155550100")) == 1
    assert [body["event"] for body in paged_service.bodies()] == ["incident.resumed", "incident.escalated"]


def test_ending_a_window_early_starts_the_wait_from_the_end(client, manual_clock, paged_service):
    made = window(client, lasts=4 * 3600)
    opened = trigger_ok(client, "payments", "replica lag")
    manual_clock.advance(seconds=300)
    assert check_escalations(client)["escalated"] == 0
    manual_clock.advance(seconds=60)
    assert post(client, f"{WINDOWS}{made['id']}/end").status_code == 200
    # The sweep looks at it again 300 s after its last look (at 600 s) and finds the
    # window ended at 360 s: the incident escalates at 660 s unless acknowledged.
    manual_clock.advance(seconds=239)
    check_escalations(client)
    assert get_incident(client, opened["id"])["suppressed"] is True
    manual_clock.advance(seconds=1)
    check_escalations(client)
    detail = get_incident(client, opened["id"])
    assert detail["suppressed"] is False
    assert detail["next_escalation"]["at"] == clock.iso(clock.now() + timedelta(seconds=60))
    manual_clock.advance(seconds=59)
    assert check_escalations(client)["escalated"] == 0
    manual_clock.advance(seconds=1)
    assert check_escalations(client)["incidents"] == [opened["id"]]


def test_a_reassignment_racing_the_end_of_the_suppression_is_paged(client, manual_clock, paged_service):
    person(client, "carol", sms="+14155550102")
    window(client, lasts=600)
    opened = trigger_ok(client, "payments", "replica lag")
    manual_clock.advance(seconds=600)
    # Right after the sweep read the incident, it is handed to carol: the sweep's write
    # that ends the suppression must not land over it (carol's event would be silenced).
    reassign = lambda: incidents.reassign(opened["id"], "carol", "alice")  # noqa: E731
    with right_after(Incident, "BatchGetItem", reassign) as raced:
        check_escalations(client)
    assert raced["ran"] and raced["error"] is None
    detail = get_incident(client, opened["id"])
    assert detail["suppressed"] is True
    assert [entry["kind"] for entry in detail["timeline"]] == ["triggered", "reassigned"]
    # Still waiting for the sweep, the reassignment is silenced too: carol is paged once,
    # by the end of the suppression.
    delivery.run()
    assert pages_to("+14155550102") == []
    check_escalations(client)
    detail = get_incident(client, opened["id"])
    assert detail["suppressed"] is False and detail["assigned_to"] == "carol"
    assert [entry["kind"] for entry in detail["timeline"]] == ["triggered", "reassigned", "resumed"]
    delivery.run()
    assert len(pages_to("+14155550102")) == 1 and pages_to("+14155550100") == []


def test_a_window_covers_its_start_and_not_its_end(client, manual_clock):
    made = window(client, starts_in=60, lasts=60)
    manual_clock.advance(seconds=59, microseconds=999_000)
    assert trigger_ok(client, "payments", "before")["suppressed"] is False
    manual_clock.advance(microseconds=1_000)
    at_start = trigger_ok(client, "payments", "at the start")
    assert at_start["suppressed"] is True and at_start["suppressed_by"] == made["id"]
    manual_clock.advance(seconds=59, microseconds=999_000)
    assert trigger_ok(client, "payments", "last instant")["suppressed"] is True
    manual_clock.advance(microseconds=1_000)
    assert trigger_ok(client, "payments", "at the end")["suppressed"] is False


def test_an_acknowledgement_or_a_sources_resolve_inside_a_window_announces_nothing(client, manual_clock, paged_service):
    window(client)
    acked = trigger_ok(client, "payments", "replica lag")
    closed = trigger_ok(client, "payments", "disk", dedup_key="disk-1")
    assert acknowledge(client, acked["id"], "alice").status_code == 200
    resolved = incidents.resolve(closed["id"], "prometheus", by_source=True)
    assert resolved["status"] == "RESOLVED" and resolved["suppressed"] is True
    delivery.run()
    manual_clock.advance(hours=2)
    check_escalations(client)
    delivery.run()
    assert deliveries_of(acked["id"]) == deliveries_of(closed["id"]) == []
    assert paged_service.all() == [] and sent_sms() == [(n, t) for n, t in sent_sms() if not t.startswith("oncall #")]
    assert [entry["kind"] for entry in get_incident(client, closed["id"])["timeline"]] == ["triggered", "resolved"]


def test_other_services_and_times_outside_a_window_page_as_always(client, manual_clock, paged_service):
    window(client, starts_in=3600, lasts=3600)
    window(client, "search")
    before = trigger_ok(client, "payments", "replica lag")
    assert before["suppressed"] is False and before["suppressed_by"] is None
    assert trigger_ok(client, "search", "slow queries")["suppressed"] is True
    assert delivery.run()["delivered"] == 2
    assert len(pages_to("+14155550100")) == 1


def test_an_incident_acknowledged_in_a_window_is_announced_again_once_the_window_is_over(
    client, manual_clock, paged_service
):
    window(client, lasts=1800)
    opened = trigger_ok(client, "payments", "replica lag")
    assert acknowledge(client, opened["id"], "alice").status_code == 200
    delivery.run()
    assert get_incident(client, opened["id"])["suppressed"] is True
    # The sweep has no part in it any more: the window's end alone ends the suppression.
    manual_clock.advance(seconds=1800)
    assert get_incident(client, opened["id"])["suppressed"] is False
    assert resolve(client, opened["id"], "alice").status_code == 200
    assert delivery.run()["delivered"] == 1
    assert [body["event"] for body in paged_service.bodies()] == ["incident.resolved"]


def test_racing_ends_of_one_window_leave_one_window_ended_once(client, manual_clock):
    made = window(client)
    manual_clock.advance(seconds=90)
    results, errors = run_threads([lambda: windows.end_early(made["id"]) for _ in range(4)])
    # Each call either ended it or saw it ended; one that read the id index while the
    # window moved may be told to try again (503), never anything else.
    assert all(error is None or isinstance(error, Busy) for error in errors), errors
    answered = [result for result in results if result is not None]
    assert answered and all(result == answered[0] for result in answered)
    stored = list(MaintenanceWindow.query("payments", consistent_read=True))
    assert len(stored) == 1 and stored[0].ended_early_at == clock.now()
