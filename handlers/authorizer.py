"""Lambda REQUEST authorizer: `Authorization: Bearer <api key>` -> merchantId.

Anything else is refused: a missing, malformed, unknown or revoked key, or more than one
Authorization header, is 401 ("Unauthorized"). A failure of its own lookup is neither Allow
nor a cached Deny: the function fails, API Gateway answers 503 (its AUTHORIZER_FAILURE
response, which it never caches) and the merchant's retry is authorized afresh.
The policy covers every route of the stage so API Gateway can cache it per key.
"""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponse,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from core.bootstrap import Services, with_process_services
from core.domain.merchants import API_KEY_PATTERN, MERCHANT_CONTEXT_KEY, MerchantStore
from core.observability import logger

# API Gateway answers 401 exactly when an authorizer fails with this message.
UNAUTHORIZED = "Unauthorized"
_BEARER = re.compile(rf"^Bearer ({API_KEY_PATTERN})$")


class AuthorizerDeniedError(Exception):
    def __init__(self) -> None:
        super().__init__(UNAUTHORIZED)


class MerchantLookupError(Exception):
    """The merchants table could not be read: not the caller's fault, never cached."""


def bearer_token(
    headers: dict[str, str] | None, multi_value_headers: dict[str, list[str]] | None = None
) -> str | None:
    """The API key of exactly one `Authorization: Bearer` header, or None."""
    values = [value for name, value in (headers or {}).items() if name.lower() == "authorization"]
    repeated = [
        value
        for name, many in (multi_value_headers or {}).items()
        if name.lower() == "authorization"
        for value in many
    ]
    if len(values) != 1 or len(repeated) > 1:
        return None
    match = _BEARER.match(values[0].strip())
    return match.group(1) if match else None


def authorize(event: APIGatewayAuthorizerRequestEvent, merchants: MerchantStore) -> dict[str, Any]:
    arn = event.parsed_arn
    policy = APIGatewayAuthorizerResponse(
        principal_id="anonymous",
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        partition=arn.partition,
    )
    token = bearer_token(event.headers, event.raw_event.get("multiValueHeaders"))
    if token is None:
        logger.info("authorization refused", extra={"reason": "missing or malformed header"})
        raise AuthorizerDeniedError
    try:
        merchant = merchants.find_by_api_key(token)
    except Exception as error:
        logger.error("merchant lookup failed", extra={"errorType": type(error).__name__})
        raise MerchantLookupError("the merchant could not be looked up") from None
    if merchant is None:
        logger.info("authorization refused", extra={"reason": "unknown api key"})
        raise AuthorizerDeniedError
    policy.principal_id = merchant.merchant_id
    policy.usage_identifier_key = merchant.usage_key
    policy.context = {MERCHANT_CONTEXT_KEY: merchant.merchant_id}
    policy.allow_all_routes()
    logger.info("authorized", extra={"merchantId": merchant.merchant_id})
    return policy.asdict()


@logger.inject_lambda_context(clear_state=True)
def handle(event: dict[str, Any], context: LambdaContext, deps: Services) -> dict[str, Any]:
    return authorize(APIGatewayAuthorizerRequestEvent(event), deps.merchants)


lambda_handler = with_process_services(handle, primes="merchants")
