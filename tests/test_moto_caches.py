"""oncall_local/moto_caches.py changes how long moto takes, never what it answers: each
update and condition below, and each request of a sequence on one item (nested paths,
one text under other names, a refusal then the same text answered, filters, a
cancelled transaction), run by moto as it comes and by moto with the caches, gets the
same item or the same error. Each process runs everything twice, so the second run of
an expression answers from the caches the first one filled."""

import json
import re
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parent.parent
TABLE = "expressions"
REGION = "us-east-1"
NAMES = {
    "#pk": "pk",
    "#a": "a",
    "#b": "b",
    "#n": "n",
    "#s": "s",
    "#l": "l",
    "#m": "m",
    "#k": "k",
    "#nope": "nope",
}
VALUES = {
    ":v": {"S": "v"},
    ":w": {"S": "w"},
    ":prefix": {"S": "st"},
    ":x": {"S": "x"},
    ":zero": {"N": "0"},
    ":one": {"N": "1"},
    ":ten": {"N": "10"},
    ":set": {"SS": ["x", "y"]},
    ":empty": {"L": []},
    ":more": {"L": [{"S": "z"}]},
}
START = {
    "a": {"S": "start"},
    "b": {"S": "b"},
    "n": {"N": "5"},
    "s": {"SS": ["x"]},
    "l": {"L": [{"S": "l0"}, {"S": "l1"}, {"S": "l2"}]},
    "m": {"M": {"k": {"S": "old"}}},
}
UPDATES = [
    "SET #a = :v",
    "SET #n = #n + :one",
    "SET #n = #n - :ten, #b = :w",
    "ADD #n :one, #s :set",
    "REMOVE #b, #l[1]",
    "SET #l = list_append(if_not_exists(#l, :empty), :more)",
    "SET #l = list_append(:more, #l)",
    "SET #m.#k = :v",
    "SET #l[0] = :v",
    "DELETE #s :set",
    "SET #a = :v REMOVE #b ADD #n :one",
    "SET #b = if_not_exists(#nope, :w)",
    # Each of these is refused, each for its own reason.
    "SET #a = :v, #a = :w",
    "SET #pk = :v",
    "SET #nope.#k = :v",
    "ADD #a :one",
    "SET #a = :v SET #b = :w",
    "SET #a = #nope + :one",
    "REMOVE #a SET #a = :v",
]
CONDITIONS = [
    "attribute_exists(#a) AND #n >= :zero",
    "attribute_not_exists(#nope) OR (#a = :v)",
    "#n BETWEEN :zero AND :ten",
    "#a IN (:v, :w)",
    "size(#l) > :zero",
    "begins_with(#a, :prefix)",
    "NOT contains(#s, :x)",
    "(#n < :zero OR #n > :ten) AND attribute_exists(#m.#k)",
]


def _used(expressions: str, table: dict) -> dict:
    placeholders = set(re.findall(r"[#:][A-Za-z0-9_]+", expressions))
    return {name: value for name, value in table.items() if name in placeholders}


# Every update on its own, and every condition over two updates that each take it
# down another path of moto's update (a SET that reads nothing, an ADD and REMOVE).
CASES = [(update, None) for update in UPDATES] + [
    (update, condition) for condition in CONDITIONS for update in ("SET #b = :w", "ADD #n :one REMOVE #l[0]")
]


def _answer(send, request: dict) -> dict:
    """What a request answered, or the error moto gave (with a cancelled transaction's
    reasons), without the request id, the date and the table's name, which differ
    from run to run."""
    try:
        answer = send(**request)
    except ClientError as error:
        return {key: error.response.get(key) for key in ("Error", "CancellationReasons")}
    answer.pop("ResponseMetadata")
    answer.pop("ConsumedCapacity", None)
    return answer


def outcomes(table: str) -> list:
    """Each case from the same starting item: the item moto then holds, and what the
    update answered."""
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    results = []
    for update, condition in CASES:
        key = {"pk": {"S": f"{update}|{condition}"}}
        client.put_item(TableName=table, Item={**key, **START})
        request = {"TableName": table, "Key": key, "UpdateExpression": update, "ReturnValues": "ALL_NEW"}
        both = f"{update} {condition or ''}"
        names, values = _used(both, NAMES), _used(both, VALUES)
        if condition:
            request["ConditionExpression"] = condition
        if names:
            request["ExpressionAttributeNames"] = names
        if values:
            request["ExpressionAttributeValues"] = values
        answer = _answer(client.update_item, request)
        held = client.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
        results.append({"update": update, "condition": condition, "answer": answer, "held": held})
    return results


NESTED = {
    "pk": {"S": "nested"},
    "a": {"S": "start"},
    "n": {"N": "5"},
    "l": {"L": [{"S": "l0"}, {"M": {"x": {"S": "deep"}, "ll": {"L": [{"N": "1"}, {"N": "2"}]}}}]},
}


def _update(update: str, names: dict, values: dict | None = None, condition: str | None = None) -> tuple:
    request = {"Key": {"pk": NESTED["pk"]}, "UpdateExpression": update, "ExpressionAttributeNames": names}
    if values:
        request["ExpressionAttributeValues"] = values
    if condition:
        request["ConditionExpression"] = condition
    return "update_item", {**request, "ReturnValues": "ALL_NEW"}


