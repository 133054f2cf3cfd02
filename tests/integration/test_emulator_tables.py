"""The local emulator's faster table queries (cli/emulator.py) answer as moto's did: the
same items, in the same order, paged the same way, for a table with a sort key and one
without; an index query and a scan still see every partition."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models.table import Table

from cli.emulator import faster_table_queries

# A few partitions of an events-like table: the event and its deliveries share a prefix.
_PARTITIONS = [f"pay_{n:03d}" for n in range(12)]
_ENTRIES = ["evt#2", "evt#2#we_a", "evt#2#we_b", "evt#3", "evt#3#we_a", "evt#10"]


def _query(table: str, condition: str, values: dict[str, str], **more: Any) -> dict[str, Any]:
    return {
        "TableName": table,
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": {name: {"S": value} for name, value in values.items()},
        **more,
    }


# Every query a test asks, against the same items with and without the patch.
_QUERIES = [
    _query(
        "events",
        "paymentId = :p AND begins_with(entry, :e)",
        {":p": "pay_007", ":e": "evt#3"},
        ConsistentRead=True,
    ),
    _query("events", "paymentId = :p", {":p": "pay_003"}, ScanIndexForward=False),
    _query("events", "paymentId = :p AND entry > :e", {":p": "pay_011", ":e": "evt#2#we_a"}),
    _query(
        "events",
        "paymentId = :p",
        {":p": "pay_005"},
        FilterExpression="attribute_exists(delivered)",
    ),
    _query("events", "paymentId = :p", {":p": "pay_nobody"}),
    _query("events", "merchantId = :m", {":m": "m-1"}, IndexName="by-merchant"),
    _query("payments", "paymentId = :p", {":p": "pay_004"}),
    _query("payments", "paymentId = :p", {":p": "pay_nobody"}),
]


def _answers(patched: bool) -> dict[str, Any]:
    """Every query's items, each page by page (Limit 2), and a scan of each table. Each in
    a Region of its own: a mock already active (another test's) keeps its tables."""
    with mock_aws():
        region = "eu-west-2" if patched else "eu-west-1"
        dynamodb = boto3.client("dynamodb", region_name=region)
        _tables(dynamodb)
        if patched:
            faster_table_queries()
        answers: dict[str, Any] = {}
        for n, query in enumerate(_QUERIES):
            answers[f"query {n}"] = dynamodb.query(**query)["Items"]
            answers[f"query {n} in pages"] = _pages(dynamodb, query)
        for table in ("events", "payments"):
            answers[f"scan {table}"] = dynamodb.scan(TableName=table)["Items"]
        return answers


def _pages(dynamodb: Any, query: dict[str, Any]) -> list[list[Any]]:
    pages, more = [], {"Limit": 2}
    while True:
        answer = dynamodb.query(**query, **more)
        pages.append(answer["Items"])
        if "LastEvaluatedKey" not in answer:
            return pages
        more = {"Limit": 2, "ExclusiveStartKey": answer["LastEvaluatedKey"]}


def _tables(dynamodb: Any) -> None:
    dynamodb.create_table(
        TableName="events",
        KeySchema=[
            {"AttributeName": "paymentId", "KeyType": "HASH"},
            {"AttributeName": "entry", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "paymentId", "AttributeType": "S"},
            {"AttributeName": "entry", "AttributeType": "S"},
            {"AttributeName": "merchantId", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-merchant",
                "KeySchema": [
                    {"AttributeName": "merchantId", "KeyType": "HASH"},
                    {"AttributeName": "entry", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.create_table(
        TableName="payments",
        KeySchema=[{"AttributeName": "paymentId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "paymentId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    # Written out of order, so an answer in order is the query's doing.
    for n, payment in enumerate(reversed(_PARTITIONS)):
        dynamodb.put_item(TableName="payments", Item={"paymentId": {"S": payment}})
        for entry in reversed(_ENTRIES):
            item: dict[str, Any] = {
                "paymentId": {"S": payment},
                "entry": {"S": entry},
                "merchantId": {"S": f"m-{n % 3}"},
            }
            if entry.endswith("we_a"):
                item["delivered"] = {"BOOL": True}
            dynamodb.put_item(TableName="events", Item=item)


@pytest.fixture
def restore_moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Undone after the test: the patch is for the emulator's process only.
    monkeypatch.setattr(Table, "query", Table.query)
    monkeypatch.setattr(Table, "all_items", Table.all_items)
    yield


@pytest.mark.usefixtures("restore_moto")
def test_queries_answer_as_moto_did() -> None:
    expected = _answers(patched=False)

    answered = _answers(patched=True)

    assert answered == expected
    # The cases are not vacuous: the prefix query finds the event and its delivery, the
    # paged ones span pages, the index query spans partitions.
    assert [i["entry"]["S"] for i in answered["query 0"]] == ["evt#3", "evt#3#we_a"]
    assert len(answered["query 1 in pages"]) > 1
    assert len({i["paymentId"]["S"] for i in answered["query 5"]}) == 4
    assert answered["query 4"] == [] and answered["query 7"] == []
