"""The escalation sweep: every minute, the next step of each incident whose wait
at its level ran out (chalicelib/escalation/policy.py says what the levels are)."""

import logging
from datetime import datetime, timedelta

from chalicelib import clock, status, telemetry
from chalicelib.api import responses
from chalicelib.db import Transaction, TransactionCancelled
from chalicelib.escalation import policy
from chalicelib.incident import alert_log, incidents, metrics, store, suppression, timeline
from chalicelib.maintenance import windows
from chalicelib.models import EscalationLevel, Incident, MaintenanceWindow
from chalicelib.report import buckets
from chalicelib.schedule import oncall

log = logging.getLogger("oncall.escalation")


class _SweepReads:
    """What one sweep read, per service: levels (one Query each), the repeat count
    (read only when a climb passes the last level) and who is on call at `now`."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._levels: dict[str, list[EscalationLevel]] = {}
        self._repeats: dict[str, int] = {}
        self._on_call: dict[str, str | None] = {}
        self._windows: dict[str, list[MaintenanceWindow]] = {}

    def levels(self, service_name: str) -> list[EscalationLevel]:
        if service_name not in self._levels:
            self._levels[service_name] = policy.path_for(service_name)
        return self._levels[service_name]

    def repeat(self, service_name: str) -> int:
        if service_name not in self._repeats:
            self._repeats[service_name] = policy.repeat_of(service_name)
        return self._repeats[service_name]

    def windows(self, service_name: str) -> list[MaintenanceWindow]:
        """The service's maintenance windows that cover now or ended within one
        escalation wait (read only for suppressed incidents)."""
        if service_name not in self._windows:
            self._windows[service_name] = windows.around(service_name, self.now, suppression.waited_since(self.now))
        return self._windows[service_name]

    def on_call(self, service_name: str) -> str | None:
        if service_name not in self._on_call:
            self._on_call[service_name] = oncall.on_call_user(service_name, self.now)
        return self._on_call[service_name]


def run() -> dict:
    """Take the next step of every incident whose escalation is due. Safe to run
    concurrently: each step is a write conditioned on the state this sweep read, so
    exactly one sweep wins each step and only the winner notifies. `escalated`
    counts the steps that escalated (an exhausted policy's last word is not one)."""
    reads = _SweepReads(clock.now())
    escalated = []
    lag = 0.0
    for incident in incidents.due(reads.now):
        lag = max(lag, (reads.now - incident.due_at).total_seconds())
        try:
            stepped = _step(incident, reads)
        except Exception:  # one incident that cannot be written must not stop every other escalation
            log.exception("the escalation step of incident %s failed; the sweep goes on", incident.id)
            continue
        if stepped:
            escalated.append(incident.id)
    telemetry.seconds(telemetry.SWEEP_LAG, lag)
    telemetry.count(telemetry.SWEEP_RUNS)
    return responses.SweepResult(escalated=len(escalated), incidents=escalated).body()


def _step(incident: Incident, reads: _SweepReads) -> bool:
    if suppression.is_suppressed(incident):
        _while_suppressed(incident, reads)
        return False
    if timeline.transitions(incident) >= timeline.ESCALATION_EVENTS:
        _stop(
            incident,
            f"Escalation stopped after {timeline.transitions(incident)} transitions, as many as one incident keeps.",
            reads.now,
        )
        return False
    levels = reads.levels(incident.service_name)
    if not levels:
        return _no_path(incident, reads.now)
    # Climb by number (levels may have gaps: 1, 3, 5). An incident escalated before
    # rounds were tracked has round 0 at a level above 0: it is in the first round.
    current_round = max(int(incident.escalation_round or 0), 1)
    higher = [level for level in levels if level.level > incident.escalation_level]
    if higher:
        return _escalate(incident, higher[0], current_round, reads)
    if current_round <= reads.repeat(incident.service_name):
        return _escalate(incident, levels[0], current_round + 1, reads)
    _exhaust(incident, current_round, reads.now)
    return False


def _while_suppressed(incident: Incident, reads: _SweepReads) -> None:
    """Look at a suppressed incident again later while its service is in a window.
    Once none covers it, end the suppression: page whoever has it now (nothing for
    what happened in the window) and start the escalation wait from the window's end."""
    found = reads.windows(incident.service_name)
    window = windows.covering(found, reads.now)
    if window is not None:
        actions = store.looked_at_later(suppression.look_again(window, reads.now), window.end)
        _commit_step(incident, actions, escalates=False)
        return
    # A window ended early is in `found` when it ended within the last wait.
    ended = min([w.end for w in found if w.id == incident.suppressed_by] + [reads.now])
    due_at = suppression.resumes(ended)
    event = timeline.event(
        "resumed",
        "maintenance",
        suppression.resumed_message(incident.assigned_to, due_at),
        reads.now,
        assigned_to=incident.assigned_to,
        request=timeline.new_request(),
    )
    # Conditioned on no transition since the read, too: one made meanwhile (a
    # reassignment) would be in no image with the end of the suppression, and silenced.
    _commit_step(
        incident,
        store.suppression_ended(incident.id, event, due_at),
        escalates=False,
        also=store.events_as_read(incident),
    )


def _commit_step(incident: Incident, actions: list, *, put=None, escalates: bool = True, also=None) -> bool:
    """Write what the sweep decided, conditioned on the state it read (and `also`).
    `escalates`: the write moves the incident up its policy."""
    condition = store.as_swept(incident) if also is None else store.as_swept(incident) & also
    tx = Transaction()
    tx.update(Incident(incident.id), actions, condition=condition, tag="incident")
    if put is not None:
        tx.put(put)
    if escalates and incident.status == status.TRIGGERED:
        metrics.count(tx, incident.service_name, escalated_incidents=1)
        buckets.count(tx, incident, escalated_incidents=1)
    try:
        tx.commit()
    except TransactionCancelled:
        return False
    return True


def _escalated_actions(
    incident: Incident, message: str, now: datetime, assigned_to: str | None = None, level: int | None = None
) -> list:
    event = timeline.event(
        "escalated", "escalation", message, now, assigned_to=assigned_to, request=timeline.new_request(), level=level
    )
    return store.escalated(incident.id, event)


def _paged(level: EscalationLevel, reads: _SweepReads) -> tuple[list[str], list[str], list[str]]:
    """(the names paged, each as the timeline shows it, services nobody is on call for)."""
    names, shown, nobody = [], [], []
    for target in policy.targets_of(level):
        if target.user is not None:
            name, via = target.user, ""
        else:
            name, via = reads.on_call(target.oncall), f" (on call for {target.oncall})"
            if name is None:
                nobody.append(target.oncall)
                continue
        if name not in names:
            names.append(name)
            shown.append(name + via)
    return names, shown, nobody


def _step_message(level: EscalationLevel, round_number: int, shown: list[str], nobody: list[str]) -> str:
    heading = f"Escalated to level {level.level}" + (f" (round {round_number})" if round_number > 1 else "")
    if not policy.targets_of(level):
        # A level with no one named notifies its channel, as levels always could.
        return f"{heading}: notifying {level.notification_channel}."
    parts = [f"paging {', '.join(shown)}"] if shown else []
    parts += [f"nobody is on call for {service}" for service in nobody]
    if not shown:
        parts.append("nobody was paged")
    return f"{heading}: {'; '.join(parts)}."


def _escalate(incident: Incident, level: EscalationLevel, round_number: int, reads: _SweepReads) -> bool:
    now = reads.now
    names, shown, nobody = _paged(level, reads)
    assignee = names[0] if names else None
    actions = _escalated_actions(
        incident, _step_message(level, round_number, shown, nobody), now, assignee, level.level
    )
    actions += store.stepped(level.level, round_number, now + timedelta(minutes=policy.wait_of(level)), assignee)
    if not _commit_step(incident, actions):
        return False
    incident.status = status.ESCALATED
    incident.escalated_at = incident.escalated_at or now
    incident.escalation_level = level.level
    incident.escalation_round = round_number
    if names:
        incident.assigned_to = names[0]
    alert_log.escalated(incident, ", ".join(names) or None, level.notification_channel)
    return True


def _no_path(incident: Incident, now: datetime) -> bool:
    message = f"No escalation path defined for {incident.service_name}."
    if not _commit_step(incident, _escalated_actions(incident, message, now) + store.escalation_stopped()):
        return False
    incident.status = status.ESCALATED
    incident.escalated_at = incident.escalated_at or now
    alert_log.escalated(incident, None, None)
    alert_log.no_escalation_path(incident)
    return True


def _exhaust(incident: Incident, rounds: int, now: datetime) -> None:
    """The last level's wait ran out in the last round: the incident stays as it is
    (ESCALATED, with its last assignee) and leaves the due index. History, not a
    transition: the timeline says so and nobody is paged again."""
    message = f"Escalation policy exhausted after {rounds} round{'' if rounds == 1 else 's'}."
    if _stop(incident, message, now):
        alert_log.escalation_exhausted(incident, rounds)


def _stop(incident: Incident, message: str, now: datetime) -> bool:
    """Take the incident out of the due index, saying why on the timeline table."""
    entry = timeline.entry(incident.id, "exhausted", "escalation", message, now)
    return _commit_step(incident, store.escalation_stopped(), put=entry, escalates=False)
