"""The HTTP routes, one module per group; app.py registers each blueprint."""

from chalicelib.routes import (
    act,
    escalation,
    incidents,
    integrations,
    keys,
    meta,
    metrics,
    notifications,
    people,
    schedules,
)

BLUEPRINTS = [
    module.routes.blueprint
    for module in (meta, act, incidents, notifications, metrics, schedules, escalation, integrations, keys, people)
]
