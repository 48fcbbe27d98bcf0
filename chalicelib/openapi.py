"""The API catalogue: each route's method, path, roles, body model and query
parameters, recorded where the route is declared, rendered as OpenAPI 3."""

import re
from dataclasses import dataclass, field

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema

from . import console, pagination, payloads
from .incidents import MAX_ID
from .status import ALL as STATUSES

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "code"],
    "additionalProperties": False,
    "properties": {
        "error": {"type": "string", "minLength": 1, "description": "a sentence a person can act on"},
        "code": {"type": "string", "pattern": "^[a-z]+(_[a-z]+)*$", "description": "a machine-readable code"},
        "field": {"type": "string", "minLength": 1, "description": "the field at fault, when there is one"},
    },
}

QUERY_PARAMETERS = {
    "status": {"type": "string", "enum": list(STATUSES)},
    "service_name": {"type": "string", "minLength": 1, "maxLength": 128},
    "limit": {"type": "integer", "minimum": 1, "maximum": pagination.MAX_LIMIT, "default": pagination.DEFAULT_LIMIT},
    "cursor": {"type": "string", "description": "next_cursor of the previous page, as given"},
    "include_ended": {"type": "boolean", "default": False},
    "at": {"type": "string", "format": "date-time", "description": "default: now"},
    "from": {"type": "string", "format": "date-time", "description": "default: now"},
    "to": {"type": "string", "format": "date-time", "description": "default: 14 days after from; at most 92 days"},
}

PATH_PARAMETERS = {
    "incident_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID - 1},
    "name": {
        "type": "string",
        "examples": sorted(path.name for path in console.ROOT.iterdir() if path.suffix in console.TYPES),
    },
    "service_name": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "\\S"},
}
PUBLIC_ID = {"type": "string", "pattern": "^[0-9a-f]{32}$"}

DESCRIPTIONS = {
    400: "the request is malformed; `field` names what is wrong",
    401: "no API key, or an unknown or revoked one",
    403: "the key's role or services do not allow this call",
    404: "no such item",
    405: "this path does not take this method",
    409: "it exists already",
    413: "the body is over 256 KiB",
    415: "the request's Content-Type is not one this operation reads; send JSON",
    503: "contention or throttling did not clear; retry",
}

RETRY_AFTER = {
    "description": "seconds to wait before trying again",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}

# The `code` each error status answers with.
ERROR_CODES = {
    400: ["invalid_input", "invalid_transition"],
    401: ["unauthenticated"],
    403: ["forbidden"],
    404: ["not_found"],
    405: ["method_not_allowed"],
    409: ["conflict"],
    413: ["payload_too_large"],
    415: ["unsupported_media_type"],
    503: ["busy"],
}

# --- what the successful answers hold -------------------------------------------------

INSTANT = {
    "type": "string",
    "format": "date-time",
    "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$",
    "description": "UTC, ISO 8601 with milliseconds and Z",
}
MAYBE_INSTANT = {**INSTANT, "type": ["string", "null"]}
TEXT = {"type": "string"}
MAYBE_TEXT = {"type": ["string", "null"]}
COUNT = {"type": "integer", "minimum": 0}
SECONDS = {"type": ["number", "null"], "minimum": 0, "description": "null until there is data"}
CURSOR = {"type": ["string", "null"], "description": "pass as `cursor` for the next page; null on the last page"}
ROLES = ["admin", "responder", "integration"]
SERVICES = {"type": ["array", "null"], "items": TEXT, "description": "integration keys only"}


CHANNEL = {
    "id": PUBLIC_ID,
    "service_name": TEXT,
    "kind": {"type": "string", "enum": ["slack", "webhook", "sns"]},
    "name": TEXT,
    "url": MAYBE_TEXT,
    "topic_arn": MAYBE_TEXT,
    "created_at": INSTANT,
    "created_by": MAYBE_TEXT,
}


