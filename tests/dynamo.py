"""In-process DynamoDB for tests: the embedded emulator's moto (oncall_local/emulator.py)
behind its one lock, with DynamoDB's own rules, a request counter and a place to inject
faults.

moto's in-memory backend is not atomic when requests overlap (a conditional
write can pass for two threads at once), so every request takes the emulator's
lock, as the local server's do. The counter sees every request through a botocore
event hook and fails loudly on a Scan.
"""

import threading
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager

from moto.core import botocore_stubber

from oncall_local import emulator

emulator.prepare_moto()
_serve = botocore_stubber.BotocoreStubber.__call__

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


def _intercepted_call(self, event_name, request, **kwargs):
    if interceptor is None or not operation_of(request):
        return _serve(self, event_name, request, **kwargs)
    with emulator.LOCK:
        return interceptor(request, lambda: _serve(self, event_name, request, **kwargs))


botocore_stubber.BotocoreStubber.__call__ = _intercepted_call


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
