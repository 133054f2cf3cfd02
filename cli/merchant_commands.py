"""`paygate merchants`: register merchants and manage their API keys."""

from __future__ import annotations

import re
from typing import Annotated, Any, NoReturn

import typer

from cli.output import emit_records, fail, say, show, when
from cli.target import Target, target_of
from cli.usage_plans import Plan, issue_usage_key, move_usage_key
from core.domain.clock import epoch_seconds
from core.domain.errors import (
    InvalidMerchantError,
    MerchantExistsError,
    UnknownKeyError,
    UnknownMerchantError,
)
from core.domain.merchants import IssuedKey, MerchantRecord, check_merchant

merchants_app = typer.Typer(
    help="Merchants and their API keys (each key is shown once; only its digest is stored).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64] or "merchant"


def _show_key(issued: IssuedKey) -> None:
    show(
        {
            "merchantId": issued.merchant.merchant_id,
            "keyId": issued.key_id,
            "apiKey": issued.api_key,
        },
        lambda: emit_records(
            "Keep the API key now: it cannot be shown again.",
            [
                [
                    ("merchant", issued.merchant.merchant_id),
                    ("key id", issued.key_id),
                    ("API key", issued.api_key),
                ]
            ],
        ),
    )


def _refuse_existing(merchant_id: str) -> NoReturn:
    fail(
        f"merchant {merchant_id} exists already: nothing was issued. To give it another key: "
        f"paygate merchants add-key {merchant_id}. For a new merchant, choose another id "
        "with --merchant-id."
    )


@merchants_app.command(
    "create",
    epilog='Examples:\n\n\b\n  paygate merchants create "Ada\'s Shop"\n'
    '  paygate merchants create "Ada\'s Shop" --merchant-id ada-eu\n'
    '  paygate --stack paygate-dev --region eu-west-1 merchants create "Ada\'s Shop"\n',
)
def merchants_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The merchant's display name.")],
    merchant_id: Annotated[
        str | None, typer.Option(help="The merchant id (default: from the name).")
    ] = None,
    plan: Annotated[
        Plan,
        typer.Option(
            help="Its usage plan on AWS: standard (50 requests/s) or large (for the "
            "merchants with the most traffic; see docs/sizing.md)."
        ),
    ] = Plan.STANDARD,
) -> None:
    """Register a new merchant and issue its first API key. An id that exists is refused
    (nothing is issued): use `merchants add-key ID` for another key of a merchant."""
    merchant_id = merchant_id or _slug(name)
    try:
        check_merchant(merchant_id, name)
    except InvalidMerchantError as error:
        fail(str(error), 2)
    target = target_of(ctx)
    try:
        issued = register_merchant(target, merchant_id, name, plan)
    except MerchantExistsError:
        _refuse_existing(merchant_id)
    _show_key(issued)


def register_merchant(target: Target, merchant_id: str, name: str, plan: Plan) -> IssuedKey:
    """A new merchant with its first key, and on AWS its usage-plan key; raises
    MerchantExistsError (nothing issued) for an id that exists."""
    merchants = target.merchants()
    if merchants.get_merchant(merchant_id) is not None:
        raise MerchantExistsError(merchant_id)
    plan_id = _plan_ids(target).get(plan)
    usage_key = (
        issue_usage_key(target.session, plan_id, _usage_key_name(target, merchant_id))
        if plan_id
        else None
    )
    return merchants.create_merchant(
        merchant_id,
        name,
        created_at=epoch_seconds(target.services.clock),
        actor=target.actor,
        usage_key=usage_key,
    )


@merchants_app.command(
    "add-key", epilog="Examples:\n\n\b\n  paygate merchants add-key ada-s-shop\n"
)
def merchants_add_key(
    ctx: typer.Context,
    merchant_id: Annotated[str, typer.Argument(help="An existing merchant's id.")],
) -> None:
    """Issue another API key for an existing merchant (to rotate: add-key, switch the
    merchant over, revoke the old key)."""
    target = target_of(ctx)
    try:
        issued = target.merchants().add_key(
            merchant_id, created_at=epoch_seconds(target.services.clock), actor=target.actor
        )
    except UnknownMerchantError:
        fail(f"no merchant {merchant_id} (see `paygate merchants list`)")
    _show_key(issued)


