"""MTTA / MTTR and incident counts, kept as running sums so reading them is one GetItem.

The counters are updated inside the same transactions that change incidents, so
they never disagree with the incidents table.
"""

from . import pagination
from .db import Transaction
from .models import Stats

KIND = "metrics"
ALL_SCOPE = "all"
SERVICE_PREFIX = "service#"

COUNTERS = (
    "total_incidents",
    "escalated_incidents",
    "resolved_incidents",
    "resolved_acknowledged",
    "ack_seconds_sum",
    "resolve_seconds_sum",
    "alerts",
)


def _scope(service_name: str) -> str:
    return SERVICE_PREFIX + service_name


def count(tx: Transaction, service_name: str, **increments: float) -> None:
    """Add increments to the service's counters and the overall ones, in transaction tx."""
    unknown = set(increments) - set(COUNTERS)
    if unknown:
        raise ValueError(f"unknown counters {sorted(unknown)}")
    for scope in (ALL_SCOPE, _scope(service_name)):
        actions = [getattr(Stats, name).add(value) for name, value in increments.items()]
        if scope != ALL_SCOPE:
            actions.append(Stats.service_name.set(service_name))
        tx.update(Stats(KIND, scope), actions)


def _mean(total: float, n: int) -> float | None:
    return round(float(total) / n, 3) if n else None


def _report(stats: Stats | None, service_name: str | None) -> dict:
    values = {name: (getattr(stats, name) or 0) if stats else 0 for name in COUNTERS}
    total = int(values["total_incidents"])
    resolved = int(values["resolved_incidents"])
    return {
        "service_name": service_name,
        "total_incidents": total,
        "open_incidents": total - resolved,
        "resolved_incidents": resolved,
        "escalated_incidents": int(values["escalated_incidents"]),
        "alerts": int(values["alerts"]),
        # Over resolved incidents, as the original defines them; MTTA over the
        # resolved ones that were acknowledged (a source may close an alert unacknowledged).
        "mtta_seconds": _mean(values["ack_seconds_sum"], int(values["resolved_acknowledged"])),
        "mttr_seconds": _mean(values["resolve_seconds_sum"], resolved),
    }


def read(service_name: str | None = None) -> dict:
    scope = _scope(service_name) if service_name else ALL_SCOPE
    try:
        stats = Stats.get(KIND, scope, consistent_read=True)
    except Stats.DoesNotExist:
        stats = None
    return _report(stats, service_name)


def per_service(limit: int, cursor: str | None) -> dict:
    start = pagination.decode(cursor, {"kind": "S", "scope": "S"}, {"kind": KIND})
    page = Stats.query(KIND, Stats.scope.startswith(SERVICE_PREFIX), page_size=limit, last_evaluated_key=start)
    items, resume_at = pagination.one_page(Stats, page)
    return {
        "services": [_report(stats, stats.service_name) for stats in items],
        "next_cursor": pagination.encode(resume_at),
    }
