"""Escalation policies: a service's levels and its repeat count.

A service's policy is its escalation levels, climbed in order of their numbers
(gaps allowed), plus a repeat count: how many more times the climb starts again
from the first level once the last one went unacknowledged. Each level pages its
targets (named users, or whoever is on call for a service at the step) and waits
its `wait_minutes` for an acknowledgement before the next step. The climb itself
is chalicelib/escalation/sweep.py."""

import logging
import math
import uuid

from chalicelib import clock, db
from chalicelib.api import pagination, responses
from chalicelib.api.payloads import LevelBody, PolicyBody
from chalicelib.config import settings
from chalicelib.errors import Conflict
from chalicelib.incident import suppression
from chalicelib.models import EscalationLevel, EscalationPolicy, EscalationTarget

log = logging.getLogger("oncall.escalation")
FEED = "level"


# --- levels --------------------------------------------------------------------


def default_wait_minutes() -> int:
    """ONCALL_ESCALATE_AFTER_SECONDS in whole minutes, rounded up: the wait of a
    level that names none."""
    return max(1, math.ceil(settings().escalate_after_seconds / 60))


def targets_of(level: EscalationLevel) -> list[EscalationTarget]:
    """Whom the level pages. A level stored before policies existed pages its user."""
    if level.targets is not None:
        return list(level.targets)
    return [EscalationTarget(user=level.user)] if level.user else []


def wait_of(level: EscalationLevel) -> int:
    return int(level.wait_minutes) if level.wait_minutes is not None else default_wait_minutes()


def next_step(incident) -> dict | None:
    """The step the sweep takes next for `incident` (sweep.py's climb, read only), or
    None when none is due: acknowledged, resolved, or out of the due index."""
    if incident.due_at is None or suppression.is_suppressed(incident):
        return None
    levels = path_for(incident.service_name)
    current_round = max(int(incident.escalation_round or 0), 1)
    higher = [level for level in levels if level.level > incident.escalation_level]
    if higher:
        level, round_number = higher[0], current_round
    elif levels and current_round <= repeat_of(incident.service_name):
        level, round_number = levels[0], current_round + 1
    else:
        return {"at": incident.due_at, "level": None, "round": None, "targets": []}
    targets = [_target_json(target) for target in targets_of(level)]
    return {"at": incident.due_at, "level": level.level, "round": round_number, "targets": targets}


def _target_json(target: EscalationTarget) -> dict:
    return {"user": target.user} if target.user is not None else {"oncall": target.oncall}


def answer(level: EscalationLevel) -> responses.EscalationLevel:
    targets = [_target_json(target) for target in targets_of(level)]
    return responses.EscalationLevel.of(level, targets=targets, wait_minutes=wait_of(level))


def create_level(body: LevelBody) -> dict:
    targets = None
    if body.targets is not None:
        targets = [EscalationTarget(user=target.user, oncall=target.oncall) for target in body.targets]
    elif body.user is not None:
        targets = [EscalationTarget(user=body.user)]
    level = EscalationLevel(
        body.service_name,
        body.level,
        id=uuid.uuid4().hex,
        user=body.user,
        notification_channel=body.notification_channel,
        targets=targets,
        # None follows ONCALL_ESCALATE_AFTER_SECONDS, as levels stored before policies do.
        wait_minutes=body.wait_minutes,
        created_at=clock.now(),
        feed=FEED,
        # Zero-padded so the feed index lists each service's levels in order.
        service_level=f"{body.service_name}#{body.level:04d}",
    )
    conflict = Conflict(
        f"{body.service_name} already has escalation level {body.level}; delete it first.", field="level"
    )
    db.save_new(level, EscalationLevel.level.does_not_exist(), conflict)
    return answer(level).body()


def delete_level(level_id: str) -> None:
    db.delete_by_public_id(EscalationLevel, level_id, "escalation level")


def list_levels(service_name: str | None, limit: int, cursor: str | None) -> dict:
    levels, next_cursor = pagination.service_or_feed(EscalationLevel, service_name, FEED, limit, cursor)
    return responses.EscalationLevelPage(levels=[answer(level) for level in levels], next_cursor=next_cursor).body()


def path_for(service_name: str) -> list[EscalationLevel]:
    """The service's levels, lowest first: one Query."""
    return list(EscalationLevel.query(service_name))


# --- the policy ------------------------------------------------------------------


def repeat_of(service_name: str) -> int:
    """How many more rounds follow the first; 0 until an admin sets it."""
    try:
        return int(EscalationPolicy.get(service_name).repeat)
    except EscalationPolicy.DoesNotExist:
        return 0


def _policy_json(service_name: str, repeat: int, levels: list[EscalationLevel]) -> dict:
    shown = [answer(level) for level in levels]
    return responses.EscalationPolicy(service_name=service_name, repeat=repeat, levels=shown).body()


def read_policy(service_name: str) -> dict:
    return _policy_json(service_name, repeat_of(service_name), path_for(service_name))


def set_policy(service_name: str, body: PolicyBody) -> dict:
    # The count is a setting, not a counter: the last admin to set it wins.
    EscalationPolicy(service_name, repeat=body.repeat, updated_at=clock.now()).save()
    return _policy_json(service_name, body.repeat, path_for(service_name))
