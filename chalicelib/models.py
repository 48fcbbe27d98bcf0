"""The tables, one PynamoDB model each. These classes are the single definition of
the schema: the local runtime creates tables from them and `make package` renders
them into the CloudFormation template (see infra/tables.py)."""

import json
import re
from contextlib import suppress
from datetime import datetime

from pynamodb.attributes import (
    BooleanAttribute,
    DiscriminatorAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.constants import STREAM_NEW_IMAGE
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib import db, status
from chalicelib.config import settings


def _meta(concept: str, *, stream_view_type: str | None = None) -> type:
    cfg = settings()

    class Meta:
        table_name = cfg.table_name(concept)
        region = cfg.region
        host = cfg.dynamodb_endpoint
        billing_mode = "PAY_PER_REQUEST"
        max_pool_connections = cfg.max_pool_connections

    # PynamoDB enables a stream when Meta has the attribute at all, so only a
    # table that declares one gets it (create_table, and infra/tables.py).
    if stream_view_type is not None:
        Meta.stream_view_type = stream_view_type
    return Meta


class Table(Model):
    """A table. Every table's requests go through the one DynamoDB client of
    chalicelib/db.py: one connection pool for them all, and one client to build when
    a function starts instead of one per table (3 of the 3.3 s it took for 22)."""

    @classmethod
    def _get_connection(cls):
        table = super()._get_connection()
        shared = db.connection()
        if table.connection is not shared:
            with suppress(ValueError):  # another thread added it first
                shared.add_meta_table(table.get_meta_table())
            table.connection = shared
        return table


# A character a JSON text may hold only as an escape: UTF-8 cannot encode it alone.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class CompactJSON(JSONAttribute):
    """JSON stored as DynamoDB counts it: compact, and UTF-8 as it is. PynamoDB's own
    JSONAttribute escapes every character outside ASCII, up to 12 bytes for one
    emoji, so what was measured and what is stored would differ threefold."""

    def serialize(self, value) -> str | None:
        if value is None:
            return None
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return _LONE_SURROGATE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


# Every index names its projection. ALL only for the admin lists of configuration
# (shifts and rotations, escalation levels, channels, keys, users): written only when an
# admin adds or removes an item, never on an alert's path, and read as whole rows in
# one Query a page.
def _index(name: str, projection) -> type:
    return type("Meta", (), {"index_name": name, "projection": projection()})


# The lists of incidents, newest first (a Query with ScanIndexForward=False). Each
# projects keys only, so only a new incident or a change of status writes them
# (a folded alert writes none); a page reads the items it lists. Every incident
# writes "all incidents" and its status's list, so those are spread over shards by
# incident number (chalicelib/shards.py); a service's list is the service's own.
class IncidentFeedIndex(GlobalSecondaryIndex):
    Meta = _index("feed", KeysOnlyProjection)
    feed = UnicodeAttribute(hash_key=True)
    id = NumberAttribute(range_key=True)


class IncidentServiceIndex(GlobalSecondaryIndex):
    Meta = _index("by-service", KeysOnlyProjection)
    service_name = UnicodeAttribute(hash_key=True)
    id = NumberAttribute(range_key=True)


class IncidentStatusIndex(GlobalSecondaryIndex):
    Meta = _index("by-status", KeysOnlyProjection)
    status_partition = UnicodeAttribute(hash_key=True)
    id = NumberAttribute(range_key=True)


# Sparse: only incidents still waiting for the next escalation step carry
# due_partition/due_at, so the sweep reads what is due and nothing else. Spread over
# shards (chalicelib/shards.py); keys only: the sweep reads each incident it steps.
class IncidentDueIndex(GlobalSecondaryIndex):
    Meta = _index("due", KeysOnlyProjection)
    due_partition = UnicodeAttribute(hash_key=True)
    due_at = UTCDateTimeAttribute(range_key=True)


# Sparse: only incidents with transitions not yet handed to their service's
# notification channels carry outbox_partition/outbox_at (chalicelib/notify/outbox.py);
# sharded and keys only, as the due index.
class IncidentOutboxIndex(GlobalSecondaryIndex):
    Meta = _index("outbox", KeysOnlyProjection)
    outbox_partition = UnicodeAttribute(hash_key=True)
    outbox_at = UTCDateTimeAttribute(range_key=True)


class IncidentEvent(MapAttribute):
    """A transition, appended to the incident item by the one UpdateItem that makes
    it, and kept there until the outbox moves it to the timeline table."""

    at = UTCDateTimeAttribute()
    kind = UnicodeAttribute()
    actor = UnicodeAttribute(null=True)
    message = UnicodeAttribute()
    # Who the incident is assigned to from this event on, when the event changed it:
    # a notification sent later still says who had it then.
    assigned_to = UnicodeAttribute(null=True)
    # The request that wrote the event: a write whose answer was lost is recognised
    # by it when read back, and answered as the success it was.
    request = UnicodeAttribute(null=True)
    # An escalation step's level: whom it pages is that level's targets as of the
    # step (chalicelib/notify/pages.py), kept as a number so events stay small.
    level = NumberAttribute(null=True)


class Incident(Table):
    # The stream wakes app.notification_stream with the new images of the incidents
    # in the outbox (the event filter, NOTIFIER_STREAM_FILTER, sees the image too).
    Meta = _meta("incidents", stream_view_type=STREAM_NEW_IMAGE)
    id = NumberAttribute(hash_key=True)
    service_name = UnicodeAttribute()
    title = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    severity = UnicodeAttribute()
    status = UnicodeAttribute()
    # The status's list shard (chalicelib/incident/incidents.py, became).
    status_partition = UnicodeAttribute(null=True)
    dedup_key = UnicodeAttribute()
    assigned_to = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute(null=True)
    acknowledged_at = UTCDateTimeAttribute(null=True)
    acknowledged_by = UnicodeAttribute(null=True)
    resolved_at = UTCDateTimeAttribute(null=True)
    resolved_by = UnicodeAttribute(null=True)
    escalated_at = UTCDateTimeAttribute(null=True)
    escalation_level = NumberAttribute(default=0)
    # Which pass over the escalation policy the incident is in: 0 before its first
    # step, 1 in the first round, 2 after the policy repeated once, ...
    escalation_round = NumberAttribute(default=0)
    # The alerts and the latest one's time: 1 and created_at while the incident is
    # open (a folded alert is counted on its AlertTally, not here), the final tally
    # once the resolve transaction has copied it over.
    alert_count = NumberAttribute(default=1)
    last_alert_at = UTCDateTimeAttribute()
    feed = UnicodeAttribute()
    due_partition = UnicodeAttribute(null=True)
    due_at = UTCDateTimeAttribute(null=True)
    # The transitions not yet handed to the channels (chalicelib/incident/timeline.py), and how
    # many transitions there have been in all.
    events = ListAttribute(of=IncidentEvent, default=list)
    event_count = NumberAttribute(null=True)
    # Where a monitoring integration's alert came from, and what it sent with it
    # (custom details, links, labels), kept as sent.
    source = UnicodeAttribute(null=True)
    details = CompactJSON(null=True)
    # How many transitions have been handed over (and left `events`), and the status
    # and assignee as of the last of them: what the next one's message starts from.
    notified_events = NumberAttribute(default=0)
    handed_status = UnicodeAttribute(null=True)
    handed_assignee = UnicodeAttribute(null=True)
    outbox_partition = UnicodeAttribute(null=True)
    outbox_at = UTCDateTimeAttribute(null=True)
    # Opened during this maintenance window: its transitions page nobody and announce
    # nowhere until the window's end (`suppressed_until`), or until the sweep, finding
    # no window, ends the suppression (`suppression_ended_at`) (chalicelib/incident/suppression.py).
    suppressed_by = UnicodeAttribute(null=True)
    suppressed_until = UTCDateTimeAttribute(null=True)
    suppression_ended_at = UTCDateTimeAttribute(null=True)

    feed_index = IncidentFeedIndex()
    service_index = IncidentServiceIndex()
    status_index = IncidentStatusIndex()
    due_index = IncidentDueIndex()
    outbox_index = IncidentOutboxIndex()

    def suppressed_at(self, at: datetime) -> bool:
        """Whether the incident is suppressed at `at` (opened in a maintenance window).
        While it waits for the sweep (not acknowledged), it is until the sweep ends the
        suppression; once acknowledged or resolved it is the sweep's no more, and the
        window's end decides."""
        if self.suppressed_by is None:
            return False
        if self.suppression_ended_at is not None:
            return at < self.suppression_ended_at
        if self.status in status.ESCALATE_FROM:
            return True
        return self.suppressed_until is None or at < self.suppressed_until


# The incidents stream reaches the notifier only for a write that leaves the incident
# in the outbox (a transition, or a handing over with more to hand): the handing over
# of the last transition wakes nothing (and a folded alert does not write the incident).
NOTIFIER_STREAM_FILTER = {"dynamodb": {"NewImage": {Incident.outbox_partition.attr_name: {"S": [{"exists": True}]}}}}


class Dedup(Table):
    """An alert (service + dedup key) -> the open incident it folds into. Keyed by the
    alert itself (chalicelib/incident/dedup.py, alert_key): every fold reads or writes
    it, so one service's alerts must not share a partition."""

    # A stored dedup key is the caller's behind EXPLICIT, or a digest of the title behind
    # "title:", so that the two kinds never collide.
    EXPLICIT = "key:"

    Meta = _meta("dedup")
    alert = UnicodeAttribute(hash_key=True)
    service_name = UnicodeAttribute()
    dedup_key = UnicodeAttribute()
    incident_id = NumberAttribute()
    explicit = BooleanAttribute(default=False)
    last_alert_at = UTCDateTimeAttribute()
    # DynamoDB TTL (epoch seconds) clears keys whose window lapsed long ago.
    expires_at = NumberAttribute(null=True)

    @classmethod
    def public_key(cls, stored_key: str) -> str | None:
        """The dedup key as the caller gave it; None for one derived from the title."""
        return stored_key[len(cls.EXPLICIT) :] if stored_key.startswith(cls.EXPLICIT) else None


class AlertTally(Table):
    """The alerts folded into an open incident after its first (chalicelib/incident/incidents.py,
    _count_alert). A fold writes this small item, not the incident: a duplicate costs
    the write of a few dozen bytes, however large the incident. Written only by folds
    and by the resolve transaction, which copies the count onto the incident and
    closes the tally (closed_at), so that no fold lands after it."""

    Meta = _meta("alert-tallies")
    incident_id = NumberAttribute(hash_key=True)
    folded = NumberAttribute(default=0)
    last_alert_at = UTCDateTimeAttribute(null=True)
    # The request that counted the latest fold: how a count whose answer was lost is
    # recognised when read back.
    request = UnicodeAttribute(null=True)
    closed_at = UTCDateTimeAttribute(null=True)
    # DynamoDB TTL (epoch seconds), set at resolve: a closed tally is read by nobody
    # once the fold that raced the resolve has seen it closed.
    expires_at = NumberAttribute(null=True)


# Carries the item kind so that Shift.id_index and Rotation.id_index, which PynamoDB
# filters by kind, find their own items.
class ScheduleIdIndex(GlobalSecondaryIndex):
    Meta = _index("by-id", lambda: IncludeProjection(["kind"]))
    id = UnicodeAttribute(hash_key=True)


class ScheduleFeedIndex(GlobalSecondaryIndex):
    Meta = _index("feed", AllProjection)
    feed = UnicodeAttribute(hash_key=True)
    shift_key = UnicodeAttribute(range_key=True)


class ScheduleEntry(Table):
    """A service's schedule: shifts, overrides and rotations share one table and
    partition, so "who is on call at T" is a single Query. Shift keys start with
    the end time, so the shifts not yet ended are one key range; rotation keys
    start with "~", after every time, so that range holds the rotations too."""

    Meta = _meta("schedules")
    service_name = UnicodeAttribute(hash_key=True)
    shift_key = UnicodeAttribute(range_key=True)
    kind = DiscriminatorAttribute()
    id = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    feed = UnicodeAttribute()

    id_index = ScheduleIdIndex()
    feed_index = ScheduleFeedIndex()


class Shift(ScheduleEntry, discriminator="shift"):
    """One hand-entered shift, or an override (which wins over everything)."""

    user = UnicodeAttribute()
    start_time = UTCDateTimeAttribute()
    end_time = UTCDateTimeAttribute()
    is_override = BooleanAttribute(default=False)


class Rotation(ScheduleEntry, discriminator="rotation"):
    """A layer of the schedule: participants taking turns in shifts whose handoffs
    are wall-clock times in the rotation's zone (chalicelib/schedule/rotations.py)."""

    name = UnicodeAttribute()
    layer = NumberAttribute()
    participants = ListAttribute(of=UnicodeAttribute)
    shift_length = NumberAttribute()
    shift_unit = UnicodeAttribute()
    handoff_time = UnicodeAttribute()
    handoff_weekday = UnicodeAttribute(null=True)
    time_zone = UnicodeAttribute()
    start_date = UnicodeAttribute()
    # [{"weekdays": [...], "start": "HH:MM", "end": "HH:MM"}]: when the layer is active.
    restrictions = CompactJSON(default=list)


class LevelIdIndex(GlobalSecondaryIndex):
    Meta = _index("by-id", KeysOnlyProjection)
    id = UnicodeAttribute(hash_key=True)


class LevelFeedIndex(GlobalSecondaryIndex):
    Meta = _index("feed", AllProjection)
    feed = UnicodeAttribute(hash_key=True)
    service_level = UnicodeAttribute(range_key=True)


class EscalationTarget(MapAttribute):
    """Whom a level pages: a named user, or whoever is on call for a service then."""

    user = UnicodeAttribute(null=True)
    oncall = UnicodeAttribute(null=True)


class EscalationLevel(Table):
    Meta = _meta("escalation-levels")
    service_name = UnicodeAttribute(hash_key=True)
    level = NumberAttribute(range_key=True)
    id = UnicodeAttribute()
    user = UnicodeAttribute(null=True)
    notification_channel = UnicodeAttribute(default="log")
    # Absent on levels stored before policies: then [user] (or nobody) and the default wait.
    targets = ListAttribute(of=EscalationTarget, null=True)
    wait_minutes = NumberAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    feed = UnicodeAttribute()
    service_level = UnicodeAttribute()

    id_index = LevelIdIndex()
    feed_index = LevelFeedIndex()


class EscalationPolicy(Table):
    """What a service's escalation levels do once climbed: how many more times the
    climb starts again from the first level (the levels are EscalationLevel items)."""

    Meta = _meta("escalation-policies")
    service_name = UnicodeAttribute(hash_key=True)
    repeat = NumberAttribute(default=0)
    updated_at = UTCDateTimeAttribute()


# Sparse: one entry per service that has metrics, written when its row is made (only
# keys are projected and they never change), so listing services costs no write of
# its own on the paths that count.
class StatsServiceIndex(GlobalSecondaryIndex):
    Meta = _index("services", KeysOnlyProjection)
    catalogue = UnicodeAttribute(hash_key=True)
    service_name = UnicodeAttribute(range_key=True)


class Stats(Table):
    """Running counters (chalicelib/incident/metrics.py): kind "metrics-service#<name>" per
    service, with scope "totals"; kind
    "counter" with scope "incident" for the incident number; kind "secret" with
    scope "cursor" for the key that signs pagination cursors."""

    Meta = _meta("stats")
    kind = UnicodeAttribute(hash_key=True)
    scope = UnicodeAttribute(range_key=True)
    service_name = UnicodeAttribute(null=True)
    catalogue = UnicodeAttribute(null=True)
    next_id = NumberAttribute(null=True)
    secret = UnicodeAttribute(null=True)
    total_incidents = NumberAttribute(default=0)
    escalated_incidents = NumberAttribute(default=0)
    resolved_incidents = NumberAttribute(default=0)
    resolved_acknowledged = NumberAttribute(default=0)
    ack_seconds_sum = NumberAttribute(default=0)
    resolve_seconds_sum = NumberAttribute(default=0)
    alerts = NumberAttribute(default=0)
    # kind "channels", scope the service: how many channels it has (capped).
    channel_count = NumberAttribute(null=True)
    # kind "calendar-feeds", scope a user: how many calendar feeds they have (capped).
    feed_count = NumberAttribute(null=True)
    # kind "notice#<service>", scope "<start>#<user>": that shift's notice was sent
    # (chalicelib/notify/shift_notices.py); DynamoDB TTL (epoch seconds) drops it later.
    expires_at = NumberAttribute(null=True)

    service_index = StatsServiceIndex()


class TimelineEntry(Table):
    """An incident's history: transitions once handed over (chalicelib/incident/timeline.py),
    notes, notifications and escalation stops."""

    Meta = _meta("timeline")
    incident_id = NumberAttribute(hash_key=True)
    entry_key = UnicodeAttribute(range_key=True)
    at = UTCDateTimeAttribute()
    kind = UnicodeAttribute()
    actor = UnicodeAttribute(null=True)
    message = UnicodeAttribute()
    # A transition's request (see IncidentEvent.request), and its place among the
    # incident's transitions: the order of two made in the same instant.
    request = UnicodeAttribute(null=True)
    position = NumberAttribute(null=True)


class ChannelIdIndex(GlobalSecondaryIndex):
    Meta = _index("by-id", KeysOnlyProjection)
    id = UnicodeAttribute(hash_key=True)


class ChannelFeedIndex(GlobalSecondaryIndex):
    Meta = _index("feed", AllProjection)
    feed = UnicodeAttribute(hash_key=True)
    service_channel = UnicodeAttribute(range_key=True)


class Channel(Table):
    """Where a service's incidents are announced: a Slack incoming webhook, a
    signed generic webhook, or an SNS topic."""

    Meta = _meta("channels")
    service_name = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    name = UnicodeAttribute()
    url = UnicodeAttribute(null=True)
    topic_arn = UnicodeAttribute(null=True)
    # The webhook's HMAC key; it must be readable to sign, so it is never listed.
    secret = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute(null=True)
    feed = UnicodeAttribute()
    service_channel = UnicodeAttribute()

    id_index = ChannelIdIndex()
    feed_index = ChannelFeedIndex()


class UserFeedIndex(GlobalSecondaryIndex):
    Meta = _index("feed", AllProjection)
    feed = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute(range_key=True)


class User(Table):
    """A person who can be paged (chalicelib/people/users.py). The name is the one
    schedules, rotations, escalation levels and keys already use. The counts are
    kept here so that the caps on contact methods and rules are conditions."""

    Meta = _meta("users")
    name = UnicodeAttribute(hash_key=True)
    display_name = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    # IANA zone: quiet hours are read in it, and messages show times in it.
    time_zone = UnicodeAttribute(null=True)
    # Local wall-clock times (HH:MM); an end at or before the start runs past midnight.
    quiet_start = UnicodeAttribute(null=True)
    quiet_end = UnicodeAttribute(null=True)
    method_count = NumberAttribute(default=0)
    rule_count = NumberAttribute(default=0)
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute(null=True)
    feed = UnicodeAttribute()

    feed_index = UserFeedIndex()


# Sparse: only verified SMS numbers and Slack member ids carry it, so a reply by SMS
# or a button pressed in Slack finds whose it is with one Query.
class ContactAddressIndex(GlobalSecondaryIndex):
    Meta = _index("by-address", KeysOnlyProjection)
    address_key = UnicodeAttribute(hash_key=True)


class ContactMethod(Table):
    """How a user is reached (chalicelib/people/contact_methods.py): an email
    address, an E.164 phone number for SMS (usable once verified), a Slack member id
    or an https URL. A user's methods and rules are read together when a page is made."""

    Meta = _meta("contact-methods")
    user = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    address = UnicodeAttribute()
    label = UnicodeAttribute(null=True)
    verified = BooleanAttribute(default=False)
    # SHA-256 of the id and the code sent to verify an SMS number; never the code.
    code_hash = UnicodeAttribute(null=True)
    code_expires_at = UTCDateTimeAttribute(null=True)
    code_attempts = NumberAttribute(default=0)
    # Set when a send failed for good (a number that cannot take SMS, a deleted
    # Slack user): the method is shown as failed and no longer paged.
    failed_at = UTCDateTimeAttribute(null=True)
    failure = UnicodeAttribute(null=True)
    # Rules that page through this method: deleting it takes them along, conditioned
    # on this count, so a rule added meanwhile is never left pointing nowhere.
    rule_count = NumberAttribute(default=0)
    address_key = UnicodeAttribute(null=True)
    # A webhook's HMAC key, as a webhook channel's: shown once, never listed.
    secret = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()

    address_index = ContactAddressIndex()


class NotificationRule(Table):
    """Page a user through one of their contact methods, `delay_minutes` after an
    incident of the rule's urgency becomes theirs (chalicelib/people/rules.py)."""

    Meta = _meta("notification-rules")
    user = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)
    contact_method_id = UnicodeAttribute()
    delay_minutes = NumberAttribute()
    urgency = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()