SCHEDULE_SOURCE = {
    "type": ["object", "null"],
    "description": "what put the user on call: an override, a rotation (with its name and layer) or a shift",
    "required": ["kind", "id"],
    "properties": {
        "kind": {"type": "string", "enum": ["override", "rotation", "shift"]},
        "id": PUBLIC_ID,
        "name": TEXT,
        "layer": {"type": "integer", "minimum": 1},
    },
    "additionalProperties": False,
}
WINDOW = {
    "type": "object",
    "required": ["weekdays", "start", "end"],
    "properties": {"weekdays": {"type": "array", "items": TEXT}, "start": TEXT, "end": TEXT},
}
ROTATION = {
    "id": PUBLIC_ID,
    "service_name": TEXT,
    "name": TEXT,
    "layer": {"type": "integer", "minimum": 1, "maximum": 100},
    "participants": {"type": "array", "items": TEXT, "minItems": 1},
    "shift_length": {"type": "integer", "minimum": 1},
    "shift_unit": {"type": "string", "enum": ["hours", "days", "weeks"]},
    "handoff_time": TEXT,
    "handoff_weekday": MAYBE_TEXT,
    "time_zone": TEXT,
    "start_date": TEXT,
    "restrictions": {"type": "array", "items": WINDOW},
    "created_at": INSTANT,
}


def _object(properties: dict) -> dict:
    """An object with exactly these properties, all present (null where allowed)."""
    return {"type": "object", "required": list(properties), "additionalProperties": False, "properties": properties}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _page(items: str, schema: str) -> dict:
    return _object({items: {"type": "array", "items": _ref(schema)}, "next_cursor": CURSOR})


INCIDENT = {
    "id": {"type": "integer", "minimum": 1},
    "service_name": TEXT,
    "title": TEXT,
    "description": TEXT,
    "severity": {"type": "string", "enum": ["critical", "error", "warning", "info"]},
    "status": {"type": "string", "enum": list(STATUSES)},
    "assigned_to": MAYBE_TEXT,
    "created_at": INSTANT,
    "created_by": MAYBE_TEXT,
    "acknowledged_at": MAYBE_INSTANT,
    "acknowledged_by": MAYBE_TEXT,
    "resolved_at": MAYBE_INSTANT,
    "resolved_by": MAYBE_TEXT,
    "escalated_at": MAYBE_INSTANT,
    "escalation_level": COUNT,
    "escalation_round": {**COUNT, "description": "0 before the first escalation step, then the policy's round"},
    "alert_count": {"type": "integer", "minimum": 1},
    "last_alert_at": INSTANT,
    "dedup_key": {
        "type": ["string", "null"],
        "description": "the caller's dedup_key; null when derived from the title",
    },
    "source": {"type": ["string", "null"], "description": "where a monitoring integration's alert came from"},
    "details": {"type": ["object", "null"], "description": "what the integration sent with it, as sent"},
}
TIMELINE_ENTRY = {"at": INSTANT, "kind": TEXT, "actor": MAYBE_TEXT, "message": TEXT}
METRICS = {
    "service_name": MAYBE_TEXT,
    "total_incidents": COUNT,
    "open_incidents": COUNT,
    "resolved_incidents": COUNT,
    "escalated_incidents": COUNT,
    "alerts": COUNT,
    "mtta_seconds": SECONDS,
    "mttr_seconds": SECONDS,
}
KEY = {
    "id": PUBLIC_ID,
    "name": TEXT,
    "role": {"type": "string", "enum": ROLES},
    "user": MAYBE_TEXT,
    "services": SERVICES,
    "created_at": INSTANT,
    "created_by": MAYBE_TEXT,
    "revoked_at": MAYBE_INSTANT,
}

