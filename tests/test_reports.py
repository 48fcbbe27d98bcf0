"""Reports over time: the buckets written with the transitions equal a brute-force
recount of the same incidents and pages, read back through the API and the
deliveries' own items, by day and by ISO week, across daylight-saving changes in the
paged people's zones."""

import random
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from chalicelib import clock, config
from chalicelib.incident import incidents
from chalicelib.models import Delivery
from chalicelib.notify import delivery
from chalicelib.transport import aws
from tests.flows import (
    acknowledge,
    add_level,
    add_shift,
    all_pages,
    check_escalations,
    post,
    resolve,
    run_threads,
    trigger,
)

# The SES sender every page by email needs (autouse, as in tests/test_pages.py).
from tests.test_pages import email_sender  # noqa: F401

# Whom each service pages first, and who is its escalation level's target.
PEOPLE = {"nyc": "America/New_York", "ldn": "Europe/London", "utc": None}
ON_CALL = {"payments": "nyc", "search": "ldn"}
ESCALATES_TO = {"payments": "ldn", "search": "utc"}
# The alerts the schedule sends: (service, title, explicit dedup key or None).
ALERTS = [
    ("payments", "Card declines spiking", None),
    ("payments", "Checkout latency p99 above 2 s", None),
    ("payments", "Ledger replica lag", "ledger-lag"),
    ("payments", "Fraud model timeouts", None),
    ("payments", "Disk almost full on db-1", "disk-db-1"),
    ("search", "Index build failed", None),
    ("search", "Query errors above 1%", "query-errors"),
    ("search", "Crawler stuck", None),
    ("search", "Shard 7 unassigned", None),
    ("search", "Cache hit ratio low", "cache-ratio"),
    ("search", "Synonyms reload failed", None),
    ("payments", "Refund queue backlog", None),
]


def report(client, query: str = "", status: int = 200) -> dict:
    response = client.http.get(f"/api/reports/?{query}")
    assert response.status_code == status, response.body
    return response.json_body


def paged_person(client, name: str, time_zone: str | None) -> None:
    fields = {"name": name, **({"time_zone": time_zone} if time_zone else {})}
    assert post(client, "/api/users/", fields).status_code == 201
    method = post(client, f"/api/users/{name}/contact-methods/", {"kind": "email", "address": f"{name}@example.com"})
    rule = {"contact_method_id": method.json_body["id"], "delay_minutes": 0, "urgency": "high"}
    assert post(client, f"/api/users/{name}/notification-rules/", rule).status_code == 201


def staffed(client) -> None:
    for name, zone in PEOPLE.items():
        paged_person(client, name, zone)
    for service, user in ON_CALL.items():
        shift = add_shift(client, service, user, "2026-01-01T00:00:00Z", "2026-12-31T00:00:00Z")
        assert shift.status_code == 201, shift.body
        assert add_level(client, service, 1, ESCALATES_TO[service]).status_code == 201


def history(client, manual_clock, rng: random.Random, steps: int) -> None:
    """A mixed history from the clock's time on: alerts (some repeated within the
    dedup window, so folded), acknowledgements, resolves, escalation sweeps and pages
    sent at whatever hour the schedule reaches."""
    open_ids: list[int] = []
    acknowledged: list[int] = []
    for _ in range(steps):
        roll = rng.random()
        if roll < 0.15:
            manual_clock.advance(minutes=rng.randint(1, 4))
        elif roll < 0.75:
            manual_clock.advance(minutes=rng.randint(5, 240))
        else:
            manual_clock.advance(hours=rng.randint(4, 30))
        service, title, key = rng.choice(ALERTS)
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            answer = trigger(client, service, title, **({"dedup_key": key} if key else {}))
            if answer.status_code == 201:
                open_ids.append(answer.json_body["id"])
        action = rng.random()
        if action < 0.4 and open_ids:
            number = open_ids.pop(rng.randrange(len(open_ids)))
            if acknowledge(client, number).status_code == 200:
                acknowledged.append(number)
        if rng.random() < 0.5 and acknowledged:
            manual_clock.advance(minutes=rng.randint(1, 90))
            assert resolve(client, acknowledged.pop(rng.randrange(len(acknowledged)))).status_code == 200
        elif rng.random() < 0.15 and open_ids:
            # Its monitoring source resolves an alert nobody acknowledged.
            manual_clock.advance(minutes=rng.randint(1, 90))
            incidents.resolve(open_ids.pop(rng.randrange(len(open_ids))), "prometheus", by_source=True)
        if rng.random() < 0.5:
            manual_clock.advance(minutes=rng.randint(5, 20))
            check_escalations(client)
        delivery.run()


