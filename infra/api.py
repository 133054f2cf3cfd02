"""The REST API: the routes of the API contract behind the Lambda REQUEST authorizer,
API keys from the authorizer with a usage plan per merchant, body validation, access logs,
and gateway responses in paygate's error format."""

from __future__ import annotations

import json

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from core.resources import AUTHORIZER_CACHE_SECONDS
from handlers import gateway_responses
from handlers.gateway_responses import GatewayResponse
from handlers.headers import REQUEST_ID_HEADER
from handlers.routes import Route
from infra.functions import Functions
from infra.scaling import Scaling

STAGE = "v1"
AUTHORIZER_CACHE = Duration.seconds(AUTHORIZER_CACHE_SECONDS)
# Per merchant (per API key) on the standard plan; the stage's limits (infra/scaling.py)
# cap the total, and the large plan's is set there too.
MERCHANT_RATE_LIMIT = 50
MERCHANT_BURST_LIMIT = 100

# One JSON line per request, as the local gateway writes it: method, route, status and
# latency (numbers, so metric filters compare them as numbers), request id, merchant.
ACCESS_LOG_FORMAT = (
    '{"requestId":"$context.requestId","method":"$context.httpMethod",'
    '"path":"$context.resourcePath","status":$context.status,'
    '"ms":$context.responseLatency,"merchantId":"$context.authorizer.merchantId",'
    '"ip":"$context.identity.sourceIp","time":"$context.requestTime",'
    '"error":$context.error.messageString}'
)

_GATEWAY_RESPONSES: dict[apigw.ResponseType, GatewayResponse] = {
    apigw.ResponseType.UNAUTHORIZED: gateway_responses.UNAUTHORIZED,
    apigw.ResponseType.ACCESS_DENIED: gateway_responses.ACCESS_DENIED,
    apigw.ResponseType.INVALID_API_KEY: gateway_responses.ACCESS_DENIED,
    apigw.ResponseType.THROTTLED: gateway_responses.THROTTLED,
    apigw.ResponseType.QUOTA_EXCEEDED: gateway_responses.THROTTLED,
    apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN: gateway_responses.ROUTE_NOT_FOUND,
    apigw.ResponseType.REQUEST_TOO_LARGE: gateway_responses.PAYLOAD_TOO_LARGE,
    apigw.ResponseType.BAD_REQUEST_BODY: gateway_responses.MALFORMED_BODY,
    apigw.ResponseType.WAF_FILTERED: gateway_responses.REQUEST_BLOCKED,
    apigw.ResponseType.AUTHORIZER_FAILURE: gateway_responses.AUTHORIZER_UNAVAILABLE,
    apigw.ResponseType.AUTHORIZER_CONFIGURATION_ERROR: gateway_responses.AUTHORIZER_UNAVAILABLE,
}


def _template(response: GatewayResponse) -> str:
    body = response.body("$context.requestId")
    return json.dumps(body)


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        functions: Functions,
        scaling: Scaling,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = functions.factory.log_group("AccessLogs")
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=f"{prefix}-api",
            description="paygate merchant API",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            api_key_source_type=apigw.ApiKeySourceType.AUTHORIZER,
            # API Gateway's logging role is the account's (infra/account.py), not a stage's.
            cloud_watch_role=False,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.custom(ACCESS_LOG_FORMAT),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                metrics_enabled=True,
                tracing_enabled=True,
                throttling_rate_limit=scaling.api_rate_limit,
                throttling_burst_limit=scaling.api_burst_limit,
            ),
        )
        # API Gateway writes its execution logs (ERROR level) to a group it would otherwise
        # create itself, unencrypted and kept forever: made here, like every other group.
        execution_logs = functions.factory.log_group(
            "ExecutionLogs", name=f"API-Gateway-Execution-Logs_{self.rest_api.rest_api_id}/{STAGE}"
        )
        self.rest_api.deployment_stage.node.add_dependency(execution_logs)
        self.authorizer = apigw.RequestAuthorizer(
            self,
            "ApiKeyAuthorizer",
            handler=functions.live[functions.authorizer],
            identity_sources=[apigw.IdentitySource.header("Authorization")],
            results_cache_ttl=AUTHORIZER_CACHE,
        )
        validator = self.rest_api.add_request_validator(
            "BodyValidator", validate_request_body=True, validate_request_parameters=True
        )
        # API Gateway checks only that a body is a JSON object; every field rule lives
        # once, in core/requests.py, so answers are the same here and on the local stack.
        json_object = self.rest_api.add_model(
            "JsonObject",
            content_type="application/json",
            schema=apigw.JsonSchema(
                schema=apigw.JsonSchemaVersion.DRAFT4, type=apigw.JsonSchemaType.OBJECT
            ),
        )
        for route, function in functions.for_route.items():
            self._route(
                route,
                functions.live[function],
                validator,
                json_object if route.takes_body else None,
            )

        for response_type, response in _GATEWAY_RESPONSES.items():
            self.rest_api.add_gateway_response(
                f"{response.fail_code}-{response_type.response_type}",
                type=response_type,
                status_code=str(response.status),
                templates={"application/json": _template(response)},
                response_headers={REQUEST_ID_HEADER: "context.requestId"}
                | ({"Retry-After": f"'{response.retry_after}'"} if response.retry_after else {}),
            )

        stages = [
            apigw.UsagePlanPerApiStage(api=self.rest_api, stage=self.rest_api.deployment_stage)
        ]
        self.usage_plan = self.rest_api.add_usage_plan(
            "MerchantUsagePlan",
            name=f"{prefix}-merchants",
            description="Per-merchant throttling: each merchant's key is a usage plan key",
            throttle=apigw.ThrottleSettings(
                rate_limit=MERCHANT_RATE_LIMIT, burst_limit=MERCHANT_BURST_LIMIT
            ),
            api_stages=stages,
        )
        self.large_usage_plan = self.rest_api.add_usage_plan(
            "LargeMerchantUsagePlan",
            name=f"{prefix}-large-merchants",
            description="Per-merchant throttling for the merchants with the most traffic",
            throttle=apigw.ThrottleSettings(
                rate_limit=scaling.large_merchant_rate_limit,
                burst_limit=scaling.api_burst_limit,
            ),
            api_stages=stages,
        )

    def _route(
        self,
        route: Route,
        function: lambda_.IFunction,
        validator: apigw.RequestValidator,
        model: apigw.Model | None,
    ) -> None:
        # Several methods may share a path (GET, POST and DELETE /webhook-endpoints).
        resource = self.rest_api.root.get_resource(route.name) or self.rest_api.root.add_resource(
            route.name
        )
        resource.add_method(
            route.method,
            apigw.LambdaIntegration(function),
            authorizer=self.authorizer,
            authorization_type=apigw.AuthorizationType.CUSTOM,
            api_key_required=True,
            request_validator=validator,
            request_models={"application/json": model} if model else None,
        )