RESPONSE_SCHEMAS = {
    "Health": _object({"status": {"const": "ok"}}),
    "OpenApiDocument": {
        "type": "object",
        "required": ["openapi", "info", "paths", "components"],
        "properties": {"openapi": {"type": "string", "pattern": "^3\\.1\\."}, "paths": {"type": "object"}},
    },
    "Caller": _object(
        {
            "key_id": PUBLIC_ID,
            "key_name": TEXT,
            "role": {"type": "string", "enum": ROLES},
            "user": MAYBE_TEXT,
            "services": SERVICES,
        }
    ),
    "Incident": _object(INCIDENT),
    "TimelineEntry": _object(TIMELINE_ENTRY),
    "Note": _object(TIMELINE_ENTRY | {"kind": {"const": "note"}, "actor": TEXT}),
    "BulkOutcome": {
        "type": "object",
        "required": ["id", "status"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "status": {"type": "integer", "enum": [200, 400, 404, 503], "description": "as the single route answers"},
            "incident": _ref("Incident"),
            "error": _ref("Error"),
        },
        "oneOf": [
            # 200 carries the incident; any other status the error the single route would answer.
            {"properties": {"status": {"const": 200}}, "required": ["incident"], "not": {"required": ["error"]}},
            {
                "properties": {"status": {"not": {"const": 200}}},
                "required": ["error"],
                "not": {"required": ["incident"]},
            },
        ],
    },
    "BulkResult": _object(
        {"results": {"type": "array", "items": _ref("BulkOutcome")}, "succeeded": COUNT, "failed": COUNT}
    ),
    "IncidentDetail": _object(INCIDENT | {"timeline": {"type": "array", "items": _ref("TimelineEntry")}}),
    "FoldedAlert": _object(
        {
            "id": {"type": "integer", "minimum": 1},
            "service_name": TEXT,
            "dedup_key": INCIDENT["dedup_key"],
            "alert_count": {
                "type": ["integer", "null"],
                "minimum": 2,
                "description": "the incident's count as stored after this alert; null when it was counted "
                "but could not be read back",
            },
            "last_alert_at": INSTANT,
            "deduplicated": {"const": True},
        }
    ),
    "IncidentPage": _page("incidents", "Incident"),
    "SweepResult": _object(
        {"escalated": COUNT, "incidents": {"type": "array", "items": {"type": "integer", "minimum": 1}}}
    ),
    "Metrics": _object(METRICS),
    "ServiceMetricsPage": _page("services", "Metrics"),
    "Shift": _object(
        {
            "id": PUBLIC_ID,
            "service_name": TEXT,
            "user": TEXT,
            "start_time": INSTANT,
            "end_time": INSTANT,
            "is_override": {"type": "boolean"},
            "created_at": INSTANT,
        }
    ),
    "ShiftPage": _page("schedules", "Shift"),
    "OnCall": _object(
        {
            "service_name": TEXT,
            "at": INSTANT,
            "user": {"type": ["string", "null"], "description": "null when nobody is on call"},
            "schedule_id": {
                "type": ["string", "null"],
                "pattern": PUBLIC_ID["pattern"],
                "description": "the shift, override or rotation that decides",
            },
            "is_override": {"type": "boolean"},
            "source": SCHEDULE_SOURCE,
            "until": MAYBE_INSTANT,
        }
    ),
    "FinalSchedule": _object(
        {
            "service_name": TEXT,
            "from": INSTANT,
            "to": INSTANT,
            "intervals": {
                "type": "array",
                "items": _object(
                    {
                        "start": INSTANT,
                        "end": INSTANT,
                        "user": MAYBE_TEXT,
                        "gap": {"type": "boolean", "description": "nobody is on call"},
                        "source": SCHEDULE_SOURCE,
                    }
                ),
            },
        }
    ),
    "Rotation": _object(ROTATION),
    "RotationPage": _page("rotations", "Rotation"),
    "EscalationLevel": _object(
        {
            "id": PUBLIC_ID,
            "service_name": TEXT,
            "level": {"type": "integer", "minimum": 1, "maximum": 100},
            "user": MAYBE_TEXT,
            "notification_channel": TEXT,
            "targets": {
                "type": "array",
                "maxItems": 10,
                "items": {
                    "oneOf": [_object({"user": TEXT}), _object({"oncall": TEXT})],
                    "description": "a user, or whoever is on call for a service at the step",
                },
                "description": "whom the level pages; empty: only the service's channels hear of it",
            },
            "wait_minutes": {"type": "integer", "minimum": 1, "maximum": 1440},
            "created_at": INSTANT,
        }
    ),
    "EscalationLevelPage": _page("levels", "EscalationLevel"),
    "EscalationPolicy": _object(
        {
            "service_name": TEXT,
            "repeat": {"type": "integer", "minimum": 0, "maximum": 9},
            "levels": {"type": "array", "items": _ref("EscalationLevel"), "description": "lowest level first"},
        }
    ),
    "ApiKey": _object(KEY),
    "NewApiKey": _object(KEY | {"token": {"type": "string", "minLength": 16, "description": "shown this once"}}),
    "ApiKeyPage": _page("keys", "ApiKey"),
    "AlertmanagerOutcome": _object(
        {
            "status": {"type": "string", "enum": ["firing", "resolved"], "description": "the group's status"},
            "action": {"type": "string", "enum": ["triggered", "folded", "resolved", "nothing"]},
            "service_name": TEXT,
            "dedup_key": {"type": "string", "pattern": "^[0-9a-f]{64}$", "description": "sha256 of groupKey"},
            "incident_id": {"type": ["integer", "null"], "minimum": 1},
            "alert_count": {"type": ["integer", "null"], "minimum": 1},
        }
    ),
    "SnsOutcome": _object(
        {
            "message_type": {
                "type": "string",
                "enum": ["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"],
            },
            "action": {
                "type": "string",
                "enum": ["triggered", "folded", "resolved", "confirmed", "duplicate", "nothing"],
            },
            "incident_id": {"type": ["integer", "null"], "minimum": 1},
        }
    ),
    "PagerDutyAccepted": _object(
        {
            "status": {"type": "string", "enum": ["success"]},
            "message": TEXT,
            "dedup_key": {"type": "string", "minLength": 1},
        }
    ),
    # PagerDuty's error shape (POST /v2/enqueue answers its errors in it).
    "PagerDutyError": {
        "type": "object",
        "required": ["status", "message", "errors"],
        "properties": {"status": TEXT, "message": TEXT, "errors": {"type": "array", "items": TEXT}},
    },
    "Channel": _object(CHANNEL),
    "NewChannel": {
        **_object(CHANNEL | {"secret": {"type": "string", "description": "webhook channels: shown this once"}}),
        "required": list(CHANNEL),
    },
    "ChannelPage": _page("channels", "Channel"),
    "DeliveryRun": _object(
        {"dispatched": COUNT, "attempted": COUNT, "delivered": COUNT, "failed": COUNT, "retrying": COUNT}
    ),
}

