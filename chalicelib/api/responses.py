"""What the API answers, as pydantic models (request bodies are in payloads.py).

Each model is the one declaration of an answer: the domain builds it (`of` takes a
stored item's attributes, `body()` is the dict the route returns) and the route
names it with `answer=`, from which chalicelib/routes/openapi.py renders the document's
schema. Every field is present in the answer, null where the type allows, except
those declared with `_left_out_when_none`."""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from chalicelib import clock
from chalicelib.api.payloads import (
    ChannelKind,
    ContactKind,
    QuietHours,
    Role,
    Severity,
    ShiftUnit,
    Urgency,
    WallTime,
    Weekday,
    Window,
)
from chalicelib.models import Dedup
from chalicelib.status import ALL as STATUSES


class Answer(BaseModel):
    # Built on first use, as the request models are: a cold start pays only for
    # the answers it gives.
    model_config = ConfigDict(extra="forbid", defer_build=True)

    @classmethod
    def of(cls, item: object, **given: Any) -> "Answer":
        """The answer for `item`: each field is its attribute of the same name, unless
        given. A field that may be left out is, when its value is None."""
        values = {}
        for name, field in cls.model_fields.items():
            value = given.pop(name) if name in given else getattr(item, name)
            if value is not None or field.is_required():
                values[name] = value
        # Whatever is left of `given` names no field, and validation refuses it.
        return cls.model_validate({**values, **given})

    def body(self) -> dict:
        """The answer as a route returns it (Chalice writes it as JSON)."""
        return self.model_dump(by_alias=True)


def _left_out_when_none(description: str, **constraints: Any) -> Any:
    """A field the answer leaves out, rather than writing null, when it has no value."""
    return Field(
        default=None,
        description=description,
        exclude_if=lambda value: value is None,
        json_schema_extra=lambda schema: schema.pop("default", None),
        **constraints,
    )


Instant = Annotated[
    datetime,
    PlainSerializer(clock.iso, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$",
            "description": "UTC, ISO 8601 with milliseconds and Z",
        }
    ),
]
PUBLIC_ID_PATTERN = "^[0-9a-f]{32}$"
PublicId = Annotated[str, Field(pattern=PUBLIC_ID_PATTERN)]
Count = Annotated[int, Field(ge=0)]
# Means of times read from different machines' clocks, so not bounded below by 0.
Seconds = Annotated[float | None, Field(description="null until there is data")]
Cursor = Annotated[str | None, Field(description="pass as `cursor` for the next page; null on the last page")]
Positive = Annotated[int, Field(ge=1)]
Status = Literal[STATUSES]
# A set of names, listed in order.
Services = Annotated[
    list[str] | None,
    AfterValidator(lambda names: None if names is None else sorted(names)),
    Field(description="integration keys only"),
]


class Error(Answer):
    """Every error oncall answers (a bulk outcome holds one per refused id)."""

    error: str = Field(min_length=1, description="a sentence a person can act on")
    code: str = Field(pattern="^[a-z]+(_[a-z]+)*$", description="a machine-readable code")
    field: str = _left_out_when_none("the field at fault, when there is one", min_length=1)


class Health(Answer):
    status: Literal["ok"]


class OpenApiDocument(Answer):
    openapi: str = Field(pattern=r"^3\.1\.")
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]


class Caller(Answer):
    key_id: PublicId
    key_name: str
    role: Role
    user: str | None
    services: Services


# --- incidents -------------------------------------------------------------------------

DedupKey = Annotated[str | None, Field(description="the caller's dedup_key; null when derived from the title")]


class Incident(Answer):
    id: Positive
    service_name: str
    title: str
    description: str
    severity: Severity
    status: Status
    assigned_to: str | None
    created_at: Instant
    created_by: str | None
    acknowledged_at: Instant | None
    acknowledged_by: str | None
    resolved_at: Instant | None
    resolved_by: str | None
    escalated_at: Instant | None
    escalation_level: Count
    escalation_round: Count = Field(description="0 before the first escalation step, then the policy's round")
    alert_count: Positive
    last_alert_at: Instant
    dedup_key: DedupKey
    source: str | None = Field(description="where a monitoring integration's alert came from")
    details: dict[str, Any] | None = Field(description="what the integration sent with it, as sent")
    suppressed: bool = Field(description="opened in a maintenance window that is not over yet: it pages nobody")
    suppressed_by: str | None = Field(description="the maintenance window it was opened in, if any")

    @classmethod
    def of(cls, incident: object, **given: Any) -> "Answer":
        suppressed = incident.suppressed_at(clock.now())
        return super().of(incident, dedup_key=Dedup.public_key(incident.dedup_key), suppressed=suppressed, **given)


