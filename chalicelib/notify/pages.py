"""Pages: how an incident reaches the person it became, through their own contact
methods and notification rules.

When the outbox hands over a transition that makes an incident someone's (the
trigger's assignee, an escalation step's targets, a reassignment), each of that
person's rules of the incident's urgency becomes one delivery, due its delay after
the transition, in the same transaction as the channels' deliveries: a page exists
exactly once however many dispatchers race. When it comes due, the incident is read:
acknowledged or resolved by then, the page is cancelled, not sent."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from chalicelib import status
from chalicelib.config import settings
from chalicelib.escalation import policy
from chalicelib.incident import links, timeline
from chalicelib.models import ContactMethod, Delivery, EscalationLevel, Incident, IncidentEvent, TimelineEntry, User
from chalicelib.notify import delivery_store, senders
from chalicelib.people import rules
from chalicelib.schedule import oncall
from chalicelib.transport import email, slack, sms
from chalicelib.transport.outcome import Outcome

ACTOR = "notifications"
# The pages and warnings one hand-over writes at most, so that its transaction stays
# within DynamoDB's 100 items beside the channels' deliveries (10), the timeline item
# and the incident.
MAX_PAGES = 80
KIND_NAMES = {"email": "email", "sms": "SMS", "slack": "Slack", "webhook": "webhook"}
# Transitions that page the incident's assignee: a new incident, a reassignment, and an
# incident still open when the maintenance window that silenced it is over.
ASSIGNEE_PAGED = ("triggered", "reassigned", "resumed")


def paged_users(incident: Incident, event: IncidentEvent) -> list[str]:
    """Whom `event` makes the incident's, in order."""
    if event.kind in ASSIGNEE_PAGED:
        return [event.assigned_to] if event.assigned_to else []
    if event.kind != "escalated" or event.level is None:
        return []
    try:
        level = EscalationLevel.get(incident.service_name, int(event.level), consistent_read=True)
    except EscalationLevel.DoesNotExist:
        return [event.assigned_to] if event.assigned_to else []
    names = []
    for target in policy.targets_of(level):
        name = target.user if target.user is not None else oncall.on_call_user(target.oncall, event.at)
        if name and name not in names:
            names.append(name)
    return names


def in_quiet_hours(user: User, at: datetime) -> bool:
    if not user.quiet_start or not user.quiet_end:
        return False
    local = at.astimezone(ZoneInfo(user.time_zone or "UTC")).strftime("%H:%M")
    start, end = user.quiet_start, user.quiet_end
    return start <= local < end if start < end else local >= start or local < end


def plan(
    incident: Incident, event: IncidentEvent, index: int, message: dict, now: datetime
) -> tuple[list[Delivery], list[TimelineEntry]]:
    """The pages `event` makes, and a timeline warning for each person it makes the
    incident's who cannot be paged (no user, no usable rule of its urgency)."""
    urgency = rules.urgency_of(incident.severity)
    pages, warnings = [], []

    def warn(text: str) -> None:
        warnings.append(timeline.entry(incident.id, "warning", ACTOR, text, now))

    for name in paged_users(incident, event):
        if len(pages) + len(warnings) >= MAX_PAGES - 1:
            warn(f"Stopped at {len(pages)} pages for one transition.")
            break
        try:
            user = User.get(name, consistent_read=True)
        except User.DoesNotExist:
            warn(f"Could not page {name}: there is no user of that name with contact methods.")
            continue
        if urgency == "low" and in_quiet_hours(user, event.at):
            warn(f"Did not page {name}: a low-urgency incident during their quiet hours.")
            continue
        methods = {method.id: method for method in ContactMethod.query(name, consistent_read=True)}
        reachable = []
        for rule in rules.NotificationRule.query(name, consistent_read=True):
            method = methods.get(rule.contact_method_id)
            if rule.urgency == urgency and method is not None and usable(method):
                reachable.append((rule, method))
        if not reachable:
            warn(f"Could not page {name}: no verified contact method in a {urgency}-urgency rule.")
            continue
        personal = with_actions(message, incident.id, name, now)
        for rule, method in reachable:
            if len(pages) + len(warnings) == MAX_PAGES - 1:
                warn(f"Stopped at {len(pages)} pages for one transition.")
                return pages, warnings
            key = f"{index:05d}#page#{name}#{rule.id}"
            due = event.at + timedelta(minutes=int(rule.delay_minutes))
            pages.append(
                delivery_store.owed(
                    incident.id,
                    key,
                    incident.service_name,
                    event.kind,
                    personal,
                    now,
                    due,
                    user=name,
                    contact_method_id=method.id,
                )
            )
    return pages, warnings