# Which schema each operation's successful answers follow, by status. A route
# missing here is documented as answering any object (tests/e2e/test_fuzz.py
# fails on that).
ANSWERS = {
    ("GET", "/api/health"): {200: "Health"},
    ("GET", "/api/openapi.json"): {200: "OpenApiDocument"},
    ("GET", "/api/me"): {200: "Caller"},
    ("POST", "/api/incidents/trigger"): {201: "Incident", 200: "FoldedAlert"},
    ("PUT", "/api/incidents/{incident_id}/acknowledge"): {200: "Incident"},
    ("POST", "/api/incidents/{incident_id}/acknowledge"): {200: "Incident"},
    ("PUT", "/api/incidents/{incident_id}/resolve"): {200: "Incident"},
    ("POST", "/api/incidents/{incident_id}/resolve"): {200: "Incident"},
    ("GET", "/api/incidents/{incident_id}"): {200: "IncidentDetail"},
    ("GET", "/api/incidents/list/all"): {200: "IncidentPage"},
    ("POST", "/api/incidents/escalate/check"): {200: "SweepResult"},
    ("POST", "/api/incidents/{incident_id}/notes"): {201: "Note"},
    ("POST", "/api/incidents/{incident_id}/reassign"): {200: "Incident"},
    ("POST", "/api/incidents/bulk/acknowledge"): {200: "BulkResult"},
    ("POST", "/api/incidents/bulk/resolve"): {200: "BulkResult"},
    ("GET", "/api/metrics"): {200: "Metrics"},
    ("GET", "/api/metrics/services"): {200: "ServiceMetricsPage"},
    ("GET", "/api/oncall/schedules"): {200: "ShiftPage"},
    ("POST", "/api/oncall/schedules"): {201: "Shift"},
    ("GET", "/api/oncall/current"): {200: "OnCall"},
    ("GET", "/api/oncall/shifts"): {200: "FinalSchedule"},
    ("GET", "/api/oncall/rotations"): {200: "RotationPage"},
    ("POST", "/api/oncall/rotations"): {201: "Rotation"},
    ("GET", "/api/escalation/levels"): {200: "EscalationLevelPage"},
    ("POST", "/api/escalation/levels"): {201: "EscalationLevel"},
    ("GET", "/api/escalation/policies/{service_name}"): {200: "EscalationPolicy"},
    ("PUT", "/api/escalation/policies/{service_name}"): {200: "EscalationPolicy"},
    ("GET", "/api/keys"): {200: "ApiKeyPage"},
    ("POST", "/api/keys"): {201: "NewApiKey"},
    ("DELETE", "/api/keys/{key_id}"): {200: "ApiKey"},
    ("POST", "/api/integrations/alertmanager"): {201: "AlertmanagerOutcome", 200: "AlertmanagerOutcome"},
    ("POST", "/api/integrations/cloudwatch"): {200: "SnsOutcome"},
    ("POST", "/v2/enqueue"): {202: "PagerDutyAccepted"},
    ("GET", "/api/notifications/channels"): {200: "ChannelPage"},
    ("POST", "/api/notifications/channels"): {201: "NewChannel"},
    ("POST", "/api/notifications/deliver"): {200: "DeliveryRun"},
}


