"""paygate's resources in moto in-process, for the benchmarks that need no server."""

from __future__ import annotations

import os

import boto3

from cli.provisioning import provision
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
