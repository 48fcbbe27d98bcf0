"""The capacity model (tests/capacity_model.py) on tiny examples worked by hand: the
hot-key ceilings of a mix, the stream records a filter lets through, the notifier
invocations they cause, and the cost per million alerts."""

import json
import math

import pytest

from tests import capacity_model as model
from tests.capacity import Written

SHARDS = 16


def test_a_key_is_the_incidents_its_services_a_shards_or_everybodys():
    assert model.scope_of("7", 7, "db", SHARDS) == model.INCIDENT
    assert model.scope_of("db", 7, "db", SHARDS) == model.SERVICE
    assert model.scope_of("metrics-service#db", 7, "db", SHARDS) == model.SERVICE
    assert model.scope_of("outbox#07", 7, "db", SHARDS) == model.SHARD
    assert model.scope_of("outbox#07", 23, "db", SHARDS) == model.SHARD  # 23 % 16 == 7
    # a numbered key the incident's number does not pick is no shard of its
    assert model.scope_of("outbox#03", 7, "db", SHARDS) == model.SHARED
    assert model.scope_of("TRIGGERED", 7, "db", SHARDS) == model.SHARED
    # a key built from the incident's number or its dedup key is its own, service and all
    assert model.scope_of("db#7", 7, "db", SHARDS) == model.INCIDENT
    assert model.scope_of("db#key:disk", 7, "db", SHARDS, own=["key:disk"]) == model.INCIDENT
    assert model.scope_of("db#key:disk", 7, "db", SHARDS) == model.SHARED  # unknown: counted against everyone
    assert model.general_key("metrics-service#db", model.SERVICE) == "metrics-service#<service>"
    assert model.general_key("outbox#07", model.SHARD) == "outbox#<shard>"
    assert model.general_key("7", model.INCIDENT) == "<incident>"


def measured(**partitions) -> model.Measured:
    """Partitions named scope__key (table "t"), valued in write units."""
    table = {}
    for name, units in partitions.items():
        scope, key = name.split("__")
        table[("t", key)] = (scope, units)
    return model.Measured(write_units=sum(partitions.values()), partitions=table)


def operation(name, own, notifier=None, api_requests=1) -> model.Operation:
    return model.Operation(name, own, notifier or model.Measured(), api_requests)


def test_the_ceiling_is_the_busiest_shared_partition_and_an_alert_is_bound_by_its_own():
    # A new incident: the counter (1), the feed (2), its own item (4), its queue shard (16).
    new = measured(shared__counter=1, shared__feed=2, incident__item=4, shard__queue=16)
    # A fold: the feed (1), its own item (3).
    fold = measured(shared__feed=1, incident__item=3)
    operations = {"new": operation("new", new), "fold": operation("fold", fold)}
    mix = model.Mix("one new, three folds", {"new": 1, "fold": 3}, alerts_per_incident=4)

    loads = {load.key: load for load in model.partition_loads(mix, operations)}
    # feed: 2 + 3 x 1 = 5 WU an incident -> 1,000 / 5 = 200 incidents/s
    assert loads["feed"].units_per_incident == 5
    assert model.incidents_per_second(loads["feed"], SHARDS) == 200
    assert model.incidents_per_second(loads["counter"], SHARDS) == 1000
    # the queue shard takes 16 WU from 1 incident in 16: 1 WU per incident/s
    assert model.incidents_per_second(loads["queue"], SHARDS) == 1000
    # the incident's own item: 4 + 3 x 3 = 13 WU, spread over as many items as incidents
    assert loads["item"].units_per_incident == 13
    assert math.isinf(model.incidents_per_second(loads["item"], SHARDS))

    rate, where = model.ceiling(loads.values(), (model.SHARED, model.SHARD), SHARDS)
    assert (rate, where.key) == (200, "feed")
    # one alert folding: 3 WU a fold on its own item -> 333.3 folds/s
    folds, partition = model.per_key_ceiling(fold)
    assert partition == ("t", "item")
    assert folds == pytest.approx(1000 / 3)


