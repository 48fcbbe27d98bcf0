"""SMS replies: "ack 123" or "resolve 123" texted back from a verified number, acted on
as the number's user. AWS End User Messaging SMS publishes each inbound message to
the stack's SNS topic (docs/integrations/sms.md), whose subscription is this Lambda.

A number that is no verified contact method gets no answer: replying to any number
that texts in would let anyone make the stack send SMS. SNS may deliver a message
twice; acting twice is harmless (the second finds it done, and says so)."""

import logging
import re

from chalicelib.errors import DomainError
from chalicelib.incident import links
from chalicelib.jsontext import NotJson, TooDeep, loads
from chalicelib.models import ContactMethod
from chalicelib.people import contact_methods
from chalicelib.transport import sms

log = logging.getLogger("oncall.sms")

_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_COMMAND = re.compile(r"\s*(ack|acknowledge|a|resolve|res|r)\s+#?([0-9]{1,12})\s*[.!]?\s*", re.IGNORECASE)
MAX_BODY = 1600
HELP = "oncall: reply 'ack 123' to acknowledge incident 123, or 'resolve 123' to resolve it."


def receive_lambda_event(event: dict) -> list[str]:
    """What each record of the SNS event came to; a record that is not an inbound
    SMS is logged and skipped (a retry could never change it)."""
    records = event.get("Records") if isinstance(event, dict) else None
    outcomes = []
    for number, record in enumerate(records if isinstance(records, list) else []):
        message = record.get("Sns") if isinstance(record, dict) else None
        text = message.get("Message") if isinstance(message, dict) else None
        try:
            payload = loads(text) if isinstance(text, str) else None
        except (NotJson, TooDeep):
            payload = None
        if not isinstance(payload, dict):
            log.warning("skipped SNS record %d: not an inbound SMS", number)
            outcomes.append("skipped")
            continue
        outcomes.append(handle(payload))
    return outcomes


def handle(payload: dict) -> str:
    number = payload.get("originationNumber")
    body = payload.get("messageBody")
    if not isinstance(number, str) or not _E164.fullmatch(number) or not isinstance(body, str):
        log.warning("skipped an inbound SMS without a sender's number or a body")
        return "skipped"
    user = user_of(number)
    if user is None:
        log.info("an SMS from %s, which is no verified contact method, was ignored", sms.masked(number))
        return "unknown_number"
    command = _COMMAND.fullmatch(body[:MAX_BODY])
    if command is None:
        sms.send(number, HELP)
        return "help"
    action = "resolve" if command.group(1).lower().startswith("r") else "acknowledge"
    try:
        done = links.take(links.Link(int(command.group(2)), action, user))
    except DomainError as error:
        sms.send(number, f"oncall: {error.message}")
        return "refused"
    sms.send(number, f"oncall: #{done['id']} {done['status']} by {user}: {done['title']}"[: sms.MAX_LENGTH])
    return action + "d"


def user_of(number: str) -> str | None:
    """The one user whose verified SMS number this is; None for none, or several."""
    found = {
        method.user for method in ContactMethod.address_index.query(contact_methods.address_key("sms", number), limit=2)
    }
    return found.pop() if len(found) == 1 else None
