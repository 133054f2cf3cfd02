"""What the webhook tests share: a real HTTP receiver on loopback that answers as scripted,
and a world of the real handlers on moto (the payments stream read as Lambda's event
source reads it, the deliveries queue drained as Lambda's) driven by a fake clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from botocore.config import Config

from cli.lambda_emulation import DynamoStreamEventSource, Handler, SqsEventSource
from cli.provisioning import create_queues, create_redriven_queue
from core.adapters.http_webhook_sender import HttpWebhookSender
from core.adapters.sqs_deliveries import SqsDeliveryQueue
from core.bootstrap import Services
from core.resources import DELIVERIES_DLQ, DELIVERIES_QUEUE, SLOW_DELIVERIES_QUEUE
from tests.conftest import AwsEnv
from tests.support import FakeClock
from workers import event_publisher, webhook_delivery

# What the sender resolves host names with (tests answer for the name servers).
RESOLVER = "core.adapters.http_webhook_sender.resolve"
PUBLIC_ADDRESS = "93.184.215.14"


# The sender's timeout in these tests (10 s in production): a receiver slower than this
# has not answered; in the fast lane, one slower than the fast lane's (3 s in production).
# Shorter than production's, yet far above a loopback receiver's answer even on a loaded
# 2-core machine: at 0.25 s a busy CI run once cut a prompt answer short (a duplicate).
TEST_TIMEOUT_SECONDS = 2.0
TEST_FAST_LANE_SECONDS = 1.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers each POST with the next scripted status (then the last one again); `delay`
    seconds before answering; records what it received."""

    statuses: list[int] = field(default_factory=lambda: [200])
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append(Received(self.path, dict(self.headers), body))
                time.sleep(receiver.delay)
                status = (
                    receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                )
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()


@dataclass
class WebhookWorld:
    aws: AwsEnv
    services: Services
    clock: FakeClock
    stream: DynamoStreamEventSource
    deliveries: SqsEventSource
    slow_deliveries: SqsEventSource
    # Every batch of stream records the publisher was invoked with.
    batches: list[dict[str, Any]] = field(default_factory=list)
    runners: dict[str, Services] = field(default_factory=dict)

    def publish_events(self) -> None:
        self.stream.drain()

    def deliver_due(self) -> None:
        """Run every delivery job visible now (fake clock: not yet due ones go back)."""
        for _ in range(50):
            received = self.deliveries.poll_once().received
            received += self.slow_deliveries.poll_once().received
            if received == 0:
                return

    def run(self, rounds: int = 1, advance: float = 0.0) -> None:
        for _ in range(rounds):
            self.publish_events()
            self.deliver_due()
            self.clock.advance(advance)

    def dead_letters(self) -> list[dict[str, Any]]:
        return self.aws.queued_bodies(self.services.settings.deliveries_dlq_url)


def webhook_world(aws: AwsEnv, clock: FakeClock) -> WebhookWorld:
    prefix = f"w{time.monotonic_ns()}"
    queue_url, dlq_url = create_queues(aws.sqs, prefix, DELIVERIES_QUEUE, DELIVERIES_DLQ)
    slow_url = create_redriven_queue(aws.sqs, prefix, SLOW_DELIVERIES_QUEUE, dlq_url)
    settings = aws.settings.replace(
        deliveries_queue_url=queue_url,
        deliveries_dlq_url=dlq_url,
        slow_deliveries_queue_url=slow_url,
        webhooks_allow_loopback=1,
    )
    clients = aws.clients(settings)
    services = Services(
        settings,
        clients,
        clock,
        overrides={
            "deliveries": SqsDeliveryQueue(
                clients.sqs, queue_url, dlq_url, slow_url, max_delay_seconds=0
            ),
            "webhook_sender": HttpWebhookSender(
                allow_loopback=True,
                timeout_seconds=TEST_TIMEOUT_SECONDS,
                fast_lane_seconds=TEST_FAST_LANE_SECONDS,
            ),
        },
    )
    batches: list[dict[str, Any]] = []
    # Who runs each Lambda (the world's services, unless a test hands in others).
    runners = {"publisher": services, "deliverer": services}

    def publish(event: dict[str, Any], context: Any) -> dict[str, Any]:
        batches.append(event)
        return dict(event_publisher.handle(event, context, runners["publisher"]))

    stream = payments_stream(aws, publish)
    deliveries, slow_deliveries = (
        SqsEventSource(
            aws.sqs,
            url,
            lambda event, context: webhook_delivery.handle(event, context, runners["deliverer"]),
        )
        for url in (queue_url, slow_url)
    )
    world = WebhookWorld(aws, services, clock, stream, deliveries, slow_deliveries, batches)
    world.runners = runners
    return world


def payments_stream(aws: AwsEnv, handler: Handler, **options: Any) -> DynamoStreamEventSource:
    """The payments table's stream as Lambda's event source reads it, from now on."""
    # moto answers only the regional endpoint, not the account-based one botocore picks
    # for a stream ARN's account.
    streams = aws.session.client(
        "dynamodbstreams", config=Config(account_id_endpoint_mode="disabled")
    )
    table = aws.dynamodb.describe_table(TableName=aws.settings.payments_table)["Table"]
    return DynamoStreamEventSource(
        streams, table["LatestStreamArn"], handler, from_now=True, **options
    )


def receiving(*statuses: int, delay: float = 0.0) -> Iterator[Receiver]:
    receiver = Receiver(list(statuses) or [200], delay).start()
    try:
        yield receiver
    finally:
        receiver.stop()