# Sparse: only deliveries waiting for their next attempt carry due_partition/due_at;
# sharded by incident and keys only, as the incidents' queues.
class DeliveryDueIndex(GlobalSecondaryIndex):
    Meta = _index("due", KeysOnlyProjection)
    due_partition = UnicodeAttribute(hash_key=True)
    due_at = UTCDateTimeAttribute(range_key=True)


class Delivery(Table):
    """One incident event for one channel, or one page of a person by one of their
    rules, with its attempts. The key is derived from the event's position and the
    channel or rule, so an event can become a delivery only once however many
    dispatchers race."""

    Meta = _meta("deliveries")
    incident_id = NumberAttribute(hash_key=True)
    delivery_key = UnicodeAttribute(range_key=True)
    service_name = UnicodeAttribute()
    # A channel's delivery names the channel; a page names the user and the contact
    # method it goes to (chalicelib/notify/pages.py).
    channel_id = UnicodeAttribute(null=True)
    user = UnicodeAttribute(null=True)
    contact_method_id = UnicodeAttribute(null=True)
    event_kind = UnicodeAttribute()
    # The message as of the event, so a retry an hour later says the same thing.
    message = CompactJSON()
    state = UnicodeAttribute()
    attempts = NumberAttribute(default=0)
    created_at = UTCDateTimeAttribute()
    finished_at = UTCDateTimeAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    # Which run's claim holds the current attempt: a claim whose answer was lost is
    # recognised by it (two runs may claim at the same instant).
    claimed_by = UnicodeAttribute(null=True)
    due_partition = UnicodeAttribute(null=True)
    due_at = UTCDateTimeAttribute(null=True)
    # DynamoDB TTL (epoch seconds): finished deliveries are kept for a while, then dropped.
    expires_at = NumberAttribute(null=True)

    due_index = DeliveryDueIndex()


