"""Calendar feeds: a secret URL a calendar app subscribes to, showing a service's
final schedule or one person's turns on call, with no API key. The token in the URL
grants that calendar and nothing else; it is shown once, stored as its SHA-256, and
revoking the feed deletes it, so the URL stops working at once."""

import hashlib
import secrets
import uuid
from datetime import timedelta

from chalicelib import clock, db
from chalicelib.api import responses
from chalicelib.api.payloads import CalendarFeedBody
from chalicelib.db import Transaction, TransactionCancelled
from chalicelib.errors import Conflict, NotFound
from chalicelib.models import CalendarFeed, Stats
from chalicelib.schedule import catalogue, ical, oncall

MAX_FEEDS = 10
COUNT_KIND = "calendar-feeds"
TOKEN_PREFIX = "cal_"
TOKEN_BYTES = 32
# What a calendar shows: the past week and the next four (the final schedule's span is bounded).
SHOWS_BEFORE = timedelta(days=7)
SHOWS_AFTER = timedelta(days=28)
# A person's turns are read from each service with a schedule; a calendar app that
# polls for more than this many services gets the first ones.
MAX_SERVICES = 200
GONE = "There is no such calendar: the link was revoked, or it is not from oncall."


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create(user: str, body: CalendarFeedBody, base_url: str) -> dict:
    """A new feed of `user`'s; the answer is the only place its token appears."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    now = clock.now()
    feed_id = uuid.uuid4().hex
    kind, subject = ("service", body.service_name) if body.service_name else ("user", user)
    feed = CalendarFeed(
        _hash(token),
        feed_id=feed_id,
        owner=user,
        kind=kind,
        subject=subject,
        created_at=now,
        created_key=f"{clock.iso(now)}#{feed_id}",
    )
    tx = Transaction()
    # The cap is a condition on the owner's count, which each feed made or revoked moves.
    under_cap = Stats.feed_count.does_not_exist() | (Stats.feed_count < MAX_FEEDS)
    tx.update(Stats(COUNT_KIND, user), [Stats.feed_count.add(1)], condition=under_cap, tag="count")
    tx.put(feed, condition=CalendarFeed.token_hash.does_not_exist())
    try:
        tx.commit(landed=lambda: db.find(CalendarFeed, feed.token_hash) is not None)
    except TransactionCancelled:
        raise Conflict(f"{user} has {MAX_FEEDS} calendar feeds, as many as one may; revoke one first.") from None
    url = f"{base_url}/calendar/{token}"
    return responses.NewCalendarFeed.of(
        feed, id=feed_id, user=user, url=url, webcal="webcal://" + url.split("://", 1)[1]
    ).body()


def _owned(user: str) -> list[CalendarFeed]:
    # One page holds them all: the cap keeps a person's feeds under MAX_FEEDS.
    return list(CalendarFeed.owner_index.query(user, limit=MAX_FEEDS + 1))


def list_for(user: str) -> dict:
    feeds = [responses.CalendarFeed.of(feed, id=feed.feed_id, user=feed.owner) for feed in _owned(user)]
    return responses.CalendarFeedList(calendar_feeds=feeds).body()


def revoke(user: str, feed_id: str) -> None:
    found = [feed for feed in _owned(user) if feed.feed_id == feed_id]
    if not found:
        raise NotFound(f"{user} has no calendar feed {feed_id}.")
    tx = Transaction()
    tx.delete(CalendarFeed(found[0].token_hash), condition=CalendarFeed.feed_id == feed_id)
    tx.update(Stats(COUNT_KIND, user), [Stats.feed_count.add(-1)], condition=Stats.feed_count > 0, tag="count")
    try:
        tx.commit(landed=lambda: db.find(CalendarFeed, found[0].token_hash) is None)
    except TransactionCancelled:
        raise NotFound(f"{user} has no calendar feed {feed_id}.") from None


def revoke_all(user: str) -> None:
    """Every feed of `user`'s, with their count, in one transaction conditioned on the
    count: a feed made meanwhile (or not yet in the owner index) fails it, and the
    caller tries again, so no feed outlives its person."""
    owned = _owned(user)
    count = db.find(Stats, COUNT_KIND, user)
    if count is None and not owned:
        return
    tx = Transaction()
    for feed in owned:
        tx.delete(CalendarFeed(feed.token_hash))
    held = Stats.feed_count == len(owned) if owned else Stats.feed_count.does_not_exist() | (Stats.feed_count == 0)
    tx.delete(Stats(COUNT_KIND, user), condition=held, tag="count")
    try:
        tx.commit(landed=lambda: db.find(Stats, COUNT_KIND, user) is None)
    except TransactionCancelled:
        raise db.retry_later(f"{user}'s calendar feeds changed meanwhile") from None


def calendar(token: str) -> str:
    """The iCalendar text a feed's URL answers with."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        raise NotFound(GONE)
    feed = db.find(CalendarFeed, _hash(token))
    if feed is None:
        raise NotFound(GONE)
    now = clock.now()
    start, end = now - SHOWS_BEFORE, now + SHOWS_AFTER
    if feed.kind == "service":
        schedule = oncall.final_schedule(feed.subject, start, end)
        return ical.schedule(feed.subject, schedule["intervals"], now)
    turns = []
    for number, service in enumerate(catalogue.services()):
        if number == MAX_SERVICES:
            break
        intervals = oncall.final_schedule(service, start, end)["intervals"]
        turns += [(service, interval) for interval in intervals if interval["user"] == feed.subject]
    return ical.calendar(f"On call: {feed.subject}", turns, now)