def with_actions(message: dict, incident_id: int, user: str, now: datetime) -> dict:
    """The message with the signed links that act as `user` (none without a console URL)."""
    actions = {action: links.url(incident_id, action, user, now) for action in ("acknowledge", "resolve")}
    return {**message, "actions": actions} if actions["acknowledge"] else message


def usable(method: ContactMethod) -> bool:
    # Slack direct messages need the bot's token; without it the rule cannot page.
    reachable = method.kind != "slack" or bool(settings().slack_bot_token)
    return method.verified and method.failed_at is None and reachable


def cancelled_because(incident: Incident | None, page: Delivery) -> str | None:
    """Why a page that came due is not sent: the incident was acknowledged or resolved,
    or it was the person's as its assignee and is someone else's now."""
    if incident is None:
        return "the incident is gone"
    if incident.status == status.ACKNOWLEDGED:
        return f"acknowledged by {incident.acknowledged_by or 'someone'} first"
    if incident.status == status.RESOLVED:
        return f"resolved by {incident.resolved_by or 'its source'} first"
    # An escalation level pages all its targets, though only the first is the assignee.
    if page.event_kind in ASSIGNEE_PAGED and incident.assigned_to not in (None, page.user):
        return f"it is {incident.assigned_to}'s now"
    return None


def describe(method: ContactMethod) -> str:
    """How the timeline names a method: its kind and an address that gives little away."""
    address = sms.masked(method.address) if method.kind == "sms" else method.address
    if method.kind == "webhook":
        address = "(" + method.address.split("/")[2] + ")" if "//" in method.address else ""
    return f"{KIND_NAMES.get(method.kind, method.kind)} {address}".strip()


def send(method: ContactMethod, message: dict, delivery_id: str) -> Outcome:
    if method.kind == "sms":
        return sms.send(method.address, sms_text(message))
    if method.kind == "email":
        return email.send(method.address, senders.headline(message, emoji=False), email_text(message))
    if method.kind == "webhook":
        return senders.post_webhook(method.address, method.secret, message, delivery_id)
    if method.kind == "slack":
        layout = senders.slack_message(message)
        return slack.post_message(method.address, layout["text"], layout["blocks"])
    return Outcome(False, f"{KIND_NAMES.get(method.kind, method.kind)} pages are not sent", permanent=True)


def send_text(method: ContactMethod, text: str, message: dict) -> Outcome:
    """A short message that is no incident's (an on-call notice), by any kind of method."""
    if method.kind == "sms":
        return sms.send(method.address, text)
    if method.kind == "email":
        return email.send(method.address, text[:120], text)
    if method.kind == "webhook":
        return senders.post_webhook(method.address, method.secret, message, message["event"])
    if method.kind == "slack":
        return slack.post_message(method.address, text)
    return Outcome(False, f"{KIND_NAMES.get(method.kind, method.kind)} messages are not sent", permanent=True)


def sms_text(message: dict) -> str:
    """One SMS: what, and the link that acknowledges it, within two segments."""
    incident = message["incident"]
    line = f"oncall #{incident['id']} {incident['severity'].upper()} {incident['service_name']}: {incident['title']}"
    act = message.get("actions", {}).get("acknowledge")
    link = f"Ack: {act}" if act else incident.get("url")
    return f"{line[: sms.MAX_LENGTH - len(link) - 1]}\n{link}" if link else line


def email_text(message: dict) -> str:
    actions = message.get("actions", {})
    lines = [f"{action.capitalize()}: {url}" for action, url in actions.items() if url]
    return senders.plain_text(message) + ("\n\n" + "\n".join(lines) if lines else "")