class TimelineEntry(Answer):
    at: Instant
    kind: str
    actor: str | None
    message: str


class Note(TimelineEntry):
    kind: Literal["note"]
    actor: str


class NextEscalation(Answer):
    at: Instant = Field(description="when the step is due (the sweep runs every minute)")
    level: int | None = Field(description="the level it climbs to; null: the policy ends there")
    round: int | None = Field(description="the policy's round of that level (1 unless it repeats)")
    # Declared further down, with the escalation levels.
    targets: "list[PagesUser | PagesOnCall]" = Field(description="whom that level pages")


class IncidentDetail(Incident):
    timeline: list[TimelineEntry]
    next_escalation: NextEscalation | None = Field(
        default=None, description="the escalation step waiting for this incident; null when none is due"
    )


class FoldedAlert(Answer):
    id: Positive
    service_name: str
    dedup_key: DedupKey
    alert_count: int | None = Field(
        ge=2,
        description="the incident's count as stored after this alert; null when it was counted "
        "but could not be read back",
    )
    last_alert_at: Instant
    deduplicated: Literal[True]


class IncidentPage(Answer):
    incidents: list[Incident]
    next_cursor: Cursor


class SweepResult(Answer):
    escalated: Count
    incidents: list[Positive]


class BulkSucceeded(Answer):
    id: Positive
    status: Literal[200] = Field(description="as the single route answers")
    incident: Incident


class BulkFailed(Answer):
    """The error the single route would answer for this id."""

    id: Positive
    status: Literal[400, 404, 503] = Field(description="as the single route answers")
    error: Error


class BulkResult(Answer):
    results: list[BulkSucceeded | BulkFailed]
    succeeded: Count
    failed: Count


class Metrics(Answer):
    service_name: str | None
    total_incidents: Count
    open_incidents: Count
    resolved_incidents: Count
    escalated_incidents: Count
    alerts: Count
    mtta_seconds: Seconds
    mttr_seconds: Seconds


class ServiceMetricsPage(Answer):
    services: list[Metrics]
    next_cursor: Cursor


# --- schedules -------------------------------------------------------------------------


class Shift(Answer):
    id: PublicId
    service_name: str
    user: str
    start_time: Instant
    end_time: Instant
    is_override: bool
    created_at: Instant


class ShiftPage(Answer):
    schedules: list[Shift]
    next_cursor: Cursor


# --- maintenance windows ------------------------------------------------------------


class MaintenanceWindow(Answer):
    id: PublicId
    service_name: str
    start: Instant
    end: Instant = Field(description="when pages resume (now, for a window ended early)")
    reason: str
    state: Literal["upcoming", "active", "ended"]
    created_at: Instant
    created_by: str | None
    ended_early_at: Instant = _left_out_when_none("when an admin ended the window before its planned end")
    planned_end: Instant = _left_out_when_none("a window ended early: the end it was planned with")


class MaintenanceWindowPage(Answer):
    windows: list[MaintenanceWindow]
    next_cursor: Cursor


class ScheduleSource(Answer):
    """What put the user on call: an override, a rotation (with its name and layer) or a shift."""

    kind: Literal["override", "rotation", "shift"]
    id: PublicId
    name: str = _left_out_when_none("rotations: the rotation's name")
    layer: int = _left_out_when_none("rotations: the rotation's layer", ge=1)


class OnCall(Answer):
    service_name: str
    at: Instant
    user: str | None = Field(description="null when nobody is on call")
    schedule_id: PublicId | None = Field(description="the shift, override or rotation that decides")
    is_override: bool
    source: ScheduleSource | None
    until: Instant | None = Field(description="when this holder's time ends; null: not within 31 days")


class Interval(Answer):
    start: Instant
    end: Instant
    user: str | None
    gap: bool = Field(description="nobody is on call")
    source: ScheduleSource | None


class FinalSchedule(Answer):
    service_name: str
    from_: Instant = Field(alias="from")
    to: Instant
    intervals: list[Interval]