class ApiKeyFeedIndex(GlobalSecondaryIndex):
    Meta = _index("feed", AllProjection)
    feed = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class ApiKey(Table):
    """An API key as admins see it: listed and revoked by id. Its token is stored
    nowhere; its token's SHA-256 keys the KeyToken that requests are checked against."""

    Meta = _meta("keys")
    id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    role = UnicodeAttribute()
    # Admin and responder keys act as this user; integration keys have none.
    user = UnicodeAttribute(null=True)
    # Integration keys may trigger only these services.
    services = UnicodeSetAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute(null=True)
    revoked_at = UTCDateTimeAttribute(null=True)
    # Not a key of this table, so it never appears in a list's cursor.
    token_hash = UnicodeAttribute()
    feed = UnicodeAttribute()
    # "<created_at>#<id>": the feed lists keys oldest first.
    created_key = UnicodeAttribute()

    feed_index = ApiKeyFeedIndex()


class KeyToken(Table):
    """SHA-256 of a token -> what the key may do: a request's key is one GetItem.
    Written and revoked in the same transactions as its ApiKey."""

    Meta = _meta("key-tokens")
    token_hash = UnicodeAttribute(hash_key=True)
    key_id = UnicodeAttribute()
    name = UnicodeAttribute()
    role = UnicodeAttribute()
    user = UnicodeAttribute(null=True)
    services = UnicodeSetAttribute(null=True)
    revoked_at = UTCDateTimeAttribute(null=True)