def test_a_service_key_bounds_one_service_not_all_of_them():
    new = measured(service__dedup=2, shared__feed=1)
    operations = {"new": operation("new", new)}
    mix = model.Mix("new only", {"new": 1}, alerts_per_incident=1)
    loads = model.partition_loads(mix, operations)
    everyone, where = model.ceiling(loads, (model.SHARED, model.SHARD), SHARDS)
    one_service, service_where = model.ceiling(loads, (model.SHARED, model.SHARD, model.SERVICE), SHARDS)
    assert (everyone, where.key) == (1000, "feed")
    assert (one_service, service_where.key) == (500, "dedup")
    # spread evenly over 4 services, each service's dedup partition takes a quarter
    assert model.incidents_per_second(loads[0], SHARDS, services=4) == 2000


def image(number: int, **strings) -> dict:
    return {"id": {"N": str(number)}, **{name: {"S": value} for name, value in strings.items()}}


# An incident opened with an outbox, folded (no outbox change), its outbox cleared, then deleted.
WRITES = (
    Written("incidents", None, image(1, outbox_partition="outbox#01")),
    Written("incidents", image(1, outbox_partition="outbox#01"), image(1, outbox_partition="outbox#01", n="2")),
    Written("incidents", image(1, outbox_partition="outbox#01", n="2"), image(1, n="2")),
    Written("incidents", image(1, n="2"), None),
)
OUTBOX = {"dynamodb": {"NewImage": {"outbox_partition": {"S": [{"exists": True}]}}}}


def test_a_filter_on_the_new_image_passes_only_records_that_carry_one_matching():
    keys_only = model.stream_records(WRITES, ("id",), "KEYS_ONLY")
    assert [record["eventName"] for record in keys_only] == ["INSERT", "MODIFY", "MODIFY", "REMOVE"]
    assert all(set(record["dynamodb"]) == {"Keys", "StreamViewType"} for record in keys_only)
    assert len(model.stream_records_passing(None, keys_only)) == 4
    # keys only: no record has a new image, so nothing passes a filter on one
    assert model.stream_records_passing([OUTBOX], keys_only) == []

    new_images = model.stream_records(WRITES, ("id",), "NEW_IMAGE")
    passing = model.stream_records_passing([OUTBOX], new_images)
    assert [record["eventName"] for record in passing] == ["INSERT", "MODIFY"]
    # as CloudFormation's FilterCriteria holds it: JSON strings
    criteria = {"Filters": [{"Pattern": json.dumps(OUTBOX)}]}
    assert model.stream_records_passing(criteria, new_images) == passing
    # several filters: a record passes when any matches
    removed = {"eventName": ["REMOVE"]}
    assert len(model.stream_records_passing([OUTBOX, removed], new_images)) == 3


def test_filter_operators():
    record = {"eventName": "MODIFY", "dynamodb": {"NewImage": {"status": {"S": "RESOLVED"}}}}
    assert model.matches({"dynamodb": {"NewImage": {"outbox_at": {"S": [{"exists": False}]}}}}, record)
    assert model.matches({"dynamodb": {"NewImage": {"status": {"S": [{"prefix": "RES"}]}}}}, record)
    assert not model.matches({"dynamodb": {"NewImage": {"status": {"S": [{"anything-but": ["RESOLVED"]}]}}}}, record)
    assert model.matches({"eventName": ["INSERT", "MODIFY"]}, record)
    with pytest.raises(ValueError, match="numeric"):
        model.matches({"dynamodb": {"NewImage": {"n": {"N": [{"numeric": [">", 1]}]}}}}, record)


def test_each_passing_record_wakes_the_notifier_and_all_but_the_one_that_works_are_idle():
    idle = model.Measured(read_units=16, log_bytes=5)
    stream = model.Stream(("id",), "NEW_IMAGE")
    # the operation writes two records; the notifier pass after it works (writes 3 WU) and writes one record
    work = model.Measured(write_units=3, read_units=20, stream_writes=WRITES[2:3], log_bytes=100)
    transition = operation("t", model.Measured(stream_writes=WRITES[:2]), work)
    done = model.notifier_work(transition, idle, stream)
    assert done == model.NotifierWork(invocations=3, write_units=3, read_units=20 + 2 * 16, log_bytes=100 + 2 * 5)
    # filtered on the outbox: the cleared outbox's record no longer passes
    filtered = model.notifier_work(transition, idle, model.Stream(("id",), "NEW_IMAGE", [OUTBOX]))
    assert (filtered.invocations, filtered.read_units) == (2, 20 + 16)
    # a fold leaves no work: each of its records wakes an idle pass; filtered, none
    fold = operation("fold", model.Measured(stream_writes=WRITES[1:2]), model.Measured(read_units=16))
    assert model.notifier_work(fold, idle, stream).read_units == 16
    assert model.notifier_work(fold, idle, model.Stream(("id",), "KEYS_ONLY", [OUTBOX])).invocations == 0


