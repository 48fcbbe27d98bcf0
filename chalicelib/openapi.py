"""The API catalogue: each route's method, path, roles, body model and query
parameters, recorded where the route is declared, rendered as OpenAPI 3."""

import re
from dataclasses import dataclass, field

from pydantic import BaseModel

from . import pagination
from .status import ALL as STATUSES

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "code"],
    "properties": {
        "error": {"type": "string", "description": "a sentence a person can act on"},
        "code": {"type": "string", "description": "a machine-readable code, e.g. invalid_input"},
        "field": {"type": "string", "description": "the field at fault, when there is one"},
    },
}

QUERY_PARAMETERS = {
    "status": {"type": "string", "enum": list(STATUSES)},
    "service_name": {"type": "string", "minLength": 1, "maxLength": 128},
    "limit": {"type": "integer", "minimum": 1, "maximum": pagination.MAX_LIMIT, "default": pagination.DEFAULT_LIMIT},
    "cursor": {"type": "string", "description": "next_cursor of the previous page, as given"},
    "include_ended": {"type": "boolean", "default": False},
}

PATH_PARAMETERS = {
    "incident_id": {"type": "integer", "minimum": 1},
    "name": {"type": "string"},
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
    415: "the body is not JSON",
    503: "contention or throttling did not clear; retry",
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

    @property
    def takes_body(self) -> bool:
        return self.method in ("POST", "PUT")

    @property
    def path_parameters(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    def error_statuses(self) -> list[int]:
        statuses = {405}
        if self.body or self.query or self.path_parameters or self.takes_body:
            statuses.add(400)
        if self.admits:
            statuses |= {401, 403}
        if self.path_parameters and not self.html:
            statuses.add(404)
        if self.takes_body:
            statuses |= {413, 415}
        if self.method == "POST" and self.status == 201:
            statuses.add(409)
        if not self.html and self.admits:
            statuses.add(503)
        return sorted(statuses)


class Catalogue:
    def __init__(self) -> None:
        self.operations: list[Operation] = []

    def add(self, path: str, method: str, **spec) -> Operation:
        operation = Operation(path, method, **spec)
        self.operations.append(operation)
        return operation

    def document(self) -> dict:
        schemas = {"Error": ERROR_SCHEMA}
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
        elif operation.html:
            responses[str(status)] = {
                "description": description,
                "content": {"text/html": {"schema": {"type": "string"}}},
            }
        else:
            responses[str(status)] = {
                "description": description,
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
    for status in operation.error_statuses():
        responses[str(status)] = {
            "description": DESCRIPTIONS[status],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    return responses


def _schema_ref(model: type[BaseModel], schemas: dict) -> dict:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        schemas[name] = definition
    schemas[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}
