"""The embedded DynamoDB rolls a cancelled transaction back item by item (instead
of moto's copy of whole tables); these check that nothing of it survives."""

import boto3
import pytest
from botocore.exceptions import ClientError

from oncall_local.emulator import Emulator

TABLE = "emulator-rollback"


@pytest.fixture(scope="module")
def dynamodb():
    emulator = Emulator().start()
    client = boto3.client("dynamodb", endpoint_url=emulator.endpoint, region_name="us-east-1")
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    yield client
    emulator.stop()


def key(pk: str, sk: int = 1) -> dict:
    return {"pk": {"S": pk}, "sk": {"N": str(sk)}}


def read(client, pk: str, sk: int = 1) -> dict | None:
    return client.get_item(TableName=TABLE, Key=key(pk, sk), ConsistentRead=True).get("Item")


def update(pk: str, value: str) -> dict:
    return {
        "Update": {
            "TableName": TABLE,
            "Key": key(pk),
            "UpdateExpression": "SET v = :v",
            "ExpressionAttributeValues": {":v": {"S": value}},
        }
    }


def put(pk: str, value: str) -> dict:
    return {"Put": {"TableName": TABLE, "Item": {**key(pk), "v": {"S": value}}}}


def exists(pk: str) -> dict:
    return {"ConditionCheck": {"TableName": TABLE, "Key": key(pk), "ConditionExpression": "attribute_exists(pk)"}}


def delete(pk: str) -> dict:
    return {"Delete": {"TableName": TABLE, "Key": key(pk)}}


def test_a_failed_condition_undoes_the_writes_before_it(dynamodb):
    dynamodb.put_item(TableName=TABLE, Item={**key("a"), "v": {"S": "old"}, "n": {"N": "7"}})
    dynamodb.put_item(TableName=TABLE, Item={**key("d"), "v": {"S": "keep"}})
    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(
            TransactItems=[update("a", "new"), put("b", "new"), delete("d"), exists("missing")]
        )
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert read(dynamodb, "a") == {**key("a"), "v": {"S": "old"}, "n": {"N": "7"}}
    assert read(dynamodb, "b") is None
    assert read(dynamodb, "d") == {**key("d"), "v": {"S": "keep"}}


def test_a_transaction_that_passes_writes_everything(dynamodb):
    dynamodb.put_item(TableName=TABLE, Item={**key("e"), "v": {"S": "old"}})
    dynamodb.transact_write_items(TransactItems=[update("e", "new"), put("f", "new"), exists("d")])
    assert read(dynamodb, "e")["v"] == {"S": "new"}
    assert read(dynamodb, "f")["v"] == {"S": "new"}


def test_two_writes_to_one_item_are_refused_and_leave_it_alone(dynamodb):
    dynamodb.put_item(TableName=TABLE, Item={**key("g"), "v": {"S": "old"}})
    with pytest.raises(ClientError):
        dynamodb.transact_write_items(TransactItems=[update("g", "one"), update("g", "two")])
    assert read(dynamodb, "g")["v"] == {"S": "old"}


def test_a_table_is_never_copied_whole(dynamodb, monkeypatch):
    import copy

    from moto.dynamodb.models.table import Table

    copied = []
    real_deepcopy = copy.deepcopy

    def watching(value, memo=None):
        result = real_deepcopy(value, memo)
        if isinstance(value, Table) and result is not value:
            copied.append(value.name)
        return result

    monkeypatch.setattr(copy, "deepcopy", watching)
    dynamodb.transact_write_items(TransactItems=[put("h", "new")])
    with pytest.raises(ClientError):
        dynamodb.transact_write_items(TransactItems=[put("i", "new"), exists("missing")])
    assert copied == []
    assert read(dynamodb, "i") is None
