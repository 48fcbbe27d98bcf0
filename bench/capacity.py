"""What each operation costs in DynamoDB capacity, priced as DynamoDB bills it
(tests/capacity.py), on the in-process emulator; and what that means for a mix of
operations (tests/capacity_model.py): the hot-key ceilings, the notifier invocations
the incidents stream causes, and the cost per million alerts at stated prices.

    .venv/bin/python bench/capacity.py

A typical incident (about 1.2 KB: a 60-character title, 400 bytes of description and
half a kilobyte of details from an integration) goes through trigger, a folded
duplicate, acknowledge and resolve, with 1 and with 100 events of history (99
reassignments before the acknowledgement); an escalation step is priced on its own.
Each row of the first table shows the write and read units and the partition each
operation wrote most under.

The mix is then measured again on a fresh incident of a service that already has
incidents (so no once-per-service row is created), each operation followed by the
notifier pass its stream records wake (app.notification_stream), with what the
product logs captured. Nobody is on call for the service, so each new incident also
logs the "unassigned" lines. Change the data model, re-run, compare.
"""

import os
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))
os.environ.update(
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",
    AWS_DEFAULT_REGION="us-east-1",
    ONCALL_STAGE="bench",
    ONCALL_DEMO="0",
)
os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)

import io  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import textwrap  # noqa: E402
import uuid  # noqa: E402
from contextlib import redirect_stderr, redirect_stdout  # noqa: E402
from dataclasses import replace  # noqa: E402

from chalice.test import Client  # noqa: E402
from moto import mock_aws  # noqa: E402

from tests import capacity_model as model  # noqa: E402
from tests import dynamo  # noqa: E402, F401  (the lock and DynamoDB's rules)
from tests.capacity import metered  # noqa: E402

JSON = {"Content-Type": "application/json"}
SERVICE = "payments"

# Prices in us-east-1, as stated on 2026-11-29 (the figures issue 12 uses), from the
# AWS pricing pages named:
PRICES_AS_OF = "2026-11-29"
PRICES = model.Prices(
    # aws.amazon.com/dynamodb/pricing/on-demand/: on-demand throughput, after the
    # price cut of 1 November 2024 (halved from $1.25 and $0.25).
    dynamodb_write_per_million=0.625,
    dynamodb_read_per_million=0.125,
    # aws.amazon.com/api-gateway/pricing/: REST APIs, the first 333 million a month.
    api_request_per_million=3.50,
    # aws.amazon.com/lambda/pricing/: x86, requests and duration.
    lambda_request_per_million=0.20,
    lambda_gb_second=0.0000166667,
    # aws.amazon.com/cloudwatch/pricing/: Logs, standard class, data ingested.
    logs_ingested_per_gb=0.50,
)

# Average duration per invocation: stated, not measured (the in-process emulator says
# nothing about Lambda's time). An API request makes 1 to 4 DynamoDB requests in turn,
# about 10 ms each in the region, plus the routing; a notifier or sweep pass queries
# 16 or 32 shards in parallel, then acts on what it found.
DURATION_MS = {"api": 50, "notifier": 60, "timer": 50}
# Lambda's own START / END / REPORT lines per invocation, priced at this memory used.
MEMORY_USED_MB = 100
# Alerts a day, to spread the per-minute timers' fixed cost over.
RATES = (1_000, 1_000_000)
WIDTH = 110  # characters a line of prose takes in the output

# What the stream reaches the notifier for, if it is ever filtered: records whose
# new image has an outbox (the transitions). It needs a stream that carries new
# images; today's carries keys only (chalicelib/models.py, Incident.Meta).
OUTBOX = {"dynamodb": {"NewImage": {"outbox_partition": {"S": [{"exists": True}]}}}}


