"""Merchant ids are unique and never reused by a name collision; another key for a merchant
is an explicit command; every key issued and revoked is in the merchant's audit trail."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.main import app
from core.bootstrap import Services
from core.domain.errors import InvalidMerchantError, MerchantExistsError, UnknownMerchantError
from core.domain.merchants import api_key_digest
from handlers import authorizer
from tests.conftest import AwsEnv
from tests.integration.gateway_support import served_gateway, write_state_file
from tests.support import authorizer_event, lambda_context


@pytest.fixture
def aws(emulated_aws: AwsEnv) -> AwsEnv:
    """This module drives the paygate CLI, which only talks to an emulator on loopback."""
    return emulated_aws


def _allowed_merchant(services: Services, api_key: str) -> str | None:
    try:
        policy = authorizer.handle(
            authorizer_event({"Authorization": f"Bearer {api_key}"}), lambda_context(), services
        )
    except authorizer.AuthorizerDeniedError:
        return None
    return str(policy["context"]["merchantId"])


def _key_items(aws: AwsEnv) -> list[dict[str, Any]]:
    items = aws.dynamodb.scan(TableName=aws.settings.merchants_table)["Items"]
    return [item for item in items if item["kind"]["S"] == "key"]


def test_a_name_that_slugs_to_an_existing_merchant_issues_nothing(
    services: Services, aws: AwsEnv, tmp_path: Any
) -> None:
    # GIVEN the merchant dev-merchant with its key
    first = services.merchants.create_merchant(
        "dev-merchant", "Development merchant", created_at=0, actor="test"
    )

    # WHEN someone creates "Dev Merchant" (which slugs to dev-merchant)
    with served_gateway(services) as port:
        state = write_state_file(tmp_path / "local.json", aws, port)
        result = CliRunner().invoke(
            app, ["--state-file", str(state), "merchants", "create", "Dev Merchant"]
        )

    # THEN it is refused, no key was issued, and only the first key opens dev-merchant
    assert result.exit_code == 1
    assert "exists already" in result.output
    assert "add-key dev-merchant" in result.output
    assert "pg_" not in result.output
    assert len(_key_items(aws)) == 1
    assert _allowed_merchant(services, first.api_key) == "dev-merchant"


def test_creating_an_existing_merchant_id_directly_is_refused(services: Services) -> None:
    services.merchants.create_merchant("shop", "Shop", created_at=0, actor="a")

    with pytest.raises(MerchantExistsError):
        services.merchants.create_merchant("shop", "Another shop", created_at=1, actor="b")


def test_add_key_revoke_and_the_audit_trail(services: Services, aws: AwsEnv) -> None:
    # GIVEN a merchant with its first key
    merchants = services.merchants
    first = merchants.create_merchant("shop", "Shop", created_at=10, actor="ops:ada")

    # WHEN it gets a second key explicitly and the first is revoked
    second = merchants.add_key("shop", created_at=20, actor="ops:ada")
    merchants.revoke_key("shop", first.key_id, revoked_at=30, actor="ops:grace")
    merchants.revoke_key("shop", first.key_id, revoked_at=40, actor="ops:grace")

    # THEN the first key no longer opens the API, the second does, and the merchant
    # record tells who did what when
    assert _allowed_merchant(services, first.api_key) is None
    assert _allowed_merchant(services, second.api_key) == "shop"
    record = merchants.get_merchant("shop")
    assert record is not None
    assert [(k.key_id, k.revoked_at) for k in record.keys] == [
        (first.key_id, 30),
        (second.key_id, None),
    ]
    assert [(e.at, e.action, e.key_id, e.actor) for e in record.audit] == [
        (10, "merchant_created", first.key_id, "ops:ada"),
        (20, "key_added", second.key_id, "ops:ada"),
        (30, "key_revoked", first.key_id, "ops:grace"),
    ]
    assert first.api_key not in json.dumps(
        aws.dynamodb.scan(TableName=aws.settings.merchants_table)["Items"]
    )


def test_add_key_for_an_unknown_merchant_is_refused(services: Services) -> None:
    with pytest.raises(UnknownMerchantError):
        services.merchants.add_key("nobody", created_at=0, actor="test")


def test_keys_issued_before_merchants_were_registered_keep_working_and_take_their_id(
    services: Services, aws: AwsEnv, tmp_path: Any
) -> None:
    # GIVEN a key item as written before merchant records existed (no `kind`)
    legacy_key = "pg_" + "legacy" * 8
    aws.dynamodb.put_item(
        TableName=aws.settings.merchants_table,
        Item={
            "apiKeyDigest": {"S": api_key_digest(legacy_key)},
            "merchantId": {"S": "acme"},
            "name": {"S": "Acme"},
            "createdAt": {"N": "5"},
        },
    )

    # WHEN the key is used, and ops then run merchant commands
    allowed = _allowed_merchant(services, legacy_key)
    with served_gateway(services) as port:
        state = write_state_file(tmp_path / "local.json", aws, port)
        runner = CliRunner()
        create = runner.invoke(app, ["--state-file", str(state), "merchants", "create", "Acme"])
        listing = runner.invoke(app, ["--state-file", str(state), "merchants", "list", "--json"])

    # THEN nobody is locked out, the id is taken, and the old key is listed (revocable)
    assert allowed == "acme"
    assert create.exit_code == 1
    assert "exists already" in create.output
    merchants = json.loads(listing.stdout[listing.stdout.index("[") :])
    assert [(m["merchantId"], len(m["keys"])) for m in merchants] == [("acme", 1)]
    assert _allowed_merchant(services, legacy_key) == "acme"


@pytest.mark.parametrize(
    ("merchant_id", "name"),
    [("[/i]", "Shop"), ("shop", "Shop\u202e"), ("a" * 65, "Shop"), ("shop", "")],
)
def test_a_merchant_id_or_name_the_api_could_not_use_is_refused(
    services: Services, merchant_id: str, name: str
) -> None:
    with pytest.raises(InvalidMerchantError):
        services.merchants.create_merchant(merchant_id, name, created_at=0, actor="test")


def test_a_revoked_key_answers_401_at_once_on_the_local_stack(
    services: Services, aws: AwsEnv, tmp_path: Any
) -> None:
    # GIVEN a merchant whose key the local gateway has just authorized (and cached)
    issued = services.merchants.create_merchant("shop", "Shop", created_at=0, actor="test")
    state = tmp_path / ".paygate" / "local.json"
    with served_gateway(services, state) as port:
        write_state_file(state, aws, port)
        before = _create_over_http(port, issued.api_key)

        # WHEN ops revoke it
        revoke = CliRunner().invoke(
            app, ["--state-file", str(state), "merchants", "revoke", "shop", issued.key_id]
        )
        after = _create_over_http(port, issued.api_key)

    # THEN the very next call is refused
    assert (before, revoke.exit_code, after) == (201, 0, 401)


def _create_over_http(port: int, api_key: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/create-payment",
        data=json.dumps({"merchantId": "shop"}).encode(),
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
