"""The API catalogue: each route's method, path, roles, body model and query
parameters, recorded where the route is declared, rendered as OpenAPI 3."""

import re
from dataclasses import dataclass, field

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema

from chalicelib import console
from chalicelib.api import pagination, payloads
from chalicelib.api.responses import PUBLIC_ID_PATTERN, Error
from chalicelib.incident.incidents import MAX_ID
from chalicelib.status import ALL as STATUSES

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
PUBLIC_ID = {"type": "string", "pattern": PUBLIC_ID_PATTERN}

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


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


@dataclass
class Operation:
    path: str
    method: str
    admits: frozenset[str]
    summary: str
    body: type[BaseModel] | None = None
    body_required: bool = True
    query: tuple[str, ...] = ()
    # Query parameters this operation reads its own way (by name), instead of QUERY_PARAMETERS'.
    query_schemas: dict[str, dict] = field(default_factory=dict)
    status: int = 200
    responses: dict[int, str] = field(default_factory=dict)
    # The model of the successful JSON answer (chalicelib/api/responses.py); by status
    # when they differ.
    answer: type[BaseModel] | dict[int, type[BaseModel]] | None = None
    html: bool = False
    # A success answered in another type than JSON (the schedule as iCalendar).
    media_type: str | None = None
    # Error statuses the view answers besides those its shape implies (a public
    # route that checks a signature answers 403; one that fetches, 503).
    errors: tuple[int, ...] = ()
    # Error statuses answered in a model of their own rather than oncall's Error
    # (the PagerDuty route answers in PagerDuty's shape): status -> (model, description).
    own_errors: dict[int, tuple[type[BaseModel], str]] = field(default_factory=dict)

    @property
    def takes_body(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH")

    @property
    def path_parameters(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    def answer_for(self, status: int) -> type[BaseModel] | None:
        return self.answer.get(status) if isinstance(self.answer, dict) else self.answer

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
        schemas: dict = {}
        _schema_ref(Error, schemas, "serialization")
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
            {
                "name": name,
                "in": "query",
                "required": False,
                "schema": operation.query_schemas.get(name) or QUERY_PARAMETERS[name],
            }
            for name in operation.query
        ],
        "responses": _responses(operation, schemas),
    }
    if operation.body is not None:
        spec["requestBody"] = {
            "required": operation.body_required,
            "content": {"application/json": {"schema": _schema_ref(operation.body, schemas)}},
        }
    return spec


def _responses(operation: Operation, schemas: dict) -> dict:
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
            answer = operation.answer_for(status)
            schema = _schema_ref(answer, schemas, "serialization") if answer else {"type": "object"}
            responses[str(status)] = {"description": description, "content": {"application/json": {"schema": schema}}}
    for status in operation.error_statuses():
        if status in operation.own_errors:
            model, description = operation.own_errors[status]
            responses[str(status)] = {
                "description": description,
                "content": {"application/json": {"schema": _schema_ref(model, schemas, "serialization")}},
            }
            continue
        if operation.media_type == "text/html" and status in PAGE_ERRORS:
            # A page a person opened answers its own errors as pages (http.html_errors).
            responses[str(status)] = {
                "description": DESCRIPTIONS[status],
                "content": {"text/html": {"schema": {"type": "string"}}},
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


# The errors a page's view raises (links refused, transitions refused, nothing found).
PAGE_ERRORS = (400, 403, 404, 409)


class _BodySchema(GenerateJsonSchema):
    """Request bodies and answers as pydantic describes them, plus what the request
    validators check: times are ISO 8601 instants, names must not be blank."""

    def function_after_schema(self, schema):
        generated = super().function_after_schema(schema)
        check = schema["function"]["function"]
        if check is payloads._instant:
            generated = {**generated, "format": "date-time"}
        elif check is payloads._not_blank:
            generated = {**generated, "pattern": "\\S"}
        return generated


def _schema_ref(model: type[BaseModel], schemas: dict, mode: str = "validation") -> dict:
    """The model's schema, and those of the models it holds, in `schemas`; a $ref to it.
    `mode` is "validation" for what the API reads, "serialization" for what it answers."""
    schema = model.model_json_schema(
        ref_template="#/components/schemas/{model}", schema_generator=_BodySchema, mode=mode
    )
    for name, definition in [*schema.pop("$defs", {}).items(), (model.__name__, schema)]:
        if schemas.setdefault(name, definition) != definition:
            raise ValueError(f"two different shapes are named {name}; rename one of the models")
    return _ref(model.__name__)
