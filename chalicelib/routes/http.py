"""The HTTP edge: reading query parameters and mapping every error to the JSON
error shape (or, for the pages a person opens from a link, to a page). The only
place domain errors become status codes."""

import functools
import html
import inspect
import logging
from datetime import datetime
from urllib.parse import unquote

from chalice import Response
from pynamodb.exceptions import PynamoDBException

from chalicelib import clock
from chalicelib.api.payloads import EARLIEST, LATEST, MAX_NAME_LENGTH
from chalicelib.apikey import access
from chalicelib.db import is_transient, retry_later
from chalicelib.errors import DomainError, InvalidInput, InvalidTransition, NotFound

log = logging.getLogger("oncall.http")

JSON_BODY_TYPES = ["application/json", "application/x-www-form-urlencoded", "text/plain"]


def error_response(error: DomainError) -> Response:
    return Response(body=error.body(), status_code=error.status, headers=dict(error.headers))


def json_errors(view):
    """Answer DomainErrors with their status and anything unexpected with a plain
    500 JSON body (the trace goes to the log, never to the client)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except DomainError as error:
            return error_response(error)
        except PynamoDBException as error:
            if is_transient(error):
                return error_response(retry_later())
            log.exception("database error in %s", view.__name__)
        except Exception:
            log.exception("unexpected error in %s", view.__name__)
        return Response(
            body={"error": "Something went wrong on our side; it has been logged.", "code": "internal"},
            status_code=500,
        )

    return wrapper


HTML_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    # A page of its own: no script, no other origin, and its form posts back here only.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "Referrer-Policy": "no-referrer",
}


def html_page(heading: str, text: str, status: int = 200, button: str | None = None) -> Response:
    """A page for a person who followed a link, not a program: every text escaped, and
    at most one button, which POSTs to the page's own URL."""
    form = f'<form method="post"><button type="submit">{html.escape(button)}</button></form>' if button else ""
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(heading)} - oncall</title>"
        "<style>body{font:18px/1.4 system-ui,sans-serif;margin:2em auto;max-width:34em;padding:0 1em}"
        "button{font-size:1.2em;padding:.7em 1.4em}</style></head>"
        f"<body><h1>{html.escape(heading)}</h1><p>{html.escape(text)}</p>{form}</body></html>"
    )
    return Response(body=body, status_code=status, headers=HTML_HEADERS)


def html_errors(view):
    """Domain errors of a view that answers people as pages, as pages of their status."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except DomainError as error:
            done = isinstance(error, (InvalidTransition, NotFound))
            heading = "Nothing to do" if done else "This link cannot be used"
            return html_page(heading, error.message, error.status)

    return wrapper


def endpoint(view, admits: frozenset[str], current_request):
    """The view behind the access check, with every error answered as JSON. A view
    with a `caller` parameter receives the caller (chalicelib.apikey.access.Caller)."""
    wants_caller = "caller" in inspect.signature(view).parameters

    @functools.wraps(view)
    def checked(**params):
        caller = access.check(current_request().headers, admits)
        if wants_caller:
            params["caller"] = caller
        return view(**params)

    return json_errors(checked)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_").removesuffix("_error")


def uniform_errors(event, get_response):
    """Chalice middleware: errors Chalice answers itself (405 wrong method, 415
    media type) get the same {"error", "code"} shape as the product's own."""
    response = get_response(event)
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and set(body) == {"Code", "Message"}:
        response.body = {"error": f"{body['Message']}.", "code": _snake(body["Code"])}
    return response


def query_param(request, name: str) -> str | None:
    params = request.query_params or {}
    value = params.get(name)
    if value is not None and len(value) > 1024:
        raise InvalidInput(f"{name} is too long.", field=name)
    return value


def name_param(request, name: str, *, required: bool = False) -> str | None:
    """A query parameter naming something (a service): as long and as non-blank as
    the same name in a request body must be."""
    value = query_param(request, name)
    if value is None or value == "":
        if required:
            raise InvalidInput(f"{name} is required.", field=name)
        return None
    return _checked_name(value, name)


def name_in_path(raw: str, name: str) -> str:
    """A path segment naming something (a service), percent-decoded (`chalice local`
    passes it as sent), held to the same limits as the name in a body."""
    return _checked_name(unquote(raw), name)


def _checked_name(value: str, name: str) -> str:
    if not value.strip() or len(value) > MAX_NAME_LENGTH:
        raise InvalidInput(f"{name} must be 1 to {MAX_NAME_LENGTH} characters, not all blank.", field=name)
    return value


def instant_param(request, name: str) -> datetime | None:
    """A query parameter holding an ISO 8601 instant with a UTC offset."""
    value = query_param(request, name)
    if not value:
        return None
    try:
        instant = clock.parse_iso(value) if len(value) <= 64 else None
    except ValueError:
        instant = None
    # Bounded, so that the schedule's date arithmetic never leaves datetime's range.
    if instant is None or not EARLIEST <= instant <= LATEST:
        raise InvalidInput(
            f"{name} must be an ISO 8601 time with a UTC offset between 1970 and 2100, e.g. 2026-01-31T09:00:00Z.",
            field=name,
        )
    return instant


def flag(request, name: str) -> bool:
    value = (query_param(request, name) or "").lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise InvalidInput(f"{name} must be true or false.", field=name)
