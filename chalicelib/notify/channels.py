"""Notification channels: where each service's incidents are announced."""

import secrets
import uuid

from chalicelib import clock, db, outbound
from chalicelib.api import pagination, responses
from chalicelib.api.payloads import ChannelBody
from chalicelib.db import Transaction, TransactionCancelled
from chalicelib.errors import Conflict, InvalidInput, NotFound
from chalicelib.models import Channel, Stats

FEED = "channel"
# Every event of an incident becomes one delivery per channel in one transaction
# (at most 100 items), and a page should reach a handful of places, not dozens.
MAX_PER_SERVICE = 10


def _counter(service_name: str) -> Stats:
    return Stats("channels", service_name)


def create_channel(body: ChannelBody, actor: str | None) -> dict:
    if body.url is not None:
        try:
            # Every send checks the address again: DNS may answer differently later.
            outbound.check_new(body.url)
        except outbound.Refused as refused:
            raise InvalidInput(f"url: {refused}.", field="url") from None
    now = clock.now()
    channel_id = uuid.uuid4().hex
    channel = Channel(
        body.service_name,
        channel_id,
        kind=body.kind,
        name=body.name,
        url=body.url,
        topic_arn=body.topic_arn,
        secret=f"whsec_{secrets.token_urlsafe(32)}" if body.kind == "webhook" else None,
        created_at=now,
        created_by=actor,
        feed=FEED,
        service_channel=f"{body.service_name}#{clock.iso(now)}#{channel_id}",
    )
    tx = Transaction()
    tx.put(channel, condition=Channel.id.does_not_exist())
    # The count lives on its own item so the cap is a condition, not a read.
    tx.update(
        _counter(body.service_name),
        [Stats.channel_count.add(1), Stats.service_name.set(body.service_name)],
        condition=Stats.channel_count.does_not_exist() | (Stats.channel_count < MAX_PER_SERVICE),
        tag="count",
    )
    try:
        tx.commit(landed=lambda: find(body.service_name, channel_id) is not None)
    except TransactionCancelled:
        raise Conflict(
            f"{body.service_name} already has {MAX_PER_SERVICE} notification channels; delete one first.",
            field="service_name",
        ) from None
    return responses.NewChannel.of(channel).body()


def delete_channel(channel_id: str) -> None:
    keys = db.keys_by_public_id(Channel, channel_id, "notification channel")
    tx = Transaction()
    tx.delete(Channel(keys.service_name, channel_id), condition=Channel.id.exists(), tag="channel")
    tx.update(_counter(keys.service_name), [Stats.channel_count.add(-1)])
    try:
        tx.commit()
    except TransactionCancelled:
        # Another request deleted it between the index read and this write.
        raise NotFound(f"There is no notification channel with id {channel_id}.") from None


def list_channels(service_name: str | None, limit: int, cursor: str | None) -> dict:
    channels, next_cursor = pagination.service_or_feed(Channel, service_name, FEED, limit, cursor)
    listed = [responses.Channel.of(channel) for channel in channels]
    return responses.ChannelPage(channels=listed, next_cursor=next_cursor).body()


def of_service(service_name: str) -> list[Channel]:
    """All of a service's channels: one Query, as there are at most MAX_PER_SERVICE."""
    return list(Channel.query(service_name, consistent_read=True))


def find(service_name: str, channel_id: str) -> Channel | None:
    try:
        # Consistent: a channel made a moment ago must not read as deleted, which
        # would cancel its deliveries for good.
        return Channel.get(service_name, channel_id, consistent_read=True)
    except Channel.DoesNotExist:
        return None
