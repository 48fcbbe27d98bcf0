"""In-process DynamoDB for tests: moto behind one lock, with DynamoDB's own rules
(oncall_local/dynamodb_rules.py), a request counter and a place to inject faults.

moto's in-memory backend is not atomic when requests overlap (a conditional
write can pass for two threads at once), so every request goes through one
lock, as the local server's WSGI wrapper does. The counter sees every request
through a botocore event hook and fails loudly on a Scan.
"""

import threading
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager

from moto.core import botocore_stubber

from oncall_local import dynamodb_rules

dynamodb_rules.install()

# Reentrant: a fault injector may make another client's request while serving one.
_lock = threading.RLock()
_original_call = botocore_stubber.BotocoreStubber.__call__

# Called, inside the lock, with each DynamoDB request and a function that serves it
# (tests/faults.py): it may serve it, answer in moto's place, or raise.
interceptor: Callable | None = None


@contextmanager
def interceptor_off():
    global interceptor
    saved, interceptor = interceptor, None
    try:
        yield
    finally:
        interceptor = saved


def operation_of(request) -> str | None:
    """The DynamoDB operation a botocore request asks for (None for other services)."""
    target = request.headers.get("X-Amz-Target") or ""
    if isinstance(target, bytes):
        target = target.decode()
    service, _, operation = target.partition(".")
    return operation if service.startswith("DynamoDB_") else None


def _serialized_call(self, event_name, request, **kwargs):
    with _lock:
        serve = lambda: _original_call(self, event_name, request, **kwargs)  # noqa: E731
        if interceptor is not None and operation_of(request):
            return interceptor(request, serve)
        return serve()


botocore_stubber.BotocoreStubber.__call__ = _serialized_call


class RequestCounter:
    """Counts DynamoDB operations by name, registered on every botocore session's
    'before-call.dynamodb' event through botocore's builtin handler list."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, model, **kwargs) -> None:
        if model.name == "Scan":
            raise AssertionError("a code path issued a DynamoDB Scan")
        with self._lock:
            self.calls[model.name] += 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    @contextmanager
    def measure(self):
        """Yield a Counter that holds only the requests made inside the block."""
        before = self.calls.copy()
        delta: Counter[str] = Counter()
        yield delta
        delta.update(self.calls - before)


counter = RequestCounter()


def _dispatch(model, **kwargs):
    counter(model, **kwargs)


def install_counter() -> None:
    from botocore import handlers

    entry = ("before-call.dynamodb", _dispatch)
    if entry not in handlers.BUILTIN_HANDLERS:
        handlers.BUILTIN_HANDLERS.append(entry)
