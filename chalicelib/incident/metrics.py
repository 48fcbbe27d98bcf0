"""MTTA / MTTR and incident counts, kept as running sums so reading them is one request.

The counters are updated inside the same transactions that change incidents, so
they never disagree with the incidents table. Each service has its own row and
nothing else is written: the totals over all services are the sum of the service
rows, read when asked for (a page of the services index, then its rows by
BatchGetItem, per hundred services), so no item takes every incident's writes.
"""

from chalicelib.api import pagination, responses
from chalicelib.db import Transaction
from chalicelib.models import Stats

SCOPE = "totals"
SERVICE_KIND = "metrics-service#"
CATALOGUE = "services"

COUNTERS = (
    "total_incidents",
    "escalated_incidents",
    "resolved_incidents",
    "resolved_acknowledged",
    "ack_seconds_sum",
    "resolve_seconds_sum",
    "alerts",
)


def _service_row(service_name: str) -> Stats:
    return Stats(SERVICE_KIND + service_name, SCOPE)


def count(tx: Transaction, service_name: str, **increments: float) -> None:
    """Add increments to the service's counters, in transaction tx."""
    unknown = set(increments) - set(COUNTERS)
    if unknown:
        raise ValueError(f"unknown counters {sorted(unknown)}")
    added = [getattr(Stats, name).add(value) for name, value in increments.items()]
    tx.update(
        _service_row(service_name),
        [*added, Stats.service_name.set(service_name), Stats.catalogue.set(CATALOGUE)],
    )


def _mean(total: float, n: int) -> float | None:
    return round(float(total) / n, 3) if n else None


def _report(rows: list[Stats], service_name: str | None) -> responses.Metrics:
    values = {name: sum(getattr(row, name) or 0 for row in rows) for name in COUNTERS}
    total = int(values["total_incidents"])
    resolved = int(values["resolved_incidents"])
    return responses.Metrics(
        service_name=service_name,
        total_incidents=total,
        open_incidents=total - resolved,
        resolved_incidents=resolved,
        escalated_incidents=int(values["escalated_incidents"]),
        alerts=int(values["alerts"]),
        # Over resolved incidents, as the original defines them; MTTA over the
        # resolved ones that were acknowledged (a source may close an alert unacknowledged).
        mtta_seconds=_mean(values["ack_seconds_sum"], int(values["resolved_acknowledged"])),
        mttr_seconds=_mean(values["resolve_seconds_sum"], resolved),
    )


def read(service_name: str | None = None) -> dict:
    if service_name:
        try:
            rows = [Stats.get(SERVICE_KIND + service_name, SCOPE, consistent_read=True)]
        except Stats.DoesNotExist:
            rows = []
    else:
        # The services index lags its rows by a moment: a service whose first incident
        # is being opened right now may be missing from the totals for that moment.
        listed = Stats.service_index.query(CATALOGUE, page_size=100)
        rows = list(Stats.batch_get([(s.kind, s.scope) for s in listed], consistent_read=True))
    return _report(rows, service_name).body()


def service_names() -> list[str]:
    """Every service with metrics (a Query of the services index per hundred): the
    services a report over all of them reads."""
    return [row.service_name for row in Stats.service_index.query(CATALOGUE, page_size=100)]


def per_service(limit: int, cursor: str | None) -> dict:
    """A page of services: their keys from the services index, then their rows."""
    keys = {"catalogue": "S", "service_name": "S", "kind": "S", "scope": "S"}
    start = pagination.decode(cursor, keys, {"catalogue": CATALOGUE})
    page = Stats.service_index.query(CATALOGUE, page_size=limit, last_evaluated_key=start)
    listed, resume_at = pagination.one_page(Stats, page)
    rows = {row.service_name: row for row in Stats.batch_get([(s.kind, s.scope) for s in listed])} if listed else {}
    return responses.ServiceMetricsPage(
        services=[_report([rows[s.service_name]], s.service_name) for s in listed if s.service_name in rows],
        next_cursor=pagination.encode(resume_at),
    ).body()
