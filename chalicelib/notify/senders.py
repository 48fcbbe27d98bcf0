"""How each kind of channel says it: a Slack message, a signed JSON webhook, an
SNS publish. Each send answers an Outcome within the notification timeout; none
raises for the receiver's faults."""

import hashlib
import hmac
import json
import re

from chalicelib import clock, outbound, status
from chalicelib.config import settings
from chalicelib.models import Channel
from chalicelib.transport import aws
from chalicelib.transport.outcome import Outcome

SIGNATURE_HEADER = "X-Oncall-Signature"
TIMESTAMP_HEADER = "X-Oncall-Timestamp"
DELIVERY_HEADER = "X-Oncall-Delivery"
EVENT_HEADER = "X-Oncall-Event"
USER_AGENT = "oncall-notifications/1"
# Client errors that a later attempt may not meet (timeouts, rate limits).
RETRYABLE_CLIENT_ERRORS = {408, 409, 425, 429}
SNS_PERMANENT_ERRORS = {"NotFound", "NotFoundException", "AuthorizationError", "InvalidParameter", "KMSDisabled"}
# What a timeline says for SNS's error codes; AWS's own error text is never shown.
SNS_REFUSALS = {
    "NotFound": "the SNS topic does not exist",
    "NotFoundException": "the SNS topic does not exist",
    "AuthorizationError": "this stage may not publish to the SNS topic",
    "InvalidParameter": "SNS refused the message as invalid",
    "KMSDisabled": "the SNS topic's encryption key is disabled",
    "Throttled": "SNS is throttling publishes",
    "ThrottlingException": "SNS is throttling publishes",
}
_MESSAGE_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

HEADLINES = {
    "triggered": "Triggered",
    "acknowledged": "Acknowledged",
    "resolved": "Resolved",
    "escalated": "Escalated",
    "reassigned": "Reassigned",
    "resumed": "Maintenance over, still open",
}
EMOJI = {
    "triggered": "🚨",
    "acknowledged": "✅",
    "resolved": "✔️",
    "escalated": "⚠️",
    "reassigned": "👤",
    "resumed": "🔔",
}


def send(channel: Channel, message: dict, delivery_id: str) -> Outcome:
    if channel.kind == "slack":
        return _post(channel.url, slack_body(message), {})
    if channel.kind == "webhook":
        return post_webhook(channel.url, channel.secret, message, delivery_id)
    if channel.kind == "sns":
        return _publish(channel.topic_arn, message)
    return Outcome(False, "the channel is of an unknown kind", permanent=True)


def post_webhook(url: str, secret: str, message: dict, delivery_id: str) -> Outcome:
    """The message as JSON, signed with the webhook's secret (a channel's or a
    person's webhook contact method)."""
    body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
    timestamp = str(int(clock.now().timestamp()))
    headers = {
        EVENT_HEADER: message["event"],
        DELIVERY_HEADER: delivery_id,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }
    return _post(url, body, headers)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256 of "<timestamp>.<body>" under the channel's
    secret. The timestamp is signed too, so a receiver can refuse old replays."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


# --- the words -------------------------------------------------------------------------------------


def headline(message: dict, *, emoji: bool = True) -> str:
    incident = message["incident"]
    kind = message["event"].removeprefix("incident.")
    what = HEADLINES.get(kind, kind.capitalize())
    mark = f"{EMOJI.get(kind, '🔔')} " if emoji else ""
    return f"{mark}{what}: #{incident['id']} {incident['title']} ({incident['service_name']})"


def plain_text(message: dict) -> str:
    """For email and SMS: every line stands on its own."""
    incident = message["incident"]
    lines = [
        headline(message),
        f"Service: {incident['service_name']}",
        f"Severity: {incident['severity']}",
        f"Status: {incident['status']}",
        f"Assigned to: {status.assignee(incident['assigned_to'])}",
        f"{message['text']}" + (f" ({message['actor']})" if message["actor"] else ""),
    ]
    if incident["url"]:
        lines.append(incident["url"])
    return "\n".join(lines)


def _slack_escaped(text: str) -> str:
    # Slack reads <...> as links and mentions and & as an entity: user text must
    # not become markup (a title "<!channel>" would otherwise ping everyone).
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(message: dict) -> dict:
    """The message in Slack's layout; with Acknowledge and Resolve buttons while the
    incident is open, when Slack's presses can be verified (ONCALL_SLACK_SIGNING_SECRET)."""
    incident = message["incident"]
    kind = message["event"].removeprefix("incident.")
    title = _slack_escaped(f"#{incident['id']} {incident['title']}")
    linked = f"<{incident['url']}|{title}>" if incident["url"] else title
    what = HEADLINES.get(kind, kind.capitalize())
    summary = f"{EMOJI.get(kind, '🔔')} *{what}*: {linked}"
    who = _slack_escaped(status.assignee(incident["assigned_to"]))
    facts = (
        f"*Service:* {_slack_escaped(incident['service_name'])}   *Severity:* {incident['severity']}   "
        f"*Status:* {incident['status']}   *Assigned to:* {who}"
    )
    note = _slack_escaped(message["text"] + (f" ({message['actor']})" if message["actor"] else ""))
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": summary}},
        {"type": "section", "text": {"type": "mrkdwn", "text": facts}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": note}]},
    ]
    if settings().slack_signing_secret and incident["status"] in status.ACKNOWLEDGE_FROM:
        blocks.append(slack_buttons(incident["id"]))
    return {"text": _slack_escaped(headline(message)), "blocks": blocks}


def slack_buttons(incident_id: int) -> dict:
    """Pressed, Slack posts them to /api/integrations/slack/interactivity."""

    def button(action: str, style: str | None = None) -> dict:
        element = {
            "type": "button",
            "action_id": action,
            "text": {"type": "plain_text", "text": action.capitalize()},
            "value": str(incident_id),
        }
        return {**element, "style": style} if style else element

    return {
        "type": "actions",
        "block_id": f"oncall-{incident_id}",
        "elements": [button("acknowledge", "primary"), button("resolve")],
    }


def slack_body(message: dict) -> bytes:
    return json.dumps(slack_message(message), ensure_ascii=False).encode()


# --- the transports --------------------------------------------------------------------------------


def _post(url: str, body: bytes, headers: dict) -> Outcome:
    timeout = settings().notify_timeout_seconds
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}
    try:
        status = outbound.post(url, body, headers, timeout)
    except outbound.Failed as failure:
        return Outcome(False, failure.reason, permanent=failure.permanent, unreachable=not failure.permanent)
    answered = f"the receiver answered HTTP {status}"
    if 200 <= status < 300:
        return Outcome(True, answered)
    if 300 <= status < 400:
        # A webhook that moved must be updated, not followed: a redirect could also
        # carry the signed body somewhere else.
        return Outcome(False, f"{answered}, a redirect, which is not followed", permanent=True)
    return Outcome(False, answered, permanent=400 <= status < 500 and status not in RETRYABLE_CLIENT_ERRORS)


def _publish(topic_arn: str, message: dict) -> Outcome:
    # SNS subjects are ASCII, one line, under 100 characters.
    subject = "".join(ch if " " <= ch <= "~" else "?" for ch in headline(message, emoji=False))[:99]

    def publish() -> dict:
        return aws.publish_to_topic(topic_arn, subject, plain_text(message))

    failed, answer = aws.call("SNS", publish, SNS_REFUSALS, SNS_PERMANENT_ERRORS)
    if failed:
        return failed
    message_id = answer.get("MessageId", "")
    return Outcome(True, f"SNS took it as message {message_id}" if _MESSAGE_ID.fullmatch(message_id) else "SNS took it")
