"""The embedded DynamoDB keeps DynamoDB's documented rules where moto does not
(oncall_local/dynamodb_rules.py): idempotency tokens and the 400 KB item size,
counted as chalicelib/itemsize.py counts it. The same rules run in these
in-process tests and behind `make run`."""

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib.itemsize import MAX_ITEM_BYTES, item_size, number_size, value_size
from oncall_local.dynamodb_rules import TOKEN_WINDOW_SECONDS, TokenLedger

TABLE = "rules"


@pytest.fixture
def dynamodb():
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


def count_of(client, pk: str) -> int | None:
    item = client.get_item(TableName=TABLE, Key={"pk": {"S": pk}}, ConsistentRead=True).get("Item")
    return int(item["n"]["N"]) if item and "n" in item else None


def bump(pk: str, condition: str | None = None) -> list[dict]:
    update = {
        "TableName": TABLE,
        "Key": {"pk": {"S": pk}},
        "UpdateExpression": "ADD n :one",
        "ExpressionAttributeValues": {":one": {"N": "1"}},
    }
    if condition:
        update["ConditionExpression"] = condition
    return [{"Update": update}]


def code_of(error: ClientError) -> str:
    return error.response["Error"]["Code"]


# --- idempotency tokens ----------------------------------------------------------------------


def test_a_repeated_token_answers_the_stored_success_and_writes_nothing_again(dynamodb):
    for _ in range(3):
        dynamodb.transact_write_items(TransactItems=bump("a"), ClientRequestToken="token-1")
    assert count_of(dynamodb, "a") == 1
    dynamodb.transact_write_items(TransactItems=bump("a"), ClientRequestToken="token-2")
    assert count_of(dynamodb, "a") == 2


def test_the_same_token_with_other_parameters_is_a_mismatch(dynamodb):
    dynamodb.transact_write_items(TransactItems=bump("a"), ClientRequestToken="token-1")
    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(TransactItems=bump("b"), ClientRequestToken="token-1")
    assert code_of(refused.value) == "IdempotentParameterMismatchException"
    assert (count_of(dynamodb, "a"), count_of(dynamodb, "b")) == (1, None)


def test_a_token_is_new_again_after_ten_minutes(dynamodb, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(TokenLedger, "clock", staticmethod(lambda: now[0]))
    dynamodb.transact_write_items(TransactItems=bump("a"), ClientRequestToken="token-1")
    now[0] += TOKEN_WINDOW_SECONDS - 1
    dynamodb.transact_write_items(TransactItems=bump("a"), ClientRequestToken="token-1")
    assert count_of(dynamodb, "a") == 1
    now[0] += 2
    dynamodb.transact_write_items(TransactItems=bump("a"), ClientRequestToken="token-1")
    assert count_of(dynamodb, "a") == 2


def test_a_cancelled_transaction_is_not_remembered_under_its_token(dynamodb):
    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(TransactItems=bump("a", "attribute_exists(pk)"), ClientRequestToken="t")
    assert code_of(cancelled.value) == "TransactionCanceledException"
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "a"}})
    dynamodb.transact_write_items(TransactItems=bump("a", "attribute_exists(pk)"), ClientRequestToken="t")
    assert count_of(dynamodb, "a") == 1


# --- item size ---------------------------------------------------------------------------------


def test_sizes_are_counted_as_dynamodb_documents_them():
    assert value_size({"S": "héllo"}) == 6
    assert [number_size(n) for n in ("0", "7", "12", "123", "-1234.5", "1000", "0.00012", "1E+5")] == [
        1,
        2,
        2,
        3,
        4,
        2,
        2,
        2,
    ]
    assert value_size({"BOOL": True}) == value_size({"NULL": True}) == 1
    assert value_size({"L": []}) == value_size({"M": {}}) == 3
    # 3 for the list, and per element 1 plus the element: 1 + 2 ("a" and "bc").
    assert value_size({"L": [{"S": "a"}, {"S": "bc"}]}) == 3 + (1 + 1) + (1 + 2)
    # A map element also counts its name.
    assert value_size({"M": {"key": {"S": "v"}}}) == 3 + 1 + 3 + 1
    assert value_size({"SS": ["a", "bc"]}) == 3
    assert item_size({"pk": {"S": "x"}, "numbers": {"L": [{"N": "1"}] * 3}}) == (2 + 1) + (7 + 3 + 3 * 3)


def _put(client, pk: str, padding: int, **more) -> None:
    client.put_item(TableName=TABLE, Item={"pk": {"S": pk}, "p": {"S": "x" * padding}, **more})


def test_an_item_of_exactly_400_kb_is_stored_and_one_byte_more_is_refused(dynamodb):
    overhead = item_size({"pk": {"S": "a"}, "p": {"S": ""}})
    _put(dynamodb, "a", MAX_ITEM_BYTES - overhead)
    with pytest.raises(ClientError) as refused:
        _put(dynamodb, "b", MAX_ITEM_BYTES - overhead + 1)
    assert code_of(refused.value) == "ValidationException"
    assert "Item size has exceeded the maximum allowed size" in refused.value.response["Error"]["Message"]


def test_list_overhead_counts_where_moto_would_not(dynamodb):
    # 20,000 one-digit numbers: moto counts 20 KB, DynamoDB 3 + 20,000 x (1 + 2) bytes.
    numbers = {"L": [{"N": "1"}] * 20_000}
    room = MAX_ITEM_BYTES - item_size({"pk": {"S": "a"}, "p": {"S": ""}, "l": numbers})
    _put(dynamodb, "a", room, l=numbers)
    with pytest.raises(ClientError):
        _put(dynamodb, "b", room + 1, l=numbers)


def test_an_update_that_would_outgrow_the_limit_is_refused_and_changes_nothing(dynamodb):
    overhead = item_size({"pk": {"S": "a"}, "p": {"S": ""}})
    _put(dynamodb, "a", MAX_ITEM_BYTES - overhead - 100)
    grow = {
        "TableName": TABLE,
        "Key": {"pk": {"S": "a"}},
        "UpdateExpression": "SET q = :q",
        "ExpressionAttributeValues": {":q": {"S": "y" * 200}},
    }
    with pytest.raises(ClientError) as refused:
        dynamodb.update_item(**grow)
    assert code_of(refused.value) == "ValidationException"
    stored = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "a"}}, ConsistentRead=True)["Item"]
    assert set(stored) == {"pk", "p"}
    with pytest.raises(ClientError):
        dynamodb.transact_write_items(TransactItems=[{"Update": grow}])
    stored = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "a"}}, ConsistentRead=True)["Item"]
    assert set(stored) == {"pk", "p"}
