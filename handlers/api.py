"""What every API entry point shares: the resolver answering every error from the one
error table (handlers/http_errors.py), the caller's identity from the authorizer, strict
JSON body parsing, and Idempotency-Key handling."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, TypeVar, cast

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ValidationError

from core.bootstrap import Services
from core.domain.errors import IdempotencyKeyReusedError, PaygateError
from core.domain.idempotency import Claim, IdempotencyStore, StoredAnswer
from core.domain.merchants import MERCHANT_CONTEXT_KEY
from core.domain.text_rules import contains_card_number
from core.observability import is_transient, logger, metrics, recorder
from handlers.headers import (
    IDEMPOTENCY_HEADER,
    REPLAYED_HEADER,
    REQUEST_ID_HEADER,
    RETRY_AFTER_HEADER,
)
from handlers.http_errors import (
    CardDataInTextError,
    FieldIssue,
    IdempotencyKeyInvalidError,
    InternalError,
    InvalidQueryError,
    MalformedRequestError,
    PayloadTooLargeError,
    RequestValidationFailedError,
    RouteNotFoundError,
    ServiceUnavailableError,
    UnauthorizedError,
    UnsupportedMediaTypeError,
    http_error_of,
)
from handlers.limits import MAX_BODY_BYTES, MAX_IDEMPOTENCY_KEY_LENGTH
from handlers.requests import CARD_DATA_IN_TEXT
from handlers.routes import Route, route_of
from handlers.views import ErrorBody

# After a passing failure of an AWS service: worth trying again this soon.
RETRY_AFTER_UNAVAILABLE_SECONDS = 1
_JSON_MEDIA_TYPES = ("application/json",)

ModelT = TypeVar("ModelT", bound=BaseModel)
HandlerT = TypeVar("HandlerT", bound=Callable[..., Any])


def json_response(status: HTTPStatus | int, body: dict[str, Any]) -> Response[str]:
    return Response(
        status_code=int(status),
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body),
    )


class RouteResolver(APIGatewayRestResolver):
    """A resolver that serves only routes of the registry (handlers/routes.py): a route
    written anywhere else fails at import. `served` lists what it serves."""

    def __init__(self) -> None:
        super().__init__()
        self.served: list[Route] = []

    def serve(self, route: Route) -> Callable[[HandlerT], HandlerT]:
        return cast(Callable[[HandlerT], HandlerT], self.route(route.path, route.method))

    def route(self, rule: str, method: Any, *args: Any, **kwargs: Any) -> Any:
        for name in [method] if isinstance(method, str) else list(method):
            registered = route_of(name, rule)
            if registered is None:
                raise LookupError(f"{name} {rule} is not in handlers/routes.py")
            self.served.append(registered)
        return super().route(rule, method, *args, **kwargs)


def build_resolver() -> RouteResolver:
    app = RouteResolver()

    def request_id() -> str:
        return app.current_event.request_context.request_id or ""

    def error_response(error: PaygateError) -> Response[str]:
        answer = http_error_of(error)
        fields = _fields_of(error)
        body = ErrorBody.of(answer.fail_code, error.reason, request_id(), fields)
        response = json_response(answer.status, body.to_json())
        if answer.status == HTTPStatus.SERVICE_UNAVAILABLE:
            response.headers[RETRY_AFTER_HEADER] = str(RETRY_AFTER_UNAVAILABLE_SECONDS)
        return response

    def refuse(error: PaygateError) -> Response[str]:
        logger.info("request refused", extra={"failCode": http_error_of(error).fail_code})
        metrics.add_metric(name="RequestsRefused", unit="Count", value=1)
        return error_response(error)

    @app.exception_handler(PaygateError)
    def handle_paygate_error(error: PaygateError) -> Response[str]:
        return refuse(error)

    @app.not_found
    def handle_unknown_route(_: NotFoundError) -> Response[str]:
        return refuse(RouteNotFoundError("no such route"))

    @app.exception_handler(Exception)
    def handle_unexpected(error: Exception) -> Response[str]:
        if is_transient(error):
            logger.warning("a dependency is unavailable", extra={"errorType": type(error).__name__})
            metrics.add_metric(name="DependencyUnavailable", unit="Count", value=1)
            return error_response(
                ServiceUnavailableError("a service paygate depends on is busy; retry shortly")
            )
        # Only the type is logged: a message could quote input it was built from.
        logger.error("unexpected error", extra={"errorType": type(error).__name__})
        metrics.add_metric(name="RequestsFailed", unit="Count", value=1)
        recorder.count_own_failure()
        return error_response(InternalError("an internal error occurred"))

    return app


def _fields_of(error: PaygateError) -> tuple[FieldIssue, ...]:
    if isinstance(error, MalformedRequestError):
        return error.fields
    return (FieldIssue(error.field, error.reason),) if error.field else ()


def check_key(key: str) -> str:
    """An Idempotency-Key as it may be sent: printable ASCII, bounded. Anything else goes:
    the key is kept and logged only as its keyed digest (core/adapters/derived_digests.py)."""
    if (
        not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH
        or not key.isascii()
        or not key.isprintable()
    ):
        raise IdempotencyKeyInvalidError(
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters"
        )
    return key


def answer_idempotently(
    app: APIGatewayRestResolver,
    *,
    route: str,
    merchant_id: str,
    request_fingerprint: str,
    answer: Callable[[Claim | None], Response[str]],
    sealed: bool = False,
    same_request: Callable[[str], bool] | None = None,
) -> Response[str]:
    """Honour an `Idempotency-Key` header: replay the first answer for the same request.
    `answer` gets the key's claim (None without a key) to derive its work from. `sealed`:
    the answer shows a secret, so it is kept encrypted (core/adapters/kms_sealed_answers.py).
    `same_request`: whether a fingerprint the key is held for is this request's in another
    format (SubmitCard.repeats); then the key is this request's."""
    key = _single_header(app, IDEMPOTENCY_HEADER)
    if key is None:
        return answer(None)
    services = services_of(app)
    store = services.idempotency
    check_key(key)
    try:
        held = store.begin(merchant_id, route, key, request_fingerprint)
    except IdempotencyKeyReusedError as reused:
        if same_request is None or not same_request(reused.held_request):
            raise
        held = store.begin(merchant_id, route, key, reused.held_request)
    scope = {"merchant_id": merchant_id, "route": route}
    if isinstance(held, StoredAnswer):
        metrics.add_metric(name="IdempotentReplays", unit="Count", value=1)
        body = services.sealed_answers.open(held.body, **scope) if sealed else held.body
        return Response(
            status_code=held.status,
            content_type=content_types.APPLICATION_JSON,
            body=body,
            headers={REPLAYED_HEADER: "true"},
        )
    try:
        response = answer(held)
    except PaygateError as error:
        _give_back(store, merchant_id, route, key, refused=http_error_of(error).status < 500)
        raise
    except BaseException:
        _give_back(store, merchant_id, route, key, refused=False)
        raise
    try:
        body = str(response.body)
        kept = services.sealed_answers.seal(body, **scope) if sealed else body
        store.complete(merchant_id, route, key, StoredAnswer(response.status_code, kept))
    except Exception as error:
        # The answer is true and stands; a retry takes over the claim and answers the same.
        logger.error("idempotency record not completed", extra={"errorType": type(error).__name__})
        metrics.add_metric(name="IdempotencyCompletionFailures", unit="Count", value=1)
    return response


