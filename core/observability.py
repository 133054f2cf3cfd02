"""Logger and metrics shared by every entry point (powertools; EMF metrics on stdout)."""

from __future__ import annotations

import os
import threading

from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit

from core.adapters.aws_errors import is_transient as is_transient  # re-exported: the API's 503
from core.resources import (
    EXECUTED_VERSION_DIMENSION,
    FUNCTION_NAME_DIMENSION,
    METRICS_NAMESPACE,
    OWN_FAILURES_METRIC,
    SERVICE,
)

# The one key of the correlation id in every log line (powertools' own, which the API's
# lines carry): the API Gateway request id, which the job carries to the worker.
CORRELATION_KEY = "correlation_id"

logger = Logger(service=SERVICE)
# One line per API request (method, route, status, time, request id, merchant): API
# Gateway's access log on AWS; the local gateway writes the same lines here.
access_logger = Logger(service=SERVICE, child=True)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)

# Set by the Lambda runtime; what runs elsewhere (tests, the local stack) is "local".
_THIS_VERSION = {
    FUNCTION_NAME_DIMENSION: os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local"),
    EXECUTED_VERSION_DIMENSION: os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "local"),
}


class MetricsRecorder:
    """Adds metrics from any thread (the worker processes a batch's records concurrently)."""

    def __init__(self, sink: Metrics) -> None:
        self._sink = sink
        self._lock = threading.Lock()

    def count(self, name: str, value: float = 1) -> None:
        with self._lock:
            self._sink.add_metric(name=name, unit=MetricUnit.Count, value=value)

    def count_failure(self, name: str, *, own: bool) -> None:
        """A failure counted as `name`; and, if `own`, as one of this version's own."""
        self.count(name)
        if own:
            self.count_own_failure()

    def count_own_failure(self) -> None:
        """Written at once with its own dimensions (not the invocation's metric set)."""
        with (
            self._lock,
            single_metric(
                name=OWN_FAILURES_METRIC,
                unit=MetricUnit.Count,
                value=1,
                namespace=METRICS_NAMESPACE,
                default_dimensions=_THIS_VERSION,
            ),
        ):
            pass

    def milliseconds(self, name: str, value: float) -> None:
        with self._lock:
            self._sink.add_metric(name=name, unit=MetricUnit.Milliseconds, value=value)


recorder = MetricsRecorder(metrics)


def is_own_failure(error: BaseException, *foreign: type[BaseException]) -> bool:
    """Whether a failure is of the failing code's own making (what a broken release would
    cause): not a passing AWS fault, nor one of the `foreign` kinds (the bank's, a bad
    message's). Counted per version for the rollback alarms (`count_failure`)."""
    return not (is_transient(error) or isinstance(error, foreign))
