"""The acceptance numbers against a real server: a storm of 500 triggers of 20
alerts from 32 clients makes exactly 20 incidents holding all 500 alerts, and 32
concurrent acknowledgements of one incident let exactly one through."""

import http.client
import random
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.client import Reply, expect, get, list_service, make_key, metrics, post, request, trigger
from tests.e2e.conftest import launch

CLIENTS = 32
ALERTS = 20
PER_ALERT = 25


@pytest.fixture(scope="module")
def storm_server(tmp_path_factory):
    """A server of its own, so that its shutdown after the storm is checked on its own."""
    local = launch(tmp_path_factory.mktemp("oncall-storm"))
    yield local.url
    local.stop()


def run_concurrently(jobs, clients: int = CLIENTS) -> list:
    """Run the jobs on `clients` threads; each result is a Reply or the exception the call raised."""

    def attempt(job):
        try:
            return job()
        except (OSError, http.client.HTTPException) as error:
            return error

    with ThreadPoolExecutor(max_workers=clients) as pool:
        return list(pool.map(attempt, jobs))


def describe(results) -> list[str]:
    return [repr(result) if isinstance(result, Exception) else str(result) for result in results[:5]]


def test_alert_storm_makes_exactly_one_incident_per_alert(storm_server):
    server = storm_server
    service = f"storm-{uuid.uuid4().hex[:10]}"
    titles = [f"alert {n:02d}" for n in range(ALERTS) for _ in range(PER_ALERT)]
    random.shuffle(titles)
    assert len(titles) == 500

    results = run_concurrently([lambda title=title: trigger(server, service, title) for title in titles])

    errors = [r for r in results if not isinstance(r, Reply) or r.status not in (200, 201)]
    assert not errors, f"{len(errors)} of {len(results)} triggers failed, e.g. {describe(errors)}"
    statuses = Counter(reply.status for reply in results)
    assert statuses[201] == ALERTS, statuses
    assert statuses[200] == ALERTS * (PER_ALERT - 1), statuses

    created = {reply.json()["title"]: reply.json()["id"] for reply in results if reply.status == 201}
    assert sorted(created) == sorted(set(titles))
    folded_ids = {reply.json()["id"] for reply in results if reply.status == 200}
    assert folded_ids <= set(created.values())

    incidents = list_service(server, service)
    assert len(incidents) == ALERTS, [(i["id"], i["title"], i["alert_count"]) for i in incidents]
    assert {incident["id"] for incident in incidents} == set(created.values())
    assert sum(incident["alert_count"] for incident in incidents) == len(titles)
    assert {incident["alert_count"] for incident in incidents} == {PER_ALERT}

    counted = metrics(server, service)
    assert counted["total_incidents"] == ALERTS, counted
    # Each open incident's first alert is in the stats; the rest arrive as it resolves.
    assert counted["alerts"] == ALERTS, counted
    for incident in incidents:
        expect(post(server, f"/api/incidents/{incident['id']}/acknowledge/"))
        expect(post(server, f"/api/incidents/{incident['id']}/resolve/"))
    assert metrics(server, service)["alerts"] == len(titles)


def test_concurrent_acknowledgements_let_exactly_one_through(storm_server):
    """32 responders acknowledge the same incident at the same moment: one wins, 31 are refused."""
    url = storm_server
    number = expect(trigger(url, f"race-{uuid.uuid4().hex[:10]}", "contended alert"), 201)["id"]
    gate = threading.Barrier(CLIENTS)

    def acknowledge(token: str):
        def call() -> Reply:
            gate.wait(timeout=30)
            return request(url, "PUT", f"/api/incidents/{number}/acknowledge/", token=token)

        return call

    responders = [f"responder-{n:02d}" for n in range(CLIENTS)]
    tokens = [make_key(url, "responder", name) for name in responders]
    results = run_concurrently([acknowledge(token) for token in tokens])

    broken = [r for r in results if not isinstance(r, Reply) or r.status not in (200, 400)]
    assert not broken, describe(broken)
    statuses = Counter(reply.status for reply in results)
    assert statuses == {200: 1, 400: CLIENTS - 1}, statuses
    for reply in results:
        if reply.status == 400:
            assert reply.json()["code"] == "invalid_transition", reply

    winner = next(reply.json() for reply in results if reply.status == 200)
    stored = expect(get(url, f"/api/incidents/{number}/"))
    assert stored["status"] == "ACKNOWLEDGED"
    assert stored["acknowledged_by"] == winner["acknowledged_by"]
    assert winner["acknowledged_by"] in responders