class LogTap:
    """What the product writes to its log, as Lambda ships it to CloudWatch (every line
    written to stdout or stderr), collected here instead of printed."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self._swapped: list[tuple[logging.StreamHandler, object]] = []
        self._redirects = [redirect_stdout(self.buffer), redirect_stderr(self.buffer)]

    def __enter__(self):
        loggers = [logging.getLogger()] + [
            logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)
        ]
        for logger in loggers:
            for handler in logger.handlers:
                if isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stdout, sys.stderr):
                    self._swapped.append((handler, handler.setStream(self.buffer)))
        for redirect in self._redirects:
            redirect.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        for redirect in reversed(self._redirects):
            redirect.__exit__(*exc)
        for handler, stream in self._swapped:
            handler.setStream(stream)

    def mark(self) -> int:
        return len(self.buffer.getvalue())

    def bytes_since(self, mark: int) -> int:
        return len(self.buffer.getvalue()[mark:].encode("utf-8"))


def chalice_memory_mb() -> int:
    config = json.loads((PROJECT / ".chalice" / "config.json").read_text())
    return config["lambda_memory_size"]


def template_stream(incident_model) -> model.Stream:
    """The incidents stream as `make package` deploys it: the model's view type and the
    filters infra/stack.py gives the notifier's event source."""
    from infra import stack, tables

    source = stack.notifier_event_source(tables.logical_id(incident_model))
    keys = tuple(name for name in (incident_model._hash_keyname, incident_model._range_keyname) if name)
    return model.Stream(keys, incident_model.Meta.stream_view_type, source.get("FilterCriteria"))


