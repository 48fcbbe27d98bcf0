"""Threads against the in-process DynamoDB (every request behind one lock, so
conditional writes are atomic as in DynamoDB): triggers, acks and resolves that
overlap must still leave exactly one incident per alert and lose no alert.
The last tests place a second actor at one exact point of the first (between
its read and its write) to pin the interleavings threads only sometimes hit."""

from collections import Counter, defaultdict

import pytest

from chalicelib.errors import InvalidTransition
from chalicelib.escalation import sweep
from chalicelib.incident import incidents, metrics
from chalicelib.models import Dedup, Incident
from tests.flows import right_after, run_threads, trigger_body

THREADS = 16


def every_incident() -> list[dict]:
    found, cursor = [], None
    while True:
        page = incidents.list_page(None, None, 100, cursor)
        found += page["incidents"]
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def in_batches(jobs: list, workers: int) -> list:
    """One callable per worker; worker i runs jobs i, i + workers, ... and returns their results."""

    def worker(share):
        return lambda: [job() for job in share]

    return [worker(jobs[i::workers]) for i in range(workers)]


def test_200_triggers_of_10_alerts_from_16_threads_open_exactly_10_incidents():
    alerts = [trigger_body(f"svc-{n % 3}", f"alert {n}") for n in range(10)]
    jobs = [lambda body=alerts[n % 10]: (body.title, incidents.trigger(body, "monitor")) for n in range(200)]

    results, errors = run_threads(in_batches(jobs, THREADS))

    assert errors == [None] * THREADS
    outcomes = [outcome for batch in results for outcome in batch]
    assert len(outcomes) == 200
    created = Counter(title for title, (_, was_created) in outcomes if was_created)
    assert created == Counter({alert.title: 1 for alert in alerts})
    ids_by_title = defaultdict(set)
    for title, (body, _) in outcomes:
        ids_by_title[title].add(body["id"])
    assert all(len(ids) == 1 for ids in ids_by_title.values())
    assert len({ids.pop() for ids in ids_by_title.values()}) == 10

    stored = every_incident()
    assert len(stored) == 10
    assert sorted(i["title"] for i in stored) == sorted(a.title for a in alerts)
    assert all(i["alert_count"] == 20 for i in stored)
    assert sum(i["alert_count"] for i in stored) == 200
    totals = metrics.read()
    assert totals["total_incidents"] == 10
    # Each open incident's first alert is in the stats; the rest arrive as it resolves.
    assert totals["alerts"] == 10
    for incident in stored:
        incidents.resolve(incident["id"], "monitor", by_source=True)
    assert metrics.read()["alerts"] == 200
    assert sum(metrics.read(f"svc-{n}")["total_incidents"] for n in range(3)) == 10


def test_16_concurrent_acks_of_one_incident_have_exactly_one_winner():
    opened, _ = incidents.trigger(trigger_body("db", "replica lag"), "monitor")
    number = opened["id"]

    results, errors = run_threads(
        [lambda user=f"responder-{n}": incidents.acknowledge(number, user) for n in range(THREADS)]
    )

    winners = [result for result in results if result is not None]
    assert len(winners) == 1
    losers = [error for error in errors if error is not None]
    assert len(losers) == THREADS - 1
    assert all(isinstance(error, InvalidTransition) for error in losers)
    assert all("ACKNOWLEDGED" in error.message for error in losers)
    stored = incidents.detail(number)
    assert stored["status"] == "ACKNOWLEDGED"
    assert stored["acknowledged_by"] == winners[0]["acknowledged_by"]
    assert [entry["kind"] for entry in stored["timeline"]].count("acknowledged") == 1


