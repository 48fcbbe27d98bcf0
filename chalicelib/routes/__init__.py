"""The HTTP routes, one module per group; app.py registers each blueprint."""

from chalicelib.routes import (
    act,
    escalation,
    heartbeats,
    incidents,
    integrations,
    keys,
    maintenance,
    meta,
    metrics,
    notifications,
    people,
    reports,
    schedules,
)

BLUEPRINTS = [
    module.routes.blueprint
    for module in (
        meta,
        act,
        incidents,
        notifications,
        metrics,
        reports,
        schedules,
        maintenance,
        heartbeats,
        escalation,
        integrations,
        keys,
        people,
    )
]