@dataclass
class Operation:
    path: str
    method: str
    admits: frozenset[str]
    summary: str
    body: type[BaseModel] | None = None
    body_required: bool = True
    query: tuple[str, ...] = ()
    status: int = 200
    responses: dict[int, str] = field(default_factory=dict)
    html: bool = False
    # A success answered in another type than JSON (the schedule as iCalendar).
    media_type: str | None = None
    # Error statuses the view answers besides those its shape implies (a public
    # route that checks a signature answers 403; one that fetches, 503).
    errors: tuple[int, ...] = ()
    # Error statuses answered in a schema of their own rather than oncall's Error
    # (the PagerDuty route answers in PagerDuty's shape): status -> (schema, description).
    own_errors: dict[int, tuple[str, str]] = field(default_factory=dict)

    @property
    def takes_body(self) -> bool:
        return self.method in ("POST", "PUT")

    @property
    def path_parameters(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    def error_statuses(self) -> list[int]:
        # Chalice answers 415 to any request whose Content-Type the route does not read.
        statuses = {405, 415}
        if self.body or self.query or self.path_parameters or self.takes_body:
            statuses.add(400)
        if self.admits:
            statuses |= {401, 403}
        if self.path_parameters:
            statuses.add(404)
        if self.takes_body:
            statuses.add(413)
        if self.method == "POST" and self.status == 201:
            statuses.add(409)
        if not self.html and self.admits:
            statuses.add(503)
        return sorted(statuses | set(self.errors))


class Catalogue:
    def __init__(self) -> None:
        self.operations: list[Operation] = []

    def add(self, path: str, method: str, **spec) -> Operation:
        operation = Operation(path, method, **spec)
        self.operations.append(operation)
        return operation

    def document(self) -> dict:
        schemas = {"Error": ERROR_SCHEMA, **RESPONSE_SCHEMAS}
        paths: dict[str, dict] = {}
        for operation in self.operations:
            paths.setdefault(operation.path, {})[operation.method.lower()] = _operation(operation, schemas)
        return {
            "openapi": "3.1.0",
            "info": {
                "title": "oncall",
                "version": "1",
                "description": "Incidents, on-call schedules, escalation and metrics. Paths also answer with "
                "a trailing slash. Send the API key as 'Authorization: Bearer <token>' or 'X-API-Key: <token>'.",
            },
            "paths": paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer"},
                    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                },
            },
        }


