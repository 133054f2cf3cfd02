"""Logger and metrics shared by every entry point (powertools; EMF metrics on stdout)."""

from __future__ import annotations

import threading

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from core.resources import METRICS_NAMESPACE, SERVICE

# The one key of the correlation id in every log line (powertools' own, which the API's
# lines carry): the API Gateway request id, which the job carries to the worker.
CORRELATION_KEY = "correlation_id"

logger = Logger(service=SERVICE)
# One line per API request (method, route, status, time, request id, merchant): API
# Gateway's access log on AWS; the local gateway writes the same lines here.
access_logger = Logger(service=SERVICE, child=True)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)


class MetricsRecorder:
    """Adds metrics from any thread (the worker processes a batch's records concurrently)."""

    def __init__(self, sink: Metrics) -> None:
        self._sink = sink
        self._lock = threading.Lock()

    def count(self, name: str, value: float = 1) -> None:
        with self._lock:
            self._sink.add_metric(name=name, unit=MetricUnit.Count, value=value)

    def milliseconds(self, name: str, value: float) -> None:
        with self._lock:
            self._sink.add_metric(name=name, unit=MetricUnit.Milliseconds, value=value)


recorder = MetricsRecorder(metrics)
