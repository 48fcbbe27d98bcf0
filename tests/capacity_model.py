"""What metered operations (tests/capacity.py) mean for a mix of them: the rate at
which the busiest partition reaches DynamoDB's per-partition limit, the notifier
invocations the incidents stream causes, and the cost per million alerts at stated
prices. Plain arithmetic on measured figures, so tests check it by hand
(tests/test_capacity_model.py); bench/capacity.py measures and prints.
"""

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

# Write units a second one partition takes (3,000 read units), a global secondary
# index's partitions too; a write an index throttles is throttled on the table
# (DynamoDB Developer Guide: "Partitions and data distribution", "Global secondary
# indexes"). Taken here as the limit of one partition key value: DynamoDB may split a
# hot key's items over partitions by sort key, which a design should not count on.
PARTITION_WRITE_LIMIT = 1000

# Who shares a partition key. The load an incident puts on it scales with:
INCIDENT = "incident"  # the incident's own keys: more incidents, more partitions; no aggregate bound
SERVICE = "service"  # the service's keys: every incident of one service
SHARD = "shard"  # a queue shard picked by the incident number: 1 in `shards` of all incidents
SHARED = "shared"  # a key every incident writes (a constant, a status): all of them


def scope_of(key: str, incident_id: int, service: str, shards: int, own: Iterable[str] = ()) -> str:
    """Whose partition `key` is, as written by an operation on incident `incident_id`
    of `service`: the incident's own (its number, or a key with its number or one of
    its `own` values, such as its dedup key, between "#"), the shard of a queue its
    number picks (`<queue>#<nn>`, zero-padded, so `outbox#07` is incident 7's shard),
    its service's (the name, or `<kind>#<name>`), or everybody's. A key none of these
    describe counts as everybody's: the cautious reading, which the printed table
    shows for a person to check."""
    if {str(incident_id), *own} & set(key.split("#")):
        return INCIDENT
    sharded = re.fullmatch(r"(.+)#(\d+)", key)
    if sharded and int(sharded.group(2)) == incident_id % shards:
        return SHARD
    if key == service or key.endswith("#" + service):
        return SERVICE
    return SHARED


def general_key(key: str, scope: str) -> str:
    """The key as every incident of its scope writes it: `<incident>`, `<service>`,
    `outbox#<shard>`, or the key itself when everybody writes that very key."""
    if scope == INCIDENT:
        return "<incident>"
    if scope == SERVICE:
        return re.sub(r"[^#]+$", "<service>", key)
    if scope == SHARD:
        return re.sub(r"\d+$", "<shard>", key)
    return key


@dataclass(frozen=True)
class Measured:
    """One metered run of something: its DynamoDB units, the write units under each
    partition ((table or table/index, general key) -> (scope, units)), the items it
    changed in the streamed table (tests/capacity.Written), and the bytes it logged."""

    write_units: float = 0
    read_units: float = 0
    partitions: Mapping[tuple[str, str], tuple[str, float]] = field(default_factory=dict)
    stream_writes: tuple = ()
    log_bytes: int = 0


@dataclass(frozen=True)
class Operation:
    """An operation of the mix: what it costs itself (`own`), what the notifier pass
    its stream records wake costs (`notifier`), and how many API requests carry it
    (0 for an escalation step, which the per-minute sweep takes)."""

    name: str
    own: Measured
    notifier: Measured
    api_requests: int


@dataclass(frozen=True)
class Mix:
    description: str
    # operation name -> how many per incident
    per_incident: Mapping[str, float]
    alerts_per_incident: float


MIX = Mix(
    "1 new incident per 20 alerts (19 folds), each incident acknowledged once and resolved once, "
    "one escalation step per 4 incidents",
    {"new incident": 1, "folded duplicate": 19, "acknowledge": 1, "resolve": 1, "escalation step": 0.25},
    alerts_per_incident=20,
)


def without_idle_reads(measured: Measured, idle: Measured) -> Measured:
    """An escalation step as the mix pays it: the sweep runs every minute anyway, so
    its idle reads (one Query per shard) belong to the timer, not to the step."""
    return replace(measured, read_units=measured.read_units - idle.read_units)


# ---- hot keys ----


