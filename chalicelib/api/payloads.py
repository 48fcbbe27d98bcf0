"""Request bodies as pydantic models: strict types, documented limits, unknown
fields refused. `parse` turns the first problem into a 400 that names the field."""

import re
from datetime import date, datetime, timezone
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from chalicelib import clock, jsontext, outbound
from chalicelib.errors import InvalidInput, PayloadTooLarge

MAX_BODY_BYTES = 256 * 1024
MAX_DESCRIPTION_BYTES = 64 * 1024


# ASCII digits only: str.isdigit() would also accept "²" or Arabic-Indic digits.
_WHOLE_NUMBER = re.compile(r"[0-9]{1,16}")


def whole_number(raw: str | None, low: int, high: int) -> int | None:
    """`raw` as an int when it is plain decimal digits within [low, high], else None."""
    if raw is None or not _WHOLE_NUMBER.fullmatch(raw):
        return None
    value = int(raw)
    return value if low <= value <= high else None


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    return value


def _utf8_within(limit: int):
    def check(value: str) -> str:
        if len(value.encode("utf-8")) > limit:
            raise ValueError(f"must be at most {limit} bytes of UTF-8")
        return value

    return check


MAX_NAME_LENGTH = 128
Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH), AfterValidator(_not_blank)]
Title = Annotated[str, StringConstraints(min_length=1, max_length=1024), AfterValidator(_not_blank)]
Description = Annotated[str, AfterValidator(_utf8_within(MAX_DESCRIPTION_BYTES))]
DedupKey = Annotated[str, StringConstraints(min_length=1, max_length=255), AfterValidator(_not_blank)]
Severity = Literal["critical", "error", "warning", "info"]


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", defer_build=True)


# The original API took the actor from the body; the API key says who it is now.
IGNORED_USER = "accepted for compatibility and ignored: the API key names who acts"


class TriggerBody(_Body):
    service_name: Name
    title: Title
    description: Description = ""
    severity: Severity = "critical"
    dedup_key: DedupKey | None = None
    user: Name | None = Field(default=None, description=IGNORED_USER)


class ActorBody(_Body):
    user: Name | None = Field(default=None, description=IGNORED_USER)


# --- working together: notes, reassignment, bulk transitions

MAX_NOTE_LENGTH = 4096
NoteText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NOTE_LENGTH), AfterValidator(_not_blank)]


class NoteBody(_Body):
    """Who writes the note is the key's user: a `user` field is refused, not ignored."""

    text: NoteText = Field(description=f"1 to {MAX_NOTE_LENGTH} characters of any Unicode, stored as given")


class ReassignBody(_Body):
    user: Name = Field(description="who handles the incident from now on")


# Incident ids are JSON numbers, which are exact as integers up to 2**53.
MAX_INCIDENT_ID = 2**53 - 1
MAX_BULK_IDS = 100
IncidentId = Annotated[int, Field(ge=1, le=MAX_INCIDENT_ID)]


def _each_once(ids: list[int]) -> list[int]:
    repeated = sorted({number for number in ids if ids.count(number) > 1})
    if repeated:
        raise ValueError(f"must name each incident once; repeated: {', '.join(map(str, repeated))}")
    return ids


class IncidentIdsBody(_Body):
    ids: Annotated[
        list[IncidentId],
        Field(min_length=1, max_length=MAX_BULK_IDS, json_schema_extra={"uniqueItems": True}),
        AfterValidator(_each_once),
    ] = Field(description=f"1 to {MAX_BULK_IDS} incident ids, each once; answered in this order")


def _instant(value: str) -> datetime:
    try:
        return clock.parse_iso(value)
    except ValueError:
        raise ValueError("must be an ISO 8601 time with a UTC offset, e.g. 2026-01-31T09:00:00Z") from None


# Arrives as an ISO 8601 string; after validation the field holds an aware UTC datetime.
Instant = Annotated[str, StringConstraints(max_length=64), AfterValidator(_instant)]


class ShiftBody(_Body):
    service_name: Name
    user: Name
    start_time: Instant
    end_time: Instant
    is_override: bool = False