def _single_header(app: APIGatewayRestResolver, name: str) -> str | None:
    """A header's value; 400 if it was sent more than once with different values (under
    any spelling of its name)."""
    event = app.current_event.raw_event
    single = event.get("headers") or {}
    many = event.get("multiValueHeaders") or {}
    values = {value for header, value in single.items() if header.lower() == name.lower()}
    values |= {
        value
        for header, sent in many.items()
        if header.lower() == name.lower()
        for value in sent or []
    }
    if len(values) > 1:
        raise IdempotencyKeyInvalidError(f"the {name} header was sent more than once")
    return next(iter(values), None)


def _give_back(
    store: IdempotencyStore, merchant_id: str, route: str, key: str, *, refused: bool
) -> None:
    try:
        if refused:
            store.release(merchant_id, route, key)
        else:
            store.unlock(merchant_id, route, key)
    except Exception as error:
        # The lock runs out by itself (IN_PROGRESS_SECONDS).
        logger.warning("idempotency key not given back", extra={"errorType": type(error).__name__})


def caller_merchant_id(app: APIGatewayRestResolver) -> str:
    """The merchant the authorizer vouched for: the only merchantId a handler trusts."""
    authorizer = app.current_event.request_context.authorizer
    merchant_id = authorizer.get(MERCHANT_CONTEXT_KEY) if authorizer else None
    if not isinstance(merchant_id, str) or not merchant_id:
        raise UnauthorizedError("missing or invalid API key")
    return merchant_id