# --- the brute-force recount -------------------------------------------------------------


def night(at: datetime, zone: str | timezone | None) -> bool:
    local = at.astimezone(ZoneInfo(zone) if isinstance(zone, str) else zone or timezone.utc)
    return local.weekday() in (5, 6) or not 8 <= local.hour < 22


def utc_day(text: str) -> date:
    return clock.parse_iso(text).date()


def every_incident(client, service: str | None = None) -> list[dict]:
    query = f"service_name={service}&limit=100" if service else "limit=100"
    return [incident for page in all_pages(client, "/api/incidents/list/all/", "incidents", query) for incident in page]


def pages_sent(incidents: list[dict]) -> list[Delivery]:
    """Each incident's pages that reached their person (a Query of its deliveries)."""
    return [
        item
        for incident in incidents
        for item in Delivery.query(incident["id"], consistent_read=True)
        if item.contact_method_id is not None and item.state == "delivered"
    ]


def mean(total: Decimal, n: int) -> float | None:
    return round(float(total) / n, 3) if n else None


def recount(incidents: list[dict], sent: list[Delivery], first: date, last: date, weeks: bool) -> dict:
    def bucket_of(day: date) -> date:
        return max(first, day - timedelta(days=day.weekday())) if weeks else day

    keys = set()
    day = first
    while day <= last:
        keys.add(bucket_of(day))
        day += timedelta(days=1)
    sums = {start: defaultdict(Decimal) for start in keys}
    users = {start: defaultdict(lambda: [0, 0]) for start in keys}
    noise: dict[tuple, dict] = {}
    for incident in sorted(incidents, key=lambda one: one["created_at"]):
        created = clock.parse_iso(incident["created_at"])
        if not first <= created.date() <= last:
            continue
        counts = sums[bucket_of(created.date())]
        resolved = incident["status"] == "RESOLVED"
        # An open incident's folded alerts reach the report when it resolves.
        alerts = incident["alert_count"] if resolved else 1
        counts["incidents"] += 1
        counts["alerts"] += alerts
        counts["escalated"] += incident["escalated_at"] is not None
        if resolved:
            counts["resolved"] += 1
            counts["resolve_seconds"] += Decimal(
                str((clock.parse_iso(incident["resolved_at"]) - created).total_seconds())
            )
            if incident["acknowledged_at"]:
                counts["acknowledged"] += 1
                waited = clock.parse_iso(incident["acknowledged_at"]) - created
                counts["ack_seconds"] += Decimal(str(waited.total_seconds()))
        key = incident["dedup_key"] if incident["dedup_key"] is not None else "title:" + incident["title"]
        loud = noise.setdefault(
            (incident["service_name"], key),
            {
                "service_name": incident["service_name"],
                "title": incident["title"],
                "dedup_key": incident["dedup_key"],
                "alerts": 0,
                "incidents": 0,
            },
        )
        loud["alerts"] += alerts
        loud["incidents"] += 1
    for page in sent:
        if first <= page.finished_at.date() <= last:
            tally = users[bucket_of(page.finished_at.date())][page.user]
            tally[0] += 1
            tally[1] += night(page.finished_at, PEOPLE[page.user])
    ordered = sorted(keys)
    ends = ordered[1:] + [last + timedelta(days=1)]
    answer = []
    for start, end in zip(ordered, ends, strict=True):
        counts, paged = sums[start], users[start]
        answer.append(
            {
                "start": start.isoformat(),
                "end": end.isoformat(),
                "incidents": int(counts["incidents"]),
                "alerts": int(counts["alerts"]),
                "escalated": int(counts["escalated"]),
                "resolved": int(counts["resolved"]),
                "acknowledged": int(counts["acknowledged"]),
                "mtta_seconds": mean(counts["ack_seconds"], int(counts["acknowledged"])),
                "mttr_seconds": mean(counts["resolve_seconds"], int(counts["resolved"])),
                "pages_sent": sum(p for p, _ in paged.values()),
                "night_pages": sum(n for _, n in paged.values()),
                "pages_by_user": [
                    {"user": user, "pages": p, "night_pages": n} for user, (p, n) in sorted(paged.items())
                ],
            }
        )
    loudest = sorted(
        (loud for loud in noise.values()),
        key=lambda loud: (
            -loud["alerts"],
            -loud["incidents"],
            loud["service_name"],
            loud["title"],
            loud["dedup_key"] or "",
        ),
    )
    return {"buckets": answer, "noisy_alerts": loudest[:10]}


