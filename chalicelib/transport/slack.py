"""Slack's Web API: a direct message to a member (chat.postMessage with the bot token
ONCALL_SLACK_BOT_TOKEN, at ONCALL_SLACK_API_URL), through the guarded outbound HTTP
client. Slack answers 200 with {"ok": false, "error": ...} for most refusals."""

import json

from chalicelib import outbound
from chalicelib.config import settings
from chalicelib.transport.outcome import Outcome

# Slack's error codes that another attempt cannot get past, and how the timeline says them.
PERMANENT = {
    "channel_not_found": "Slack knows no such member",
    "user_not_found": "Slack knows no such member",
    "user_disabled": "the Slack member is deactivated",
    "cannot_dm_bot": "the Slack member is a bot",
    "invalid_auth": "Slack refused the bot token",
    "not_authed": "Slack refused the bot token",
    "account_inactive": "the Slack bot token was revoked",
    "token_revoked": "the Slack bot token was revoked",
    "missing_scope": "the Slack bot may not send direct messages (chat:write)",
    "invalid_blocks": "Slack refused the message's layout",
}
MAX_ANSWER_BYTES = 4096


def post_message(channel: str, text: str, blocks: list | None = None) -> Outcome:
    token = settings().slack_bot_token
    if not token:
        return Outcome(False, "no Slack bot token is set (ONCALL_SLACK_BOT_TOKEN)", permanent=True)
    body = json.dumps({"channel": channel, "text": text, "blocks": blocks or []}, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", "Authorization": f"Bearer {token}"}
    url = f"{settings().slack_api_url}/chat.postMessage"
    try:
        status, answer = outbound.exchange(url, body, headers, settings().notify_timeout_seconds, MAX_ANSWER_BYTES)
    except outbound.Failed as failure:
        return Outcome(False, failure.reason, permanent=failure.permanent, unreachable=not failure.permanent)
    if status == 429:
        return Outcome(False, "Slack is rate limiting messages")
    if status != 200:
        return Outcome(False, f"Slack answered HTTP {status}", permanent=400 <= status < 500)
    try:
        said = json.loads(answer)
    except ValueError:
        return Outcome(False, "Slack's answer was not JSON")
    if not isinstance(said, dict):
        return Outcome(False, "Slack's answer was not a JSON object")
    if said.get("ok") is True:
        return Outcome(True, "Slack took the direct message")
    error = str(said.get("error", ""))
    if error in PERMANENT:
        return Outcome(False, PERMANENT[error], permanent=True)
    return Outcome(False, "Slack refused the message for now")
