"""The `paygate` command: the local stack, payments, the DLQ, merchants, the bank.

Every command works on the local stack (`make run`) by default, and on a deployed stack
with --stack NAME [--region R] [--profile P]."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.bank_commands import bank_app
from cli.dlq_commands import dlq_app
from cli.listen import Listener
from cli.local_stack import (
    AlreadyRunningError,
    LocalStack,
    LocalStackInfo,
    LocalStackOptions,
    PortInUseError,
    run_until_interrupted,
)
from cli.local_state import default_state_file
from cli.merchant_commands import merchants_app
from cli.output import CurrentStderr, EveryCommandTakesJson, emit_records, fail, say, show
from cli.payment_commands import payments_app
from cli.smoke import DEFAULT_DLQ_WAIT_SECONDS, DEFAULT_SETTLE_SECONDS, Check, SmokeRun, smoke_key
from cli.target import TargetChoice, target_of
from cli.webhook_commands import events_app, merchant_of, webhooks_app
from core.domain.errors import PaygateError
from core.observability import logger
from core.resources import LOCAL_API_PORT
from core.settings import SettingsError

app = typer.Typer(
    help=__doc__,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    cls=EveryCommandTakesJson,
)
app.add_typer(merchants_app, name="merchants")
app.add_typer(payments_app, name="payments")
app.add_typer(dlq_app, name="dlq")
app.add_typer(bank_app, name="bank")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(events_app, name="events")


@app.callback()
def choose_target(
    ctx: typer.Context,
    stack: Annotated[
        str | None, typer.Option(help="A deployed CDK stack's name (default: the local stack).")
    ] = None,
    region: Annotated[str | None, typer.Option(help="AWS region of --stack.")] = None,
    profile: Annotated[str | None, typer.Option(help="AWS profile for --stack.")] = None,
    state_file: Annotated[
        Path | None,
        typer.Option(
            help="The local stack's state file (default: .paygate/local.json in the project "
            "folder, found from any subfolder; or $PAYGATE_STATE_FILE)."
        ),
    ] = None,
) -> None:
    ctx.obj = TargetChoice(stack, region, profile, state_file or default_state_file())
    # A command's output (with --json one document) is for people and scripts, on stdout;
    # logs, the local stack's included, go apart to stderr.
    handler = logger.registered_handler
    if isinstance(handler, logging.StreamHandler):
        stream = handler.setStream(CurrentStderr())
        ctx.call_on_close(lambda: handler.setStream(stream) and None)
    if ctx.invoked_subcommand != "local":
        # Only warnings (the audit trail of merchant keys is kept on the merchant, not in
        # logs).
        level = logger.log_level
        logger.setLevel(logging.WARNING)
        ctx.call_on_close(lambda: logger.setLevel(level))


@app.command(
    epilog="Examples:\n\n\b\n  make run\n  make run PORT=8421 AWS_PORT=4567\n"
    "  PAYGATE_BANK_TIMEOUT_SECONDS=0.2 paygate local\n  paygate local --port 0\n"
)
def local(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address the API listens on.")] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(min=0, max=65535, envvar="PAYGATE_PORT", help="Port of the API (0: any)."),
    ] = LOCAL_API_PORT,
    aws_port: Annotated[
        int,
        typer.Option(
            min=0, max=65535, envvar="PAYGATE_AWS_PORT", help="Port of the AWS emulator (0: any)."
        ),
    ] = 0,
    api_instances: Annotated[
        int, typer.Option(min=1, max=8, help="API processes sharing the port.")
    ] = 2,
) -> None:
    """Run the whole system locally: AWS emulator, API, worker, reconciler. Ctrl-C stops it.

    Restarting wipes the data (the emulator keeps it in memory); the development API key
    stays the same (kept in .paygate/dev-merchant.json)."""
    choice: TargetChoice = ctx.obj
    options = LocalStackOptions(
        state_file=choice.state_file,
        host=host,
        port=port,
        aws_port=aws_port,
        api_instances=api_instances,
    )
    stack = LocalStack(options)

    def announce(info: LocalStackInfo) -> None:
        for note in stack.notes:
            say(note)
        show(
            {
                "apiUrl": info.url,
                "docsUrl": info.url + "/docs",
                "apiKey": info.api_key,
                "merchantId": info.merchant_id,
                "awsEndpointUrl": info.aws_endpoint_url,
                "stateFile": str(options.state_file),
            },
            lambda: _announce(info, options.state_file),
        )

    try:
        code = run_until_interrupted(stack, announce)
    except (PortInUseError, AlreadyRunningError) as error:
        fail(str(error))
    except SettingsError as error:
        fail(f"{error} (check the PAYGATE_* variables in your environment)", 2)
    say("paygate stopped.")
    raise typer.Exit(code)


def _announce(info: LocalStackInfo, state_file: Path) -> None:
    emit_records(
        "paygate is running (Ctrl-C to stop; a restart wipes the data, the key stays)",
        [
            [
                ("API", info.url),
                ("docs", info.url + "/docs"),
                ("API key", info.api_key),
                ("merchant", info.merchant_id),
                ("AWS", f"{info.aws_endpoint_url} (moto)"),
                ("state", f"{state_file} (for scripts and the paygate CLI)"),
            ]
        ],
    )
    say("")
    say("Try it (one line, paste as is):")
    say(
        f"curl -s -X POST {info.url}/create-payment -H 'Authorization: Bearer "
        f"{info.api_key}' -H 'Content-Type: application/json' "
        f'-d \'{{"merchantId": "{info.merchant_id}"}}\''
    )
    say("")


@app.command(epilog="Examples:\n\n\b\n  paygate status\n  paygate status --json\n")
def status(
    ctx: typer.Context,
    max_items: Annotated[
        int, typer.Option(min=1, max=10_000_000, help="Count at most this many payments.")
    ] = 10_000,
) -> None:
    """Queue depths, the DLQ's depth, and payments by status."""
    target = target_of(ctx)
    services = target.services
    jobs = services.jobs.depth()
    dead = target.dead_letters.depth()
    counts, truncated = services.payments.count_by_status(max_items)
    document = {
        "target": target.name,
        "jobs": {
            "waiting": jobs.visible,
            "beingProcessed": jobs.in_flight,
            "delayed": jobs.delayed,
        },
        "deadLetters": dead.total,
        "payments": dict(sorted(counts.items())),
        "paymentsCounted": sum(counts.values()),
        "countStoppedAt": max_items if truncated else None,
    }
    show(document, lambda: _status_records(target.name, document, max_items))


