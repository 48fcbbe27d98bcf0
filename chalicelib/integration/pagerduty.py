"""PagerDuty Events API v2 (`POST /v2/enqueue`): any tool that pages PagerDuty pages
oncall by changing its events URL. Answers are PagerDuty's own (202 / 400 with
`errors` / 413 / 429), never oncall's {"error", "code"}. Rules and configuration:
docs/integrations/pagerduty.md.
"""

import logging
import uuid
from typing import Annotated, Any, Literal

from chalice import Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from pynamodb.exceptions import PynamoDBException

from chalicelib import jsontext
from chalicelib.api import responses
from chalicelib.api.payloads import TriggerBody
from chalicelib.apikey import access
from chalicelib.db import is_transient
from chalicelib.errors import Busy, InvalidTransition, NotFound, PayloadTooLarge, Unauthenticated
from chalicelib.incident import incidents
from chalicelib.incident.details import clipped, stored_size

log = logging.getLogger("oncall.pagerduty")

# PagerDuty accepts events up to 512 KB; so does this route (oncall's own bodies: 256 KiB).
MAX_EVENT_BYTES = 512 * 1024
# What the incident keeps of the event's extras, as JSON: DynamoDB items stop at 400 KB.
# Each short field (component, group, ...) keeps MAX_FIELD_LENGTH characters, or
# MIN_FIELD_LENGTH when the six would not fit otherwise: characters outside ASCII are
# stored escaped, up to 12 bytes each, so six fields of 256 take at most 18 KiB.
MAX_DETAILS_BYTES = 64 * 1024
MAX_FIELD_LENGTH = 1024
MIN_FIELD_LENGTH = 256
INVALID = "invalid event"
INVALID_MESSAGE = "Event object is invalid"

Text = Annotated[str, StringConstraints(min_length=1, pattern=r"\S")]
DedupKey = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"\S")]


# Strict types (a severity that is a number, a payload that is a string are refused);
# unknown fields are ignored, as PagerDuty does, so a newer sender never loses a page.
class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", populate_by_name=True, defer_build=True)


class Link(_Strict):
    href: str
    text: str = ""


class Image(_Strict):
    src: str
    href: str = ""
    alt: str = ""


class EventPayload(_Strict):
    summary: Annotated[str, StringConstraints(min_length=1, max_length=1024, pattern=r"\S")]
    source: Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"\S")]
    severity: Literal["critical", "error", "warning", "info"]
    timestamp: str | None = None
    component: str | None = None
    group: str | None = None
    class_: str | None = Field(default=None, alias="class")
    custom_details: Any = None


class Event(_Strict):
    """A PagerDuty Events API v2 event. `payload` is required for trigger only."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "routing_key": "<an oncall integration key>",
                    "event_action": "trigger",
                    "dedup_key": "db-primary/connections",
                    "payload": {
                        "summary": "Primary DB refusing connections",
                        "source": "db-primary-1.prod.internal",
                        "severity": "critical",
                        "custom_details": {"error": "timeout after 5s"},
                    },
                },
                {"routing_key": "<an oncall integration key>", "event_action": "resolve", "dedup_key": "db"},
            ]
        }
    )

    routing_key: Text
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: DedupKey | None = None
    payload: EventPayload | None = None
    links: list[Link] | None = None
    images: list[Image] | None = None
    client: str | None = None
    client_url: str | None = None


# --- answers ------------------------------------------------------------------------------


def accepted(dedup_key: str) -> Response:
    answer = responses.PagerDutyAccepted(status="success", message="Event processed", dedup_key=dedup_key)
    return Response(body=answer.body(), status_code=202)


def _error(status: str, message: str, errors: list[str]) -> dict:
    return responses.PagerDutyError(status=status, message=message, errors=errors).body()


def invalid(*errors: str, status: int = 400) -> Response:
    return Response(body=_error(INVALID, INVALID_MESSAGE, list(errors)), status_code=status)


def throttled() -> Response:
    return Response(
        body=_error(
            "throttle event",
            "Requests for this service are arriving too quickly. Please retry later.",
            ["Too many concurrent changes or database throttling; retry with backoff."],
        ),
        status_code=429,
        headers={"Retry-After": str(Busy.RETRY_AFTER_SECONDS)},
    )


# --- the route ------------------------------------------------------------------------------


def enqueue(raw_body: bytes | None) -> Response:
    """Everything the route does, every error answered in PagerDuty's shape."""
    try:
        return _enqueue(raw_body)
    except Busy:
        return throttled()
    except PayloadTooLarge:
        return invalid(f"Event is larger than {MAX_EVENT_BYTES // 1024} KB", status=413)
    except PynamoDBException as error:
        if is_transient(error):
            return throttled()
        log.exception("database error in the PagerDuty route")
    except Exception:
        log.exception("unexpected error in the PagerDuty route")
    return Response(
        body=_error("error", "Something went wrong on our side; it has been logged.", []),
        status_code=500,
    )


