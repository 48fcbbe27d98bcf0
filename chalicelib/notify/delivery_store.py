"""The deliveries table's items: one per transition and channel, or per transition and
rule of a person paged, made in the hand-over transaction (chalicelib/notify/outbox.py)."""

from datetime import datetime

from chalicelib import shards
from chalicelib.models import Delivery

# The queue of deliveries due for an attempt.
QUEUE = "deliveries"


def owed(
    incident_id: int, key: str, service_name: str, event_kind: str, message: dict, now: datetime, due_at: datetime, **to
) -> Delivery:
    """A delivery waiting for its first attempt at `due_at`; `to` names a channel
    (channel_id) or a person and their contact method (user, contact_method_id)."""
    return Delivery(
        incident_id,
        key,
        service_name=service_name,
        event_kind=event_kind,
        message=message,
        state="pending",
        attempts=0,
        created_at=now,
        due_partition=shards.partition(QUEUE, incident_id),
        due_at=due_at,
        **to,
    )


def is_new():
    """The condition of every put: an event becomes a delivery once, however many hand-overs race."""
    return Delivery.delivery_key.does_not_exist()
