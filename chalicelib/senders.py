"""How each kind of channel says it: a Slack message, a signed JSON webhook, an
SNS publish. Each send answers an Outcome; none raises for the receiver's faults."""

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as DeadlinePassed
from dataclasses import dataclass
from functools import lru_cache

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from . import clock, status
from .config import settings
from .models import Channel

SIGNATURE_HEADER = "X-Oncall-Signature"
TIMESTAMP_HEADER = "X-Oncall-Timestamp"
DELIVERY_HEADER = "X-Oncall-Delivery"
EVENT_HEADER = "X-Oncall-Event"
USER_AGENT = "oncall-notifications/1"
# Client errors that a later attempt may not meet (timeouts, rate limits).
RETRYABLE_CLIENT_ERRORS = {408, 409, 425, 429}
SNS_PERMANENT_ERRORS = {"NotFound", "NotFoundException", "AuthorizationError", "InvalidParameter", "KMSDisabled"}

HEADLINES = {
    "triggered": "Triggered",
    "acknowledged": "Acknowledged",
    "resolved": "Resolved",
    "escalated": "Escalated",
    "reassigned": "Reassigned",
}
EMOJI = {"triggered": "🚨", "acknowledged": "✅", "resolved": "✔️", "escalated": "⚠️", "reassigned": "👤"}


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    detail: str
    # True when retrying cannot help (a revoked Slack webhook, a missing topic).
    permanent: bool = False


def send(channel: Channel, message: dict, delivery_id: str) -> Outcome:
    if channel.kind == "slack":
        return _post(channel.url, slack_body(message), {})
    if channel.kind == "webhook":
        body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = str(int(clock.now().timestamp()))
        headers = {
            EVENT_HEADER: message["event"],
            DELIVERY_HEADER: delivery_id,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(channel.secret, timestamp, body),
        }
        return _post(channel.url, body, headers)
    if channel.kind == "sns":
        return _publish(channel.topic_arn, message)
    return Outcome(False, f"unknown channel kind {channel.kind!r}", permanent=True)


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


def slack_body(message: dict) -> bytes:
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
    body = {
        "text": _slack_escaped(headline(message)),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": summary}},
            {"type": "section", "text": {"type": "mrkdwn", "text": facts}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": note}]},
        ],
    }
    return json.dumps(body, ensure_ascii=False).encode()


# --- the transports --------------------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A webhook that moved must be updated, not followed: a redirect could also turn
    # the POST into a GET or carry the signed body somewhere else.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


@lru_cache(maxsize=1)
def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_NoRedirects())


def _post(url: str, body: bytes, headers: dict) -> Outcome:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
    )
    timeout = settings().notify_timeout_seconds
    # The socket timeout bounds each read, not the whole answer: a receiver that
    # trickles bytes could hold a send for ever, so the send also has a deadline.
    answer = _deadline_pool().submit(_status_of, request, timeout)
    try:
        return Outcome(True, f"HTTP {answer.result(timeout=2 * timeout)}")
    except DeadlinePassed:  # also a socket timeout, from Python 3.11 on
        return Outcome(False, f"timed out ({timeout} s per read, {2 * timeout} s in all)")
    except urllib.error.HTTPError as error:
        code = error.code
        permanent = 300 <= code < 500 and code not in RETRYABLE_CLIENT_ERRORS
        return Outcome(False, f"HTTP {code}", permanent=permanent)
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return Outcome(False, f"no answer: {reason}"[:300])


def _status_of(request: urllib.request.Request, timeout: float) -> int:
    with _opener().open(request, timeout=timeout) as response:
        return response.status


@lru_cache(maxsize=1)
def _deadline_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=16, thread_name_prefix="notification-send")


@lru_cache(maxsize=1)
def _sns():
    # One try within the send timeout: the delivery's lease must outlast any send,
    # and a failed attempt is retried by the delivery's own backoff.
    timeout = settings().notify_timeout_seconds
    tuned = Config(connect_timeout=timeout, read_timeout=timeout, retries={"total_max_attempts": 1})
    return boto3.client("sns", region_name=settings().region, config=tuned)


def _publish_to_sns(topic_arn: str, subject: str, text: str) -> dict:
    return _sns().publish(TopicArn=topic_arn, Subject=subject, Message=text)


def _publish(topic_arn: str, message: dict) -> Outcome:
    # SNS subjects are ASCII, one line, under 100 characters.
    subject = "".join(ch if " " <= ch <= "~" else "?" for ch in headline(message, emoji=False))[:99]
    timeout = settings().notify_timeout_seconds
    publishing = _deadline_pool().submit(_publish_to_sns, topic_arn, subject, plain_text(message))
    try:
        answer = publishing.result(timeout=2 * timeout)
    except DeadlinePassed:
        return Outcome(False, f"SNS timed out ({2 * timeout} s)")
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        return Outcome(False, f"SNS {code}", permanent=code in SNS_PERMANENT_ERRORS)
    except BotoCoreError as error:
        return Outcome(False, f"SNS unreachable: {error}"[:300])
    return Outcome(True, f"SNS message {answer.get('MessageId', '')}".strip())