@dataclass(frozen=True)
class Load:
    table: str
    key: str
    scope: str
    # write units one incident of the mix spends under this key (summed over its operations)
    units_per_incident: float


def partition_loads(mix: Mix, operations: Mapping[str, Operation]) -> list[Load]:
    """Write units per incident of the mix under each partition, the notifier's writes
    included, busiest first."""
    totals: dict[tuple[str, str], list] = {}
    for name, count in mix.per_incident.items():
        operation = operations[name]
        for measured in (operation.own, operation.notifier):
            for (table, key), (scope, units) in measured.partitions.items():
                entry = totals.setdefault((table, key), [scope, 0.0])
                entry[1] += count * units
    loads = [Load(table, key, scope, units) for (table, key), (scope, units) in totals.items()]
    return sorted(loads, key=lambda load: (-load.units_per_incident, load.table, load.key))


def share(scope: str, shards: int, services: int = 1) -> float:
    """The part of all incidents whose writes land on one partition of `scope`, when
    the incidents are spread evenly over `services` services and `shards` shards."""
    return {INCIDENT: 0.0, SERVICE: 1 / services, SHARD: 1 / shards, SHARED: 1.0}[scope]


def incidents_per_second(load: Load, shards: int, services: int = 1, limit: float = PARTITION_WRITE_LIMIT) -> float:
    """Incidents/s of the mix before this partition takes `limit` write units a second
    (infinite for an incident's own keys: more incidents, more partitions)."""
    per_incident_per_second = load.units_per_incident * share(load.scope, shards, services)
    return math.inf if per_incident_per_second == 0 else limit / per_incident_per_second


def ceiling(loads: Iterable[Load], scopes: Iterable[str], shards: int, services: int = 1) -> tuple[float, Load | None]:
    """The lowest rate any partition of `scopes` allows, and that partition."""
    candidates = [(incidents_per_second(load, shards, services), load) for load in loads if load.scope in scopes]
    if not candidates:
        return math.inf, None
    return min(candidates, key=lambda found: found[0])


def per_key_ceiling(measured: Measured, limit: float = PARTITION_WRITE_LIMIT) -> tuple[float, tuple[str, str] | None]:
    """How often one operation can repeat on the same keys (one alert folding again and
    again): the limit over the units it spends on its most written partition."""
    if not measured.partitions:
        return math.inf, None
    where, (_, units) = max(measured.partitions.items(), key=lambda item: item[1][1])
    return limit / units, where


# ---- the incidents stream and the notifier ----

STREAM_VIEWS = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")


def stream_records(writes: Iterable, key_names: Iterable[str], view_type: str) -> list[dict]:
    """The records a table's stream carries for `writes` to it (tests/capacity.Written:
    items changed, with their images before and after), shaped as the Lambda event's
    records, with the images the view type carries. DynamoDB writes no record for a
    write that changed nothing, which the meter already left out."""
    if view_type not in STREAM_VIEWS:
        raise ValueError(f"unknown stream view type {view_type!r}")
    records = []
    for written in writes:
        image = written.new if written.new is not None else written.old
        data = {"Keys": {name: image[name] for name in key_names}, "StreamViewType": view_type}
        if view_type in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") and written.new is not None:
            data["NewImage"] = written.new
        if view_type in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") and written.old is not None:
            data["OldImage"] = written.old
        name = "INSERT" if written.old is None else "REMOVE" if written.new is None else "MODIFY"
        records.append({"eventName": name, "eventSource": "aws:dynamodb", "dynamodb": data})
    return records


_ABSENT = object()


def matches(pattern: Mapping, event) -> bool:
    """Whether a Lambda event filter pattern (the JSON of one FilterCriteria filter)
    matches an event: every field it names must match; a leaf is a list of values or
    of the operators `exists`, `prefix`, `anything-but` (others raise: not modelled)."""
    for name, wanted in pattern.items():
        value = event.get(name, _ABSENT) if isinstance(event, Mapping) else _ABSENT
        if isinstance(wanted, Mapping):
            if not matches(wanted, value if isinstance(value, Mapping) else {}):
                return False
        elif not any(_leaf_matches(rule, value) for rule in wanted):
            return False
    return True


