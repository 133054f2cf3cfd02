"""Runs the real Lambda handlers outside Lambda: the runtime's context object, and an SQS
event source that does what Lambda's event source mapping does (receive a batch, invoke,
delete what succeeded, leave reported failures for redelivery and so the DLQ)."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools.utilities.typing import LambdaContext

if TYPE_CHECKING:
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]
SQS_MAX_BATCH = 10


@dataclass
class LocalLambdaContext:
    """The attributes and method of the context object the Lambda runtime passes."""

    function_name: str = "paygate-local"
    timeout_seconds: float = 30.0
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = ""
    _started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if not self.invoked_function_arn:
            self.invoked_function_arn = (
                f"arn:aws:lambda:us-east-1:000000000000:function:{self.function_name}"
            )

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


def lambda_context(function_name: str, timeout_seconds: float = 30.0) -> LambdaContext:
    return cast(LambdaContext, LocalLambdaContext(function_name, timeout_seconds))


def sqs_lambda_event(messages: list[MessageTypeDef], queue_arn: str, region: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": dict(message.get("Attributes", {})),
                "messageAttributes": {},
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


@dataclass(frozen=True)
class PollReport:
    received: int
    failed: int


class SqsEventSource:
    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        handler: Handler,
        *,
        function_name: str = "paygate-worker",
        timeout_seconds: float = 30.0,
        batch_size: int = SQS_MAX_BATCH,
        retry_after_seconds: int = 0,
        region: str = "us-east-1",
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._handler = handler
        self._function_name = function_name
        self._timeout = timeout_seconds
        self._batch_size = batch_size
        self._retry_after = retry_after_seconds
        self._region = region
        self._queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]

    def poll_once(self, wait_seconds: int = 0) -> PollReport:
        messages = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return PollReport(0, 0)
        event = sqs_lambda_event(messages, self._queue_arn, self._region)
        try:
            response = self._handler(event, lambda_context(self._function_name, self._timeout))
            failed_ids = {
                failure["itemIdentifier"] for failure in response.get("batchItemFailures", [])
            }
        except Exception:
            # An invocation error fails the whole batch, as in Lambda.
            failed_ids = {message["MessageId"] for message in messages}
        succeeded = [m for m in messages if m["MessageId"] not in failed_ids]
        if succeeded:
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                    for n, m in enumerate(succeeded)
                ],
            )
        for message in messages:
            if message["MessageId"] in failed_ids:
                self._sqs.change_message_visibility(
                    QueueUrl=self._queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self._retry_after,
                )
        return PollReport(len(messages), len(failed_ids))

    def drain(self, max_polls: int = 100) -> int:
        """Poll until a receive comes back empty; returns the number of polls with work."""
        for polls in range(max_polls):
            if self.poll_once().received == 0:
                return polls
        raise RuntimeError(f"the queue was not drained in {max_polls} polls")


class DynamoStreamEventSource:
    """What Lambda's event source mapping does for a DynamoDB stream: read each shard in
    order, invoke with a batch of records, and on a reported failure read again from the
    failed record (it and everything after it are retried; nothing is skipped)."""

    def __init__(
        self,
        streams: DynamoDBStreamsClient,
        stream_arn: str,
        handler: Handler,
        *,
        function_name: str = "paygate-event-publisher",
        batch_size: int = 100,
        from_now: bool = False,
    ) -> None:
        """`from_now`: only what is written from now on (Lambda's LATEST starting position;
        tests sharing one table use it); otherwise from the oldest record (TRIM_HORIZON)."""
        self._streams = streams
        self._arn = stream_arn
        self._handler = handler
        self._function_name = function_name
        self._batch_size = batch_size
        # Where each shard is read next: an iterator, or None once the shard is closed.
        self._iterators: dict[str, str | None] = {}
        self._refresh_shards("LATEST" if from_now else "TRIM_HORIZON")

    def _refresh_shards(self, position: str = "TRIM_HORIZON") -> None:
        shards = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]["Shards"]
        for shard in shards:
            if shard["ShardId"] not in self._iterators:
                self._iterators[shard["ShardId"]] = self._streams.get_shard_iterator(
                    StreamArn=self._arn,
                    ShardId=shard["ShardId"],
                    ShardIteratorType=position,  # type: ignore[arg-type]
                )["ShardIterator"]

    def poll_once(self) -> PollReport:
        self._refresh_shards()
        received = failed = 0
        for shard_id, iterator in list(self._iterators.items()):
            if iterator is None:
                continue
            page = self._streams.get_records(ShardIterator=iterator, Limit=self._batch_size)
            records: list[dict[str, Any]] = [dict(r) for r in page.get("Records", [])]
            self._iterators[shard_id] = page.get("NextShardIterator")
            if not records:
                continue
            received += len(records)
            try:
                response = self._handler({"Records": records}, lambda_context(self._function_name))
                failures = response.get("batchItemFailures", [])
            except Exception:
                failures = [{"itemIdentifier": records[0]["dynamodb"]["SequenceNumber"]}]
            if failures:
                failed += 1
                self._iterators[shard_id] = self._streams.get_shard_iterator(
                    StreamArn=self._arn,
                    ShardId=shard_id,
                    ShardIteratorType="AT_SEQUENCE_NUMBER",
                    SequenceNumber=failures[0]["itemIdentifier"],
                )["ShardIterator"]
        return PollReport(received, failed)

    def drain(self, max_polls: int = 100) -> int:
        for polls in range(max_polls):
            if self.poll_once().received == 0:
                return polls
        raise RuntimeError(f"the stream was not drained in {max_polls} polls")


@dataclass(frozen=True)
class ApiStage:
    """Where an emulated API Gateway REST API lives (goes into events and method ARNs)."""

    account_id: str = "000000000000"
    api_id: str = "local"
    stage: str = "local"
    region: str = "us-east-1"

    def method_arn(self, method: str, path: str) -> str:
        return (
            f"arn:aws:execute-api:{self.region}:{self.account_id}:{self.api_id}/"
            f"{self.stage}/{method}{path}"
        )


def api_gateway_event(
    stage: ApiStage,
    method: str,
    path: str,
    *,
    request_id: str,
    headers: dict[str, str],
    multi_value_headers: dict[str, list[str]] | None = None,
    query: dict[str, str] | None = None,
    body: str | bytes | None = None,
    authorizer_context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST proxy event; a body that is not UTF-8 arrives base64-encoded."""
    text, is_base64 = body, False
    if isinstance(body, bytes):
        try:
            text = body.decode() if body else None
        except UnicodeDecodeError:
            text, is_base64 = base64.b64encode(body).decode(), True
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": multi_value_headers or {k: [v] for k, v in headers.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "body": text,
        "isBase64Encoded": is_base64,
        "requestContext": {
            "accountId": stage.account_id,
            "apiId": stage.api_id,
            "stage": stage.stage,
            "httpMethod": method,
            "path": f"/{stage.stage}{path}",
            "resourcePath": path,
            "requestId": request_id,
            "identity": {"sourceIp": "127.0.0.1"},
            "authorizer": authorizer_context,
        },
    }


def authorizer_event(
    stage: ApiStage,
    method: str,
    path: str,
    *,
    request_id: str,
    headers: dict[str, str] | None,
    multi_value_headers: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """The event of a Lambda REQUEST authorizer for one call of the API."""
    return {
        "type": "REQUEST",
        "methodArn": stage.method_arn(method, path),
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": multi_value_headers or {k: [v] for k, v in (headers or {}).items()},
        "queryStringParameters": {},
        "requestContext": {"requestId": request_id, "stage": stage.stage},
    }
