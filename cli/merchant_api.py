"""The commands that act on a payment as its merchant would (capture, void, refund) call the
API over HTTP with the merchant's API key: what they print is what the API answered, with
every rule, tenancy check and Idempotency-Key the API applies, and a refusal is one line
(its failCode and why) and exit code 1."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, NoReturn

import typer

from cli.http_client import http_request
from cli.output import emit_json, fail, json_wanted
from cli.target import Target
from cli.webhook_commands import merchant_of
from handlers.headers import IDEMPOTENCY_HEADER

API_KEY_ENV = "PAYGATE_API_KEY"

ApiKeyOption = Annotated[
    str | None,
    typer.Option(
        envvar=API_KEY_ENV,
        show_envvar=True,
        help="The merchant's API key (default on the local stack: the development merchant's).",
    ),
]

# Refusals the API key explains better than the API's own words can.
_KEY_HINTS = {
    401: f"pass the merchant's API key with --api-key or ${API_KEY_ENV}",
    404: "is it another merchant's? pass its --merchant-id and API key",
}


@dataclass(frozen=True)
class MerchantApi:
    url: str
    api_key: str
    merchant_id: str

    def post(
        self, path: str, payload: dict[str, Any], idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """The API's answer to POST `path` with `payload` (merchantId added); a refusal ends
        the command: the reason on stderr, and with --json the API's answer on stdout."""
        headers = {IDEMPOTENCY_HEADER: idempotency_key} if idempotency_key else None
        body = {"merchantId": self.merchant_id, **payload}
        try:
            answer = http_request(self.url, "POST", path, self.api_key, body, headers=headers)
        except (OSError, ValueError) as error:
            fail(f"no answer from the API at {self.url}: {type(error).__name__}: {error}", 2)
        if not isinstance(answer.body, dict):
            fail(f"the API answered {answer.status} with no JSON object", 1)
        if answer.status >= 400:
            _refused(answer.status, answer.body)
        return answer.body


def merchant_api(target: Target, merchant_id: str | None, api_key: str | None) -> MerchantApi:
    """The API of `target` as the merchant: its key from the option (or the environment),
    else on the local stack the development merchant's; exits 2 when there is none."""
    if not target.api_url:
        fail(f"the stack {target.name} has no ApiUrl output", 2)
    key = api_key or target.dev_api_key
    if not key:
        fail(f"this acts as the merchant: pass its API key with --api-key or ${API_KEY_ENV}", 2)
    return MerchantApi(target.api_url, key, merchant_of(target, merchant_id))


def _refused(status: int, body: dict[str, Any]) -> NoReturn:
    reason = f"refused ({status} {body.get('failCode', 'error')}): {body.get('failReason', '')}"
    issues = "; ".join(
        f"{f.get('field')}: {f.get('issue')}"
        for f in body.get("fields") or []
        if str(f.get("issue")) not in reason
    )
    message = reason + (f" ({issues})" if issues else "")
    if status in _KEY_HINTS:
        message += f"; {_KEY_HINTS[status]}"
    if json_wanted():
        emit_json({"error": message, "exitCode": 1, "httpStatus": status, "answer": body})
    fail(message)
