"""paygate's resources in moto in-process, for the benchmarks that need no server."""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3

from cli.provisioning import provision
from core.resources import SERVICE
from core.settings import Settings

REGION = "us-east-1"


def provisioned_settings() -> Settings:
    """Create every table, queue and key inside the active `mock_aws()`; their settings."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    settings, _ = provision(
        dynamodb=boto3.client("dynamodb", region_name=REGION),
        sqs=boto3.client("sqs", region_name=REGION),
        kms=boto3.client("kms", region_name=REGION),
        prefix="bench",
        region=REGION,
    )
    return settings


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Keeps the handlers' log lines and metric documents off the benchmark's output."""
    service_logger = logging.getLogger(SERVICE)
    level = service_logger.level
    service_logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        service_logger.setLevel(level)


def count_requests(requests: Counter[str], *clients: Any) -> None:
    """From now on, adds one to requests["service:Operation"] for each request a client makes."""

    def count(model: Any, **_: Any) -> None:
        requests[f"{model.service_model.service_name}:{model.name}"] += 1

    for client in clients:
        client.meta.events.register("before-call.*.*", count)
