""" "You are on call" notices: someone about to start holding a service's final
schedule (a shift, an override or a rotation's turn) gets one message before it
starts, by the contact method of their most immediate high-urgency rule.

Every few minutes the pass reads each scheduled service's final schedule over the
next ONCALL_SHIFT_NOTICE_MINUTES and notices each handoff in it to someone new. Each
notice is claimed by a conditional put keyed by the service, the start and the user,
so overlapping passes send it once; it is claimed before it is sent, so a send that
fails is not repeated (a missed reminder, never a repeated one)."""

import logging
from datetime import datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from pynamodb.exceptions import PutError

from chalicelib import clock, db
from chalicelib.api import responses
from chalicelib.config import settings
from chalicelib.models import ContactMethod, NotificationRule, Stats, User
from chalicelib.notify import pages
from chalicelib.schedule import catalogue, oncall
from chalicelib.transport.outcome import Outcome

log = logging.getLogger("oncall.notices")
# A claim outlives its shift's start by this much, then DynamoDB's TTL drops it.
KEPT = timedelta(days=2)


def run(now: datetime | None = None) -> dict:
    now = now or clock.now()
    lead = timedelta(minutes=settings().shift_notice_minutes)
    sent = 0
    if lead:
        for service in catalogue.services():
            for user, start in starts(service, now, now + lead):
                if _claim(service, user, start) and notify(user, service, start).delivered:
                    sent += 1
    return responses.NoticeRun(noticed=sent).body()


def starts(service: str, since: datetime, until: datetime) -> list[tuple[str, datetime]]:
    """(user, when) for each handoff to someone new in (since, until]."""
    schedule = oncall.Schedule.read(service, since, until)
    moments = schedule.changes(since, until)
    found = []
    for before, at in pairwise(moments):
        holder = schedule.holder(at).user
        if at < until and holder is not None and holder != schedule.holder(before).user:
            found.append((holder, at))
    return found


def _claim(service: str, user: str, start: datetime) -> bool:
    marker = Stats(f"notice#{service}", f"{clock.iso(start)}#{user}", expires_at=int((start + KEPT).timestamp()))
    try:
        marker.save(condition=Stats.kind.does_not_exist())
    except PutError as error:
        if db.failed_condition(error):
            return False
        raise
    return True


def notify(user: str, service: str, start: datetime) -> Outcome:
    method = first_method(user)
    if method is None:
        return Outcome(False, f"{user} has no usable high-urgency contact method", permanent=True)
    try:
        zone = User.get(user).time_zone or "UTC"
    except User.DoesNotExist:
        zone = "UTC"
    local = start.astimezone(ZoneInfo(zone)).strftime("%a %H:%M")
    text = f"oncall: you are on call for {service} from {local} ({zone})."
    message = {"event": "oncall.starting", "text": text, "service_name": service, "start": clock.iso(start)}
    outcome = pages.send_text(method, text, message)
    if not outcome.delivered:
        log.warning("the on-call notice to %s for %s was not sent: %s", user, service, outcome.detail)
    return outcome


def first_method(user: str) -> ContactMethod | None:
    """The method of the user's high-urgency rule with the shortest delay that can send."""
    methods = {method.id: method for method in ContactMethod.query(user)}
    rules = sorted(
        (rule for rule in NotificationRule.query(user) if rule.urgency == "high"), key=lambda rule: rule.delay_minutes
    )
    for rule in rules:
        method = methods.get(rule.contact_method_id)
        if method is not None and pages.usable(method):
            return method
    return None
