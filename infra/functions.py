"""Functions: every Lambda from one factory, each granted only what it needs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from core.resources import (
    DELIVERY_FUNCTION_TIMEOUT_SECONDS,
    METRICS_NAMESPACE,
    SERVICE,
    WORKER_TIMEOUT_SECONDS,
    EnvVar,
)
from core.settings import default_of, tunable
from handlers.routes import (
    CREATE_PAYMENT,
    CREATE_WEBHOOK_ENDPOINT,
    DELETE_WEBHOOK_ENDPOINT,
    GET_PAYMENT,
    LIST_PAYMENT_EVENTS,
    LIST_PAYMENTS,
    LIST_WEBHOOK_ENDPOINTS,
    MAKE_PAYMENT,
    OPERATION_ROUTES,
    ROTATE_WEBHOOK_SECRET,
    ROUTES,
    Route,
)
from infra import access
from infra.messaging import Messaging
from infra.scaling import RECONCILER_CONCURRENCY, Scaling
from infra.stages import StageProfile
from infra.storage import Storage

# CDK context: what make-payment writes (core/settings.py card_format; docs/deploy.md).
CARD_FORMAT = "cardFormat"
RUNTIME = lambda_.Runtime.PYTHON_3_14
# What every caller invokes (API Gateway, the authorizer, the event source, the schedule):
# a published version, which a prod stage's CodeDeploy canary shifts (infra/rollouts.py).
LIVE_ALIAS = "live"
ARCHITECTURE = lambda_.Architecture.ARM_64
# A function's memory unless its spec says more (the API's functions among them).
DEFAULT_MEMORY_MB = 256


@dataclass(frozen=True)
class FunctionSpec:
    construct_id: str
    handler: str
    description: str
    timeout_seconds: int = 10
    memory_mb: int = DEFAULT_MEMORY_MB
    # Whether a stage with SnapStart (infra/stages.py) starts it from a snapshot: the API's
    # functions, whose cold start a merchant waits for (bench/RESULTS.md, section 1).
    snap_start: bool = False

    @classmethod
    def of_route(cls, route: Route) -> FunctionSpec:
        return cls(
            route.construct_id,
            route.lambda_handler,
            f"{route.method} {route.path}",
            snap_start=route.snap_start,
        )


AUTHORIZER = FunctionSpec(
    "Authorizer", "handlers.authorizer.lambda_handler", "API key -> merchantId", timeout_seconds=5
)
WORKER = FunctionSpec(
    "Worker",
    "workers.payment_worker.lambda_handler",
    "SQS payment jobs -> bank -> outcome",
    timeout_seconds=WORKER_TIMEOUT_SECONDS,
    memory_mb=512,
)
# Most of the period between two runs, so a backlog is worked through in as few runs as
# possible, and never longer than it, so two runs never overlap.
RECONCILE_RUN_SECONDS = default_of("reconcile_every_seconds") * 4 // 5
RECONCILER = FunctionSpec(
    "Reconciler",
    "workers.reconciler.lambda_handler",
    "re-queues payments stalled in flight",
    timeout_seconds=RECONCILE_RUN_SECONDS,
    # One vCPU: a backlog's requests are CPU-bound in botocore (about 2 ms a stalled
    # payment); at 256 MB 100,000 took about 2,500 s at worst, at this about 700 s
    # (bench/RESULTS.md, section 8).
    memory_mb=1769,
)


# CodeDeploy's hook before a new reconciler version takes the schedule (infra/rollouts.py):
# it may wait out a scheduled run holding the reconciler's concurrency, then runs one.
RECONCILER_ROLLOUT_CHECK = FunctionSpec(
    "ReconcilerRolloutCheck",
    "workers.rollout_check.lambda_handler",
    "runs a new reconciler version once before it takes the schedule",
    timeout_seconds=RECONCILE_RUN_SECONDS * 2 + 60,
)


EVENT_PUBLISHER = FunctionSpec(
    "EventPublisher",
    "workers.event_publisher.lambda_handler",
    "payments stream -> webhook events",
    timeout_seconds=60,
    # CPU in proportion (1,769 MB is one vCPU): the capacity model's batch time per shard.
    memory_mb=512,
)
WEBHOOK_DELIVERY = FunctionSpec(
    "WebhookDelivery",
    "workers.webhook_delivery.lambda_handler",
    "webhook deliveries -> merchants' endpoints",
    timeout_seconds=DELIVERY_FUNCTION_TIMEOUT_SECONDS,
    # A batch's ten sends at once are CPU-bound at 256 MB (signing, HTTP, two requests
    # each): the capacity model's deliveries in flight per instance.
    memory_mb=1024,
)


class LambdaFactory:
    """The one way a paygate function is built: arm64, one runtime, one code asset,
    powertools settings, active tracing, JSON logs in an encrypted log group kept as long as
    the stage says, the shared settings. Names are generated, so a function or its log group
    can be replaced and a rolled-back create leaves nothing that blocks the next."""

    def __init__(
        self,
        scope: Construct,
        *,
        prefix: str,
        code: lambda_.Code,
        environment: dict[str, str],
        logs_key: kms.IKey,
        stage: StageProfile,
    ) -> None:
        self._scope = scope
        self._prefix = prefix
        self._code = code
        self._environment = environment
        self._logs_key = logs_key
        self._stage = stage
        self.built: list[lambda_.Function] = []

    def log_group(self, construct_id: str, name: str | None = None) -> logs.LogGroup:
        """`name` only where a service writes to a group by a name of its own choosing."""
        return logs.LogGroup(
            self._scope,
            construct_id,
            log_group_name=name,
            retention=self._stage.log_retention,
            removal_policy=self._stage.data_removal,
            encryption_key=self._logs_key,
        )

    def publish(self, function: lambda_.Function) -> lambda_.Alias:
        """Its current code and settings as a version, behind its live alias."""
        return lambda_.Alias(
            self._scope,
            f"{function.node.id}Live",
            alias_name=LIVE_ALIAS,
            version=function.current_version,
        )

    def build(
        self, spec: FunctionSpec, environment: Mapping[str, str] | None = None
    ) -> lambda_.Function:
        """`environment`: settings of this function's own, beside the shared ones."""
        log_group = self.log_group(f"{spec.construct_id}Logs")
        # A role of its own instead of AWSLambdaBasicExecutionRole (logs on "*"): a function
        # may write only its own log group, which exists before it runs.
        role = iam.Role(
            self._scope,
            f"{spec.construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{self._prefix}: {spec.construct_id}",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            )
        )
        function = lambda_.Function(
            self._scope,
            spec.construct_id,
            role=role,
            description=f"{self._prefix}: {spec.description}",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=self._code,
            handler=spec.handler,
            timeout=Duration.seconds(spec.timeout_seconds),
            memory_size=spec.memory_mb,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS
            if spec.snap_start and self._stage.snap_start
            else None,
            environment=self._environment
            | {
                "POWERTOOLS_SERVICE_NAME": SERVICE,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": "INFO",
            }
            | {str(name): value for name, value in (environment or {}).items()},
        )
        self.built.append(function)
        return function


