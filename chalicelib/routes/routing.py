"""How routes are declared: a Chalice blueprint per group of routes (chalicelib/routes/),
each route naming the roles it admits and describing itself for the OpenAPI document.

`Routes.__call__` is app.route with access control (the caller's key is checked before
the view runs, chalicelib/routes/http.py) and an entry in the one API catalogue; the other
methods read the current request the way every view does."""

from chalice import Blueprint, Response

from chalicelib.api import pagination, payloads
from chalicelib.config import settings
from chalicelib.routes import http, openapi

CATALOGUE = openapi.Catalogue()


class Routes:
    def __init__(self, name: str) -> None:
        self.blueprint = Blueprint(name)

    def __call__(self, path: str, *methods: str, admits: frozenset[str], summary: str, **spec):
        """Declare a route. `spec` describes it for OpenAPI: body, query, status, responses,
        answer (the model of its JSON answer, chalicelib/api/responses.py)."""

        def register(view):
            operations = [CATALOGUE.add(path, method, admits=admits, summary=summary, **spec) for method in methods]
            options = {"content_types": http.JSON_BODY_TYPES} if operations[0].takes_body else {}
            guarded = http.endpoint(view, admits, self.request)
            return self.blueprint.route(path, methods=list(methods), **options)(guarded)

        return register

    def request(self):
        return self.blueprint.current_request

    def body(self, model, *, required: bool = True):
        return payloads.parse(model, self.request().raw_body, required=required)

    def query(self, name: str) -> str | None:
        return http.query_param(self.request(), name)

    def service(self, *, required: bool = False) -> str | None:
        return http.name_param(self.request(), "service_name", required=required)

    def instant(self, name: str):
        return http.instant_param(self.request(), name)

    def limit(self) -> int:
        return pagination.parse_limit(self.query("limit"))

    def base_url(self) -> str:
        """Where this API is reached, for the secret URLs it hands out: the console's
        address when set, else the host the request came to (with API Gateway's stage,
        when deployed)."""
        if settings().console_url:
            return settings().console_url
        request = self.request()
        host = (request.headers or {}).get("host", "localhost")
        stage = (request.context or {}).get("stage")
        return f"https://{host}/{stage}" if settings().deployed and stage else f"http://{host}"

    @staticmethod
    def created(body: dict) -> Response:
        return Response(body=body, status_code=201)

    @staticmethod
    def no_content() -> Response:
        return Response(body="", status_code=204)
