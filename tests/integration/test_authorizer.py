from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
)

from core.adapters.dynamodb_merchants import DynamoMerchantStore
from core.bootstrap import Services
from core.domain.merchants import IssuedKey
from handlers import authorizer
from tests.conftest import ApiClient, AwsEnv
from tests.support import authorizer_event, lambda_context


@pytest.fixture
def issued(services: Services, aws: AwsEnv) -> IssuedKey:
    return services.merchants.create_merchant(
        "merchant-a", "Ada's Analytical Engines", created_at=0, actor="test"
    )


def _authorize(services: Services, headers: dict[str, str] | None) -> dict[str, Any]:
    return authorizer.handle(authorizer_event(headers), lambda_context(), services)


def test_a_valid_key_is_allowed_with_its_merchant_in_the_context(
    services: Services, issued: IssuedKey
) -> None:
    policy = _authorize(services, {"Authorization": f"Bearer {issued.api_key}"})

    assert policy["principalId"] == "merchant-a"
    assert policy["context"] == {"merchantId": "merchant-a"}
    statement = policy["policyDocument"]["Statement"][0]
    assert statement["Effect"] == "Allow"
    # The whole stage, so API Gateway's per-key cache serves every route.
    assert statement["Resource"] == [
        "arn:aws:execute-api:us-east-1:123456789012:paygateapi/test/*/*"
    ]


def test_the_header_name_is_case_insensitive(services: Services, issued: IssuedKey) -> None:
    policy = _authorize(services, {"authorization": f"Bearer {issued.api_key}"})

    assert policy["context"] == {"merchantId": "merchant-a"}


@pytest.mark.parametrize(
    "headers",
    [
        None,
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "bearer pg_wrongwrongwrongwrongwrong"},
        {"Authorization": "Bearer pg_wrongwrongwrongwrongwrong"},
        {"Authorization": "Bearer pg_has spaces in it at all"},
        {"Authorization": "Bearer " + "x" * 300},
        {"X-Api-Key": "pg_wrongwrongwrongwrongwrong"},
    ],
    ids=[
        "no headers",
        "no authorization",
        "empty",
        "bearer only",
        "bearer and space",
        "basic",
        "lowercase scheme",
        "unknown key",
        "spaces",
        "too long",
        "other header",
    ],
)
def test_anything_but_a_known_bearer_key_is_401(
    services: Services, issued: IssuedKey, headers: dict[str, str] | None
) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        _authorize(services, headers)


def test_a_key_is_stored_only_as_its_digest(
    services: Services, issued: IssuedKey, aws: AwsEnv
) -> None:
    items = aws.dynamodb.scan(TableName=aws.settings.merchants_table)["Items"]

    assert len(issued.api_key) >= 40
    assert len(items) == 2  # the merchant and its key
    assert issued.api_key not in str(items)


def test_when_the_lookup_itself_fails_the_authorizer_fails_instead_of_denying(
    services: Services, issued: IssuedKey, aws: AwsEnv
) -> None:
    # GIVEN the merchants table is gone (DynamoDB answers ResourceNotFound)
    broken = DynamoMerchantStore(aws.dynamodb, aws.settings.merchants_table + "-missing")

    # WHEN a valid key is presented
    # THEN no policy at all: neither an Allow nor a Deny that API Gateway would cache for
    # the key; the function fails, which API Gateway answers 503 and never caches
    with pytest.raises(authorizer.MerchantLookupError):
        authorizer.authorize(
            APIGatewayAuthorizerRequestEvent(
                authorizer_event({"Authorization": f"Bearer {issued.api_key}"})
            ),
            broken,
        )


def test_a_handler_reached_without_an_authorizer_context_is_401(
    api: ApiClient, aws: AwsEnv
) -> None:
    response = api.as_merchant(None).post("/create-payment", {"merchantId": "merchant-a"})

    assert response.status == 401
    assert response.body["failCode"] == "unauthorized"
    assert aws.payment_items() == []
