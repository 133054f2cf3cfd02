"""The local stack's docs page: its examples work there as they are (live ids, a webhook URL
the local stack accepts), and its text points where Swagger UI draws things."""

from __future__ import annotations

import json

from handlers.openapi import LOCAL_WEBHOOK_URL, LiveExample, openapi_document, with_live_examples


def test_the_local_docs_page_examples_name_a_live_endpoint_and_a_url_it_accepts() -> None:
    # GIVEN the development merchant has a webhook endpoint
    live = LiveExample("5e1b1c0e-0000-4000-8000-000000000001", "dev-merchant", "we_" + "a" * 20)

    # WHEN the local stack's docs page puts live ids into the examples
    document = json.loads(with_live_examples(openapi_document(), live))

    # THEN removing and rotating name that endpoint, registering a loopback URL
    paths = document["paths"]
    delete_id = next(
        p["example"]
        for p in paths["/webhook-endpoints"]["delete"]["parameters"]
        if p["name"] == "id"
    )
    rotate = paths["/rotate-webhook-secret"]["post"]["requestBody"]["content"]
    register = paths["/webhook-endpoints"]["post"]["requestBody"]["content"]
    assert delete_id == rotate["application/json"]["example"]["id"] == live.endpoint_id
    assert register["application/json"]["example"]["url"] == LOCAL_WEBHOOK_URL
    assert "shop.example.com" not in json.dumps(document)
    # AND the page sends the reader to the Authorize button where Swagger UI draws it
    assert "*Authorize* below" in document["info"]["description"]