class SnsMessage(Table):
    """An SNS MessageId that one delivery is acting on, or that was acted on: what
    makes a redelivered or replayed message act once (chalicelib/integration/receipts.py)."""

    Meta = _meta("sns-messages")
    message_id = UnicodeAttribute(hash_key=True)
    # The delivery holding the claim and until when (epoch ms); both go once it is done.
    claim = UnicodeAttribute(null=True)
    lease_until = NumberAttribute(null=True)
    done_at = UTCDateTimeAttribute(null=True)
    # DynamoDB TTL (epoch seconds): an id is remembered for a day.
    expires_at = NumberAttribute()


class SnsCertificate(Table):
    """An SNS signing certificate, fetched from SNS's own host in a topic's region,
    whose key has verified a message of an allowed topic: any process reads it with
    one GetItem instead of fetching it (chalicelib/integration/sns.py). SNS serves a certificate
    under a new URL when it rotates, so the item never changes; there are a few."""

    Meta = _meta("sns-certificates")
    url = UnicodeAttribute(hash_key=True)
    pem = UnicodeAttribute()
    stored_at = UTCDateTimeAttribute()


class AlarmState(Table):
    """The latest state change of a CloudWatch alarm that oncall applied, so that a
    change delivered after a later one is ignored (chalicelib/integration/alarm_states.py)."""

    Meta = _meta("alarm-states")
    # The alarm's ARN, or its digest when longer (chalicelib/integration/cloudwatch.py, dedup_key).
    alarm = UnicodeAttribute(hash_key=True)
    # StateChangeTime in epoch milliseconds, and the state it changed to.
    changed_at = NumberAttribute()
    state = UnicodeAttribute()
    # DynamoDB TTL (epoch seconds).
    expires_at = NumberAttribute()


