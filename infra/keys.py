"""KMS keys whose use their policy bounds: keys for data at rest that only their service may
use on a caller's behalf, and keys the account administers but may not use."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

# The usual key administrators' actions, without one that gives plaintext: not Encrypt,
# Decrypt, ReEncrypt* or GenerateDataKey*, and CreateAlias instead of Create*, whose
# CreateGrant would let the account grant any of its principals Decrypt.
ADMINISTRATION = [
    "kms:CreateAlias",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
]


class ServiceKey(kms.Key):
    """A key for data at rest in one service (a table's, a queue's). Every grant on it, CDK's
    own included (an event source's grant_consume_messages or grant_stream_read), lets the
    grantee use it only through that service (kms:ViaService): no function can call KMS with
    it itself, so none can re-encrypt card ciphertext under it and decrypt that."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        service: str,
        description: str,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description=description,
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        self.service = service

    @property
    def endpoint(self) -> str:
        """What kms:ViaService names when `service` calls KMS, e.g. sqs.eu-west-1.amazonaws.com."""
        return f"{self.service}.{Stack.of(self).region}.amazonaws.com"

    def grant(self, grantee: iam.IGrantable, *actions: str) -> iam.Grant:
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=list(actions),
            resource_arns=[self.key_arn],
            conditions={"StringEquals": {"kms:ViaService": self.endpoint}},
        )


class AdministeredKey(kms.Key):
    """A key the account administers (its policy, rotation, deletion) but cannot use: the key
    policy names each principal that may use it (allow_use), and an IAM policy alone, even
    one allowing kms:Decrypt on "*", gives no one plaintext."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        description: str,
        alias: str,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description=description,
            alias=alias,
            enable_key_rotation=True,
            removal_policy=removal_policy,
            pending_window=Duration.days(30),
            policy=iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(
                        sid="AccountAdministersTheKey",
                        principals=[iam.AccountRootPrincipal()],
                        actions=ADMINISTRATION,
                        resources=["*"],
                    )
                ]
            ),
        )

    def allow_use(
        self, role: iam.IRole, action: str, conditions: dict[str, dict[str, object]]
    ) -> None:
        """`action` for `role` by key policy (the role itself does not refer to the key, so
        CloudFormation creates the role, then the key, then the role's policy: no cycle)."""
        self.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[role], actions=[action], resources=["*"], conditions=conditions
            )
        )