def main() -> None:
    memory_mb = chalice_memory_mb()
    with LogTap() as tap, mock_aws():
        import app
        from chalicelib import clock, db, shards
        from chalicelib.api.payloads import KeyBody
        from chalicelib.apikey import keys
        from chalicelib.escalation import sweep
        from chalicelib.models import ALL_MODELS, Incident, Stats
        from chalicelib.notify import delivery

        db.create_tables(ALL_MODELS)
        fake = clock.ManualClock(clock.now())
        clock.set_source(fake)
        admin = keys.create(KeyBody(name="bench", role="admin", user="admin"), "bench")["token"]
        integration = keys.create(KeyBody(name="monitor", role="integration", services=[SERVICE]), "bench")["token"]
        headers = {**JSON, "Authorization": f"Bearer {admin}"}
        incidents_table = Incident.Meta.table_name
        # The item that numbers incidents (chalicelib/incident/incidents.py): the one key every new incident writes.
        counter = (Stats.Meta.table_name, "counter")
        stream = template_stream(Incident)
        rows = []
        with Client(app.app, stage_name="local") as client:

            def call(method, path, body=None, token_headers=headers):
                response = client.http.request(method, path, headers=token_headers, body=json.dumps(body or {}))
                assert response.status_code < 300, response.body
                return response.json_body

            def priced(name, action):
                # The caller's key is checked before the operation: warm the key lookup out of the figure.
                with metered() as meter:
                    result = action()
                writes = meter.partitions.most_common(1)
                if os.environ.get("CAPACITY_DETAIL"):
                    print(name, dict(meter.partitions), file=sys.__stdout__, flush=True)
                rows.append((name, meter.write_units, meter.read_units, writes[0] if writes else None))
                return result

            def event(dedup_key):
                return {
                    "routing_key": integration,
                    "event_action": "trigger",
                    "dedup_key": dedup_key,
                    "payload": {
                        "summary": "Checkout error rate above 5% for 10 minutes on payments-api",
                        "source": "prometheus-prod",
                        "severity": "critical",
                        "component": "payments-api",
                        "custom_details": {
                            "query": "rate(http_errors[5m])" * 12,
                            "value": "7.2%",
                            "runbook": "x" * 200,
                        },
                    },
                }

            def newest():
                return call("GET", f"/api/incidents/list/all/?service_name={SERVICE}&limit=1")["incidents"][0]["id"]

            call("POST", "/api/escalation/levels/", {"service_name": SERVICE, "level": 1, "user": "bob"})
            for history in (1, 100):
                body = event(f"checkout-{history}")
                enqueue = lambda body=body: call("POST", "/v2/enqueue", body, JSON)  # noqa: E731
                priced(f"new incident (PagerDuty trigger, {history} event)", enqueue)
                number = newest()
                for n in range(history - 1):
                    call("POST", f"/api/incidents/{number}/reassign/", {"user": f"responder-{n}"})
                # The notifier hands the transitions over, as the stream has it do within a second.
                delivery.run()
                priced(f"folded duplicate ({history} events)", enqueue)
                priced(
                    f"acknowledge ({history} events)", lambda n=number: call("POST", f"/api/incidents/{n}/acknowledge/")
                )
                delivery.run()
                priced(f"resolve ({history} events)", lambda n=number: call("POST", f"/api/incidents/{n}/resolve/"))
            number = call("POST", "/api/incidents/trigger/", {"service_name": SERVICE, "title": "disk full"})["id"]
            fake.advance(seconds=301)
            priced("escalation step (sweep)", lambda: call("POST", "/api/incidents/escalate/check/"))

            # ---- the mix, on a clean slate: nothing due, nothing owed ----
            call("POST", f"/api/incidents/{number}/acknowledge/")
            call("POST", f"/api/incidents/{number}/resolve/")
            delivery.run()

            def measure(action, incident_id=None) -> tuple[model.Measured, object]:
                mark = tap.mark()
                with metered() as meter:
                    result = action()
                logged = tap.bytes_since(mark)
                if incident_id is None:
                    incident_id = newest()
                # What else names the incident in a key of its own (today: the dedup item's sort key).
                names = [Incident.get(incident_id).dedup_key] if incident_id else []
                partitions: dict = {}
                for (table, key), units in meter.partitions.items():
                    scope = model.scope_of(key, incident_id, SERVICE, shards.SHARDS, names)
                    where = (table, model.general_key(key, scope))
                    partitions[where] = (scope, partitions.get(where, (scope, 0))[1] + units)
                measured = model.Measured(
                    write_units=meter.write_units,
                    read_units=meter.read_units,
                    partitions=partitions,
                    stream_writes=tuple(w for w in meter.writes if w.table == incidents_table),
                    log_bytes=logged,
                )
                return measured, result

            # A stream pass reads no queue: with nothing in its records, it does nothing.
            idle_notifier, _ = measure(lambda: delivery.run_for([]), incident_id=0)
            idle_retries, _ = measure(delivery.run, incident_id=0)
            idle_sweep, _ = measure(sweep.run, incident_id=0)
            idle_timers = model.Measured(
                read_units=idle_retries.read_units + idle_sweep.read_units,
                log_bytes=idle_retries.log_bytes + idle_sweep.log_bytes,
            )
            operations = {}

            def operation(name, action, api_requests=1, incident_id=None, own_adjust=None):
                own, _ = measure(action, incident_id)
                if own_adjust:
                    own = own_adjust(own)
                # The notifier's pass on the records the operation's writes put on the stream.
                records = stream.passing(own.stream_writes)
                after, _ = measure(lambda: delivery.run_for(records), incident_id or newest())
                operations[name] = model.Operation(name, own, after, api_requests)

            body = event("checkout-mix")
            operation("new incident", lambda: call("POST", "/v2/enqueue", body, JSON))
            mixed = newest()
            operation("folded duplicate", lambda: call("POST", "/v2/enqueue", body, JSON), incident_id=mixed)
            operation("acknowledge", lambda: call("POST", f"/api/incidents/{mixed}/acknowledge/"), incident_id=mixed)
            operation("resolve", lambda: call("POST", f"/api/incidents/{mixed}/resolve/"), incident_id=mixed)
            late = call("POST", "/api/incidents/trigger/", {"service_name": SERVICE, "title": "queue backlog"})["id"]
            delivery.run()
            fake.advance(seconds=301)
            operation(
                "escalation step",
                sweep.run,
                api_requests=0,
                incident_id=late,
                own_adjust=lambda own: model.without_idle_reads(own, idle_sweep),
            )
        clock.set_source(None)

    print_operations(rows)
    print_ceilings(operations, shards.SHARDS, counter)
    print_stream(operations, stream)
    print_cost(operations, idle_notifier, idle_timers, stream, memory_mb)