class Rotation(Answer):
    id: PublicId
    service_name: str
    name: str
    layer: int = Field(ge=1, le=100)
    participants: list[str] = Field(min_length=1)
    shift_length: int = Field(ge=1)
    shift_unit: ShiftUnit
    handoff_time: WallTime
    handoff_weekday: Weekday | None
    time_zone: str
    start_date: str
    restrictions: list[Window]
    created_at: Instant


class RotationPage(Answer):
    rotations: list[Rotation]
    next_cursor: Cursor


# --- escalation ------------------------------------------------------------------------


class PagesUser(Answer):
    """The level pages this user."""

    user: str


class PagesOnCall(Answer):
    """The level pages whoever is on call for this service at the step."""

    oncall: str


class EscalationLevel(Answer):
    id: PublicId
    service_name: str
    level: int = Field(ge=1, le=100)
    user: str | None
    notification_channel: str
    targets: list[PagesUser | PagesOnCall] = Field(
        max_length=10, description="whom the level pages; empty: only the service's channels hear of it"
    )
    # A level without a wait of its own waits ONCALL_ESCALATE_AFTER_SECONDS, which
    # is not bounded by a level's own limit.
    wait_minutes: int = Field(ge=1)
    created_at: Instant


class EscalationLevelPage(Answer):
    levels: list[EscalationLevel]
    next_cursor: Cursor


class EscalationPolicy(Answer):
    service_name: str
    repeat: int = Field(ge=0, le=9)
    levels: list[EscalationLevel] = Field(description="lowest level first")


# --- keys and channels -----------------------------------------------------------------


class ApiKey(Answer):
    id: PublicId
    name: str
    role: Role
    user: str | None
    services: Services
    created_at: Instant
    created_by: str | None
    revoked_at: Instant | None


class NewApiKey(ApiKey):
    token: str = Field(min_length=16, description="shown this once")


class ApiKeyPage(Answer):
    keys: list[ApiKey]
    next_cursor: Cursor


class Channel(Answer):
    id: PublicId
    service_name: str
    kind: ChannelKind
    name: str
    url: str | None
    topic_arn: str | None
    created_at: Instant
    created_by: str | None


class NewChannel(Channel):
    secret: str = _left_out_when_none("webhook channels: shown this once")


class ChannelPage(Answer):
    channels: list[Channel]
    next_cursor: Cursor


class NoticeRun(Answer):
    noticed: Count


class DeliveryRun(Answer):
    dispatched: Count
    attempted: Count
    delivered: Count
    failed: Count
    retrying: Count


# --- people ------------------------------------------------------------------------------


class User(Answer):
    name: str
    display_name: str | None
    email: str | None
    time_zone: str | None
    quiet_hours: QuietHours | None = Field(description="local times when low-urgency incidents page nobody")
    created_at: Instant

    @classmethod
    def of(cls, user, **given: Any) -> "User":
        hours = {"start": user.quiet_start, "end": user.quiet_end} if user.quiet_start else None
        return super().of(user, quiet_hours=hours, **given)


class UserPage(Answer):
    users: list[User]
    next_cursor: Cursor


class ContactMethod(Answer):
    id: PublicId
    user: str
    kind: ContactKind
    address: str
    label: str | None
    state: Literal["active", "unverified", "failed"] = Field(
        description="unverified: an SMS number waiting for its code; failed: a send failed for good"
    )
    failure: str | None
    created_at: Instant

    @classmethod
    def of(cls, method, **given: Any) -> "ContactMethod":
        state = "failed" if method.failed_at else "active" if method.verified else "unverified"
        return super().of(method, state=state, **given)


class NewContactMethod(ContactMethod):
    verification: str = _left_out_when_none("sms: where the code went and what to do with it")
    secret: str = _left_out_when_none("webhook: the signing secret, shown this once")


class ContactMethodPage(Answer):
    contact_methods: list[ContactMethod]
    next_cursor: Cursor


class CalendarFeed(Answer):
    id: PublicId
    user: str
    kind: Literal["service", "user"] = Field(description="service: its final schedule; user: their turns on call")
    subject: str = Field(description="the service, or the user whose turns it shows")
    created_at: Instant


class NewCalendarFeed(CalendarFeed):
    url: str = Field(description="the calendar's address (https), the token in it the only credential: keep it secret")
    webcal: str = Field(description="the same address for calendar apps that subscribe to webcal:// links")


class CalendarFeedList(Answer):
    calendar_feeds: list[CalendarFeed] = Field(description="at most 10, oldest first")


class NotificationRule(Answer):
    id: PublicId
    user: str
    contact_method_id: PublicId
    delay_minutes: Annotated[int, Field(ge=0, le=60)]
    urgency: Urgency
    created_at: Instant