def lambda_environment(
    storage: Storage, messaging: Messaging, scaling: Scaling, card_format: int
) -> dict[str, str]:
    """The Settings every function reads (core/settings.py), by the shared variable names."""
    environment = {
        EnvVar.PAYMENTS_TABLE: storage.payments.table_name,
        EnvVar.MERCHANTS_TABLE: storage.merchants.table_name,
        EnvVar.BANK_LEDGER_TABLE: storage.bank_ledger.table_name,
        EnvVar.BANK_CONTROL_TABLE: storage.bank_control.table_name,
        EnvVar.IDEMPOTENCY_TABLE: storage.idempotency.table_name,
        EnvVar.JOBS_QUEUE_URL: messaging.jobs.queue_url,
        EnvVar.CARD_KEY_ID: storage.card_key.key_arn,
        EnvVar.CARD_DIGEST_KEY_ID: storage.card_digest_key.key_arn,
        EnvVar.CARD_KEYS_TABLE: storage.card_keys.table_name,
        EnvVar.CURSOR_KEY_ID: storage.cursor_key.key_arn,
        EnvVar.IDEMPOTENCY_DIGEST_KEY_ID: storage.idempotency_digest_key.key_arn,
        EnvVar.EVENTS_TABLE: storage.events.table_name,
        EnvVar.WEBHOOK_ENDPOINTS_TABLE: storage.webhook_endpoints.table_name,
        EnvVar.DELIVERIES_QUEUE_URL: messaging.deliveries.queue_url,
        EnvVar.DELIVERIES_DLQ_URL: messaging.delivery_dead_letters.queue_url,
        EnvVar.SLOW_DELIVERIES_QUEUE_URL: messaging.slow_deliveries.queue_url,
        EnvVar.WEBHOOK_SECRET_KEY_ID: storage.webhook_secret_key.key_arn,
        EnvVar.PAYMENT_TTL_SECONDS: str(default_of("payment_ttl_seconds")),
        EnvVar.CARD_FORMAT: str(card_format),
        **scaling.environment(),
    }
    return {str(name): value for name, value in environment.items()}