def say(text: str) -> None:
    print(textwrap.fill(text, WIDTH))


def print_operations(rows) -> None:
    print(f"{'operation':44s} {'write units':>11s} {'read units':>10s}  most written partition")
    for name, write_units, read_units, top in rows:
        where = f"{top[0][0]} {top[0][1]!r}: {top[1]:g}" if top else ""
        print(f"{name:44s} {write_units:11g} {read_units:10g}  {where}")


def rate(value: float) -> str:
    return "unbounded" if math.isinf(value) else f"{value:,.1f}"


def print_ceilings(operations, shards: int, counter: tuple[str, str]) -> None:
    mix = model.MIX
    limit = model.PARTITION_WRITE_LIMIT
    loads = model.partition_loads(mix, operations)
    alerts = mix.alerts_per_incident
    print()
    say(f"Hot keys. Mix: {mix.description}.")
    say(
        f"Write units each partition takes per incident of the mix (the notifier passes' writes included), and the "
        f"incidents/s at which it takes {limit:,} write units/s, DynamoDB's limit per partition of a table or of an "
        f"index. Scope: whose writes share the key: every incident's (shared), 1 in {shards} incidents' (shard), "
        f"one service's incidents' (service: all of them when one service sends everything), or one incident's. "
        f"A key is taken as one partition (DynamoDB may split a hot key's items by sort key; not counted on)."
    )
    print(f"{'table or table/index':36s} {'partition key':28s} {'scope':8s} {'WU/incident':>11s} {'incidents/s':>12s}")
    for load in loads:
        per_second = rate(model.incidents_per_second(load, shards))
        print(f"{load.table:36s} {load.key:28s} {load.scope:8s} {load.units_per_incident:11g} {per_second:>12s}")
    print()
    print(f"{'ceiling':36s} {'incidents/s':>12s} {'alerts/s':>12s}  set by")
    for name, scopes in (
        ("all services together", (model.SHARED, model.SHARD)),
        ("one service", (model.SHARED, model.SHARD, model.SERVICE)),
    ):
        value, load = model.ceiling(loads, scopes, shards)
        at = f"{load.table} {load.key!r}" if load else "no shared key"
        print(f"{name:36s} {rate(value):>12s} {rate(value * alerts):>12s}  {at}")
    fold = operations["folded duplicate"].own
    folds, where = model.per_key_ceiling(fold)
    units = fold.partitions[where][1] if where else 0
    print(f"{'one alert, folds/s':36s} {'':>12s} {rate(folds):>12s}  {where[0]} {where[1]!r}: {units:g} WU a fold")
    new = operations["new incident"].own.partitions
    for (table, key), (_, units) in new.items():
        if (table, key) == counter:
            value = limit / units
            name = "new incidents/s, the number counter"
            print(f"{name:36s} {rate(value):>12s} {rate(value * alerts):>12s}  {table} {key!r}: {units:g} WU each")