class CalendarFeedOwnerIndex(GlobalSecondaryIndex):
    """A person's feeds, oldest first: listing and revoking them, and the cap, never
    read a token hash."""

    Meta = _index("by-owner", lambda: IncludeProjection(["feed_id", "kind", "subject", "created_at"]))
    owner = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class CalendarFeed(Table):
    """A secret calendar URL (chalicelib/schedule/feeds.py): the token in the URL is the
    only credential, so the item is keyed by its SHA-256 and a calendar app's fetch is
    one GetItem. `kind` "service": a service's final schedule; "user": one person's turns."""

    Meta = _meta("calendar-feeds")
    token_hash = UnicodeAttribute(hash_key=True)
    feed_id = UnicodeAttribute()
    owner = UnicodeAttribute()
    kind = UnicodeAttribute()
    subject = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    # "<created_at>#<feed_id>": the owner index's order, unique per feed.
    created_key = UnicodeAttribute()

    owner_index = CalendarFeedOwnerIndex()


class MaintenanceIdIndex(GlobalSecondaryIndex):
    Meta = _index("by-id", KeysOnlyProjection)
    id = UnicodeAttribute(hash_key=True)


class MaintenanceFeedIndex(GlobalSecondaryIndex):
    """Every service's windows by end, for the list that names no service: written
    only when an admin adds, ends or removes a window."""

    Meta = _index(
        "feed",
        lambda: IncludeProjection(["id", "start", "end", "reason", "created_at", "created_by", "ended_early_at"]),
    )
    feed = UnicodeAttribute(hash_key=True)
    window_key = UnicodeAttribute(range_key=True)


