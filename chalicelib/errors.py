"""Domain errors. Each carries its HTTP status; chalicelib/routes/http.py maps them to responses in one place."""

import math


class DomainError(Exception):
    status = 400
    code = "bad_request"
    headers: dict[str, str] = {}

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def body(self) -> dict:
        body = {"error": self.message, "code": self.code}
        if self.field:
            body["field"] = self.field
        return body


class InvalidInput(DomainError):
    code = "invalid_input"


class InvalidTransition(DomainError):
    code = "invalid_transition"


class Unauthenticated(DomainError):
    """No key, or one that is unknown or revoked."""

    status = 401
    code = "unauthenticated"
    headers = {"WWW-Authenticate": 'Bearer realm="oncall"'}


class Forbidden(DomainError):
    """A valid key whose role or services do not allow the call."""

    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"


class Busy(DomainError):
    """Contention or throttling that did not clear after retries, or a resource that is
    unavailable for now: the caller should retry after `retry_after` seconds, which
    every 503 says in its Retry-After header."""

    status = 503
    code = "busy"
    # Contention and throttling clear within moments: by default the caller comes back
    # in a second; a wait known to be longer (a lease, a fetch) says so.
    RETRY_AFTER_SECONDS = 1

    def __init__(self, message: str, *, field: str | None = None, retry_after: float = RETRY_AFTER_SECONDS) -> None:
        super().__init__(message, field=field)
        self.retry_after = max(1, math.ceil(retry_after))
        self.headers = {"Retry-After": str(self.retry_after)}