def print_stream(operations, stream: model.Stream) -> None:
    mix = model.MIX
    today = model.records_per_incident(mix, operations, stream)
    filtered = model.records_per_incident(mix, operations, replace(stream, view_type="NEW_IMAGE", filters=[OUTBOX]))
    as_is = model.records_per_incident(mix, operations, replace(stream, filters=[OUTBOX]))
    transitions = sum(count for name, count in mix.per_incident.items() if name != "folded duplicate")
    described = f"filter {json.dumps(stream.filters)}" if stream.filters else "no event filter"
    print()
    say(
        f"Notifier invocations per incident: the incidents-table writes (stream records) of each operation and of "
        f"the notifier pass after it, each waking app.notification_stream once (batches of several records form "
        f"only when records come faster than Lambda polls). The stream today: {stream.view_type}, {described}. "
        f"Also shown: the outbox filter {json.dumps(OUTBOX)} on a NEW_IMAGE stream, and on today's."
    )
    columns = ("records", "reach it today", "filter, NEW_IMAGE", f"filter, {stream.view_type}")
    print(f"{'operation':20s} {'per incident':>12s}" + "".join(f" {name:>18s}" for name in columns))
    totals = [0.0] * 4
    for name, count in mix.per_incident.items():
        row = (today[name][0], today[name][1], filtered[name][1], as_is[name][1])
        totals = [total + value for total, value in zip(totals, row, strict=True)]
        print(f"{name:20s} {count:12g}" + "".join(f" {value:18g}" for value in row))
    print(f"{'per incident':20s} {'':12s}" + "".join(f" {value:18g}" for value in totals))
    say(
        f"Transitions per incident in the mix: {transitions:g}. A keys-only stream carries no new image, so the "
        f"filter would pass nothing there: it needs StreamViewType NEW_IMAGE."
    )


def amount(quantity: float) -> str:
    return f"{quantity:,.0f}" if quantity >= 100 else f"{quantity:.3g}"


def print_cost(operations, idle_notifier, idle_timers, stream, memory_mb: int) -> None:
    mix = model.MIX
    example = model.platform_log_lines(str(uuid.UUID(int=0)), DURATION_MS["api"], memory_mb, MEMORY_USED_MB)
    platform = len(example.encode())
    functions = model.Functions(
        memory_mb=memory_mb,
        api_ms=DURATION_MS["api"],
        notifier_ms=DURATION_MS["notifier"],
        timer_ms=DURATION_MS["timer"],
        platform_log_bytes=platform,
    )
    per_rate = [
        model.cost_per_million_alerts(mix, operations, idle_notifier, idle_timers, stream, PRICES, functions, per_day)
        for per_day in RATES
    ]
    logged = ", ".join(f"{name} {operation.own.log_bytes}" for name, operation in operations.items())
    print()
    say(f"Cost per million alerts at us-east-1 prices as of {PRICES_AS_OF}. Mix: {mix.description}.")
    say(
        f"An API request per alert, acknowledge and resolve. Lambda: {memory_mb} MB (.chalice/config.json); "
        f"average durations stated, not measured: API {DURATION_MS['api']} ms, notifier {DURATION_MS['notifier']} "
        f"ms, timers {DURATION_MS['timer']} ms. The notifier runs once per stream record that reaches it; two "
        f"timers (escalation sweep, delivery retries) run every minute, idle at {idle_timers.read_units:g} read "
        f"units a minute together, their cost spread over the alerts of a day at each rate."
    )
    say(
        f"Logs: the bytes the product logged, measured (bytes per operation: {logged}; an idle notifier pass "
        f"{idle_notifier.log_bytes}), plus Lambda's START/END/REPORT lines ({platform} bytes an invocation)."
    )
    say(
        "Not counted: storage and backups (per GB-month), DynamoDB Streams reads (free to a Lambda trigger), data "
        "transfer, the API key lookup (cached 60 s per Lambda), cold starts."
    )
    print(f"{'component':30s}" + "".join(f" {f'{per_day:,} alerts/day':>34s}" for per_day in RATES))
    print(f"{'':30s}" + f" {'quantity':>14s} {'':8s} {'$':>10s}" * len(RATES))
    for same in zip(*per_rate, strict=True):
        cells = "".join(f" {amount(line.quantity):>14s} {line.unit:8s} {line.dollars:10.3f}" for line in same)
        print(f"{same[0].component:30s}{cells}")
    totals = "".join(f" {'':23s} {sum(line.dollars for line in lines):10.2f}" for lines in per_rate)
    print(f"{'total per million alerts, $':30s}{totals}")


if __name__ == "__main__":
    main()
