"""API Gateway keys for the usage plan, so each merchant is throttled on its own (AWS only;
the local stack has no usage plan)."""

from __future__ import annotations

import boto3


def issue_usage_key(session: boto3.session.Session, usage_plan_id: str, name: str) -> str:
    """Create an API Gateway key, attach it to the usage plan, and return its value."""
    apigateway = session.client("apigateway")
    key = apigateway.create_api_key(name=name, enabled=True, generateDistinctId=True)
    apigateway.create_usage_plan_key(usagePlanId=usage_plan_id, keyId=key["id"], keyType="API_KEY")
    return str(key["value"])