MAX_REASON_LENGTH = 512
Reason = Annotated[str, StringConstraints(min_length=1, max_length=MAX_REASON_LENGTH), AfterValidator(_not_blank)]


class MaintenanceBody(_Body):
    service_name: Name
    start: Instant
    end: Instant
    reason: Reason = Field(description="why pages stop, as the console and the incident's timeline say it")


Role = Literal["admin", "responder", "integration"]


class KeyBody(_Body):
    name: Name = Field(description="what the key is for, e.g. prometheus-prod")
    role: Role
    user: Name | None = Field(default=None, description="admin and responder keys act as this user")
    services: list[Name] | None = Field(
        default=None, min_length=1, max_length=50, description="integration keys trigger only these services"
    )

    @model_validator(mode="after")
    def _fits_the_role(self) -> "KeyBody":
        if self.role == "integration":
            if not self.services:
                raise ValueError("services: an integration key needs the services it may trigger")
            if self.user is not None:
                raise ValueError("user: an integration key acts for a tool, not a user; leave user out")
        else:
            if self.user is None:
                raise ValueError(f"user: a {self.role} key needs the user it acts as")
            if self.services is not None:
                raise ValueError(f"services: only integration keys are bound to services, not {self.role} keys")
        return self


class EscalationTargetBody(_Body):
    user: Name | None = Field(default=None, description="page this user")
    oncall: Name | None = Field(default=None, description="page whoever is on call for this service at the step")

    @model_validator(mode="after")
    def _names_one(self) -> "EscalationTargetBody":
        if (self.user is None) == (self.oncall is None):
            raise ValueError('must name exactly one of user or oncall, e.g. {"user": "bob"} or {"oncall": "db"}')
        return self


MAX_LEVEL_TARGETS = 10
MAX_WAIT_MINUTES = 1440


class LevelBody(_Body):
    service_name: Name
    level: int = Field(ge=1, le=100)
    user: Name | None = Field(default=None, description="the level pages this user: targets [{user}]")
    notification_channel: Name = "log"
    targets: list[EscalationTargetBody] | None = Field(
        default=None, min_length=1, max_length=MAX_LEVEL_TARGETS, description="whom the level pages, in order"
    )
    wait_minutes: int | None = Field(
        default=None,
        ge=1,
        le=MAX_WAIT_MINUTES,
        description="how long to wait for an acknowledgement before the next level "
        "(default: ONCALL_ESCALATE_AFTER_SECONDS in whole minutes, rounded up)",
    )

    @model_validator(mode="after")
    def _user_or_targets(self) -> "LevelBody":
        if self.user is not None and self.targets is not None:
            raise ValueError('targets: give user or targets, not both; user "bob" means targets [{"user": "bob"}]')
        return self


class PolicyBody(_Body):
    repeat: int = Field(ge=0, le=9, description="how many more times the climb starts again from the first level")


def _http_url(value: str) -> str:
    outbound.parse(value)
    return value


_TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}")


def _topic_arn(value: str) -> str:
    if not _TOPIC_ARN.fullmatch(value):
        raise ValueError("must be an SNS topic ARN, e.g. arn:aws:sns:us-east-1:123456789012:oncall-prod-pages")
    return value


Url = Annotated[str, StringConstraints(min_length=1, max_length=2048), AfterValidator(_http_url)]
TopicArn = Annotated[str, StringConstraints(min_length=1, max_length=512), AfterValidator(_topic_arn)]
ChannelKind = Literal["slack", "webhook", "sns"]


class ChannelBody(_Body):
    service_name: Name
    kind: ChannelKind = Field(description="slack: an incoming webhook; webhook: signed JSON; sns: a topic")
    name: Name = Field(description="what people call it, e.g. #payments-oncall")
    url: Url | None = Field(default=None, description="slack and webhook channels: where to POST")
    topic_arn: TopicArn | None = Field(default=None, description="sns channels: the topic to publish to")

    @model_validator(mode="after")
    def _fits_the_kind(self) -> "ChannelBody":
        if self.kind == "sns":
            if self.topic_arn is None:
                raise ValueError("topic_arn: an sns channel needs the topic to publish to")
            if self.url is not None:
                raise ValueError("url: an sns channel publishes to topic_arn; leave url out")
        else:
            if self.url is None:
                raise ValueError(f"url: a {self.kind} channel needs the URL to POST to")
            if self.topic_arn is not None:
                raise ValueError(f"topic_arn: only sns channels have a topic, not {self.kind} channels")
        return self


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WallTime = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