def _operation(operation: Operation, schemas: dict) -> dict:
    roles = ", ".join(sorted(operation.admits)) if operation.admits else "anyone, no key needed"
    spec: dict = {
        "operationId": f"{operation.method.lower()}{re.sub(r'[^A-Za-z0-9]+', '_', operation.path)}",
        "summary": operation.summary,
        "description": f"Roles: {roles}.",
        "security": [{"bearer": []}, {"apiKey": []}] if operation.admits else [],
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": PATH_PARAMETERS.get(name, PUBLIC_ID)}
            for name in operation.path_parameters
        ]
        + [
            {"name": name, "in": "query", "required": False, "schema": QUERY_PARAMETERS[name]}
            for name in operation.query
        ],
        "responses": _responses(operation),
    }
    if operation.body is not None:
        spec["requestBody"] = {
            "required": operation.body_required,
            "content": {"application/json": {"schema": _schema_ref(operation.body, schemas)}},
        }
    return spec


def _responses(operation: Operation) -> dict:
    responses: dict = {}
    successes = operation.responses or {operation.status: "done"}
    for status, description in successes.items():
        if status == 204:
            responses["204"] = {"description": description}
        elif operation.media_type:
            responses[str(status)] = {
                "description": description,
                "content": {operation.media_type: {"schema": {"type": "string"}}},
            }
        elif operation.html:
            # The console's index is HTML; a file of the console is any of its types.
            served = (
                sorted({value.split(";")[0] for value in console.TYPES.values()})
                if operation.path_parameters
                else ["text/html"]
            )
            responses[str(status)] = {
                "description": description,
                "content": {media_type: {"schema": {"type": "string"}} for media_type in served},
            }
        else:
            answer = ANSWERS.get((operation.method, operation.path), {}).get(status)
            responses[str(status)] = {
                "description": description,
                "content": {"application/json": {"schema": _ref(answer) if answer else {"type": "object"}}},
            }
    for status in operation.error_statuses():
        if status in operation.own_errors:
            schema, description = operation.own_errors[status]
            responses[str(status)] = {
                "description": description,
                "content": {"application/json": {"schema": _ref(schema)}},
            }
            continue
        error = {"allOf": [_ref("Error"), {"properties": {"code": {"enum": ERROR_CODES[status]}}}]}
        responses[str(status)] = {
            "description": DESCRIPTIONS[status],
            "content": {"application/json": {"schema": error}},
        }
        if status == 503:
            responses[str(status)]["headers"] = {"Retry-After": RETRY_AFTER}
    return responses


class _BodySchema(GenerateJsonSchema):
    """Request bodies as pydantic describes them, plus what its validators check:
    times are ISO 8601 instants, names must not be blank."""

    def function_after_schema(self, schema):
        generated = super().function_after_schema(schema)
        check = schema["function"]["function"]
        if check is payloads._instant:
            generated = {**generated, "format": "date-time"}
        elif check is payloads._not_blank:
            generated = {**generated, "pattern": "\\S"}
        return generated


def _schema_ref(model: type[BaseModel], schemas: dict) -> dict:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", schema_generator=_BodySchema)
    for name, definition in schema.pop("$defs", {}).items():
        schemas[name] = definition
    schemas[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}