def _leaf_matches(rule, value) -> bool:
    if not isinstance(rule, Mapping):
        return value is not _ABSENT and (rule in value if isinstance(value, list) else rule == value)
    ((operator, argument),) = rule.items()
    if operator not in ("exists", "prefix", "anything-but"):
        raise ValueError(f"the filter operator {operator!r} is not modelled here")
    if operator == "exists":
        return (value is not _ABSENT) == argument
    if value is _ABSENT:
        return False
    if operator == "prefix":
        return isinstance(value, str) and value.startswith(argument)
    return value not in (argument if isinstance(argument, list) else [argument])  # anything-but


def stream_records_passing(filters: Iterable | None, records: Iterable[dict]) -> list[dict]:
    """The records an event source mapping hands its function: all of them without a
    filter, else those matching any filter. `filters` are patterns as dicts, or as the
    JSON strings a FilterCriteria holds ({"Filters": [{"Pattern": "..."}]} works too)."""
    if isinstance(filters, Mapping):
        filters = [entry["Pattern"] for entry in filters.get("Filters", [])]
    patterns = [json.loads(each) if isinstance(each, str) else each for each in (filters or [])]
    if not patterns:
        return list(records)
    return [record for record in records if any(matches(pattern, record) for pattern in patterns)]


@dataclass(frozen=True)
class Stream:
    """The incidents stream as the template declares it: the table's key, the view
    type (which images a record carries), and the event source mapping's filters
    (None: every record reaches the function)."""

    key_names: tuple[str, ...]
    view_type: str
    filters: object = None

    def records(self, writes: Iterable) -> list[dict]:
        return stream_records(writes, self.key_names, self.view_type)

    def passing(self, writes: Iterable) -> list[dict]:
        return stream_records_passing(self.filters, self.records(writes))


@dataclass(frozen=True)
class NotifierWork:
    invocations: float
    write_units: float
    read_units: float
    log_bytes: int


def notifier_work(operation: Operation, idle: Measured, stream: Stream) -> NotifierWork:
    """The notifier invocations one operation causes and what they cost.

    Each stream record that passes the filter wakes the notifier once (a batch holds
    more than one record only when records arrive faster than Lambda polls the shard,
    so at low rates this is what happens, and at high rates an upper bound): the
    operation's own records, and those of the notifier's writes (clearing the outbox
    is a write to the incident). One invocation does the work the operation left
    (`operation.notifier`); every other is an idle pass (`idle`: one Query per shard
    of each queue). Work no record announces is done by the per-minute timer, which
    runs anyway: its cost counts, its invocation does not."""
    own = stream.passing(operation.own.stream_writes)
    follow = stream.passing(operation.notifier.stream_writes)
    invocations = len(own) + len(follow)
    did_work = operation.notifier.write_units > 0
    idle_passes = max(0, invocations - 1) if did_work else invocations
    work = operation.notifier if did_work else Measured()
    return NotifierWork(
        invocations=invocations,
        write_units=work.write_units + idle_passes * idle.write_units,
        read_units=work.read_units + idle_passes * idle.read_units,
        log_bytes=work.log_bytes + idle_passes * idle.log_bytes,
    )


# ---- cost ----


@dataclass(frozen=True)
class Prices:
    """US dollars in us-east-1 (see bench/capacity.py for the sources and the date)."""

    dynamodb_write_per_million: float
    dynamodb_read_per_million: float
    api_request_per_million: float
    lambda_request_per_million: float
    lambda_gb_second: float
    logs_ingested_per_gb: float


@dataclass(frozen=True)
class Functions:
    """The Lambda functions as deployed: memory, and the average duration per
    invocation of each kind (stated, see bench/capacity.py)."""

    memory_mb: int
    api_ms: float
    notifier_ms: float
    timer_ms: float
    # CloudWatch lines Lambda writes per invocation (START, END, REPORT)
    platform_log_bytes: int
    # functions on a one-minute schedule (the escalation sweep, the delivery retries)
    timers: int = 2


GB = 1024**3


@dataclass(frozen=True)
class Line:
    component: str
    quantity: float
    unit: str
    dollars: float


