from __future__ import annotations

from pathlib import Path

from cli.local_api import ROUTES
from handlers.openapi import OPERATIONS, openapi_document, render

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_the_committed_openapi_document_is_up_to_date() -> None:
    assert COMMITTED.read_text() == render(openapi_document()), (
        "docs/openapi.json is stale: run `make openapi` and commit it"
    )


def test_every_route_is_documented_and_every_response_has_a_schema() -> None:
    document = openapi_document()

    documented = {(o.method.upper(), o.path) for o in OPERATIONS}
    assert documented == set(ROUTES)
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            assert operation["responses"], (method, path)
            for status, response in operation["responses"].items():
                schema = response["content"]["application/json"]["schema"]
                assert schema["$ref"].startswith("#/components/schemas/"), (path, status)
                assert schema["$ref"].rsplit("/", 1)[1] in document["components"]["schemas"]


def test_errors_are_documented_with_their_fields_and_posts_take_an_idempotency_key() -> None:
    document = openapi_document()
    error = document["components"]["schemas"]["ErrorBody"]

    assert set(error["required"]) == {"failCode", "failReason", "requestId"}
    assert "fields" in error["properties"]
    for path in ("/create-payment", "/make-payment"):
        names = [p["name"] for p in document["paths"][path]["post"]["parameters"]]
        assert "Idempotency-Key" in names
    make = document["paths"]["/make-payment"]["post"]["requestBody"]
    assert make["content"]["application/json"]["schema"]["$ref"].endswith("MakePaymentRequest")