def test_resolve_racing_triggers_of_the_same_alert_never_loses_an_alert():
    rounds, triggers_per_round = 6, 7
    for round_number in range(rounds):
        alert = trigger_body("api", f"flapping check {round_number}")
        opened, _ = incidents.trigger(alert, "monitor")
        incidents.acknowledge(opened["id"], "alice")

        number = opened["id"]
        jobs = [lambda number=number: incidents.resolve(number, "alice")]
        jobs += [lambda alert=alert: incidents.trigger(alert, "monitor") for _ in range(triggers_per_round - 1)]
        results, errors = run_threads(jobs)

        assert errors == [None] * len(jobs)
        assert results[0]["status"] == "RESOLVED"
        created = [result for result in results[1:] if result[1]]
        assert len(created) <= 1

        mine = [i for i in every_incident() if i["title"] == alert.title]
        assert sum(i["alert_count"] for i in mine) == triggers_per_round
        assert 1 <= len(mine) <= 2
        assert incidents.detail(opened["id"])["status"] == "RESOLVED"
        reopened = [i for i in mine if i["id"] != opened["id"]]
        assert len(reopened) == len(created)
        for incident in reopened:
            assert incident["status"] == "TRIGGERED"
            assert incident["id"] == created[0][0]["id"]
            # Its alerts reach the stats as it resolves, like the first incident's.
            incidents.resolve(incident["id"], "monitor", by_source=True)

    assert metrics.read()["alerts"] == rounds * triggers_per_round


# A derived key's fold slides its window (an UpdateItem); an explicit key's reads its item.
@pytest.mark.parametrize("dedup_key, fold_request", [(None, "UpdateItem"), ("check-7", "GetItem")])
def test_an_alert_that_folds_just_before_its_incident_resolves_opens_a_new_one(dedup_key, fold_request):
    alert = trigger_body("api", "flapping check", dedup_key=dedup_key)
    first, _ = incidents.trigger(alert, "monitor")
    incidents.acknowledge(first["id"], "alice")

    with right_after(Dedup, fold_request, lambda: incidents.resolve(first["id"], "alice")) as resolver:
        second, created = incidents.trigger(alert, "monitor")

    assert resolver["ran"] and resolver["error"] is None
    assert resolver["result"]["status"] == "RESOLVED"
    assert created is True and second["id"] != first["id"]
    stored = {i["id"]: i for i in every_incident()}
    assert stored[first["id"]]["alert_count"] == 1
    assert stored[second["id"]]["alert_count"] == 1
    assert incidents.trigger(alert, "monitor")[0]["id"] == second["id"]


def test_resolving_a_stale_incident_while_a_new_one_takes_its_key_keeps_the_new_binding(manual_clock):
    alert = trigger_body("api", "disk almost full")
    stale, _ = incidents.trigger(alert, "monitor")
    incidents.acknowledge(stale["id"], "alice")
    manual_clock.advance(seconds=301)

    with right_after(Incident, "BatchGetItem", lambda: incidents.trigger(alert, "monitor")) as newer:
        resolved = incidents.resolve(stale["id"], "alice")

    assert newer["error"] is None
    fresh, created = newer["result"]
    assert created is True and fresh["id"] != stale["id"]
    assert resolved["status"] == "RESOLVED"
    folded, created = incidents.trigger(alert, "monitor")
    assert (folded["id"], created, folded["alert_count"]) == (fresh["id"], False, 2)


def test_a_source_resolve_racing_a_sweep_still_closes_the_incident(manual_clock):
    opened, _ = incidents.trigger(trigger_body("db", "replica lag"), "monitor")
    manual_clock.advance(seconds=301)

    with right_after(Incident, "BatchGetItem", sweep.run) as sweeper:
        closed = incidents.resolve(opened["id"], "prometheus", by_source=True)

    assert sweeper["result"] == {"escalated": 1, "incidents": [opened["id"]]}
    assert closed["status"] == "RESOLVED"
    assert incidents.detail(opened["id"])["resolved_by"] == "prometheus"


def test_a_source_resolve_racing_an_ack_still_closes_the_incident():
    opened, _ = incidents.trigger(trigger_body("db", "replica lag"), "monitor")

    with right_after(Incident, "BatchGetItem", lambda: incidents.acknowledge(opened["id"], "alice")) as responder:
        closed = incidents.resolve(opened["id"], "prometheus", by_source=True)

    assert responder["error"] is None and responder["result"]["status"] == "ACKNOWLEDGED"
    assert closed["status"] == "RESOLVED"
    stored = incidents.detail(opened["id"])
    assert (stored["acknowledged_by"], stored["resolved_by"]) == ("alice", "prometheus")
