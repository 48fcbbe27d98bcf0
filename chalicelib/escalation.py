"""Escalation levels per service and the sweep that escalates incidents nobody acknowledged."""

import uuid
from datetime import datetime

from . import clock, db, metrics, notifications, outbox, pagination, status, timeline
from .db import Transaction, TransactionCancelled
from .errors import Conflict
from .incidents import DUE_PARTITION, escalation_due, escalation_stopped
from .models import EscalationLevel, Incident
from .payloads import LevelBody

FEED = "level"


def to_json(level: EscalationLevel) -> dict:
    return {
        "id": level.id,
        "service_name": level.service_name,
        "level": level.level,
        "user": level.user,
        "notification_channel": level.notification_channel,
        "created_at": clock.iso(level.created_at),
    }


def create_level(body: LevelBody) -> dict:
    level = EscalationLevel(
        body.service_name,
        body.level,
        id=uuid.uuid4().hex,
        user=body.user,
        notification_channel=body.notification_channel,
        created_at=clock.now(),
        feed=FEED,
        # Zero-padded so the feed index lists each service's levels in order.
        service_level=f"{body.service_name}#{body.level:04d}",
    )
    conflict = Conflict(
        f"{body.service_name} already has escalation level {body.level}; delete it first.", field="level"
    )
    db.save_new(level, EscalationLevel.level.does_not_exist(), conflict)
    return to_json(level)


def delete_level(level_id: str) -> None:
    db.delete_by_public_id(EscalationLevel, level_id, "escalation level")


def list_levels(service_name: str | None, limit: int, cursor: str | None) -> dict:
    levels, next_cursor = pagination.service_or_feed(EscalationLevel, service_name, FEED, limit, cursor)
    return {"levels": [to_json(level) for level in levels], "next_cursor": next_cursor}


def path_for(service_name: str) -> list[EscalationLevel]:
    """The service's levels, lowest first."""
    return list(EscalationLevel.query(service_name))


# --- the sweep ---------------------------------------------------------------


def sweep() -> dict:
    """Escalate every incident whose escalation is due. Safe to run concurrently:
    each step is a write conditioned on the state this sweep read, so exactly one
    sweep wins each step and only the winner notifies."""
    now = clock.now()
    paths: dict[str, list[EscalationLevel]] = {}
    escalated = []
    for incident in Incident.due_index.query(DUE_PARTITION, Incident.due_at <= now):
        if incident.service_name not in paths:
            paths[incident.service_name] = path_for(incident.service_name)
        if _escalate(incident, paths[incident.service_name], now):
            escalated.append(incident.id)
    return {"escalated": len(escalated), "incidents": escalated}


def _escalate(incident: Incident, path: list[EscalationLevel], now: datetime) -> bool:
    # Levels are numbered by the team and may have gaps (1, 3, 5): climb by number.
    higher = [level for level in path if level.level > incident.escalation_level]
    target = higher[0] if higher else None
    if target is not None:
        who = f"{target.user} via {target.notification_channel}" if target.user else target.notification_channel
        message = f"Escalated to level {target.level}: notifying {who}."
    elif not path:
        message = f"No escalation path defined for {incident.service_name}."
    else:
        message = "Escalation path exhausted: no further level."

    actions = [
        Incident.status.set(status.ESCALATED),
        Incident.escalated_at.set(Incident.escalated_at | now),
        timeline.recorded(timeline.event("escalated", "escalation", message, now)),
        *outbox.owed(now),
    ]
    if target is not None:
        actions.append(Incident.escalation_level.set(target.level))
    has_next_step = len(higher) > 1
    if has_next_step:
        actions.append(Incident.due_at.set(escalation_due(now)))
    else:
        actions += escalation_stopped()

    tx = Transaction()
    # Conditioned on exactly what this sweep read: a concurrent ack, resolve or
    # other sweep changes one of these, and then this step is not taken.
    tx.update(
        Incident(incident.id),
        actions,
        condition=(Incident.status == incident.status)
        & (Incident.escalation_level == incident.escalation_level)
        & (Incident.due_at == incident.due_at)
        & Incident.status.is_in(*status.ESCALATE_FROM),
        tag="incident",
    )
    if incident.status == status.TRIGGERED:
        metrics.count(tx, incident.service_name, escalated_incidents=1)
    try:
        tx.commit()
    except TransactionCancelled:
        return False

    incident.status = status.ESCALATED
    incident.escalated_at = incident.escalated_at or now
    if target is not None:
        incident.escalation_level = target.level
        notifications.escalated(incident, target.user, target.notification_channel)
    else:
        notifications.escalated(incident, None, None)
        if not path:
            notifications.no_escalation_path(incident)
    return True
