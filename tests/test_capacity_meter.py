"""The capacity meter (tests/capacity.py) prices requests as DynamoDB bills them:
checked here on a table of its own, against figures worked out by hand."""

import boto3
import pytest

from tests.capacity import metered

TABLE = "priced"


@pytest.fixture
def dynamodb():
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "kind", "AttributeType": "S"},
            {"AttributeName": "due", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-kind",
                "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "due",
                "KeySchema": [{"AttributeName": "due", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


def item(pk: str, padding: int, **more) -> dict:
    return {"pk": {"S": pk}, "p": {"S": "x" * padding}, **{name: {"S": value} for name, value in more.items()}}


def test_a_put_costs_a_unit_per_kb_and_one_per_index_entry(dynamodb):
    with metered() as meter:
        dynamodb.put_item(TableName=TABLE, Item=item("a", 1500, kind="k"))
    # 1.5 KB on the table (2), the same entry in the ALL index (2), not in the sparse one.
    assert meter.write_units == 4
    assert meter.partitions == {(TABLE, "a"): 2, (f"{TABLE}/by-kind", "k"): 2}


def test_a_transaction_doubles_the_table_not_the_index(dynamodb):
    with metered() as meter:
        dynamodb.transact_write_items(TransactItems=[{"Put": {"TableName": TABLE, "Item": item("a", 100, due="d")}}])
    assert meter.write_units == 2 + 1


def test_an_index_key_change_is_a_delete_and_a_put_and_an_unprojected_change_is_free(dynamodb):
    dynamodb.put_item(TableName=TABLE, Item=item("a", 100, kind="k", due="d1"))
    with metered() as meter:
        dynamodb.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "a"}},
            UpdateExpression="SET due = :d",
            ExpressionAttributeValues={":d": {"S": "d2"}},
        )
    # the table (1), the ALL index's entry changed in place (1), the keys-only one moved (2).
    assert meter.write_units == 1 + 1 + 2
    with metered() as meter:
        dynamodb.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "a"}},
            UpdateExpression="SET p = :p",
            ExpressionAttributeValues={":p": {"S": "y" * 100}},
        )
    assert meter.write_units == 1 + 1  # the keys-only entry is untouched


def test_an_update_is_priced_on_the_larger_of_before_and_after(dynamodb):
    dynamodb.put_item(TableName=TABLE, Item=item("a", 3000))
    with metered() as meter:
        dynamodb.update_item(TableName=TABLE, Key={"pk": {"S": "a"}}, UpdateExpression="REMOVE p")
    assert meter.write_units == 3


def test_reads_cost_a_unit_per_4_kb_half_when_eventually_consistent(dynamodb):
    dynamodb.put_item(TableName=TABLE, Item=item("a", 5000))
    with metered() as meter:
        dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "a"}}, ConsistentRead=True)
        dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "a"}})
    assert meter.read_units == 2 + 1


def test_a_batch_get_prices_each_key_as_a_get_found_or_not(dynamodb):
    dynamodb.put_item(TableName=TABLE, Item=item("a", 5000))
    dynamodb.put_item(TableName=TABLE, Item=item("b", 100))
    keys = [{"pk": {"S": name}} for name in ("a", "b", "missing")]
    with metered() as meter:
        dynamodb.batch_get_item(RequestItems={TABLE: {"Keys": keys, "ConsistentRead": True}})
    assert meter.read_units == 2 + 1 + 1
    with metered() as meter:
        dynamodb.batch_get_item(RequestItems={TABLE: {"Keys": keys}})
    assert meter.read_units == (2 + 1 + 1) / 2


def test_the_meter_keeps_what_each_write_changed_as_a_stream_would_see_it(dynamodb):
    with metered() as meter:
        dynamodb.put_item(TableName=TABLE, Item=item("a", 10))
        dynamodb.put_item(TableName=TABLE, Item=item("a", 10))  # the same item again: no change, no record
        with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
            dynamodb.put_item(TableName=TABLE, Item=item("a", 20), ConditionExpression="attribute_not_exists(pk)")
        dynamodb.delete_item(TableName=TABLE, Key={"pk": {"S": "a"}})
    assert [(written.old is None, written.new is None) for written in meter.writes] == [(True, False), (False, True)]
    assert meter.writes[0].new == item("a", 10)
    assert {written.table for written in meter.writes} == {TABLE}