# Schedules are computed between these instants, so date arithmetic stays in range.
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2100, 1, 1, tzinfo=timezone.utc)


def _calendar_date(value: str) -> str:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a date as YYYY-MM-DD") from None
    if not EARLIEST.date() <= day < LATEST.date():
        raise ValueError("must be a date between 1970 and 2099")
    return value


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone such as Europe/Berlin") from None
    return value


ShiftUnit = Literal["hours", "days", "weeks"]
CalendarDate = Annotated[
    str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), AfterValidator(_calendar_date)
]
TimeZone = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_time_zone)]


_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
_SLACK_MEMBER = re.compile(r"[UW][A-Z0-9]{2,20}")
ContactKind = Literal["email", "sms", "slack", "webhook"]
Urgency = Literal["high", "low"]


def _email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError("must be an email address, e.g. alice@example.com")
    return value


Email = Annotated[str, StringConstraints(min_length=3, max_length=254), AfterValidator(_email)]


class QuietHours(_Body):
    """Local times in the user's zone when low-urgency incidents page nobody; an end
    at or before the start runs past midnight."""

    start: WallTime
    end: WallTime


class UserBody(_Body):
    name: Name = Field(description="the name schedules, rotations, escalation levels and keys use")
    display_name: Name | None = None
    email: Email | None = None
    time_zone: TimeZone | None = Field(default=None, description="IANA zone: quiet hours and times in messages")
    quiet_hours: QuietHours | None = None


class UserChange(_Body):
    """What PUT changes; a field left out keeps its value, null clears it."""

    display_name: Name | None = None
    email: Email | None = None
    time_zone: TimeZone | None = None
    quiet_hours: QuietHours | None = None


class CalendarFeedBody(_Body):
    service_name: Name | None = Field(
        default=None, description="a service's final schedule; left out: the user's own turns on call, every service"
    )


class ContactMethodBody(_Body):
    kind: ContactKind = Field(description="email, sms (E.164 number, verified before use), slack (member id), webhook")
    address: Annotated[str, StringConstraints(min_length=1, max_length=2048)] = Field(
        description="alice@example.com, +14155550100, U024BE7LH or https://..."
    )
    label: Name | None = None

    @model_validator(mode="after")
    def _fits_the_kind(self) -> "ContactMethodBody":
        if self.kind == "email":
            _email_in("address", self.address)
        elif self.kind == "sms" and not _E164.fullmatch(self.address):
            raise ValueError("address: an sms contact method needs an E.164 number, e.g. +14155550100")
        elif self.kind == "slack" and not _SLACK_MEMBER.fullmatch(self.address):
            raise ValueError("address: a slack contact method needs a Slack member id, e.g. U024BE7LH")
        elif self.kind == "webhook":
            try:
                outbound.parse(self.address)
            except ValueError as error:
                raise ValueError(f"address: {error}") from None
        return self


def _email_in(field: str, value: str) -> None:
    if len(value) > 254 or not _EMAIL.fullmatch(value):
        raise ValueError(f"{field}: must be an email address, e.g. alice@example.com")


class VerifyBody(_Body):
    code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")] = Field(description="the 6 digits sent by SMS")


class NotificationRuleBody(_Body):
    contact_method_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    delay_minutes: int = Field(ge=0, le=60, description="minutes after the incident becomes the user's")
    urgency: Urgency = Field(description="high: critical and error incidents; low: warning and info")


class Window(_Body):
    """Local times when a layer is active; an end at or before the start runs past midnight."""

    weekdays: list[Weekday] = Field(min_length=1, max_length=7, description="the days a window starts on")
    start: WallTime
    end: WallTime