def cost_per_million_alerts(
    mix: Mix,
    operations: Mapping[str, Operation],
    idle_notifier: Measured,
    idle_timers: Measured,
    stream: Stream,
    prices: Prices,
    functions: Functions,
    alerts_per_day: float,
) -> list[Line]:
    """What a million alerts of `mix` cost, by component, at `alerts_per_day` (which
    spreads the per-minute timers' fixed cost over the alerts). `idle_timers` is one
    minute of the timers doing nothing (each function's idle pass, together)."""
    incidents = 1e6 / mix.alerts_per_incident
    days = 1e6 / alerts_per_day
    api = writes = reads = notifier_calls = 0.0
    op_logs = notifier_logs = notifier_writes = notifier_reads = 0.0
    for name, count in mix.per_incident.items():
        operation = operations[name]
        work = notifier_work(operation, idle_notifier, stream)
        api += count * operation.api_requests
        writes += count * operation.own.write_units
        reads += count * operation.own.read_units
        op_logs += count * operation.own.log_bytes
        notifier_calls += count * work.invocations
        notifier_writes += count * work.write_units
        notifier_reads += count * work.read_units
        notifier_logs += count * work.log_bytes
    api, writes, reads, notifier_calls = (incidents * value for value in (api, writes, reads, notifier_calls))
    notifier_writes, notifier_reads = incidents * notifier_writes, incidents * notifier_reads
    timer_calls = functions.timers * 24 * 60 * days
    timer_reads = 24 * 60 * days * idle_timers.read_units
    gb = functions.memory_mb / 1024
    seconds = {
        "API": api * functions.api_ms / 1000,
        "notifier": notifier_calls * functions.notifier_ms / 1000,
        "timers": timer_calls * functions.timer_ms / 1000,
    }
    logged = (
        incidents * (op_logs + notifier_logs)
        + 24 * 60 * days * idle_timers.log_bytes
        + (api + notifier_calls + timer_calls) * functions.platform_log_bytes
    )
    per_million = 1e-6
    return [
        Line("API Gateway (REST) requests", api, "requests", api * per_million * prices.api_request_per_million),
        *(
            Line(
                f"Lambda requests: {who}",
                calls,
                "calls",
                calls * per_million * prices.lambda_request_per_million,
            )
            for who, calls in (("API", api), ("notifier", notifier_calls), ("timers", timer_calls))
        ),
        *(
            Line(
                f"Lambda duration: {who}",
                spent * gb,
                "GB-s",
                spent * gb * prices.lambda_gb_second,
            )
            for who, spent in seconds.items()
        ),
        *(
            Line(f"DynamoDB {what}", units, unit, units * per_million * price)
            for what, units, unit, price in (
                ("writes: operations", writes, "WRU", prices.dynamodb_write_per_million),
                ("writes: notifier", notifier_writes, "WRU", prices.dynamodb_write_per_million),
                ("reads: operations", reads, "RRU", prices.dynamodb_read_per_million),
                ("reads: notifier", notifier_reads, "RRU", prices.dynamodb_read_per_million),
                ("reads: timers", timer_reads, "RRU", prices.dynamodb_read_per_million),
            )
        ),
        Line("CloudWatch Logs ingestion", logged / GB, "GB", logged / GB * prices.logs_ingested_per_gb),
    ]


def platform_log_lines(request_id: str, duration_ms: float, memory_mb: int, used_mb: int) -> str:
    """The lines Lambda itself writes for an invocation (text log format)."""
    billed = math.ceil(duration_ms)
    return (
        f"START RequestId: {request_id} Version: $LATEST\n"
        f"END RequestId: {request_id}\n"
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\tBilled Duration: {billed} ms\t"
        f"Memory Size: {memory_mb} MB\tMax Memory Used: {used_mb} MB\t\n"
    )


def records_per_incident(
    mix: Mix, operations: Mapping[str, Operation], stream: Stream
) -> dict[str, tuple[float, float]]:
    """Per operation of the mix, per incident: (stream records the operation and the
    notifier pass after it write, the ones that reach the notifier through `stream`)."""
    rows = {}
    for name, count in mix.per_incident.items():
        operation = operations[name]
        writes = (*operation.own.stream_writes, *operation.notifier.stream_writes)
        rows[name] = (count * len(stream.records(writes)), count * len(stream.passing(writes)))
    return rows