class MaintenanceWindow(Table):
    """A time when a service's alerts open incidents that page nobody
    (chalicelib/maintenance/windows.py). Keyed as shifts are, "<end>#<id>", so the
    windows not yet ended are one key range of the service: what a new incident reads."""

    Meta = _meta("maintenance-windows")
    service_name = UnicodeAttribute(hash_key=True)
    window_key = UnicodeAttribute(range_key=True)
    id = UnicodeAttribute()
    start = UTCDateTimeAttribute()
    end = UTCDateTimeAttribute()
    reason = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute(null=True)
    # Set when an admin ended the window before its planned end (then `end`).
    ended_early_at = UTCDateTimeAttribute(null=True)
    planned_end = UTCDateTimeAttribute(null=True)
    feed = UnicodeAttribute()

    id_index = MaintenanceIdIndex()
    feed_index = MaintenanceFeedIndex()


# Keys only, and their keys never change: written when a heartbeat is made or
# deleted, never by a ping (what a list shows of each is read from the table).
class HeartbeatFeedIndex(GlobalSecondaryIndex):
    Meta = _index("feed", KeysOnlyProjection)
    feed = UnicodeAttribute(hash_key=True)
    listed = UnicodeAttribute(range_key=True)


class HeartbeatServiceIndex(GlobalSecondaryIndex):
    Meta = _index("by-service", KeysOnlyProjection)
    service_name = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute(range_key=True)


