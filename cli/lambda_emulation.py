"""Runs the real Lambda handlers outside Lambda: the runtime's context object, and an SQS
event source that does what Lambda's event source mapping does (receive a batch, invoke,
delete what succeeded, leave reported failures for redelivery and so the DLQ)."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools.utilities.typing import LambdaContext

from core.observability import logger
from core.resources import PAYMENTS_STREAM_SOURCE, StreamSourceSpec

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


# The emulated function the current thread (or task) works for. Lambda gives each function
# a process of its own; here several share one, and powertools' logger keeps one set of keys
# for all its threads, so the local logs name each line's function from here instead.
_running: ContextVar[str | None] = ContextVar("paygate_emulated_function", default=None)


def running_function() -> str | None:
    """The function the last invocation started in this thread was for, if any."""
    return _running.get()


def lambda_context(function_name: str, timeout_seconds: float = 30.0) -> LambdaContext:
    """The context of one invocation of `function_name`, which from now on this thread
    works for (every emulated invocation starts with this)."""
    _running.set(function_name)
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
    """With `max_concurrency` above 1, as Lambda's maximum concurrency: a poll hands its
    batch to an instance of its own and returns at once, while one is free."""

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
        max_concurrency: int = 1,
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
        self._free = threading.BoundedSemaphore(max_concurrency)
        self._instances = (
            ThreadPoolExecutor(max_concurrency, thread_name_prefix=function_name)
            if max_concurrency > 1
            else None
        )

    def poll_once(self, wait_seconds: int = 0) -> PollReport:
        """Receive a batch and invoke the handler with it; with instances of its own, only
        while one is free, and without waiting for it (failures then count as none)."""
        if self._instances is None:
            return self._invoke(self._receive(wait_seconds))
        if not self._free.acquire(blocking=False):
            return PollReport(0, 0)
        try:
            messages = self._receive(wait_seconds)
        except BaseException:
            self._free.release()
            raise
        if not messages:
            self._free.release()
            return PollReport(0, 0)
        self._instances.submit(self._invoke_and_free, messages)
        return PollReport(len(messages), 0)

    def _invoke_and_free(self, messages: list[MessageTypeDef]) -> None:
        try:
            self._invoke(messages)
        except Exception as error:
            logger.error("event source error", extra={"errorType": type(error).__name__})
        finally:
            self._free.release()

    def _receive(self, wait_seconds: int) -> list[MessageTypeDef]:
        return self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])

    def _invoke(self, messages: list[MessageTypeDef]) -> PollReport:
        """What Lambda does with a batch: invoke, delete what succeeded, make the rest
        visible again after `retry_after_seconds`."""
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


@dataclass
class _StreamBatch:
    """Records of one shard handed to the function together, and how often it was retried."""

    records: list[dict[str, Any]]
    retries: int = 0


class DynamoStreamEventSource:
    """What Lambda's event source mapping does for a DynamoDB stream (`source`, the deployed
    mapping's settings): read each shard in order and invoke with a batch of its records.
    A record reported failed, and everything after it, is handed over again (the records
    before it are done); a batch that fails as a whole is split in two until the failing
    record is alone, which is then retried `retry_attempts` times. If it still fails, a
    note of where it is goes to `on_failure` (Lambda's invocation record for a stream, never
    the record itself) and the shard moves on."""

    def __init__(
        self,
        streams: DynamoDBStreamsClient,
        stream_arn: str,
        handler: Handler,
        *,
        function_name: str = "paygate-event-publisher",
        source: StreamSourceSpec = PAYMENTS_STREAM_SOURCE,
        on_failure: Callable[[dict[str, Any]], None] | None = None,
        from_now: bool = False,
    ) -> None:
        """`from_now`: only what is written from now on (Lambda's LATEST starting position;
        tests sharing one table use it); otherwise from the oldest record (TRIM_HORIZON).
        Without `on_failure`, what is given up on is dropped, as Lambda does without one."""
        self._streams = streams
        self._arn = stream_arn
        self._handler = handler
        self._function_name = function_name
        self._source = source
        self._on_failure = on_failure
        # Where each shard is read next: an iterator, or None once the shard is closed.
        self._iterators: dict[str, str | None] = {}
        # Records read from each shard that are still to be handed over, oldest first.
        self._pending: dict[str, list[_StreamBatch]] = {}
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
                self._pending[shard["ShardId"]] = []

    def poll_once(self) -> PollReport:
        """One invocation per shard with records: those left from a failure first."""
        self._refresh_shards()
        received = failed = 0
        for shard_id in list(self._iterators):
            batch = self._next_batch(shard_id)
            if batch is None:
                continue
            received += len(batch.records)
            if not self._invoke(shard_id, batch):
                failed += 1
        return PollReport(received, failed)

    def _next_batch(self, shard_id: str) -> _StreamBatch | None:
        pending = self._pending[shard_id]
        if pending:
            return pending.pop(0)
        iterator = self._iterators[shard_id]
        if iterator is None:
            return None
        page = self._streams.get_records(ShardIterator=iterator, Limit=self._source.batch_size)
        self._iterators[shard_id] = page.get("NextShardIterator")
        records = [dict(r) for r in page.get("Records", [])]
        return _StreamBatch(records) if records else None

    def _invoke(self, shard_id: str, batch: _StreamBatch) -> bool:
        """Hand `batch` over; on a failure, queue what is to be retried. True if it succeeded."""
        context = lambda_context(self._function_name)
        try:
            response = self._handler({"Records": batch.records}, context)
            failures = response.get("batchItemFailures", [])
            function_error = None
        except Exception:
            failures, function_error = [{}], "Unhandled"
        if not failures:
            return True
        numbers = [record["dynamodb"]["SequenceNumber"] for record in batch.records]
        reported = failures[0].get("itemIdentifier")
        left = batch.records[numbers.index(reported) :] if reported in numbers else batch.records
        retry: list[_StreamBatch]
        if len(left) < len(batch.records):
            retry = [_StreamBatch(left)]  # the records before the failed one are done
        elif self._source.bisect_batch_on_error and len(left) > 1:
            half = len(left) // 2
            retry = [_StreamBatch(left[:half]), _StreamBatch(left[half:])]
        elif batch.retries < self._source.retry_attempts:
            retry = [_StreamBatch(left, batch.retries + 1)]
        else:
            retry = []
            self._give_up(shard_id, batch, context, function_error)
        self._pending[shard_id][:0] = retry
        return False

    def _give_up(
        self,
        shard_id: str,
        batch: _StreamBatch,
        context: LambdaContext,
        function_error: str | None,
    ) -> None:
        first, last = batch.records[0]["dynamodb"], batch.records[-1]["dynamodb"]
        logger.error(
            "stream records failed on every retry; their position goes to the on-failure "
            "destination and the shard moves on",
            extra={
                "shardId": shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "batchSize": len(batch.records),
            },
        )
        if self._on_failure is None:
            return
        response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if function_error:
            response["functionError"] = function_error
        self._on_failure(
            {
                "requestContext": {
                    "requestId": context.aws_request_id,
                    "functionArn": context.invoked_function_arn,
                    "condition": "RetryAttemptsExhausted",
                    "approximateInvokeCount": batch.retries + 1,
                },
                "responseContext": response,
                "version": "1.0",
                "timestamp": _iso(datetime.now(UTC)),
                "DDBStreamBatchInfo": {
                    "shardId": shard_id,
                    "startSequenceNumber": first["SequenceNumber"],
                    "endSequenceNumber": last["SequenceNumber"],
                    "approximateArrivalOfFirstRecord": _arrival(first),
                    "approximateArrivalOfLastRecord": _arrival(last),
                    "batchSize": len(batch.records),
                    "streamArn": self._arn,
                },
            }
        )

    def drain(self, max_polls: int = 100) -> int:
        for polls in range(max_polls):
            if self.poll_once().received == 0:
                return polls
        raise RuntimeError(f"the stream was not drained in {max_polls} polls")


def sqs_destination(sqs: SQSClient, queue_url: str) -> Callable[[dict[str, Any]], None]:
    """An on-failure destination that is an SQS queue (the invocation record as JSON)."""

    def send(record: dict[str, Any]) -> None:
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(record))

    return send


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _arrival(change: dict[str, Any]) -> str | None:
    created = change.get("ApproximateCreationDateTime")
    return _iso(created) if isinstance(created, datetime) else None


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
