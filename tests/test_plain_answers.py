"""The embedded emulator writes item answers as plain JSON (oncall_local/plain_answers.py)
instead of through moto's serializer: every answer of a whole incident's life, and of
each item operation on its own, must be the one moto's serializer gives."""

import json
from collections import Counter

import boto3
import pytest
from moto.dynamodb.responses import DynamoHandler

from chalicelib.models import Incident
from oncall_local import plain_answers
from tests.dynamo import every_item_operation
from tests.flows import (
    acknowledge,
    add_level,
    check_escalations,
    get_incident,
    list_incidents,
    metrics,
    on_call_now,
    resolve,
    trigger,
    trigger_ok,
)


def typed(value):
    """`value` with each number's type beside it: 1 and 1.0 are different answers to botocore."""
    if isinstance(value, dict):
        return {name: typed(member) for name, member in value.items()}
    if isinstance(value, list):
        return [typed(member) for member in value]
    return (type(value).__name__, value)


@pytest.fixture
def compared(monkeypatch):
    """Answers per operation, each checked against moto's own serializer."""
    checked: Counter[str] = Counter()
    plain = DynamoHandler.serialized

    def both(handler, action_result):
        status, headers, body = plain(handler, action_result)
        own_status, own_headers, own_body = plain_answers.moto_serialized(handler, action_result)
        operation = handler._get_action()
        assert (status, headers) == (own_status, own_headers), operation
        assert typed(json.loads(body)) == typed(json.loads(own_body)), operation
        if operation in plain_answers.ITEM_OPERATIONS and not isinstance(action_result.result, Exception):
            checked[operation] += 1
        return status, headers, body

    monkeypatch.setattr(DynamoHandler, "serialized", both)
    return checked


def test_an_incidents_whole_life_is_answered_as_moto_answers_it(client, compared, manual_clock):
    on_call_now(client, "db", "alice")
    add_level(client, "db", 1, user="bob")
    opened = trigger_ok(client, "db", "disk full", description="é" * 3000)
    assert trigger(client, "db", "disk full").status_code == 200
    manual_clock.advance(minutes=10)
    check_escalations(client)
    assert acknowledge(client, opened["id"], "bob").status_code == 200
    assert resolve(client, opened["id"], "bob").status_code == 200
    assert get_incident(client, opened["id"])["status"] == "RESOLVED"
    assert list_incidents(client)["incidents"]
    assert list_incidents(client, "?status=RESOLVED&service_name=db")["incidents"]
    metrics(client, "db")
    manual_clock.advance(hours=1)
    check_escalations(client)
    assert {"GetItem", "UpdateItem", "Query", "BatchGetItem", "TransactWriteItems"} <= set(compared), compared


def test_each_item_operation_is_answered_as_moto_answers_it(compared):
    every_item_operation(boto3.client("dynamodb", region_name="us-east-1"), Incident.Meta.table_name)
    assert set(compared) == plain_answers.ITEM_OPERATIONS, compared