# Sparse: only heartbeats pinged and not yet overdue-and-fired carry due_partition and
# due_ms, so the check reads what is due and nothing else. Sharded and keys only, as
# the incidents' due index.
class HeartbeatDueIndex(GlobalSecondaryIndex):
    Meta = _index("due", KeysOnlyProjection)
    due_partition = UnicodeAttribute(hash_key=True)
    due_ms = NumberAttribute(range_key=True)


class Heartbeat(Table):
    """A job that must check in every `interval_seconds` (chalicelib/heartbeat/). The id
    is a digest of (service, name), so the pair is unique by a put's condition and a
    ping is one UpdateItem by key. The ping URL's secret is stored as its SHA-256."""

    Meta = _meta("heartbeats")
    id = UnicodeAttribute(hash_key=True)
    service_name = UnicodeAttribute()
    name = UnicodeAttribute()
    interval_seconds = NumberAttribute()
    grace_seconds = NumberAttribute()
    # interval + grace in milliseconds: a ping sets due_ms = period_ms + its time in
    # the UpdateItem itself, without reading the heartbeat first.
    period_ms = NumberAttribute()
    secret_hash = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    last_ping_at = UTCDateTimeAttribute(null=True)
    # When the overdue check opened its incident (in the same transaction); a ping removes it.
    late_since = UTCDateTimeAttribute(null=True)
    feed = UnicodeAttribute()
    listed = UnicodeAttribute()
    due_partition = UnicodeAttribute(null=True)
    due_ms = NumberAttribute(null=True)

    feed_index = HeartbeatFeedIndex()
    service_index = HeartbeatServiceIndex()
    due_index = HeartbeatDueIndex()


