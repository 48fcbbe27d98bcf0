"""Acting once per SNS message, however often it is delivered.

SNS delivers at least once: it delivers again over HTTPS when an answer is slow or
a 5xx, and Lambda retries a failed invocation. A delivery first claims the
MessageId with a lease (a PutItem conditioned on no item, or on a lapsed lease),
acts, then marks the id done. If acting fails, it deletes its claim so that the
next delivery acts; if it dies before either, the lease runs out. A delivery that
finds the id done does nothing. One that finds a live claim is told to come back
when the lease ends (Busy, 503): the holder may yet fail, and then this alert must
still be acted on.

DynamoDB's TTL drops an id a day after it was claimed: longer than SNS retries an
HTTPS delivery (at most an hour, and an older Timestamp is refused anyway) and than
Lambda retries an event (6 hours at most).
"""

import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from pynamodb.exceptions import DeleteError, DoesNotExist, UpdateError

from chalicelib import clock, db
from chalicelib.errors import Busy
from chalicelib.models import SnsMessage

log = logging.getLogger("oncall.receipts")

# Longer than a Lambda may run (30 s) and API Gateway waits for one (29 s).
LEASE = timedelta(seconds=60)
KEEP = timedelta(days=1)


def once(message_id: str, action: Callable[[], dict]) -> dict | None:
    """What `action()` returns, or None when this message was acted on already.
    Raises Busy while another delivery of the message holds a live claim."""
    token = _claim(message_id)
    if token is None:
        return None
    try:
        result = action()
    except BaseException:
        _release(message_id, token)
        raise
    _finish(message_id, token)
    return result


def _millis(instant: datetime) -> int:
    return int(instant.timestamp() * 1000)


def _claim(message_id: str) -> str | None:
    """A claim token, or None when the message is done."""
    now = clock.now()
    token = secrets.token_hex(16)
    item = SnsMessage(
        message_id,
        claim=token,
        lease_until=_millis(now + LEASE),
        expires_at=int((now + KEEP).timestamp()),
    )
    free = SnsMessage.message_id.does_not_exist() | (SnsMessage.lease_until <= _millis(now))
    held = {}

    def landed() -> bool:
        # The condition decided, or the answer was lost; this read only chooses the answer.
        try:
            held["item"] = SnsMessage.get(
                message_id, consistent_read=True, attributes_to_get=["message_id", "claim", "lease_until"]
            )
        except DoesNotExist:
            raise Busy("Another delivery of this message has just given up on it; deliver it again.") from None
        # The SDK sends the put again after losing the answer to an attempt that applied it.
        return held["item"].claim == token

    if db.settle(lambda: item.save(condition=free), landed):
        return token
    if held["item"].lease_until is None:
        return None
    wait = (held["item"].lease_until - _millis(now)) / 1000
    raise Busy("Another delivery of this message is being processed; retry when it has finished.", retry_after=wait)


def _finish(message_id: str, token: str) -> None:
    try:
        SnsMessage(message_id).update(
            actions=[SnsMessage.done_at.set(clock.now()), SnsMessage.claim.remove(), SnsMessage.lease_until.remove()],
            condition=SnsMessage.claim == token,
        )
    except UpdateError as error:
        # The alert was acted on: failing now would only have it delivered again.
        # Left claimed, the id becomes free when the lease lapses.
        log.warning("could not mark SNS message %r done: %s", message_id, db.response_code(error) or error)


def _release(message_id: str, token: str) -> None:
    try:
        SnsMessage(message_id).delete(condition=SnsMessage.claim == token)
    except DeleteError as error:
        log.warning(
            "could not release SNS message %r (%s); the next delivery acts once its lease lapses",
            message_id,
            db.response_code(error) or error,
        )
