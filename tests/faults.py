"""Faults injected where the product meets DynamoDB: at the botocore boundary of the
in-process emulator (tests/dynamo.py), so the product, PynamoDB and botocore's own
retries all run as they do against AWS.

`Faults.arm(kind, at, repeat)` makes the `at`-th DynamoDB request from then on, and
the `repeat - 1` after it (botocore's retries of the same call, in a flow that makes
one call at a time), fail as `kind` says. Requests are counted only until `disarm()`:
what a test reads afterwards is no call position of the operation under test.

- throttled: ThrottlingException, nothing written;
- conflict: a write meets a transaction on its item (TransactionCanceledException
  with TransactionConflict reasons for a transaction, TransactionConflictException
  otherwise), nothing written; reads pass;
- internal: InternalServerError, nothing written;
- lost: the request is served, then the connection drops before the answer arrives.
"""

import json
from contextlib import contextmanager
from dataclasses import dataclass

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError
from moto.core.botocore_stubber import MockRawResponse

from tests import dynamo

KINDS = ("throttled", "conflict", "internal", "lost")
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
# botocore makes up to 4 attempts of one call (PynamoDB's default retry setting).
BOTOCORE_ATTEMPTS = 4
PREFIX = "com.amazonaws.dynamodb.v20120810#"


@dataclass(frozen=True)
class Plan:
    kind: str
    at: int
    repeat: int


def inject(kind: str, request, serve, operation: str | None = None, between=None):
    """Answer one request as fault `kind` does (see the module's description).
    `between` runs after a lost answer's request was served, before the caller learns
    anything: another client's write landing in that gap."""
    operation = operation or dynamo.operation_of(request)
    if kind == "lost":
        serve()
        if between is not None:
            between()
        raise ConnectionClosedError(endpoint_url=request.url)
    if kind == "throttled":
        return _answer(request, 400, "ThrottlingException", "Rate of requests exceeds the allowed throughput.")
    if kind == "internal":
        return _answer(request, 500, "InternalServerError", "Internal server error")
    if operation == "TransactWriteItems":
        count = len(json.loads(request.body)["TransactItems"])
        reasons = [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}] * count
        return _answer(
            request,
            400,
            "TransactionCanceledException",
            "Transaction cancelled, please refer cancellation reasons for specific reasons",
            CancellationReasons=reasons,
        )
    return _answer(request, 400, "TransactionConflictException", "Transaction is ongoing for the item")


class Script:
    """Faults in a given order: each (operation, kind) step answers the next request
    of that operation (kind "pass" serves it as is); other requests pass."""

    def __init__(self, steps: list[tuple[str, str]], between=None) -> None:
        self.steps = list(steps)
        self.between = between

    def passes(self, operation: str) -> bool:
        return not self.steps or self.steps[0][0] != operation

    def __call__(self, request, serve):
        operation = dynamo.operation_of(request)
        if self.passes(operation):
            return serve()
        _, kind = self.steps.pop(0)
        if kind == "pass":
            return serve()
        return inject(kind, request, serve, operation, self.between)


class Faults:
    def __init__(self) -> None:
        self.plan: Plan | None = None
        self.seen = 0
        self.injected: list[str] = []

    def arm(self, kind: str, at: int, repeat: int = 1) -> None:
        assert kind in KINDS
        self.plan, self.seen, self.injected = Plan(kind, at, repeat), 0, []

    def disarm(self) -> None:
        self.plan = None

    @contextmanager
    def paused(self):
        """The test's own reads in between: neither counted nor faulted."""
        plan, seen, self.plan = self.plan, self.seen, None
        try:
            yield
        finally:
            self.plan, self.seen = plan, seen

    def _faulted(self, position: int, operation: str) -> bool:
        plan = self.plan
        if not plan.at <= position < plan.at + plan.repeat:
            return False
        return plan.kind != "conflict" or operation in WRITES

    def passes(self, operation: str) -> bool:
        if self.plan is None:
            return True
        if self._faulted(self.seen + 1, operation):
            return False
        self.seen += 1
        return True

    def __call__(self, request, serve):
        if self.plan is None:
            return serve()
        self.seen += 1
        operation = dynamo.operation_of(request)
        if not self._faulted(self.seen, operation):
            return serve()
        self.injected.append(operation)
        return inject(self.plan.kind, request, serve, operation)


def _answer(request, status: int, code: str, message: str, **extra) -> AWSResponse:
    body = json.dumps({"__type": PREFIX + code, "message": message, **extra})
    headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "fault-injected"}
    return AWSResponse(request.url, status, headers, MockRawResponse(body))