def services_of(app: APIGatewayRestResolver) -> Services:
    services = app.context["services"]
    assert isinstance(services, Services)
    return services


def _raw_body(app: APIGatewayRestResolver) -> bytes:
    event = app.current_event
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedRequestError(
                "the body is not valid base64", (FieldIssue("body", "invalid encoding"),)
            ) from None
    return body.encode("utf-8", errors="surrogatepass")


def _check_content_type(app: APIGatewayRestResolver) -> None:
    content_type = app.current_event.headers.get("content-type") or ""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type and media_type not in _JSON_MEDIA_TYPES:
        raise UnsupportedMediaTypeError("the body must be JSON (Content-Type: application/json)")


# A field name worth naming back: what a client may have meant. Anything else (it could be
# card data sent as a key) is never echoed.
_NAMEABLE_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


def _field_name(location: tuple[int | str, ...]) -> str:
    parts = [str(part) for part in location]
    if not all(_NAMEABLE_FIELD.match(part) and not contains_card_number(part) for part in parts):
        return "(an unknown field)"
    return ".".join(parts) or "body"


def validation_issues(error: ValidationError) -> tuple[FieldIssue, ...]:
    issues = []
    for detail in error.errors(include_input=False, include_url=False):
        message = str(detail["msg"]).removeprefix("Value error, ")
        issues.append(FieldIssue(_field_name(tuple(detail["loc"])), message))
    return tuple(issues)


def parse_model(model: type[ModelT], data: Any, context: Any = None) -> ModelT:
    try:
        return model.model_validate(data, context=context)
    except ValidationError as error:
        issues = validation_issues(error)
        if any(detail["type"] == CARD_DATA_IN_TEXT for detail in error.errors()):
            raise CardDataInTextError(
                "a card number was sent in a free-text field; it was not stored", issues
            ) from None
        raise RequestValidationFailedError("the request has invalid fields", issues) from None


class _DuplicateKeyError(ValueError):
    pass


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise _DuplicateKeyError
    return document


def parse_query(app: APIGatewayRestResolver, model: type[ModelT]) -> ModelT:
    """Query string -> model, or 400 `invalid_query` naming the parameters."""
    try:
        return model.model_validate(dict(app.current_event.query_string_parameters or {}))
    except ValidationError as error:
        raise InvalidQueryError(
            "the query has invalid parameters", validation_issues(error)
        ) from None


def parse_json_body(
    app: APIGatewayRestResolver, model: type[ModelT], context: Any = None
) -> ModelT:
    """Body -> model, or a 4xx: 413 too large, 415 not JSON, 400 malformed, 422 invalid."""
    raw = _raw_body(app)
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLargeError(f"the body exceeds {MAX_BODY_BYTES} bytes")
    _check_content_type(app)
    if not raw.strip():
        raise MalformedRequestError(
            "the body is empty", (FieldIssue("body", "a JSON object is required"),)
        )
    try:
        # Strictly UTF-8 (RFC 8259): json.loads would also guess UTF-16 and UTF-32.
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedRequestError(
            "the body is not UTF-8", (FieldIssue("body", "must be UTF-8 encoded JSON"),)
        ) from None
    try:
        data = json.loads(text, object_pairs_hook=_refuse_duplicate_keys)
    except _DuplicateKeyError:
        raise MalformedRequestError(
            "the body has a key twice", (FieldIssue("body", "a key appears more than once"),)
        ) from None
    except (ValueError, RecursionError):
        raise MalformedRequestError(
            "the body is not valid JSON", (FieldIssue("body", "not valid JSON"),)
        ) from None
    if not isinstance(data, dict):
        raise MalformedRequestError(
            "the body must be a JSON object", (FieldIssue("body", "must be a JSON object"),)
        )
    return parse_model(model, data, context)


ApiHandler = Callable[[dict[str, Any], LambdaContext, Services], dict[str, Any]]


def api_entry_point(app: APIGatewayRestResolver) -> ApiHandler:
    """The Lambda entry of one route module: logging with the API Gateway request id as
    correlation id, metrics flushed per invocation, the services passed in."""

    @logger.inject_lambda_context(
        correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
    )
    @metrics.log_metrics
    def handle(event: dict[str, Any], context: LambdaContext, deps: Services) -> dict[str, Any]:
        app.append_context(services=deps)
        response = app.resolve(event, context)
        request_id = event.get("requestContext", {}).get("requestId") or ""
        headers = response.setdefault("multiValueHeaders", {})
        headers[REQUEST_ID_HEADER] = [request_id]
        return response

    return handle
