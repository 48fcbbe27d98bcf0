"""GET /api/metrics/ and /api/metrics/services: counts, MTTA/MTTR and escalations."""

from chalicelib.incident import incidents
from tests.flows import acknowledge, add_level, check_escalations, get_json, metrics, resolve, trigger_ok


def test_empty_then_totals_include_open_incidents_and_means_cover_resolved_ones(client, manual_clock):
    for report in (metrics(client), metrics(client, "nothing-here")):
        assert report["total_incidents"] == 0
        assert report["resolved_incidents"] == 0
        assert report["escalated_incidents"] == 0
        assert report["mtta_seconds"] is None
        assert report["mttr_seconds"] is None
    assert metrics(client, "nothing-here")["service_name"] == "nothing-here"
    assert get_json(client, "/api/metrics/services")["services"] == []

    a = trigger_ok(client, "db", "a")
    manual_clock.advance(seconds=10)
    b = trigger_ok(client, "db", "b")
    c = trigger_ok(client, "web", "c")
    trigger_ok(client, "web", "c")
    trigger_ok(client, "queue", "d")

    open_only = metrics(client)
    assert open_only["total_incidents"] == 4
    assert open_only["open_incidents"] == 4
    assert open_only["resolved_incidents"] == 0
    # An open incident's first alert is in the stats; its folded ones arrive when it resolves.
    assert open_only["alerts"] == 4
    assert (open_only["mtta_seconds"], open_only["mttr_seconds"]) == (None, None)

    manual_clock.advance(seconds=50)
    acknowledge(client, a["id"], "alice")
    manual_clock.advance(seconds=90.25)
    acknowledge(client, b["id"], "alice")
    acknowledge(client, c["id"], "bob")
    manual_clock.advance(seconds=149.75)
    resolve(client, a["id"], "alice")
    manual_clock.advance(seconds=200)
    resolve(client, b["id"], "alice")

    overall = metrics(client)
    assert overall["total_incidents"] == 4
    assert overall["resolved_incidents"] == 2
    assert overall["open_incidents"] == 2
    assert overall["mtta_seconds"] == (60 + 140.25) / 2
    assert overall["mttr_seconds"] == (300 + 490) / 2

    db = metrics(client, "db")
    assert (db["service_name"], db["total_incidents"], db["resolved_incidents"]) == ("db", 2, 2)
    assert db["mtta_seconds"] == 100.125
    assert db["mttr_seconds"] == 395
    web = metrics(client, "web")
    assert (web["total_incidents"], web["resolved_incidents"], web["alerts"]) == (1, 0, 1)
    assert web["mtta_seconds"] is None, "an acknowledged but unresolved incident does not count"
    assert web["mttr_seconds"] is None

    services = get_json(client, "/api/metrics/services/")
    by_name = {report["service_name"]: report for report in services["services"]}
    assert set(by_name) == {"db", "web", "queue"}
    assert by_name["db"] == db
    assert by_name["queue"]["total_incidents"] == 1
    assert services["next_cursor"] is None

    first_page = get_json(client, "/api/metrics/services?limit=2")
    assert len(first_page["services"]) == 2
    rest = get_json(client, f"/api/metrics/services?limit=2&cursor={first_page['next_cursor']}")
    names = [r["service_name"] for r in first_page["services"] + rest["services"]]
    assert sorted(names) == ["db", "queue", "web"]


def test_escalated_count_counts_each_incident_once_and_source_resolves_skip_mtta(client, manual_clock):
    add_level(client, "db", 1, user="bob")
    add_level(client, "db", 2, user="carol")
    climbing = trigger_ok(client, "db", "climbs")
    pathless = trigger_ok(client, "web", "no path")
    acked_in_time = trigger_ok(client, "db", "acked in time")
    acknowledge(client, acked_in_time["id"])

    manual_clock.advance(seconds=301)
    assert sorted(check_escalations(client)["incidents"]) == sorted([climbing["id"], pathless["id"]])
    manual_clock.advance(seconds=301)
    assert check_escalations(client)["incidents"] == [climbing["id"]]

    assert metrics(client)["escalated_incidents"] == 2
    assert metrics(client, "db")["escalated_incidents"] == 1
    assert metrics(client, "web")["escalated_incidents"] == 1
    acknowledge(client, climbing["id"])
    resolve(client, climbing["id"])
    after = metrics(client)
    assert after["escalated_incidents"] == 2
    assert after["resolved_incidents"] == 1
    assert after["mttr_seconds"] == 602
    assert after["mtta_seconds"] == 602

    manual_clock.advance(seconds=100)
    incidents.resolve(pathless["id"], "alertmanager", by_source=True)
    web = metrics(client, "web")
    assert (web["resolved_incidents"], web["mttr_seconds"], web["mtta_seconds"]) == (1, 702, None)
    overall = metrics(client)
    assert overall["resolved_incidents"] == 2
    assert overall["mttr_seconds"] == (602 + 702) / 2
    assert overall["mtta_seconds"] == 602, "an incident its source closed unacknowledged has no ack time"
    assert overall["escalated_incidents"] == 2
