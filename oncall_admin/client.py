"""A small client of oncall's HTTP API, on the standard library: the key in X-Api-Key,
JSON both ways, lists followed through next_cursor, and the API's own error sentence
in every ApiError."""

import json
import time
import urllib.error
import urllib.parse
import urllib.request

PAGE_SIZE = 100
TIMEOUT_SECONDS = 30
# Reads are retried when the API asks to be called again later; writes never are (a
# create whose answer was lost would be made twice).
READ_ATTEMPTS = 3
RETRY_LATER = (429, 503)


class ApiError(Exception):
    """The API refused a call (`status` and its error sentence), or could not be reached (status 0)."""

    def __init__(self, status: int, sentence: str, code: str | None = None) -> None:
        super().__init__(sentence)
        self.status = status
        self.sentence = sentence
        self.code = code

    def __str__(self) -> str:
        return f"{self.sentence} (HTTP {self.status})" if self.status else self.sentence


class Client:
    def __init__(self, url: str, key: str) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"--url must be an http:// or https:// address, got {url!r}")
        self.base = url.rstrip("/")
        self.key = key

    def request(self, method: str, path: str, body: dict | None = None, query: dict | None = None):
        """The answer's JSON (None for 204), or ApiError."""
        url = self.base + path
        if query:
            url += "?" + urllib.parse.urlencode({name: value for name, value in query.items() if value is not None})
        data = None if body is None else json.dumps(body).encode()
        headers = {"X-Api-Key": self.key, "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        attempts = READ_ATTEMPTS if method == "GET" else 1
        for attempt in range(1, attempts + 1):
            try:
                call = urllib.request.Request(url, data=data, method=method, headers=headers)
                with urllib.request.urlopen(call, timeout=TIMEOUT_SECONDS) as response:
                    raw = response.read()
                return json.loads(raw) if raw.strip() else None
            except urllib.error.HTTPError as error:
                refused = _refusal(error)
                if refused.status not in RETRY_LATER or attempt == attempts:
                    raise refused from None
            except (urllib.error.URLError, OSError) as error:
                reason = getattr(error, "reason", error)
                raise ApiError(0, f"Could not reach {self.base}: {reason}.") from None
            time.sleep(0.5 * attempt)
        raise AssertionError("unreachable")

    def get(self, path: str, **query):
        return self.request("GET", path, query=query)

    def post(self, path: str, body: dict):
        return self.request("POST", path, body)

    def put(self, path: str, body: dict):
        return self.request("PUT", path, body)

    def patch(self, path: str, body: dict):
        return self.request("PATCH", path, body)

    def delete(self, path: str) -> None:
        self.request("DELETE", path)

    def list(self, path: str, field: str, **query) -> list[dict]:
        """Every item of a paginated list, following next_cursor to the last page."""
        items: list[dict] = []
        cursor = None
        while True:
            page = self.get(path, limit=PAGE_SIZE, cursor=cursor, **query)
            items.extend(page[field])
            cursor = page.get("next_cursor")
            if not cursor:
                return items


def _refusal(error: urllib.error.HTTPError) -> ApiError:
    raw = error.read()
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = None
    if isinstance(answer, dict) and isinstance(answer.get("error"), str):
        return ApiError(error.code, answer["error"], answer.get("code"))
    text = raw.decode("utf-8", "replace").strip()[:200] or error.reason
    return ApiError(error.code, f"The API answered {error.code}: {text}")


def quoted(segment: str) -> str:
    """A name as one path segment."""
    return urllib.parse.quote(segment, safe="")
