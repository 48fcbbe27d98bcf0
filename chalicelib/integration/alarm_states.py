"""Applying a CloudWatch alarm's state changes in the order they happened.

SNS does not order deliveries: an ALARM delivered again after its first delivery
failed, or one of a flapping alarm, can arrive after the OK that followed it, and
would page someone for an alarm that is already OK. So each alarm (its ARN) keeps
the latest state change applied: its StateChangeTime, in milliseconds. A change is
applied by one conditional UpdateItem that moves that time to its own, on condition
that no later change was applied. An equal time passes: a change delivered again
after its first attempt failed (chalicelib/integration/receipts.py released its MessageId) must
still act, and the same change sent to two topics acts as one alert. A change
older than the one applied is stale and does nothing.

Passing that write is not enough: an ALARM that passed it may still be opening its
incident when a later OK passes it and finds nothing to resolve. So the write that
acts (a new incident's transaction, a resolve's) carries `guard`, a check that no
later change was applied since; when one was, the act is superseded (db.Superseded)
and the change is stale too. A folded alert needs no check: it opens nothing, and
the later change resolves (or folds into) the same incident.

An item expires 90 days after its last change (TTL): far longer than a delivery
can be late (SNS retries over HTTPS for at most an hour, Lambda an event for at most
6 hours) or than an operator is likely to take replaying a failed event.
"""

from datetime import datetime, timedelta, timezone

from pynamodb.exceptions import DoesNotExist

from chalicelib import clock, db
from chalicelib.models import AlarmState

KEEP = timedelta(days=90)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def millis(instant: datetime) -> int:
    return (instant - EPOCH) // timedelta(milliseconds=1)


def not_later_than(changed_at: int):
    """No change later than `changed_at` was applied to the alarm."""
    return AlarmState.alarm.does_not_exist() | (AlarmState.changed_at <= changed_at)


def apply(alarm: str, changed_at: int, state: str) -> tuple[bool, int | None]:
    """Record the change as the alarm's latest. (True, None) when it is (or ties with)
    the latest; (False, the StateChangeTime of the later change applied) when not."""
    item = AlarmState(alarm)
    found = {}

    def landed() -> bool:
        try:
            found["item"] = AlarmState.get(alarm, consistent_read=True, attributes_to_get=["changed_at"])
        except DoesNotExist:
            return False
        return found["item"].changed_at == changed_at

    applied = db.settle(
        lambda: item.update(
            actions=[
                AlarmState.changed_at.set(changed_at),
                AlarmState.state.set(state),
                AlarmState.expires_at.set(int((clock.now() + KEEP).timestamp())),
            ],
            condition=not_later_than(changed_at),
        ),
        landed,
    )
    later = found.get("item")
    return applied, None if applied or later is None else int(later.changed_at)


def guard(alarm: str, changed_at: int) -> db.Guard:
    """What the write acting on a change requires: no later change applied since."""
    return db.Guard(AlarmState, alarm, not_later_than(changed_at))