def _status_records(name: str, document: dict[str, Any], max_items: int) -> None:
    jobs, counts = document["jobs"], document["payments"]
    rows = [
        ("jobs waiting", jobs["waiting"]),
        ("jobs being processed", jobs["beingProcessed"]),
        ("jobs delayed (re-checks)", jobs["delayed"]),
        ("dead letters", document["deadLetters"]),
        *((f"payments {status}", count) for status, count in counts.items()),
    ]
    emit_records(f"paygate status ({name})", [rows])
    if document["countStoppedAt"]:
        say(f"(payments counted from the first {max_items}; see the dashboard)")


@app.command(
    epilog="Examples:\n\n\b\n  paygate listen\n"
    "  paygate listen --forward-to http://localhost:3000/webhooks\n"
    "  paygate listen --events payment.accepted --count 1\n"
)
def listen(
    ctx: typer.Context,
    forward_to: Annotated[
        str | None, typer.Option(help="Also POST each event there, as received.")
    ] = None,
    events: Annotated[
        str | None, typer.Option(help="Comma-separated event types (default: all).")
    ] = None,
    count: Annotated[int | None, typer.Option(min=1, help="Stop after this many events.")] = None,
    merchant_id: Annotated[
        str | None, typer.Option(help="Whose events (default: the development merchant).")
    ] = None,
) -> None:
    """Print the local stack's webhooks as they arrive (signatures checked). Ctrl-C stops
    it; its endpoint is removed then."""
    target = target_of(ctx)
    if not target.is_local:
        fail("listen works with the local stack: a deployed one delivers only to public https", 2)
    merchant = merchant_of(target, merchant_id)
    types = tuple(t.strip() for t in (events or "").split(",") if t.strip())
    listener = Listener(say, forward_to=forward_to, count=count)
    service = target.services.webhook_endpoint_service
    try:
        issued = service.register(merchant, merchant, listener.url, types)
    except PaygateError as error:
        listener.close()
        fail(error.reason, 2)
    listener.secret = issued.secret
    listener.serve()
    say(f"listening for {merchant}'s events on {listener.url} (Ctrl-C to stop)")
    try:
        while not listener.done.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        service.remove(merchant, merchant, issued.endpoint.endpoint_id)
        listener.close()
    show(
        {"merchantId": merchant, "url": listener.url, "received": listener.received},
        lambda: say(f"stopped after {listener.received} events"),
    )


@app.command(
    epilog="Examples:\n\n\b\n  paygate smoke\n  paygate smoke --skip-dlq\n"
    "  paygate --stack paygate-dev --region eu-west-1 smoke\n"
)
def smoke(
    ctx: typer.Context,
    skip_dlq: Annotated[
        bool, typer.Option(help="Leave out the DLQ round trip (on AWS it takes ~15 minutes).")
    ] = False,
    dlq_wait: Annotated[
        float,
        typer.Option(min=1, help="Seconds to wait for the 504 payment to reach the DLQ."),
    ] = DEFAULT_DLQ_WAIT_SECONDS,
    settle: Annotated[
        float, typer.Option(min=1, help="Seconds to wait for each payment's final status.")
    ] = DEFAULT_SETTLE_SECONDS,
) -> None:
    """Run the end-to-end scenarios against the stack as a merchant would: create; make
    for amounts 1250, 1, 2, 24 and 503 and see each end as the bank answers; get (card
    masked); list; a 504 through the DLQ and back. Exits 1 if any check fails."""
    target = target_of(ctx)
    if not target.api_url:
        fail(f"the stack {target.name} has no ApiUrl output", 2)

    def tell(check: Check) -> None:
        mark = "ok  " if check.passed else "FAIL"
        say(f"{mark} {check.name} ({check.seconds} s): {check.detail}")

    run = SmokeRun(target, settle_seconds=settle, on_check=tell)
    with smoke_key(target) as api_key:
        run.api_key = api_key
        run.run(None if skip_dlq else dlq_wait)
    passed = sum(check.passed for check in run.checks)
    show(
        {
            "target": target.name,
            "passed": run.passed,
            "checks": [check.__dict__ for check in run.checks],
        },
        lambda: say(
            f"smoke {'passed' if run.passed else 'FAILED'}: {passed} of {len(run.checks)} checks"
        ),
    )
    raise typer.Exit(0 if run.passed else 1)


if __name__ == "__main__":
    app()