ONE = {":one": {"N": "1"}}
FILTER = {
    "FilterExpression": "#n > :one AND attribute_exists(#l[1].#ll)",
    "ExpressionAttributeNames": {"#n": "n", "#l": "l", "#ll": "ll"},
    "ExpressionAttributeValues": ONE,
}
SEQUENCE = [
    ("put_item", {"Item": NESTED}),
    _update("SET #x = :v", {"#x": "a"}, {":v": {"S": "v"}}),
    _update("SET #x = :v", {"#x": "n"}, {":v": {"S": "v"}}),
    _update("SET #x = :v", {"#x": "n"}, {":v": {"N": "5"}}),
    _update("SET #a = #z + :one", {"#a": "a", "#z": "z"}, ONE),
    _update("SET #z = :one", {"#z": "z"}, ONE),
    _update("SET #a = #z + :one", {"#a": "a", "#z": "z"}, ONE),
    _update(
        "SET #l[1].#ll[1] = :one",
        {"#l": "l", "#ll": "ll", "#x": "x"},
        {**ONE, ":deep": {"S": "deep"}},
        "#l[1].#x = :deep",
    ),
    _update("REMOVE #l[1].#ll[0]", {"#l": "l", "#ll": "ll"}, ONE, "size(#l[1].#ll) > :one"),
    _update("SET #a = :M", {"#a": "a", "#l": "l"}, {":M": {"S": "M"}}, "attribute_type(#l[1], :M)"),
    _update("SET #a = :L", {"#a": "a", "#l": "l"}, {":L": {"S": "L"}}, "attribute_type(#l[1], :L)"),
    (
        "query",
        {
            "KeyConditionExpression": "pk = :pk",
            **FILTER,
            "ExpressionAttributeValues": {**FILTER["ExpressionAttributeValues"], ":pk": NESTED["pk"]},
        },
    ),
    ("scan", FILTER),
    (
        "put_item",
        {"Item": NESTED, "ConditionExpression": "attribute_not_exists(#pk)", "ExpressionAttributeNames": {"#pk": "pk"}},
    ),
    (
        "delete_item",
        {
            "Key": {"pk": NESTED["pk"]},
            "ConditionExpression": "#n < :one",
            "ExpressionAttributeNames": {"#n": "n"},
            "ExpressionAttributeValues": ONE,
        },
    ),
    (
        "transact_write_items",
        {
            "TransactItems": [
                {
                    "ConditionCheck": {
                        "Key": {"pk": NESTED["pk"]},
                        "ConditionExpression": "#n < :one",
                        "ExpressionAttributeNames": {"#n": "n"},
                        "ExpressionAttributeValues": ONE,
                    }
                },
                {
                    "Update": {
                        "Key": {"pk": {"S": "other"}},
                        "UpdateExpression": "ADD #n :one",
                        "ExpressionAttributeNames": {"#n": "n"},
                        "ExpressionAttributeValues": ONE,
                    }
                },
            ]
        },
    ),
]


def in_sequence(table: str) -> list:
    """SEQUENCE's requests one after another on one item: what each answered."""
    client = boto3.client("dynamodb", region_name=REGION)
    results = []
    for operation, request in SEQUENCE:
        if operation == "transact_write_items":
            items = [
                {kind: {**part, "TableName": table}} for item in request["TransactItems"] for kind, part in item.items()
            ]
            request = {"TransactItems": items}
        else:
            request = {**request, "TableName": table}
        answer = _answer(getattr(client, operation), request)
        results.append({"operation": operation, "answer": answer})
    return results


def main(cached: bool) -> None:
    from moto import mock_aws

    if cached:
        from oncall_local import moto_caches

        moto_caches.install()
    with mock_aws():
        print(json.dumps([outcomes(table) + in_sequence(table) for table in (f"{TABLE}-1", f"{TABLE}-2")]))


def _run(cached: bool) -> list:
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "PATH": "/usr/bin:/bin"}
    script = f"from tests.test_moto_caches import main; main({cached})"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def answers() -> dict:
    return {"as it comes": _run(cached=False), "cached": _run(cached=True)}


def test_every_update_and_condition_gets_the_answer_moto_gives_without_the_caches(answers):
    first, second = answers["cached"]
    assert first == second, "an expression answered from the caches differs from its first answer"
    assert answers["cached"] == answers["as it comes"]


def test_the_cases_reach_moto_s_refusals_and_its_updates(answers):
    first, _ = answers["as it comes"]
    first = [result for result in first if "update" in result]
    refused = {result["update"] for result in first if result["condition"] is None and "Error" in result["answer"]}
    assert refused == set(UPDATES[12:])
    unmet = {
        result["condition"]
        for result in first
        if result["answer"].get("Error", {}).get("Code") == "ConditionalCheckFailedException"
    }
    assert len(unmet) == 3
    changed = [
        result
        for result in first
        if "Error" not in result["answer"] and result["held"] != {**START, "pk": result["held"]["pk"]}
    ]
    assert len(changed) == 22


def test_the_sequence_reaches_refusals_transactions_and_filters(answers):
    first, _ = answers["as it comes"]
    sequence = [result["answer"] for result in first if "operation" in result]
    codes = [answer.get("Error", {}).get("Code") for answer in sequence]
    assert codes == [
        None,
        None,
        None,
        None,
        "ValidationException",
        None,
        None,
        None,
        None,
        None,
        "ConditionalCheckFailedException",
        None,
        None,
        "ConditionalCheckFailedException",
        "ConditionalCheckFailedException",
        "TransactionCanceledException",
    ]
    assert sequence[6]["Attributes"]["a"] == {"N": "2"}
    assert [len(sequence[11]["Items"]), len(sequence[12]["Items"])] == [1, 1]
    assert [reason["Code"] for reason in sequence[15]["CancellationReasons"]] == ["ConditionalCheckFailed", "None"]