@merchants_app.command(
    "set-plan",
    epilog="Examples:\n\n\b\n  paygate --stack paygate-prod merchants set-plan ada-s-shop large\n",
)
def merchants_set_plan(
    ctx: typer.Context,
    merchant_id: Annotated[str, typer.Argument(help="An existing merchant's id.")],
    plan: Annotated[Plan, typer.Argument(help="standard or large.")],
) -> None:
    """Move a merchant to another usage plan (AWS only: the local stack does not throttle)."""
    target = target_of(ctx)
    plans = _plan_ids(target)
    if plan not in plans:
        fail(f"the stack {target.name} has no {plan} usage plan (the local stack has none)", 2)
    if target.merchants().get_merchant(merchant_id) is None:
        fail(f"no merchant {merchant_id} (see `paygate merchants list`)")
    if not move_usage_key(target.session, _usage_key_name(target, merchant_id), plans, plan):
        fail(f"merchant {merchant_id} has no usage key on {target.name}")
    show(
        {"merchantId": merchant_id, "plan": plan.value},
        lambda: say(f"merchant {merchant_id} is on the {plan} usage plan"),
    )


def _plan_ids(target: Target) -> dict[Plan, str]:
    plans = {Plan.STANDARD: target.usage_plan_id, Plan.LARGE: target.large_usage_plan_id}
    return {plan: plan_id for plan, plan_id in plans.items() if plan_id}


def _usage_key_name(target: Target, merchant_id: str) -> str:
    return f"{target.name}-{merchant_id}"


@merchants_app.command(
    "revoke", epilog="Examples:\n\n\b\n  paygate merchants revoke ada-s-shop key_0123456789ab\n"
)
def merchants_revoke(
    ctx: typer.Context,
    merchant_id: Annotated[str, typer.Argument(help="The merchant's id.")],
    key_id: Annotated[str, typer.Argument(help="The key's id, from `merchants list`.")],
) -> None:
    """Revoke one API key: it answers 401 from then on (at once on the local stack; on AWS
    within the authorizer's cache time, 5 minutes)."""
    target = target_of(ctx)
    try:
        revoked = target.merchants().revoke_key(
            merchant_id, key_id, revoked_at=epoch_seconds(target.services.clock), actor=target.actor
        )
    except (UnknownMerchantError, UnknownKeyError) as error:
        fail(f"{error} (see `paygate merchants list`)")
    target.note_keys_changed()
    show(
        {"merchantId": merchant_id, "keyId": key_id, "revokedNow": revoked},
        lambda: say(
            f"revoked {key_id} of {merchant_id}" if revoked else f"{key_id} was revoked already"
        ),
    )


def _merchant_json(record: MerchantRecord) -> dict[str, Any]:
    return {
        "merchantId": record.merchant_id,
        "name": record.name,
        "createdAt": when(record.created_at),
        "keys": [
            {"keyId": k.key_id, "issuedAt": when(k.created_at), "revokedAt": when(k.revoked_at)}
            for k in record.keys
        ],
        "audit": [
            {"at": when(e.at), "action": e.action, "keyId": e.key_id, "actor": e.actor}
            for e in record.audit
        ],
    }


@merchants_app.command(
    "list", epilog="Examples:\n\n\b\n  paygate merchants list\n  paygate merchants list --json\n"
)
def merchants_list(ctx: typer.Context) -> None:
    """Every merchant with its keys, active and revoked (with --json, its audit trail too)."""
    records = target_of(ctx).merchants().list_merchants()
    show([_merchant_json(record) for record in records], lambda: _list_records(records))


def _list_records(records: list[MerchantRecord]) -> None:
    emit_records(
        f"merchants: {len(records)}",
        [
            [
                ("merchant", record.merchant_id),
                ("name", record.name),
                *(
                    (
                        "key",
                        f"{key.key_id}  issued {when(key.created_at)}"
                        + (f"  REVOKED {when(key.revoked_at)}" if key.revoked_at else ""),
                    )
                    for key in record.keys
                ),
            ]
            for record in records
        ],
    )
