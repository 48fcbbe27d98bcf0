"""Health, the web console, the API document and the caller."""

from chalice import Response

from chalicelib import console
from chalicelib.api import responses
from chalicelib.apikey.access import MANAGE, PUBLIC, TRIGGER
from chalicelib.errors import NotFound
from chalicelib.routes.routing import CATALOGUE, Routes
from chalicelib.transport import sent

routes = Routes("meta")


@routes("/api/health", "GET", admits=PUBLIC, summary="Liveness check", answer=responses.Health)
def health():
    return responses.Health(status="ok").body()


@routes("/", "GET", admits=PUBLIC, summary="The web console", html=True)
def console_index():
    return _console_asset("index.html")


@routes("/console/{name}", "GET", admits=PUBLIC, summary="A file of the web console", html=True)
def console_file(name):
    return _console_asset(name)


def _console_asset(name: str) -> Response:
    content, content_type = console.asset(name)
    return Response(body=content, headers={"Content-Type": content_type, **console.HEADERS})


@routes(
    "/api/openapi.json",
    "GET",
    admits=TRIGGER,
    summary="This API as an OpenAPI 3 document",
    answer=responses.OpenApiDocument,
)
def openapi_document():
    return responses.OpenApiDocument.model_validate(CATALOGUE.document()).body()


@routes(
    "/api/me",
    "GET",
    admits=TRIGGER,
    summary="The key making this call: its role, user and services",
    answer=responses.Caller,
)
def whoami(caller):
    return caller.describe()


@routes(
    "/api/local/messages",
    "GET",
    admits=MANAGE,
    summary="Under `make run` only: every SMS and email sent, newest first (404 anywhere else)",
    answer=responses.SentMessages,
)
def local_messages():
    found = sent.messages()
    if found is None:
        raise NotFound("Sent messages are shown only by the local runtime (make run); in AWS they left for real.")
    return responses.SentMessages(messages=found).body()
