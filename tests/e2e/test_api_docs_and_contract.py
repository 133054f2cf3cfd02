"""The API describes itself: /openapi.json and Swagger UI on the local stack (checked in a
real headless Chromium), and schemathesis fuzzing the running stack against the spec."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningStack

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=15000",
    "--window-size=1280,1600",
]
# Playwright sets these itself (and takes no virtual-time budget).
PLAYWRIGHT_OWN_FLAGS = ("--headless", "--virtual-time-budget=15000", "--window-size=1280,1600")
EXAMPLES_PER_OPERATION = 25
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    )
)


def _endpoint_ids(stack: RunningStack) -> set[str]:
    return {endpoint["id"] for endpoint in json.loads(stack.cli("webhooks", "list", "--json"))}


@pytest.fixture(autouse=True)
def no_endpoints_left_behind(stack: RunningStack) -> Iterator[None]:
    """The docs' examples and the fuzzer register webhook endpoints for the development
    merchant on the shared stack: removed after each test, so no later test gets their
    deliveries (or the merchant's cap of 16)."""
    before = _endpoint_ids(stack)
    yield
    for endpoint_id in _endpoint_ids(stack) - before:
        stack.cli("webhooks", "remove", endpoint_id)


def test_the_stack_serves_its_openapi_document(stack: RunningStack) -> None:
    with urllib.request.urlopen(f"{stack.url}/openapi.json", timeout=10) as response:  # noqa: S310
        document = json.loads(response.read())

    assert document["openapi"].startswith("3.1")
    assert document["servers"] == [{"url": stack.url}]
    assert set(document["paths"]) == {
        "/create-payment",
        "/make-payment",
        "/get-payment",
        "/list-payments",
        "/capture-payment",
        "/void-payment",
        "/refund-payment",
        "/webhook-endpoints",
        "/rotate-webhook-secret",
        "/payment-events",
    }
    assert set(document["paths"]["/webhook-endpoints"]) == {"get", "post", "delete"}
    # What paygate POSTs to a merchant's endpoint (OpenAPI 3.1 webhooks)
    event = document["webhooks"]["paymentEvent"]["post"]
    assert {p["name"] for p in event["parameters"]} == {"Paygate-Signature", "Paygate-Event-Id"}


def test_the_docs_page_loads_offline_and_lists_the_operations(
    stack: RunningStack, tmp_path: Path
) -> None:
    # WHEN a real browser opens /docs (its assets come from the stack itself)
    profile = ["--user-data-dir=" + str(tmp_path / "profile")]
    dom = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, *profile, "--dump-dom", f"{stack.url}/docs"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    screenshot = tmp_path / "docs.png"
    subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, *profile, f"--screenshot={screenshot}", f"{stack.url}/docs"],
        capture_output=True,
        timeout=120,
        check=True,
    )

    # THEN Swagger UI rendered every operation, and the page was captured
    assert "swagger-ui" in dom
    for path in ("/create-payment", "/make-payment", "/get-payment", "/list-payments"):
        assert f'data-path="{path}"' in dom, path
    assert screenshot.stat().st_size > 10_000


def test_schemathesis_finds_no_5xx_and_no_answer_outside_the_spec(
    stack: RunningStack, tmp_path: Path
) -> None:
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"{stack.url}/openapi.json",
            "--header",
            f"Authorization: Bearer {stack.api_key}",
            "--checks",
            CHECKS,
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--seed",
            "20261127",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,  # its cache goes there, not into the repository
    )

    assert result.returncode == 0, result.stdout[-5000:]
    assert " passed" in result.stdout


def test_try_it_out_works_with_the_examples_as_they_are(
    stack: RunningStack, tmp_path: Path
) -> None:
    # GIVEN the docs page in a real browser, authorized with the key as a user would
    script = Path(__file__).with_name("docs_try_it_out.mjs")
    screenshot = tmp_path / "try-it-out.png"

    # WHEN "Try it out" and "Execute" are pressed on every operation, examples untouched
    result = subprocess.run(
        [
            "node",
            str(script),
            stack.url,
            stack.api_key,
            str(screenshot),
            CHROMIUM,
            json.dumps([flag for flag in CHROMIUM_FLAGS if flag not in PLAYWRIGHT_OWN_FLAGS]),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    # THEN each answers success: the examples are valid requests on the local stack
    assert result.returncode == 0, result.stderr[-3000:]
    statuses = json.loads(result.stdout.strip().splitlines()[-1])
    assert statuses == {
        "createPayment": "201",
        "makePayment": "202",
        "getPayment": "200",
        "listPayments": "200",
    }
    assert screenshot.stat().st_size > 10_000