class NotificationRulePage(Answer):
    notification_rules: list[NotificationRule]
    next_cursor: Cursor


class SentMessage(Answer):
    kind: Literal["sms", "email"]
    to: str
    subject: str | None
    text: str


class SentMessages(Answer):
    messages: list[SentMessage]


# --- integrations ----------------------------------------------------------------------


class SlackOutcome(Answer):
    action: Literal["acknowledged", "resolved", "refused", "unknown_user", "nothing"]


class AlertmanagerOutcome(Answer):
    status: Literal["firing", "resolved"] = Field(description="the group's status")
    action: Literal["triggered", "folded", "resolved", "nothing"]
    service_name: str
    dedup_key: str = Field(pattern="^[0-9a-f]{64}$", description="sha256 of groupKey")
    incident_id: Positive | None
    alert_count: Positive | None


class Heartbeat(Answer):
    id: PublicId
    service_name: str
    name: str
    interval_seconds: int = Field(ge=60, le=86400)
    grace_seconds: int = Field(ge=0, le=86400)
    status: Literal["waiting", "up", "late"] = Field(
        description="waiting: never pinged; up: pinged; late: it missed a check-in and its incident was opened"
    )
    last_ping_at: Instant | None
    next_due_at: Instant | None = Field(
        description="when it is late without another ping (last ping + interval + grace); null before the first "
        "ping and once it fired"
    )
    created_at: Instant


class NewHeartbeat(Heartbeat):
    ping_url: str = Field(description="POST or GET it to check in; the secret in it is the only credential")
    secret: str = Field(description="shown only in this answer, stored as its SHA-256")


class HeartbeatPage(Answer):
    heartbeats: list[Heartbeat]
    next_cursor: Cursor


class HeartbeatPing(Answer):
    id: PublicId
    status: Literal["up"]
    last_ping_at: Instant
    next_due_at: Instant


class HeartbeatCheck(Answer):
    fired: Count
    heartbeats: list[PublicId] = Field(description="the heartbeats whose missed check-in opened or folded an incident")


class SnsOutcome(Answer):
    message_type: Literal["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"]
    # stale: a later state change of the alarm was applied first.
    action: Literal["triggered", "folded", "resolved", "confirmed", "duplicate", "stale", "nothing"]
    incident_id: Positive | None


class PagerDutyAccepted(Answer):
    status: Literal["success"]
    message: str
    dedup_key: str = Field(min_length=1)


class PagerDutyError(Answer):
    """PagerDuty's error shape (POST /v2/enqueue answers its errors in it)."""

    status: str
    message: str
    errors: list[str]


# --- reports ---------------------------------------------------------------------------

Day = Annotated[
    date,
    PlainSerializer(date.isoformat, return_type=str),
    WithJsonSchema({"type": "string", "format": "date", "description": "a UTC day, YYYY-MM-DD"}),
]


class UserPages(Answer):
    user: str
    pages: Count
    night_pages: Count = Field(description="sent 22:00-08:00 or on a Saturday or Sunday in the user's time zone")


class ReportBucket(Answer):
    """The counts of a day or an ISO week. Incidents, alerts, escalations, acknowledgements
    and the means belong to the day an incident was opened; pages to the day sent."""

    start: Day = Field(description="the bucket's first day")
    end: Day = Field(description="the day after its last")
    incidents: Count
    alerts: Count = Field(description="the first alert of each incident, and those folded into it once it resolved")
    escalated: Count = Field(description="incidents that escalated at least once")
    resolved: Count
    acknowledged: Count = Field(description="resolved incidents that had been acknowledged")
    mtta_seconds: Seconds
    mttr_seconds: Seconds
    pages_sent: Count
    night_pages: Count
    pages_by_user: list[UserPages] = Field(description="by user name")


class NoisyAlert(Answer):
    service_name: str
    title: str | None
    dedup_key: str | None = Field(description="the caller's dedup key; null when derived from the title")
    alerts: Count
    incidents: Count


class Report(Answer):
    service_name: str | None = Field(description="null: every service")
    bucket: Literal["day", "week"]
    from_: Day = Field(alias="from", description="the first day counted")
    to: Day = Field(description="the last day counted")
    buckets: list[ReportBucket]
    totals: ReportBucket
    noisy_alerts: list[NoisyAlert] = Field(description="the range's 10 with the most alerts")