class RotationBody(_Body):
    service_name: Name
    name: Name
    layer: int = Field(default=1, ge=1, le=100, description="higher layers win over lower ones")
    participants: list[Name] = Field(min_length=1, max_length=100, description="in turn order")
    shift_length: int = Field(ge=1, le=1000)
    shift_unit: ShiftUnit
    handoff_time: WallTime = Field(description="local wall-clock time of every handoff, HH:MM")
    handoff_weekday: Weekday | None = Field(default=None, description="weekly rotations: the handoff day")
    time_zone: TimeZone
    start_date: CalendarDate = Field(description="the first shift starts at the first handoff on or after this day")
    restrictions: list[Window] = Field(default_factory=list, max_length=14)

    @model_validator(mode="after")
    def _weekday_only_for_weeks(self) -> "RotationBody":
        if self.handoff_weekday is not None and self.shift_unit != "weeks":
            raise ValueError("handoff_weekday: only weekly rotations hand off on a weekday")
        return self


# --- heartbeats

MIN_HEARTBEAT_INTERVAL = 60
MAX_HEARTBEAT_SECONDS = 86400
DEFAULT_GRACE_SECONDS = 300
HeartbeatInterval = Annotated[int, Field(ge=MIN_HEARTBEAT_INTERVAL, le=MAX_HEARTBEAT_SECONDS)]
HeartbeatGrace = Annotated[int, Field(ge=0, le=MAX_HEARTBEAT_SECONDS)]


class HeartbeatBody(_Body):
    service_name: Name = Field(description="the service whose incident a missed check-in opens")
    name: Name = Field(description="unique within the service, e.g. nightly-backup")
    interval_seconds: HeartbeatInterval = Field(description="how often the job checks in, 60 to 86400")
    grace_seconds: HeartbeatGrace = Field(
        default=DEFAULT_GRACE_SECONDS,
        description=f"how much later than the interval a check-in may come, 0 to 86400 (default "
        f"{DEFAULT_GRACE_SECONDS})",
    )


class HeartbeatChange(_Body):
    """What PATCH changes; a field left out keeps its value. The ping URL stays the same."""

    interval_seconds: HeartbeatInterval | None = None
    grace_seconds: HeartbeatGrace | None = None

    @model_validator(mode="after")
    def _something(self) -> "HeartbeatChange":
        if self.interval_seconds is None and self.grace_seconds is None:
            raise ValueError("interval_seconds: give interval_seconds, grace_seconds or both")
        return self


def _describe(error: dict) -> tuple[str, str]:
    field = ".".join(str(part) for part in error["loc"]) or "body"
    kind = error["type"]
    if kind == "missing":
        return field, f"{field} is required."
    if kind == "extra_forbidden":
        return field, f"{field} is not a field this request accepts."
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if not error["loc"] and ": " in message:
        # A check across fields (a model validator) names its field as "field: ...".
        field, message = message.split(": ", 1)
    return field, f"{field}: {message}."


def parse(model: type[_Body], raw_body: bytes | None, *, required: bool = True) -> _Body:
    """Parse a JSON request body into `model`, or raise InvalidInput naming the field."""
    if raw_body and len(raw_body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The request body is over {MAX_BODY_BYTES // 1024} KiB.", field="body")
    if not raw_body or not raw_body.strip():
        if required:
            raise InvalidInput("The request needs a JSON object body.", field="body")
        data = {}
    else:
        try:
            data = jsontext.loads(raw_body)
        except jsontext.TooDeep as deep:
            field = deep.field or "body"
            raise InvalidInput(f"{deep.field or 'The request body'} {deep}.", field=field) from None
        except jsontext.NotJson:
            raise InvalidInput(
                "The request body is not valid JSON; send a JSON object with Content-Type: application/json.",
                field="body",
            ) from None
    if not isinstance(data, dict):
        raise InvalidInput("The request body must be a JSON object.", field="body")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        field, message = _describe(error.errors()[0])
        raise InvalidInput(message, field=field) from None