def test_cost_per_million_alerts_worked_by_hand():
    # One operation an incident, two alerts an incident: 500,000 incidents per million alerts.
    own = model.Measured(write_units=4, read_units=2, stream_writes=WRITES[1:2], log_bytes=100)
    operations = {"alert": operation("alert", own)}
    mix = model.Mix("tiny", {"alert": 1}, alerts_per_incident=2)
    prices = model.Prices(
        dynamodb_write_per_million=1,
        dynamodb_read_per_million=0.5,
        api_request_per_million=3,
        lambda_request_per_million=0.25,
        lambda_gb_second=1e-6,
        logs_ingested_per_gb=2,
    )
    functions = model.Functions(memory_mb=512, api_ms=100, notifier_ms=40, timer_ms=20, platform_log_bytes=10)
    idle_notifier = model.Measured(read_units=16)
    idle_timers = model.Measured(read_units=24, log_bytes=7)
    lines = model.cost_per_million_alerts(
        mix, operations, idle_notifier, idle_timers, model.Stream(("id",), "KEYS_ONLY"), prices, functions, 250_000
    )
    cost = {line.component: (line.quantity, line.dollars) for line in lines}
    # a million alerts at 250,000 a day: 4 days, 2 timers x 1,440 minutes x 4 = 11,520 timer calls
    assert cost["API Gateway (REST) requests"] == (500_000, 1.5)
    assert cost["Lambda requests: API"] == (500_000, 0.125)
    # the fold's one record wakes one idle notifier pass
    assert cost["Lambda requests: notifier"] == (500_000, 0.125)
    assert cost["Lambda requests: timers"] == (11_520, pytest.approx(11_520 * 0.25e-6))
    # 500,000 x 0.1 s x 0.5 GB = 25,000 GB-s; notifier 500,000 x 0.04 x 0.5 = 10,000; timers 11,520 x 0.02 x 0.5
    assert cost["Lambda duration: API"] == (25_000, pytest.approx(0.025))
    assert cost["Lambda duration: notifier"] == (10_000, pytest.approx(0.01))
    assert cost["Lambda duration: timers"] == (pytest.approx(115.2), pytest.approx(115.2e-6))
    assert cost["DynamoDB writes: operations"] == (2_000_000, 2)
    assert cost["DynamoDB writes: notifier"] == (0, 0)
    assert cost["DynamoDB reads: operations"] == (1_000_000, 0.5)
    assert cost["DynamoDB reads: notifier"] == (8_000_000, 4)
    assert cost["DynamoDB reads: timers"] == (1_440 * 4 * 24, pytest.approx(138_240 * 0.5e-6))
    # logs: 100 bytes an operation, 7 a timer minute, 10 an invocation of any function
    logged = 500_000 * 100 + 1_440 * 4 * 7 + (500_000 + 500_000 + 11_520) * 10
    assert cost["CloudWatch Logs ingestion"] == (pytest.approx(logged / 1024**3), pytest.approx(2 * logged / 1024**3))
    total = 1.5 + 0.125 + 0.125 + 0.00288 + 0.025 + 0.01 + 0.0001152 + 2 + 0.5 + 4 + 0.06912 + 2 * logged / 1024**3
    assert sum(line.dollars for line in lines) == pytest.approx(total)


def test_an_escalation_step_leaves_the_sweeps_idle_reads_to_the_timer():
    step = model.Measured(write_units=12, read_units=10.5)
    idle = model.Measured(read_units=8)
    assert model.without_idle_reads(step, idle) == model.Measured(write_units=12, read_units=2.5)
