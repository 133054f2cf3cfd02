from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk.assertions import Annotations, Template

from infra.app import build_app
from infra.stack import PaygateStack


@dataclass(frozen=True)
class Synthesized:
    stack: PaygateStack
    template: Template
    annotations: Annotations
    template_file: Path
    outdir: Path

    def resources(self, kind: str) -> dict[str, Any]:
        return dict(self.template.find_resources(kind))

    def logical_id(self, construct: Any) -> str:
        return str(self.stack.get_logical_id(construct.node.default_child))


# What a prod stage must name (infra/stages.py).
PROD_CONTEXT: dict[str, object] = {
    "stage": "prod",
    "account": "123456789012",
    "region": "eu-west-1",
    "owner": "payments-oncall",
    "alarmEmails": "oncall@example.com,payments@example.com",
}


def synthesize(outdir: Path, context: dict[str, object] | None = None) -> Synthesized:
    """A real synthesis of the app, with cdk-nag."""
    app, stack = build_app(str(outdir), context=context)
    app.synth()
    return Synthesized(
        stack=stack,
        template=Template.from_stack(stack),
        annotations=Annotations.from_stack(stack),
        template_file=outdir / f"{stack.stack_name}.template.json",
        outdir=outdir,
    )


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    """The dev stage (the default), synthesized once for the whole session."""
    yield synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def synth_prod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    yield synthesize(tmp_path_factory.mktemp("cdk.out.prod"), PROD_CONTEXT)


@pytest.fixture(scope="session", params=["dev", "prod"])
def synth_each(
    request: pytest.FixtureRequest, synth: Synthesized, synth_prod: Synthesized
) -> Synthesized:
    """Each stage's template, for what must hold in both."""
    return synth if request.param == "dev" else synth_prod


def as_list(value: Any) -> list[Any]:
    """A policy statement's Action or Resource: one value, or a list of them."""
    return value if isinstance(value, list) else [value]
