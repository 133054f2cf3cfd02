from __future__ import annotations

import importlib

import pytest

from handlers.api import build_resolver
from handlers.routes import ROUTES, route_of


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.name)
def test_each_route_is_served_by_its_module_and_only_it(route) -> None:  # type: ignore[no-untyped-def]
    module = importlib.import_module(route.module)

    assert module.app.served == [r for r in ROUTES if r.module == route.module]
    assert callable(module.lambda_handler)
    assert route.entry_point() is module.handle


def test_a_handler_cannot_serve_a_route_the_registry_does_not_list() -> None:
    app = build_resolver()

    with pytest.raises(LookupError, match="DELETE /make-payment"):
        app.route("/make-payment", "DELETE")
    with pytest.raises(LookupError, match="GET /refund"):
        app.get("/refund")
    assert app.served == []


def test_routes_are_found_by_method_and_path_only() -> None:
    assert route_of("post", "/make-payment") is not None
    assert route_of("GET", "/make-payment") is None
    assert route_of("POST", "/make-payment/") is None
    assert len({(r.method, r.path) for r in ROUTES}) == len({r.construct_id for r in ROUTES})
