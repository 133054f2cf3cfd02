from __future__ import annotations

import re
from pathlib import Path

from handlers.openapi import OPERATIONS, fail_codes, openapi_document, render
from handlers.requests import MakePaymentRequest
from handlers.routes import ROUTES

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_the_committed_openapi_document_is_up_to_date() -> None:
    assert COMMITTED.read_text() == render(openapi_document()), (
        "docs/openapi.json is stale: run `make openapi` and commit it"
    )


def test_every_route_is_documented_and_every_response_has_a_schema() -> None:
    document = openapi_document()

    assert [o.route for o in OPERATIONS] == list(ROUTES)
    assert {(m.upper(), p) for p, ms in document["paths"].items() for m in ms} == {
        (r.method, r.path) for r in ROUTES
    }
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


def test_get_routes_document_no_body_errors_and_each_status_lists_its_fail_codes() -> None:
    document = openapi_document()

    for path in ("/get-payment", "/list-payments"):
        statuses = set(document["paths"][path]["get"]["responses"])
        assert not statuses & {"413", "415", "422"}, path
    created = document["paths"]["/create-payment"]["post"]["responses"]
    assert "idempotency_key_in_use" in created["409"]["description"]
    make = document["paths"]["/make-payment"]["post"]["responses"]
    assert "card_data_in_text" in make["422"]["description"]
    assert make["503"]["headers"]["Retry-After"]


def test_examples_are_valid_requests_and_success_examples_show_the_right_status() -> None:
    document = openapi_document()
    paths = document["paths"]

    make = paths["/make-payment"]["post"]
    example = make["requestBody"]["content"]["application/json"]["example"]
    request = MakePaymentRequest.model_validate(example)
    assert (request.amount, request.currency) == (1250, "EUR")
    assert make["responses"]["202"]["content"]["application/json"]["example"]["status"] == (
        "Processing"
    )
    created = paths["/create-payment"]["post"]["responses"]["201"]["content"]
    assert created["application/json"]["example"]["status"] == "Created"
    description = document["info"]["description"]
    for needle in ("create-payment", "make-payment", "get-payment", "| 504 |", "failCode"):
        assert needle in description


def test_the_api_page_lists_every_fail_code_the_api_answers() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    table = page[page.index("| status | failCode | when |") :].split("\n\n")[0]

    listed = set(re.findall(r"^\| (\d{3}) \| `([a-z_]+)` \|", table, re.MULTILINE))
    answered = {(str(status), code) for status, codes in fail_codes().items() for code in codes}

    assert listed == answered