def assert_recounted(client, service: str | None, first: date, last: date) -> dict:
    incidents = every_incident(client, service)
    sent = pages_sent(every_incident(client) if service is None else incidents)
    if service is not None:
        sent = [page for page in sent if page.service_name == service]
    seen = {}
    for bucket in ("day", "week"):
        query = f"from={first}&to={last}&bucket={bucket}" + (f"&service_name={service}" if service else "")
        answer = report(client, query)
        expected = recount(incidents, sent, first, last, bucket == "week")
        assert answer["buckets"] == expected["buckets"], (service, bucket)
        assert answer["noisy_alerts"] == expected["noisy_alerts"], (service, bucket)
        assert (answer["from"], answer["to"], answer["bucket"]) == (str(first), str(last), bucket)
        seen[bucket] = answer
    return seen


# --- the tests ------------------------------------------------------------------------------


def test_the_buckets_equal_a_recount_of_a_mixed_history_across_daylight_saving_changes(
    client, manual_clock, two_shards
):
    # (two_shards: the reports read no shard; every sweep and list of the history reads each.)
    staffed(client)
    rng = random.Random(16)
    # 2026-03-01 (a Sunday) to mid-April: New York moves its clocks on 8 March, London on 29 March.
    history(client, manual_clock, rng, 100)
    spring_end = clock.now().date()
    # Late October into November: London moves back on 25 October, New York on 1 November.
    manual_clock.advance(days=(date(2026, 10, 20) - spring_end).days)
    history(client, manual_clock, rng, 60)
    autumn_end = clock.now().date()

    for service in (None, "payments", "search"):
        seen = assert_recounted(client, service, date(2026, 3, 1), spring_end)
        assert sum(bucket["incidents"] for bucket in seen["week"]["buckets"]) > 20
    assert_recounted(client, None, date(2026, 10, 20), autumn_end)
    whole = assert_recounted(client, None, date(2026, 2, 20), autumn_end)

    totals = whole["day"]["totals"]
    sent = pages_sent(every_incident(client))
    assert totals["pages_sent"] == len(sent) and totals["night_pages"] == sum(
        night(page.finished_at, PEOPLE[page.user]) for page in sent
    )
    # The history is one that tests what it should: folds, escalations, acknowledged and
    # unacknowledged resolves, and pages whose night-or-day depends on daylight saving
    # (a zone's standard offset all year would have classified them the other way).
    assert totals["alerts"] > totals["incidents"] and totals["escalated"] > 0
    assert 0 < totals["acknowledged"] < totals["resolved"]
    standard = {"nyc": timezone(timedelta(hours=-5)), "ldn": timezone.utc}
    shifted = [
        page
        for page in sent
        if page.user in standard
        and night(page.finished_at, PEOPLE[page.user]) != night(page.finished_at, standard[page.user])
    ]
    assert shifted
    # Every day's answer adds up to the weeks'.
    for field in ("incidents", "alerts", "pages_sent", "night_pages", "resolved"):
        assert sum(b[field] for b in whole["day"]["buckets"]) == sum(b[field] for b in whole["week"]["buckets"])


