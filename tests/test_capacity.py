"""Capacity per operation, priced as DynamoDB bills it (tests/capacity.py), and the
partitions each operation writes under: no key every incident's writes share but
the incident-number counter."""

from collections import Counter

from tests.capacity import metered
from tests.flows import acknowledge, resolve, trigger

STATS = "oncall-test-stats"


def stats_partitions(meter) -> Counter:
    return Counter({key: units for (table, key), units in meter.partitions.items() if table == STATS})


def test_metrics_rows_are_the_services_own_and_the_totals_are_spread_over_shards(client):
    written: Counter = Counter()
    for n in range(32):
        with metered() as meter:
            number = trigger(client, f"svc-{n % 4}", f"alert {n}").json_body["id"]
            acknowledge(client, number)
            resolve(client, number)
        written.update(stats_partitions(meter))
    counter = written.pop("counter")
    services = {key: units for key, units in written.items() if key.startswith("metrics-service#")}
    shards = {key: units for key, units in written.items() if key.startswith("metrics-all#")}
    assert set(written) == set(services) | set(shards)
    assert counter == 32  # the one key every new incident writes: its number
    assert sorted(services) == [f"metrics-service#svc-{n}" for n in range(4)]
    assert len(shards) == 16 and max(shards.values()) == min(shards.values())