def _enqueue(raw_body: bytes | None) -> Response:
    if raw_body and len(raw_body) > MAX_EVENT_BYTES:
        raise PayloadTooLarge("too large")
    event, errors = parse(raw_body)
    if event is None:
        return invalid(*errors)
    caller, error = _caller(event.routing_key)
    if caller is None:
        return invalid(error)
    if event.event_action == "trigger":
        return _trigger(event, caller)
    return _transition(event, caller)


def parse(raw_body: bytes | None) -> tuple[Event | None, list[str]]:
    if not raw_body or not raw_body.strip():
        return None, ["Event object is missing"]
    try:
        data = jsontext.loads(raw_body)
    except jsontext.TooDeep as deep:
        return None, [f"'{deep.field or 'event'}' is invalid: it {deep}"]
    except jsontext.NotJson:
        return None, ["Event object is not valid JSON"]
    if not isinstance(data, dict):
        return None, ["Event object must be a JSON object"]
    try:
        event = Event.model_validate(data)
    except ValidationError as error:
        return None, [_describe(problem) for problem in error.errors()]
    if event.event_action == "trigger" and event.payload is None:
        return None, ["'payload' is missing or blank"]
    if event.event_action != "trigger" and event.dedup_key is None:
        return None, ["'dedup_key' is missing or blank"]
    return event, []


def _describe(problem: dict) -> str:
    field = ".".join(str(part) for part in problem["loc"]) or "event"
    if problem["type"] == "missing":
        return f"'{field}' is missing or blank"
    if problem["type"] == "literal_error":
        return f"'{field}' is invalid: {problem['msg']}"
    return f"'{field}' is invalid: {problem['msg']}"


def _caller(routing_key: str) -> tuple[access.Caller | None, str]:
    """Only oncall integration keys route events (PagerDuty has no other kind): an
    unknown, revoked, admin or responder key is PagerDuty's 'Invalid routing key'."""
    try:
        caller = access.authenticate(routing_key)
    except Unauthenticated:
        return None, "Invalid routing key"
    if caller.role != access.INTEGRATION or not caller.services:
        return None, "Invalid routing key"
    return caller, ""


def service_for(event: Event, caller: access.Caller) -> str:
    """The key's service; of several, payload.component when it names one of them,
    else the first in sorted order."""
    services = sorted(caller.services or ())
    component = event.payload.component if event.payload else None
    if component in services:
        return component
    return services[0]


def _trigger(event: Event, caller: access.Caller) -> Response:
    payload = event.payload
    key = event.dedup_key or uuid.uuid4().hex  # PagerDuty: no dedup_key, a fresh one
    body = TriggerBody(
        service_name=service_for(event, caller),
        title=payload.summary,
        description=description_for(payload),
        severity=payload.severity,
        dedup_key=key,
    )
    origin = incidents.Origin(source=payload.source, details=details_for(event))
    incidents.trigger(body, caller.actor, origin)
    return accepted(key)


def _transition(event: Event, caller: access.Caller) -> Response:
    """acknowledge/resolve the open incident bound to the key, in any of the key's
    services. Never creates; an unknown key or an incident already in that state is
    accepted and ignored, as PagerDuty does."""
    key = event.dedup_key
    for service in sorted(caller.services or ()):
        incident_id = incidents.incident_for_key(service, key)
        if incident_id is None:
            continue
        try:
            if event.event_action == "acknowledge":
                incidents.acknowledge(incident_id, caller.actor)
            else:
                incidents.resolve(incident_id, caller.actor, by_source=True)
        except (InvalidTransition, NotFound):
            pass  # already acknowledged, or resolved meanwhile: nothing to do
        break
    return accepted(key)


def description_for(payload: EventPayload) -> str:
    parts = [
        f"{name}: {value}"
        for name, value in (("component", payload.component), ("group", payload.group), ("class", payload.class_))
        if value
    ]
    return "\n".join(parts)[:4096]


def details_for(event: Event) -> dict:
    """What the event carried besides summary, source and severity, as sent, within
    MAX_DETAILS_BYTES as stored: beyond it the bulky parts (custom_details, links,
    images) are dropped with a note, and if even the rest does not fit, it is cut."""
    payload = event.payload
    details: dict = {}
    for name, value in (
        ("component", payload.component),
        ("group", payload.group),
        ("class", payload.class_),
        ("timestamp", payload.timestamp),
        ("client", event.client),
        ("client_url", event.client_url),
    ):
        if value is not None:
            details[name] = value[:MAX_FIELD_LENGTH]
    bulky = {
        "custom_details": payload.custom_details,
        "links": [link.model_dump() for link in event.links] if event.links is not None else None,
        "images": [image.model_dump() for image in event.images] if event.images is not None else None,
    }
    bulky = {name: value for name, value in bulky.items() if value is not None}
    if stored_size({**details, **bulky}) <= MAX_DETAILS_BYTES:
        return {**details, **bulky}
    if bulky:
        details["omitted"] = (
            f"{', '.join(sorted(bulky))} were {stored_size(bulky)} bytes of JSON, "
            f"over the {MAX_DETAILS_BYTES // 1024} KiB kept"
        )
    return details if stored_size(details) <= MAX_DETAILS_BYTES else clipped(details, MIN_FIELD_LENGTH)
