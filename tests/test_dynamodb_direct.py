"""In-process DynamoDB calls reach moto's handler directly (oncall_local/dynamodb_direct.py),
without the SDK signing, sending and parsing an HTTP exchange and without moto's
generic dispatch. Each call of an incident's whole life, and of every item operation,
is answered both ways from the same tables (the other way: the SDK's whole path into
moto's generic dispatch): the answers must be the same."""

import copy
import os
import threading
from collections import Counter

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from chalicelib import db
from chalicelib.models import Incident
from oncall_local import emulator
from tests.dynamo import every_item_operation
from tests.flows import acknowledge, add_level, check_escalations, get_incident, on_call_now, resolve, trigger_ok

# Differ between any two answers: when and under which id each was given.
VOLATILE_HEADERS = {"date", "x-amzn-requestid"}


def _comparable(http, parsed) -> tuple:
    metadata = parsed.get("ResponseMetadata", {})
    headers = {name: value for name, value in http.headers.items() if name.lower() not in VOLATILE_HEADERS}
    answer = {name: value for name, value in parsed.items() if name != "ResponseMetadata"}
    return http.status_code, headers, metadata.get("HTTPStatusCode"), metadata.get("RetryAttempts"), answer


@pytest.fixture
def compared(monkeypatch):
    """Answers per operation: each call is answered directly, the tables are put back
    as they were, and the whole path answers it again (its answer stands). Both under
    the emulator's lock, so that no other thread's call (sweeps query shards in
    parallel) lands between them; the whole path is taken by this thread only."""
    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][os.environ["AWS_DEFAULT_REGION"]]
    client = db.connection().client
    this_thread = threading.local()
    monkeypatch.setattr(emulator, "whole_path_wanted", lambda operation: getattr(this_thread, "whole_path", False))
    checked: Counter[str] = Counter()

    def both(params, model, context, request_signer, **kwargs):
        with emulator.LOCK:
            # The tables and the idempotency tokens seen: the direct answer's traces.
            before = copy.deepcopy((backend.tables, backend.__dict__.get("_client_request_tokens")))
            direct = emulator._answer_call(params, model, request_signer)
            backend.tables, backend.__dict__["_client_request_tokens"] = before
            this_thread.whole_path = True
            try:
                answer = client._make_request(model, params, context)
            finally:
                this_thread.whole_path = False
            assert direct is not None, model.name
            assert _comparable(*direct) == _comparable(*answer), model.name
            checked[model.name] += 1
        return answer

    client.meta.events.register("before-call.dynamodb", both)
    yield checked
    client.meta.events.unregister("before-call.dynamodb", both)


def test_an_incidents_whole_life_is_answered_the_same_both_ways(client, compared, manual_clock):
    on_call_now(client, "db", "alice")
    add_level(client, "db", 1, user="bob")
    opened = trigger_ok(client, "db", "disk full", description="é" * 3000)
    trigger_ok(client, "db", "disk full")
    manual_clock.advance(minutes=10)
    check_escalations(client)
    assert acknowledge(client, opened["id"], "bob").status_code == 200
    assert resolve(client, opened["id"], "bob").status_code == 200
    assert get_incident(client, opened["id"])["status"] == "RESOLVED"
    assert {"GetItem", "UpdateItem", "Query", "PutItem", "TransactWriteItems"} <= set(compared), compared


def test_every_item_operation_is_answered_the_same_both_ways(compared):
    every_item_operation(db.connection().client, Incident.Meta.table_name)
    assert set(compared) >= {"PutItem", "GetItem", "UpdateItem", "Query", "BatchGetItem", "TransactWriteItems"}
    assert set(compared) >= {"TransactGetItems", "BatchWriteItem", "DeleteItem"}, compared


def test_a_request_to_another_endpoint_is_not_answered_in_process(faults):
    params = {
        "method": "POST",
        "url": "http://127.0.0.1:9/",
        "headers": {"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"},
        "body": b"{}",
    }
    client = db.connection().client
    model = client.meta.service_model.operation_model("ListTables")
    faults.arm("throttled", 100)
    assert emulator._answer_call(params, model, client._request_signer) is None
    # The whole path will show the request to the injector: it is not counted here as well.
    assert faults.seen == 0
    assert emulator._answer_call(params | {"url": "https://dynamodb.us-east-1.amazonaws.com/"}, model) is not None
    assert faults.seen == 1
