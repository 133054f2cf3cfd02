"""Integration fixtures: the AWS emulator as a process of its own (moto server, as the
local stack runs it), for the tests that drive the paygate CLI against a local stack:
the CLI only ever talks to an emulator on loopback, never to an in-process mock."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest

from cli.emulator import AwsEmulator
from cli.local_state import LOCAL_CREDENTIALS
from cli.provisioning import provision
from tests.conftest import FAST_BANK, REGION, AwsEnv
from tests.integration.webhook_support import PUBLIC_ADDRESS, RESOLVER


@pytest.fixture(scope="session")
def emulator_endpoint() -> Iterator[str]:
    emulator = AwsEmulator()
    try:
        yield emulator.start()
    finally:
        emulator.stop()


@pytest.fixture
def emulated_aws(emulator_endpoint: str) -> AwsEnv:
    """Fresh tables, queues and keys of their own in the emulator, for one test."""
    session = boto3.session.Session(
        region_name=REGION,
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    dynamodb = session.client("dynamodb", endpoint_url=emulator_endpoint)
    sqs = session.client("sqs", endpoint_url=emulator_endpoint)
    kms = session.client("kms", endpoint_url=emulator_endpoint)
    provisioned, dlq_url = provision(
        dynamodb=dynamodb,
        sqs=sqs,
        kms=kms,
        prefix=f"t{uuid.uuid4().hex[:10]}",
        region=REGION,
        endpoint_url=emulator_endpoint,
    )
    return AwsEnv(
        settings=provisioned.replace(**FAST_BANK),
        dlq_url=dlq_url,
        dynamodb=dynamodb,
        sqs=sqs,
        kms=kms,
        session=session,
    )


@pytest.fixture
def public_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every host name resolves to a public address (no DNS in tests); 127.0.0.1 is itself."""
    monkeypatch.setattr(
        RESOLVER, lambda host, port: [host] if host == "127.0.0.1" else [PUBLIC_ADDRESS]
    )
