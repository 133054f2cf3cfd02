"""Logger and metrics shared by every entry point (powertools; EMF metrics on stdout)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

SERVICE = "paygate"
METRICS_NAMESPACE = "Paygate"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)
