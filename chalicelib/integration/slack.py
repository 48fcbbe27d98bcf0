"""Slack's button presses (interactivity): Acknowledge and Resolve on a page or a
channel's message, acted on as the oncall user whose Slack contact method is the
presser's member id.

Trusted by Slack's signature alone (docs/integrations/slack.md): `v0=` and the hex
HMAC-SHA256, under the app's signing secret, of "v0:<timestamp>:<body>", with the
timestamp within five minutes of now, so a press captured in transit cannot be
replayed later. The presser learns the outcome by an update to the message, posted
to the response URL Slack gave, and only if that URL is Slack's own."""

import hashlib
import hmac
import json
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

from chalicelib import outbound
from chalicelib.config import settings
from chalicelib.errors import DomainError, Forbidden, InvalidInput
from chalicelib.incident import links
from chalicelib.jsontext import NotJson, TooDeep, loads
from chalicelib.models import ContactMethod
from chalicelib.people import contact_methods

MAX_AGE_SECONDS = 300
SIGNATURE_HEADER = "x-slack-signature"
TIMESTAMP_HEADER = "x-slack-request-timestamp"
ACTIONS = ("acknowledge", "resolve")
RESPONSE_HOST = "hooks.slack.com"


def verify(headers, body: bytes, now: datetime) -> None:
    secret = settings().slack_signing_secret
    if not secret:
        raise Forbidden("Slack interactivity is not set up here (ONCALL_SLACK_SIGNING_SECRET is empty).")
    timestamp = (headers.get(TIMESTAMP_HEADER) or "").strip()
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise Forbidden("The request has no Slack timestamp.", field="X-Slack-Request-Timestamp")
    if abs(now.timestamp() - int(timestamp)) > MAX_AGE_SECONDS:
        raise Forbidden("The Slack request is more than 5 minutes old.", field="X-Slack-Request-Timestamp")
    signed = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    given = (headers.get(SIGNATURE_HEADER) or "").strip()
    if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
        raise Forbidden("The Slack signature does not verify.", field="X-Slack-Signature")


def receive(headers, body: bytes, now: datetime) -> dict:
    """Verify, then act on the first Acknowledge or Resolve press in the payload."""
    verify(headers, body, now)
    payload = _payload(body)
    if payload.get("type") != "block_actions":
        return {"action": "nothing"}
    press = next(
        (
            action
            for action in payload.get("actions") or []
            if isinstance(action, dict) and action.get("action_id") in ACTIONS
        ),
        None,
    )
    value = str((press or {}).get("value", ""))
    if press is None or not (value.isascii() and value.isdigit() and len(value) <= 12):
        return {"action": "nothing"}
    member = str((payload.get("user") or {}).get("id", ""))
    response_url = str(payload.get("response_url") or "")
    name = user_of(member)
    if name is None:
        _answer(response_url, f"Slack member {member} is not an oncall user: add it as a Slack contact method.")
        return {"action": "unknown_user"}
    link = links.Link(int(value), press["action_id"], name)
    try:
        done = links.take(link)
    except DomainError as error:
        _answer(response_url, error.message)
        return {"action": "refused"}
    headline = (
        f"{'✅' if link.action == 'acknowledge' else '✔️'} #{done['id']} {done['title']}: {done['status']} by {name}"
    )
    _answer(response_url, headline, replace=True)
    return {"action": link.action + "d"}


def _payload(body: bytes) -> dict:
    try:
        form = parse_qs(body.decode("utf-8"), max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput("The body must be a form with a payload field.", field="payload") from None
    raw = form.get("payload", [None])[0]
    if raw is None:
        raise InvalidInput("The body must be a form with a payload field.", field="payload")
    try:
        payload = loads(raw)
    except (NotJson, TooDeep) as error:
        raise InvalidInput(f"payload: {error}.", field="payload") from None
    if not isinstance(payload, dict):
        raise InvalidInput("payload must be a JSON object.", field="payload")
    return payload


def user_of(member: str) -> str | None:
    """The one oncall user whose Slack contact method is `member`; None for none, or
    for several (a press must name one person)."""
    if not member or len(member) > 32:
        return None
    found = {
        method.user
        for method in ContactMethod.address_index.query(contact_methods.address_key("slack", member), limit=2)
    }
    return found.pop() if len(found) == 1 else None


def _answer(response_url: str, text: str, *, replace: bool = False) -> None:
    """Tell the presser, through Slack's response URL; any other URL is not followed."""
    if not _slacks(response_url):
        return
    body = json.dumps({"text": text, "replace_original": replace, "response_type": "ephemeral"}).encode()
    try:
        outbound.post(response_url, body, {"Content-Type": "application/json"}, settings().notify_timeout_seconds)
    except outbound.Failed:
        pass  # the press was acted on; only its echo in Slack is lost


def _slacks(url: str) -> bool:
    """Slack's response URLs are https://hooks.slack.com/...; where ONCALL_SLACK_API_URL
    points elsewhere (a test's fake Slack), that host too."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    api = urlsplit(settings().slack_api_url)
    return (parts.scheme == "https" and parts.hostname == RESPONSE_HOST) or (
        api.hostname != "slack.com" and (parts.scheme, parts.netloc) == (api.scheme, api.netloc)
    )
