"""Paging people. For now the channel is the log: one structured JSON line per
event plus the human line an engineer tailing the log reads."""

import json
import logging
import re
import sys

from chalicelib import clock, status
from chalicelib.config import settings
from chalicelib.logs import printable
from chalicelib.models import Incident

_log = logging.getLogger("oncall.alerts")
# Locally the alert log is the terminal's: its lines as they are. A deployed stage's
# lines go through the product's logger, as JSON carrying the invocation's request id.
if not _log.handlers and not settings().deployed:
    _handler = logging.StreamHandler(sys.stdout)
    _handler.setFormatter(logging.Formatter("%(message)s"))
    _log.addHandler(_handler)
    _log.setLevel(logging.INFO)
    _log.propagate = False


# json.dumps escapes C0 controls itself; these it would leave raw.
_RAW_IN_JSON = re.compile(r"[\x7f-\x9f\u2028\u2029]")


def _emit(event: str, human: str, level: int = logging.INFO, **fields) -> None:
    """One JSON line and one human line per event, whatever the incident's values hold:
    the human line mixes our words with user text (service, user names), so it is
    escaped whole, and the JSON line escapes what json.dumps leaves raw."""
    record = {"event": event, "at": clock.iso(clock.now()), **fields}
    line = json.dumps(record, ensure_ascii=False, default=str)
    _log.log(level, _RAW_IN_JSON.sub(lambda match: f"\\u{ord(match.group()):04x}", line))
    _log.log(level, printable(human))


def _summary(incident: Incident) -> dict:
    return {
        "incident_id": incident.id,
        "service_name": incident.service_name,
        "title": incident.title,
        "severity": incident.severity,
        "status": incident.status,
        "assigned_to": incident.assigned_to,
    }


def triggered(incident: Incident) -> None:
    _emit(
        "incident.triggered",
        f"🚨 ALERT 🚨 Service: {incident.service_name}, Incident ID: {incident.id}, "
        f"Assigned To: {status.assignee(incident.assigned_to)}",
        **_summary(incident),
    )
    if not incident.assigned_to:
        no_one_on_call(incident)


def no_one_on_call(incident: Incident) -> None:
    _emit(
        "oncall.none",
        f"⚠️ Incident {incident.id} of {incident.service_name} is {status.UNASSIGNED}",
        logging.WARNING,
        incident_id=incident.id,
        service_name=incident.service_name,
    )


def acknowledged(incident: Incident) -> None:
    _emit(
        "incident.acknowledged",
        f"✅ Incident acknowledged: {incident.id} ({incident.service_name}) by {incident.acknowledged_by or 'unknown'}",
        **_summary(incident),
        acknowledged_by=incident.acknowledged_by,
    )


def resolved(incident: Incident) -> None:
    _emit(
        "incident.resolved",
        f"✔️ Incident resolved: {incident.id} ({incident.service_name}) by {incident.resolved_by or 'unknown'}",
        **_summary(incident),
        resolved_by=incident.resolved_by,
    )


def reassigned(incident: Incident, actor: str | None) -> None:
    _emit(
        "incident.reassigned",
        f"👤 Incident reassigned: {incident.id} ({incident.service_name}) "
        f"to {incident.assigned_to} by {actor or 'unknown'}",
        **_summary(incident),
        reassigned_by=actor,
    )


def escalated(incident: Incident, target: str | None, channel: str | None) -> None:
    who = f" Notifying {target} via {channel}" if target else ""
    _emit(
        "incident.escalated",
        f"⚠️ INCIDENT ESCALATED ⚠️ Service: {incident.service_name}, Incident ID: {incident.id}, "
        f"Level: {incident.escalation_level}.{who}",
        logging.WARNING,
        **_summary(incident),
        escalation_level=incident.escalation_level,
        notify=target,
        channel=channel,
    )


def no_escalation_path(incident: Incident) -> None:
    _emit(
        "escalation.no_path",
        f"❌ No escalation path defined for {incident.service_name} (incident {incident.id})",
        logging.ERROR,
        incident_id=incident.id,
        service_name=incident.service_name,
    )


def escalation_exhausted(incident: Incident, rounds: int) -> None:
    _emit(
        "escalation.exhausted",
        f"❌ Escalation policy of {incident.service_name} exhausted after {rounds} round(s): "
        f"incident {incident.id} stays with {incident.assigned_to or 'nobody'}",
        logging.ERROR,
        incident_id=incident.id,
        service_name=incident.service_name,
        rounds=rounds,
    )