class Functions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        code: lambda_.Code,
        storage: Storage,
        messaging: Messaging,
        scaling: Scaling,
        stage: StageProfile,
    ) -> None:
        super().__init__(scope, construct_id)
        self.factory = factory = LambdaFactory(
            self,
            prefix=prefix,
            code=code,
            environment=lambda_environment(
                storage,
                messaging,
                scaling,
                tunable("card_format", self.node.try_get_context(CARD_FORMAT)),
            ),
            logs_key=storage.logs_key,
            stage=stage,
        )
        # One function per route of the registry; the named ones get their grants below.
        self.for_route = {route: factory.build(FunctionSpec.of_route(route)) for route in ROUTES}
        self.create_payment = self.for_route[CREATE_PAYMENT]
        self.make_payment = self.for_route[MAKE_PAYMENT]
        self.get_payment = self.for_route[GET_PAYMENT]
        self.list_payments = self.for_route[LIST_PAYMENTS]
        self.authorizer = factory.build(AUTHORIZER)
        self.worker = factory.build(WORKER)
        self.reconciler = factory.build(RECONCILER)
        self.event_publisher = factory.build(EVENT_PUBLISHER)
        self.webhook_delivery = factory.build(WEBHOOK_DELIVERY)
        # What callers invoke: each function's live alias (its published version).
        self.live = {function: factory.publish(function) for function in self.all}
        self._bound_concurrency(scaling)

        self._grant(storage, messaging)

    def _bound_concurrency(self, scaling: Scaling) -> None:
        """The bounds an event source cannot set (infra/scaling.py, concurrency_budget): the
        reconciler runs alone and is never retried by Lambda (a failed run waits for the
        next scheduled one, instead of overlapping it); the publisher reads the stream
        with at most its reserved instances."""
        reserved = {
            self.reconciler: RECONCILER_CONCURRENCY,
            self.event_publisher: scaling.publisher_concurrency,
        }
        for function, instances in reserved.items():
            cfn = function.node.default_child
            assert isinstance(cfn, lambda_.CfnFunction)
            cfn.reserved_concurrent_executions = instances
        self.live[self.reconciler].configure_async_invoke(retry_attempts=0)

    def _grant(self, storage: Storage, messaging: Messaging) -> None:
        """Exactly the calls each function's code makes (infra/access.py)."""
        payment_writes = ["GetItem", "PutItem", "UpdateItem"]
        access.table(self.authorizer, storage.merchants, ["GetItem"])
        access.table(self.create_payment, storage.payments, ["GetItem", "PutItem"])
        access.table(self.make_payment, storage.payments, ["GetItem", "UpdateItem"])
        for function in (self.create_payment, self.make_payment):
            self._grant_idempotency(function, storage)
        access.table(self.get_payment, storage.payments, ["GetItem"])
        access.table(self.list_payments, storage.payments, ["Query"], indexes=True)
        access.table(self.worker, storage.payments, payment_writes)
        access.table(self.reconciler, storage.payments, [*payment_writes, "Query"], indexes=True)
        # The worker asks the bank; the reconciler settles payments at their bound with it.
        for function in (self.worker, self.reconciler):
            access.table(function, storage.bank_ledger, ["GetItem", "UpdateItem"])
            access.table(function, storage.bank_control, ["BatchGetItem"])
        # The keyed digest of make-payment requests: only make-payment may compute one.
        access.mac_key(self.make_payment, storage.card_digest_key, "kms:GenerateMac")
        access.mac_key(self.list_payments, storage.cursor_key, "kms:GenerateMac", "kms:VerifyMac")
        # Card data: only make-payment encrypts, only the worker decrypts. No one else,
        # get-payment included, can read a card. make-payment encrypts to a key pair's
        # public key (read from the card keys table); only the worker makes key pairs and
        # unwraps their private keys (core/domain/card_keys.py). KMS encrypts and decrypts
        # cards itself only while no key pair is found, and for cards from before them.
        access.table(self.make_payment, storage.card_keys, ["GetItem"])
        access.table(self.worker, storage.card_keys, ["GetItem", "PutItem"])
        access.card_key_pairs(self.worker, storage.card_key, "kms:Encrypt", "kms:Decrypt")
        access.card_key(self.make_payment, storage.card_key, "kms:Encrypt")
        access.card_key(self.worker, storage.card_key, "kms:Decrypt")
        for function in (self.make_payment, self.worker, self.reconciler):
            access.send_jobs(function, messaging.jobs)
        self._grant_operations(storage, messaging)
        # The reconciler never queues a job again while it may still wait in the backlog.
        access.read_queue_depth(self.reconciler, messaging.jobs)
        self._grant_webhooks(storage, messaging)

    def _grant_operations(self, storage: Storage, messaging: Messaging) -> None:
        """Capture, void, refund (core/use_cases/payment_operations.py): the operation is
        recorded on the payment by a conditional PutItem on the version read (re-read on a
        lost race), and the payment's job queued; the worker asks the bank. No card key:
        the card was erased when the authorization ended."""
        for route in OPERATION_ROUTES:
            function = self.for_route[route]
            access.table(function, storage.payments, ["GetItem", "PutItem"])
            self._grant_idempotency(function, storage)
            access.send_jobs(function, messaging.jobs)

    @staticmethod
    def _grant_idempotency(function: lambda_.Function, storage: Storage) -> None:
        access.table(
            function, storage.idempotency, ["GetItem", "PutItem", "UpdateItem", "DeleteItem"]
        )
        # The Idempotency-Key is kept as its keyed digest: the key is derived once an instance.
        access.mac_key(function, storage.idempotency_digest_key, "kms:GenerateMac")

    def _grant_webhooks(self, storage: Storage, messaging: Messaging) -> None:
        """Webhooks: the endpoints API encrypts signing secrets and only the delivery worker
        decrypts them, each under the endpoint's encryption context."""
        route = self.for_route
        endpoints, events = storage.webhook_endpoints, storage.events
        # Adding and removing also change the merchant's count of endpoints (a transaction);
        # adding reads the count, and starts it from the endpoints there if there is none.
        access.table(
            route[CREATE_WEBHOOK_ENDPOINT], endpoints, ["GetItem", "Query", "PutItem", "UpdateItem"]
        )
        access.table(route[LIST_WEBHOOK_ENDPOINTS], endpoints, ["Query"])
        access.table(
            route[DELETE_WEBHOOK_ENDPOINT],
            endpoints,
            ["GetItem", "Query", "DeleteItem", "UpdateItem", "PutItem"],
        )
        access.table(route[ROTATE_WEBHOOK_SECRET], endpoints, ["GetItem", "UpdateItem"])
        for function in (route[CREATE_WEBHOOK_ENDPOINT], route[ROTATE_WEBHOOK_SECRET]):
            access.secret_key(function, storage.webhook_secret_key, "kms:Encrypt")
            # Idempotency-Key: answers showing a secret are kept sealed (their own context).
            self._grant_idempotency(function, storage)
            access.sealed_answers(function, storage.webhook_secret_key)
        access.table(route[LIST_PAYMENT_EVENTS], storage.payments, ["GetItem"])
        access.table(route[LIST_PAYMENT_EVENTS], events, ["Query"])
        # Which endpoints are still there: a delivery to a removed one is shown as ended.
        access.table(route[LIST_PAYMENT_EVENTS], endpoints, ["Query"])
        access.table(self.event_publisher, events, ["BatchWriteItem"])
        access.table(self.event_publisher, endpoints, ["Query"])
        access.send_jobs(self.event_publisher, messaging.deliveries)
        # A job for an endpoint marked slow goes straight to the slow lane.
        access.send_jobs(self.event_publisher, messaging.slow_deliveries)
        access.table(self.webhook_delivery, events, ["Query", "UpdateItem"])
        # Marks an endpoint slow, or no longer (UpdateItem): the lane its deliveries take.
        access.table(self.webhook_delivery, endpoints, ["Query", "UpdateItem"])
        access.secret_key(self.webhook_delivery, storage.webhook_secret_key, "kms:Decrypt")
        access.send_jobs(self.webhook_delivery, messaging.deliveries)
        access.send_jobs(self.webhook_delivery, messaging.slow_deliveries)
        access.send_jobs(self.webhook_delivery, messaging.delivery_dead_letters)

    @property
    def api_functions(self) -> list[lambda_.Function]:
        return [*self.for_route.values(), self.authorizer]

    @property
    def counting_own_failures(self) -> list[lambda_.Function]:
        """The functions that catch their failures and count their own per version
        (core/observability.py): their Lambda Errors alone would never show a broken one."""
        return [
            *self.for_route.values(),
            self.worker,
            self.event_publisher,
            self.webhook_delivery,
        ]

    @property
    def all(self) -> list[lambda_.Function]:
        return [
            *self.api_functions,
            self.worker,
            self.reconciler,
            self.event_publisher,
            self.webhook_delivery,
        ]
