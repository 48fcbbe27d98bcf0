"""Links in a page that act on the incident as the person paged: signed (HMAC, with
a secret of their own purpose), naming the incident, the action, the user and an
expiry, and short enough for an SMS. Opening one shows a confirmation; only the
POST it makes acts, since mail scanners follow links with GET."""

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib import signing
from chalicelib.config import settings
from chalicelib.errors import Forbidden, InvalidTransition
from chalicelib.incident import incidents

LIFETIME = timedelta(hours=24)
ACTIONS = {"a": "acknowledge", "r": "resolve"}
CODES = {action: code for code, action in ACTIONS.items()}
# Far beyond any real token: a longer path segment is refused before decoding.
MAX_TOKEN_LENGTH = 400


@dataclass(frozen=True)
class Link:
    incident_id: int
    action: str
    user: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def token(incident_id: int, action: str, user: str, now: datetime) -> str:
    expires = int((now + LIFETIME).timestamp())
    payload = f"{incident_id}.{CODES[action]}.{expires}.{user}".encode()
    return f"{_b64(payload)}.{_b64(signing.LINKS.sign(payload))}"


def url(incident_id: int, action: str, user: str, now: datetime) -> str | None:
    """The link for `user` to take `action`; None when no console URL is set (the
    links open the confirmation page the API serves beside the console)."""
    base = settings().console_url
    return f"{base}/act/{token(incident_id, action, user, now)}" if base else None


def read(raw: str, now: datetime) -> Link:
    """The link a token stands for; Forbidden when it is altered, expired or not one."""
    refused = Forbidden("This link is not valid: it was changed, or it is not from oncall.")
    if len(raw) > MAX_TOKEN_LENGTH or raw.count(".") != 1:
        raise refused
    encoded, mac = raw.split(".")
    try:
        payload, signature = _unb64(encoded), _unb64(mac)
    except ValueError:
        raise refused from None
    if not signing.LINKS.verify(payload, signature):
        raise refused
    incident, code, expires, user = payload.decode().split(".", 3)
    if int(expires) <= now.timestamp():
        raise Forbidden("This link has expired: links in a page work for 24 hours. Open the incident in the console.")
    return Link(int(incident), ACTIONS[code], user)


def take(link: Link) -> dict:
    """Do what the link says, as its user. Resolving an incident nobody acknowledged
    acknowledges it first, as that user: the person paged handled it."""
    if link.action == "resolve":
        try:
            incidents.acknowledge(link.incident_id, link.user)
        except InvalidTransition:
            pass  # acknowledged already; or resolved, which the resolve says
        return incidents.resolve(link.incident_id, link.user)
    return incidents.acknowledge(link.incident_id, link.user)