@pytest.mark.parametrize(
    ("user", "sent_at", "at_night"),
    [
        ("nyc", "2026-03-07T15:00:00Z", True),  # Saturday 10:00 in New York: the weekend
        ("nyc", "2026-03-06T12:30:00Z", True),  # Friday 07:30 EST
        ("nyc", "2026-03-09T12:30:00Z", False),  # Monday 08:30 EDT, the day after the change
        ("nyc", "2026-10-30T12:30:00Z", False),  # Friday 08:30 EDT
        ("nyc", "2026-11-02T12:30:00Z", True),  # Monday 07:30 EST again
        ("ldn", "2026-03-27T07:30:00Z", True),  # Friday 07:30 GMT
        ("ldn", "2026-03-30T07:30:00Z", False),  # Monday 08:30 BST
        ("ldn", "2026-10-23T21:30:00Z", True),  # Friday 22:30 BST
        ("ldn", "2026-10-26T07:30:00Z", True),  # Monday 07:30 GMT
        ("utc", "2026-03-03T21:59:00Z", False),  # no zone: UTC
        ("utc", "2026-03-03T22:00:00Z", True),
    ],
)
def test_a_page_counts_once_on_the_day_sent_as_a_night_page_in_its_persons_zone(
    client, manual_clock, user, sent_at, at_night
):
    paged_person(client, user, PEOPLE[user])
    add_shift(client, "payments", user, "2026-01-01T00:00:00Z", "2026-12-31T00:00:00Z")
    manual_clock.advance(seconds=(clock.parse_iso(sent_at) - clock.now()).total_seconds())
    trigger(client, "payments", "page me")
    assert delivery.run()["delivered"] == 1
    delivery.run()
    day = sent_at[:10]
    answer = report(client, f"service_name=payments&from={day}&to={day}")
    assert answer["totals"]["pages_by_user"] == [{"user": user, "pages": 1, "night_pages": int(at_night)}]
    assert answer["buckets"][0]["night_pages"] == int(at_night)


def test_a_page_retried_after_a_failure_and_raced_by_overlapping_runs_counts_once(client, manual_clock):
    from tests.test_pages import FlakySns, person

    person(client, "alice", sms="+14155550100")
    add_shift(client, "payments", "alice", "2026-01-01T00:00:00Z", "2026-12-31T00:00:00Z")
    flaky = FlakySns()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(aws, "sns_client", lambda: flaky)
        trigger(client, "payments", "checkout errors")
        assert delivery.run()["retrying"] == 1
        manual_clock.advance(seconds=config.settings().notify_retry_seconds)
        results, errors = run_threads([delivery.run] * 4)
    assert errors == [None] * 4
    assert sum(result["delivered"] for result in results) == 1
    assert len(flaky.published) == 2
    totals = report(client, "service_name=payments&from=2026-03-01&to=2026-03-01")["totals"]
    assert totals["pages_by_user"] == [{"user": "alice", "pages": 1, "night_pages": 1}]  # a Sunday


def test_weeks_start_on_monday_utc_and_are_cut_to_the_range(client):
    answer = report(client, "from=2026-03-04&to=2026-03-20&bucket=week")
    assert [(b["start"], b["end"]) for b in answer["buckets"]] == [
        ("2026-03-04", "2026-03-09"),
        ("2026-03-09", "2026-03-16"),
        ("2026-03-16", "2026-03-21"),
    ]
    assert answer["totals"]["start"] == "2026-03-04" and answer["totals"]["end"] == "2026-03-21"
    assert answer["service_name"] is None and answer["noisy_alerts"] == []


def test_the_defaults_are_the_last_seven_days_or_eight_weeks(client):
    # The clock stands at 2026-03-01 12:00 UTC, a Sunday.
    days = report(client)
    assert (days["from"], days["to"], days["bucket"]) == ("2026-02-23", "2026-03-01", "day")
    assert len(days["buckets"]) == 7
    weeks = report(client, "bucket=week")
    assert (weeks["from"], weeks["to"]) == ("2026-01-05", "2026-03-01")
    assert len(weeks["buckets"]) == 8
    # An instant means its UTC day.
    instants = report(client, "from=2026-02-27T23:30:00-05:00&to=2026-03-01T00:30:00%2B01:00")
    assert (instants["from"], instants["to"]) == ("2026-02-28", "2026-02-28")


def test_a_year_is_accepted_and_a_day_more_refused(client):
    assert len(report(client, "from=2025-03-01&to=2026-03-01")["buckets"]) == 366
    assert len(report(client, "from=2024-03-01&to=2025-02-28&bucket=week")["buckets"]) == 53
    refused = report(client, "from=2025-02-28&to=2026-03-01", status=400)
    assert refused["field"] == "from" and "366" in refused["error"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("bucket=month", "bucket"),
        ("from=yesterday", "from"),
        ("to=2026-02-30", "to"),
        ("from=2026-03-01T10:00:00", "from"),
        ("from=1969-12-31", "from"),
        ("from=2026-03-02&to=2026-03-01", "to"),
        ("service_name=" + "x" * 129, "service_name"),
    ],
)
def test_a_bad_query_is_refused_naming_the_field(client, query, field):
    refused = report(client, query, status=400)
    assert refused["code"] == "invalid_input" and refused["field"] == field
