"""HTTP for the end-to-end tests, standard library only: one fresh connection per
request, so every call is independent of the others."""

import http.client
import json
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

# Every test server starts with this as ONCALL_ADMIN_KEY; requests carry it unless told otherwise.
ADMIN_TOKEN = "e2e-admin-token-not-secret-0123456789"


@dataclass
class Reply:
    status: int
    content_type: str
    body: bytes

    def json(self):
        return json.loads(self.body)

    def __str__(self) -> str:
        return f"HTTP {self.status} ({self.content_type or 'no content type'}): {self.body[:400]!r}"


def request(
    base_url: str,
    method: str,
    path: str,
    body=None,
    *,
    raw: bytes | None = None,
    content_type: str = "application/json",
    timeout: float = 30.0,
    token: str | None = ADMIN_TOKEN,
) -> Reply:
    """Send one request on its own connection. `body` goes as JSON, `raw` as given;
    the API key is `token` (None: no key)."""
    parts = urlsplit(base_url)
    payload = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    headers = {"Connection": "close"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if payload is not None:
        headers["Content-Type"] = content_type
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        return Reply(response.status, response.getheader("Content-Type", ""), response.read())
    finally:
        connection.close()


def get(base_url: str, path: str, **options) -> Reply:
    return request(base_url, "GET", path, **options)


def post(base_url: str, path: str, body=None, **options) -> Reply:
    return request(base_url, "POST", path, body, **options)


def expect(reply: Reply, status: int = 200):
    """The reply's JSON body, after checking its status."""
    assert reply.status == status, f"expected HTTP {status}, got {reply}"
    return reply.json()


def trigger(base_url: str, service: str, title: str, **fields) -> Reply:
    return post(base_url, "/api/incidents/trigger/", {"service_name": service, "title": title, **fields})


def list_service(base_url: str, service: str, page_size: int = 100) -> list[dict]:
    """Every incident of a service, following next_cursor until the last page."""
    incidents: list[dict] = []
    cursor = None
    for _ in range(1000):
        path = f"/api/incidents/list/all/?service_name={quote(service)}&limit={page_size}"
        if cursor:
            path += f"&cursor={quote(cursor)}"
        page = expect(get(base_url, path))
        incidents.extend(page["incidents"])
        cursor = page.get("next_cursor")
        if not cursor:
            return incidents
    raise AssertionError(f"listing {service!r} never reached a last page")


def metrics(base_url: str, service: str) -> dict:
    return expect(get(base_url, f"/api/metrics/?service_name={quote(service)}"))


def make_key(base_url: str, role: str, user: str | None = None, services: list[str] | None = None) -> str:
    """A new API key made through the API with the admin key; returns its token."""
    body = {"name": f"e2e {role} {user or services}", "role": role}
    if user is not None:
        body["user"] = user
    if services is not None:
        body["services"] = services
    return expect(post(base_url, "/api/keys/", body), 201)["token"]
