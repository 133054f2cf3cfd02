"""The webhook endpoints API as merchants call it: register (the secret shown once, kept
only encrypted), list, rotate, delete; only their own; every refused URL class and bad
input a 4xx that writes nothing; a payment's events with their deliveries."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from core.bootstrap import Services
from core.domain.errors import TooManyEndpointsError
from core.domain.idempotency import IN_PROGRESS_SECONDS
from core.domain.webhook_retry import REGISTRATION_RESOLVE_SECONDS
from core.domain.webhooks import MAX_ENDPOINTS_PER_MERCHANT
from tests.conftest import MERCHANT_A, ApiClient, AwsEnv
from tests.faults import SimulatedCrash, crash_after, lose_response
from tests.integration.webhook_support import RESOLVER, Receiver, receiving, webhook_world
from tests.integration.worker_support import event_source, submit
from tests.support import ApiResponse, FakeClock

MERCHANT_B = "merchant-b"
PUBLIC_URL = "https://shop.example.com/paygate/hooks"
SENDER = RESOLVER
pytestmark = pytest.mark.usefixtures("public_dns")


def _endpoints_stored(aws: AwsEnv) -> list[dict[str, Any]]:
    """The endpoints in the table (beside them, each merchant's count of them)."""
    items = aws.dynamodb.scan(TableName=aws.settings.webhook_endpoints_table)["Items"]
    return [item for item in items if item["endpointId"]["S"].startswith("we_")]


def _counted(aws: AwsEnv, merchant_id: str = MERCHANT_A) -> int:
    item = aws.dynamodb.get_item(
        TableName=aws.settings.webhook_endpoints_table,
        Key={"merchantId": {"S": merchant_id}, "endpointId": {"S": "count"}},
    ).get("Item", {})
    return int(item.get("endpoints", {}).get("N", "0"))


def _register(api: ApiClient, url: str = PUBLIC_URL, **extra: object) -> ApiResponse:
    return api.post("/webhook-endpoints", {"merchantId": MERCHANT_A, "url": url, **extra})


def test_register_list_rotate_and_delete(api: ApiClient, aws: AwsEnv) -> None:
    created = _register(api, eventTypes=["payment.accepted"])
    assert created.status == 201, created.body
    secret = created.body["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    assert created.body["eventTypes"] == ["payment.accepted"]
    # The secret is kept only encrypted
    assert secret not in repr(_endpoints_stored(aws))

    listed = api.get("/webhook-endpoints", {"merchantId": MERCHANT_A})
    assert listed.status == 200
    (shown,) = listed.body["endpoints"]
    assert shown["id"] == created.body["id"] and "secret" not in shown

    rotated = api.post("/rotate-webhook-secret", {"merchantId": MERCHANT_A, "id": shown["id"]})
    assert rotated.status == 200 and rotated.body["secret"] not in (None, secret)

    query = {"merchantId": MERCHANT_A, "id": shown["id"]}
    assert api.call("DELETE", "/webhook-endpoints", query=query).status == 200
    again = api.call("DELETE", "/webhook-endpoints", query=query)
    assert (again.status, again.body["failCode"]) == (404, "endpoint_not_found")
    assert _endpoints_stored(aws) == []
    assert _counted(aws) == 0


def test_a_merchant_sees_and_changes_only_its_own(api: ApiClient, aws: AwsEnv) -> None:
    endpoint_id = _register(api).body["id"]
    other = api.as_merchant(MERCHANT_B)

    assert other.get("/webhook-endpoints", {"merchantId": MERCHANT_A}).status == 403
    assert other.get("/webhook-endpoints", {"merchantId": MERCHANT_B}).body["endpoints"] == []
    mine = {"merchantId": MERCHANT_B, "id": endpoint_id}
    assert other.call("DELETE", "/webhook-endpoints", query=mine).status == 404
    assert other.post("/rotate-webhook-secret", mine).status == 404
    assert len(_endpoints_stored(aws)) == 1


@pytest.mark.parametrize(
    ("url", "resolves_to", "why"),
    [
        ("http://shop.example.com/hooks", "93.184.215.14", "https://"),
        ("https://127.0.0.1/hooks", None, "loopback"),
        ("https://10.0.0.8/hooks", None, "private"),
        ("https://169.254.169.254/latest/meta-data", None, "link-local"),
        ("https://[fd00::1]/hooks", None, "private"),
        ("https://internal.example.com/hooks", "192.168.0.10", "resolves to a private"),
        ("https://metadata.example.com/", "169.254.169.254", "resolves to a link-local"),
        ("https://localhost/hooks", None, "loopback"),
        ("https://[::1", None, "cannot be read"),
        ("https://[example.com]/hooks", None, "cannot be read"),
        ("https://" + "a" * 64 + ".example.com/hooks", None, "host name"),
        ("https://shop..example.com/hooks", None, "host name"),
        ("https://.example.com/hooks", None, "host name"),
        ("https://shop.example.com/\x00", None, "printable ASCII"),
        ("https://sh\u00f6p.example.com/", None, "xn-- form"),
        ("https://[2002:a00:1::]/hooks", None, "private"),
    ],
)
def test_urls_paygate_may_not_call_are_refused_at_registration(
    api: ApiClient,
    aws: AwsEnv,
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    resolves_to: str | None,
    why: str,
) -> None:
    if resolves_to:
        monkeypatch.setattr(SENDER, lambda host, port: [resolves_to])
    answer = _register(api, url)

    assert (answer.status, answer.body["failCode"]) == (422, "invalid_webhook_url")
    assert why in answer.body["failReason"]
    assert answer.body["fields"][0]["field"] == "url"
    assert _endpoints_stored(aws) == []


def test_a_host_that_resolves_too_slowly_is_refused_within_the_routes_time(
    api: ApiClient, aws: AwsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name servers answer after the route's function would have timed out (a 5xx on
    AWS): registration stops waiting at its own, shorter budget and refuses the URL."""
    never = threading.Event()

    def name_servers_answer_late(host: str, port: int) -> list[str]:
        never.wait(REGISTRATION_RESOLVE_SECONDS + 2)
        return ["93.184.215.14"]

    monkeypatch.setattr(SENDER, name_servers_answer_late)
    answer = _register(api)

    assert (answer.status, answer.body["failCode"]) == (422, "invalid_webhook_url")
    assert answer.body["failReason"].endswith(
        f"did not resolve within {REGISTRATION_RESOLVE_SECONDS:g} s"
    )
    assert _endpoints_stored(aws) == []
    never.set()


@pytest.mark.parametrize(
    ("body", "status", "fail_code"),
    [
        ({"merchantId": MERCHANT_A}, 422, "validation_failed"),
        (
            {"merchantId": MERCHANT_A, "url": PUBLIC_URL, "eventTypes": ["payment.teleported"]},
            422,
            "validation_failed",
        ),
        ({"merchantId": MERCHANT_A, "url": PUBLIC_URL, "eventTypes": []}, 422, "validation_failed"),
        ({"merchantId": MERCHANT_A, "url": 7}, 422, "validation_failed"),
        ({"merchantId": MERCHANT_A, "url": PUBLIC_URL, "extra": 1}, 422, "validation_failed"),
        ({"merchantId": MERCHANT_B, "url": PUBLIC_URL}, 403, "merchant_mismatch"),
    ],
)
def test_bad_registrations_are_4xx_and_write_nothing(
    api: ApiClient, aws: AwsEnv, body: dict[str, object], status: int, fail_code: str
) -> None:
    answer = api.post("/webhook-endpoints", body)
    assert (answer.status, answer.body["failCode"]) == (status, fail_code)
    assert _endpoints_stored(aws) == []


def test_at_most_16_endpoints_per_merchant(api: ApiClient, aws: AwsEnv) -> None:
    for _ in range(MAX_ENDPOINTS_PER_MERCHANT):
        assert _register(api).status == 201
    refused = _register(api)
    assert (refused.status, refused.body["failCode"]) == (409, "too_many_endpoints")
    assert len(_endpoints_stored(aws)) == MAX_ENDPOINTS_PER_MERCHANT
    # Removing one makes room for one
    first = _endpoints_stored(aws)[0]["endpointId"]["S"]
    api.call("DELETE", "/webhook-endpoints", query={"merchantId": MERCHANT_A, "id": first})
    assert _register(api).status == 201
    assert (_register(api).status, _counted(aws)) == (409, MAX_ENDPOINTS_PER_MERCHANT)


def test_registrations_at_the_same_moment_never_pass_the_limit(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoints = services.webhook_endpoint_service
    for _ in range(MAX_ENDPOINTS_PER_MERCHANT - 1):
        endpoints.register(MERCHANT_A, MERCHANT_A, PUBLIC_URL, ())
    # Eight requests pass their URL checks together, each seeing 15 endpoints, then save
    together = threading.Barrier(8)
    checks = endpoints.check_url
    monkeypatch.setattr(endpoints, "check_url", lambda url: (checks(url), together.wait(5)))
    outcomes: list[str] = []

    def register() -> None:
        try:
            endpoints.register(MERCHANT_A, MERCHANT_A, PUBLIC_URL, ())
            outcomes.append("registered")
        except TooManyEndpointsError:
            outcomes.append("refused")

    threads = [threading.Thread(target=register) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["refused"] * 7 + ["registered"]
    assert len(endpoints.list_of(MERCHANT_A, MERCHANT_A)) == MAX_ENDPOINTS_PER_MERCHANT


def test_rotations_at_the_same_moment_keep_every_secret_answered(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoints = services.webhook_endpoint_service
    endpoint = endpoints.register(MERCHANT_A, MERCHANT_A, PUBLIC_URL, ()).endpoint
    store = services.webhook_endpoints
    read_before_the_other_saved = store.get(MERCHANT_A, endpoint.endpoint_id)
    first = endpoints.rotate(MERCHANT_A, MERCHANT_A, endpoint.endpoint_id)
    # The second rotation read the endpoint before the first one saved
    reads = iter([read_before_the_other_saved])
    real_get = store.get
    monkeypatch.setattr(store, "get", lambda m, e: next(reads, None) or real_get(m, e))
    second = endpoints.rotate(MERCHANT_A, MERCHANT_A, endpoint.endpoint_id)

    stored = real_get(MERCHANT_A, endpoint.endpoint_id)
    assert stored is not None
    signing = {
        services.webhook_secrets.decrypt(
            s.ciphertext, merchant_id=MERCHANT_A, endpoint_id=endpoint.endpoint_id
        )
        for s in stored.secrets
        if s.in_use(services.clock.now())
    }
    assert {first.secret, second.secret} <= signing


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from receiving(500, 200)


def test_a_payments_events_list_oldest_first_with_every_attempt(
    api: ApiClient, aws: AwsEnv, services: Services, clock: FakeClock, receiver: Receiver
) -> None:
    world = webhook_world(aws, clock)
    world.services.webhook_endpoint_service.register(
        MERCHANT_A, MERCHANT_A, receiver.url, ("payment.accepted",)
    )
    payment_id = submit(api, 1250)
    event_source(aws, services).drain()
    world.run(rounds=2, advance=3600)

    history = api.get("/payment-events", {"merchantId": MERCHANT_A, "paymentId": payment_id})

    assert history.status == 200
    events = history.body["events"]
    assert [(e["type"], e["version"]) for e in events] == [
        ("payment.processing", 2),
        ("payment.accepted", 3),
    ]
    assert events[0]["deliveries"] == []  # the endpoint wants only payment.accepted
    (delivery,) = events[1]["deliveries"]
    assert delivery["state"] == "delivered"
    assert [a.get("status") for a in delivery["attempts"]] == [500, 200]
    assert all(a["ms"] >= 0 and a["at"] > 0 for a in delivery["attempts"])
    other = api.as_merchant(MERCHANT_B).get(
        "/payment-events", {"merchantId": MERCHANT_B, "paymentId": payment_id}
    )
    assert (other.status, other.body["failCode"]) == (404, "payment_not_found")


def test_get_payment_says_when_it_changed_how_many_tries_and_the_last_error_in_flight(
    api: ApiClient, aws: AwsEnv, services: Services, clock: FakeClock
) -> None:
    payment_id = submit(api, 1250)
    services.bank_controls.set_outage(True)
    event_source(aws, services).poll_once()  # the bank is down: the job fails

    in_flight = api.get_payment(payment_id).body
    assert in_flight["status"] == "Processing"
    assert in_flight["attempts"] == 1
    assert "bank" in in_flight["lastError"]
    assert in_flight["updatedAt"] >= in_flight["creationTimestampSeconds"]

    services.bank_controls.set_outage(False)
    clock.advance(60)
    event_source(aws, services).drain()
    final = api.get_payment(payment_id).body
    assert final["status"] == "Accepted" and "lastError" not in final
    assert final["attempts"] == 1  # the bank's answer (the failure notes are cleared)


@pytest.mark.parametrize("operation", ["TransactWriteItems", "UpdateItem"])
def test_a_lost_answer_to_registering_or_rotating_is_no_error_and_no_double(
    api: ApiClient, aws: AwsEnv, services: Services, operation: str
) -> None:
    created = _register(api) if operation == "UpdateItem" else None
    # Applied, its answer lost, then made again by botocore's retry
    with lose_response(services.clients.dynamodb, operation) as fault:
        if created is None:
            answer = _register(api)
        else:
            query = {"merchantId": MERCHANT_A, "id": created.body["id"]}
            answer = api.post("/rotate-webhook-secret", query)

    assert fault.fired == 1
    assert answer.status in (200, 201), answer.body
    (stored,) = _endpoints_stored(aws)
    assert _counted(aws) == 1
    # A rotation keeps the new secret and the old one (retiring), nothing twice
    assert len(stored["secrets"]["L"]) == (1 if created is None else 2)


def _as_stored_before_counts_and_revisions(aws: AwsEnv) -> None:
    """The merchant's endpoints as the first webhooks release stored them: no count item,
    no revision on an endpoint."""
    table = aws.settings.webhook_endpoints_table
    aws.dynamodb.delete_item(
        TableName=table, Key={"merchantId": {"S": MERCHANT_A}, "endpointId": {"S": "count"}}
    )
    for item in _endpoints_stored(aws):
        aws.dynamodb.update_item(
            TableName=table,
            Key={"merchantId": item["merchantId"], "endpointId": item["endpointId"]},
            UpdateExpression="REMOVE revision",
        )


def test_endpoints_from_before_counts_still_count_and_rotate(api: ApiClient, aws: AwsEnv) -> None:
    for _ in range(MAX_ENDPOINTS_PER_MERCHANT):
        assert _register(api).status == 201
    _as_stored_before_counts_and_revisions(aws)

    assert _register(api).status == 409
    first = _endpoints_stored(aws)[0]["endpointId"]["S"]
    query = {"merchantId": MERCHANT_A, "id": first}
    assert api.post("/rotate-webhook-secret", query).status == 200
    assert api.call("DELETE", "/webhook-endpoints", query=query).status == 200
    assert _register(api).status == 201
    assert (_register(api).status, _counted(aws)) == (409, MAX_ENDPOINTS_PER_MERCHANT)


def test_removing_endpoints_from_before_counts_never_takes_the_count_below_zero(
    api: ApiClient, aws: AwsEnv
) -> None:
    endpoint_id = _register(api).body["id"]
    _as_stored_before_counts_and_revisions(aws)

    query = {"merchantId": MERCHANT_A, "id": endpoint_id}
    assert api.call("DELETE", "/webhook-endpoints", query=query).status == 200

    assert (_counted(aws), _endpoints_stored(aws)) == (0, [])
    assert _register(api).status == 201 and _counted(aws) == 1


def _conflicting(client: Any, times: int) -> Any:
    """DynamoDB's answer to a transaction that met another on the same item at the same
    moment (moto runs transactions one at a time, so it is injected), `times` times."""
    left = [times]

    def conflict(**_: Any) -> None:
        if left[0] > 0:
            left[0] -= 1
            answer: Any = {
                "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}],
            }
            raise ClientError(answer, "TransactWriteItems")

    client.meta.events.register("before-call.dynamodb.TransactWriteItems", conflict)
    return conflict


@pytest.mark.parametrize(("conflicts", "status"), [(2, 201), (10, 409)])
def test_a_registration_that_meets_another_at_the_same_moment_is_retried_never_a_500(
    api: ApiClient, aws: AwsEnv, services: Services, conflicts: int, status: int
) -> None:
    client = services.clients.dynamodb
    hook = _conflicting(client, conflicts)
    try:
        answer = _register(api)
    finally:
        client.meta.events.unregister("before-call.dynamodb.TransactWriteItems", hook)

    assert answer.status == status, answer.body
    assert len(_endpoints_stored(aws)) == _counted(aws) == (1 if status == 201 else 0)
    if status == 409:
        assert answer.body["failCode"] == "endpoint_busy"


def test_a_removal_racing_a_registration_before_counts_keeps_the_count_true(
    api: ApiClient, aws: AwsEnv, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint_id = _register(api).body["id"]
    _register(api)
    _as_stored_before_counts_and_revisions(aws)
    store = services.webhook_endpoints
    real_list = store.list
    raced: list[int] = []

    def list_then_a_registration(merchant_id: str) -> list[Any]:
        listed = real_list(merchant_id)
        if not raced:  # the removal counts what is left; a registration starts the count
            raced.append(0)
            raced[0] = _register(api).status
        return listed

    monkeypatch.setattr(store, "list", list_then_a_registration)
    query = {"merchantId": MERCHANT_A, "id": endpoint_id}
    assert api.call("DELETE", "/webhook-endpoints", query=query).status == 200

    assert raced == [201]
    assert _counted(aws) == len(_endpoints_stored(aws)) == 2


def _register_with_key(api: ApiClient, key: str, url: str = PUBLIC_URL) -> ApiResponse:
    return api.post(
        "/webhook-endpoints",
        {"merchantId": MERCHANT_A, "url": url},
        headers={"Content-Type": "application/json", "Idempotency-Key": key},
    )


def test_a_retried_registration_with_its_idempotency_key_makes_one_endpoint(
    api: ApiClient, aws: AwsEnv
) -> None:
    # GIVEN a registration whose answer the merchant did not get
    first = _register_with_key(api, "register-shop-hooks")

    # WHEN it is sent again with the same key, and once with the key but another URL
    again = _register_with_key(api, "register-shop-hooks")
    other = _register_with_key(api, "register-shop-hooks", "https://shop.example.com/other")

    # THEN one endpoint, the same answer (its secret included), and a reuse is refused
    assert first.status == again.status == 201
    assert again.body == first.body
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (other.status, other.body["failCode"]) == (422, "idempotency_key_reused")
    assert len(_endpoints_stored(aws)) == 1 and _counted(aws) == 1
    # The kept answer holds the secret only sealed
    kept = aws.dynamodb.scan(TableName=aws.settings.idempotency_table)["Items"]
    assert first.body["secret"] not in repr(kept)


def test_a_registration_that_died_after_adding_is_finished_by_its_retry(
    api: ApiClient, aws: AwsEnv, services: Services, clock: FakeClock
) -> None:
    # GIVEN a registration that added its endpoint, then died before answering
    with (
        crash_after(services.clients.dynamodb, "TransactWriteItems"),
        pytest.raises(SimulatedCrash),
    ):
        _register_with_key(api, "register-once")
    assert len(_endpoints_stored(aws)) == 1

    # WHEN the merchant retries with the same key once the first try's lock has run out
    clock.advance(IN_PROGRESS_SECONDS + 1)
    retried = _register_with_key(api, "register-once")

    # THEN the same endpoint is answered, with a secret that signs its deliveries
    assert retried.status == 201, retried.body
    (stored,) = _endpoints_stored(aws)
    assert retried.body["id"] == stored["endpointId"]["S"]
    assert _counted(aws) == 1
    endpoint = services.webhook_endpoints.get(MERCHANT_A, retried.body["id"])
    assert endpoint is not None
    signing = [
        services.webhook_secrets.decrypt(
            secret.ciphertext, merchant_id=MERCHANT_A, endpoint_id=endpoint.endpoint_id
        )
        for secret in endpoint.signing_secrets(clock.now())
    ]
    # The retry's secret signs; so does the first try's, which may have reached the merchant
    assert retried.body["secret"] in signing and len(signing) == 2


def test_a_retried_rotation_with_its_idempotency_key_rotates_once(
    api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    endpoint_id = _register(api).body["id"]
    rotate = {"merchantId": MERCHANT_A, "id": endpoint_id}
    headers = {"Content-Type": "application/json", "Idempotency-Key": "rotate-after-leak"}

    first = api.post("/rotate-webhook-secret", rotate, headers=headers)
    again = api.post("/rotate-webhook-secret", rotate, headers=headers)

    assert first.status == again.status == 200
    assert again.body["secret"] == first.body["secret"]
    endpoint = services.webhook_endpoints.get(MERCHANT_A, endpoint_id)
    assert endpoint is not None and len(endpoint.secrets) == 2  # the old one, in grace


def test_a_rotation_that_died_after_saving_is_finished_by_its_retry_rotating_once(
    api: ApiClient, services: Services, clock: FakeClock
) -> None:
    # GIVEN a rotation that saved its new secret, then died before answering
    registered = _register(api)
    endpoint_id = registered.body["id"]
    rotate = {"merchantId": MERCHANT_A, "id": endpoint_id}
    headers = {"Content-Type": "application/json", "Idempotency-Key": "rotate-once"}
    with crash_after(services.clients.dynamodb, "UpdateItem"), pytest.raises(SimulatedCrash):
        api.post("/rotate-webhook-secret", rotate, headers=headers)

    # WHEN the merchant retries with the same key once the first try's lock has run out
    clock.advance(IN_PROGRESS_SECONDS + 1)
    retried = api.post("/rotate-webhook-secret", rotate, headers=headers)

    # THEN it rotated once: the retry's secret signs, the registration's signs in its grace
    # period, and no third secret that nobody was given signs beside them
    assert retried.status == 200, retried.body
    endpoint = services.webhook_endpoints.get(MERCHANT_A, endpoint_id)
    assert endpoint is not None
    signing = [
        services.webhook_secrets.decrypt(
            secret.ciphertext, merchant_id=MERCHANT_A, endpoint_id=endpoint_id
        )
        for secret in endpoint.signing_secrets(clock.now())
    ]
    assert signing == [retried.body["secret"], registered.body["secret"]]
    assert len(endpoint.secrets) == 2


def _damaged(sealed: str, how: str) -> str:
    """A sealed answer as a damaged record holds it: a byte of the ciphertext changed, or
    not a sealed answer at all."""
    if how == "not sealed":
        return '{"id": "we_0", "secret": "whsec_x"}'
    prefix, _, encoded = sealed.rpartition(":")
    blob = bytearray(base64.b64decode(encoded))
    blob[-1] ^= 0x01
    return f"{prefix}:{base64.b64encode(bytes(blob)).decode()}"


@pytest.mark.parametrize("how", ["a byte changed", "not sealed"])
def test_a_kept_answer_that_cannot_be_opened_is_a_clear_4xx_never_a_500(
    api: ApiClient, aws: AwsEnv, how: str
) -> None:
    # GIVEN a registration whose kept answer was damaged at rest
    first = _register_with_key(api, "register-damaged")
    (kept,) = aws.dynamodb.scan(TableName=aws.settings.idempotency_table)["Items"]
    aws.dynamodb.put_item(
        TableName=aws.settings.idempotency_table,
        Item=kept | {"body": {"S": _damaged(kept["body"]["S"], how)}},
    )

    # WHEN the merchant retries with the same key, then with a new one
    again = _register_with_key(api, "register-damaged")
    fresh = _register_with_key(api, "register-damaged-2")

    # THEN the retry says the key is unusable (every time), nothing is registered twice,
    # and a new key works
    assert (again.status, again.body["failCode"]) == (422, "idempotency_key_unusable")
    assert _register_with_key(api, "register-damaged").status == 422
    assert fresh.status == 201 and fresh.body["id"] != first.body["id"]
    assert len(_endpoints_stored(aws)) == 2
