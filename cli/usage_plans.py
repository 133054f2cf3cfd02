"""API Gateway keys for the usage plans, so each merchant is throttled on its own (AWS only;
the local stack has no usage plan). Two plans: standard (50 requests/s a merchant) and
large (infra/scaling.py), for the merchants with the most traffic."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import boto3


class Plan(StrEnum):
    STANDARD = "standard"
    LARGE = "large"


def issue_usage_key(session: boto3.session.Session, usage_plan_id: str, name: str) -> str:
    """Create an API Gateway key, attach it to the usage plan, and return its value."""
    apigateway = session.client("apigateway")
    key = apigateway.create_api_key(name=name, enabled=True, generateDistinctId=True)
    apigateway.create_usage_plan_key(usagePlanId=usage_plan_id, keyId=key["id"], keyType="API_KEY")
    return str(key["value"])


def move_usage_key(
    session: boto3.session.Session, name: str, plan_ids: dict[Plan, str], to: Plan
) -> bool:
    """Attach the usage key called `name` to plan `to` and detach it from the others;
    False if there is no such key."""
    apigateway = session.client("apigateway")
    keys = apigateway.get_api_keys(nameQuery=name, limit=500).get("items", [])
    matching = [key["id"] for key in keys if key.get("name") == name]
    if not matching:
        return False
    for key_id in matching:
        for plan, plan_id in plan_ids.items():
            attached = _attached(apigateway, plan_id, key_id)
            if plan is to and not attached:
                apigateway.create_usage_plan_key(
                    usagePlanId=plan_id, keyId=key_id, keyType="API_KEY"
                )
            elif plan is not to and attached:
                apigateway.delete_usage_plan_key(usagePlanId=plan_id, keyId=key_id)
    return True


def _attached(apigateway: Any, plan_id: str, key_id: str) -> bool:
    keys = apigateway.get_usage_plan_keys(usagePlanId=plan_id, limit=500)
    return any(key["id"] == key_id for key in keys.get("items", []))
