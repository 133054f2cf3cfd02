"""The local stack's API documentation: /openapi.json and Swagger UI at /docs, its assets
served from the swagger-ui-py package (no CDN: the machine may be offline)."""

from __future__ import annotations

import importlib.util
import json
import mimetypes
from collections.abc import Callable
from pathlib import Path

from handlers.openapi import LiveExample, openapi_document, with_live_examples

DOCS_PATH = "/docs"
SPEC_PATH = "/openapi.json"
_ASSETS_PREFIX = "/docs/assets/"
_ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js")

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>paygate API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: "/openapi.json",
      dom_id: "#swagger-ui",
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      layout: "StandaloneLayout"
    });
  </script>
</body>
</html>
"""


def _assets_dir() -> Path:
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or spec.origin is None:
        raise RuntimeError("swagger-ui-py is not installed: run `make install`")
    return Path(spec.origin).parent / "static"


def docs_resource(
    path: str, base_url: str, live_example: Callable[[], LiveExample] | None = None
) -> tuple[str, bytes] | None:
    """(content type, body) for a documentation path, or None if it is not one.
    `live_example` gives live ids for the examples, so that "Try it out" works as is."""
    if path == SPEC_PATH:
        document = openapi_document(server_url=base_url)
        if live_example is None:
            return "application/json", json.dumps(document, indent=2).encode()
        return "application/json", with_live_examples(document, live_example()).encode()
    if path in (DOCS_PATH, DOCS_PATH + "/"):
        return "text/html; charset=utf-8", _PAGE.encode()
    if path.startswith(_ASSETS_PREFIX):
        name = path.removeprefix(_ASSETS_PREFIX)
        if name in _ASSETS:
            content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
            return content_type, (_assets_dir() / name).read_bytes()
    return None