class ReportBucket(Table):
    """A service's counts of one UTC day, for reports over time (chalicelib/report/buckets.py),
    written by the transactions that make the transitions they count. `bucket_key` is
    "<YYYY-MM-DD>#alert#<digest of the dedup key>": the incidents opened that day under
    one dedup key and what became of them (the counters are named as Stats' are); or
    "<YYYY-MM-DD>#pages#<user>#<contact method id>": the pages sent to that person through
    that method that day. A fixed set of attributes each, so no item grows with history;
    a report is one Query a service."""

    Meta = _meta("reports")
    service_name = UnicodeAttribute(hash_key=True)
    bucket_key = UnicodeAttribute(range_key=True)
    total_incidents = NumberAttribute(null=True)
    alerts = NumberAttribute(null=True)
    escalated_incidents = NumberAttribute(null=True)
    resolved_incidents = NumberAttribute(null=True)
    resolved_acknowledged = NumberAttribute(null=True)
    ack_seconds_sum = NumberAttribute(null=True)
    resolve_seconds_sum = NumberAttribute(null=True)
    # The first incident's title that day, and the caller's dedup key (none when derived
    # from the title), both cut short: what the noisy alerts list shows.
    title = UnicodeAttribute(null=True)
    dedup_key = UnicodeAttribute(null=True)
    pages = NumberAttribute(null=True)
    night_pages = NumberAttribute(null=True)


ALL_MODELS = (
    Incident,
    Dedup,
    AlertTally,
    ScheduleEntry,
    EscalationLevel,
    EscalationPolicy,
    Stats,
    TimelineEntry,
    ApiKey,
    KeyToken,
    Channel,
    Delivery,
    User,
    ContactMethod,
    NotificationRule,
    SnsMessage,
    SnsCertificate,
    AlarmState,
    CalendarFeed,
    ReportBucket,
    MaintenanceWindow,
    Heartbeat,
)
