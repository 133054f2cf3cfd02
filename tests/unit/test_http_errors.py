"""Every error paygate answers has its one row in the error table: a new error type added
without its status and failCode fails here, not as a 500 in production."""

from __future__ import annotations

import core.domain.errors as domain_errors
import handlers.http_errors as edge_errors
from core.domain.errors import PaygateError
from handlers.http_errors import HTTP_ERRORS, InternalError, http_error_of


def _error_types() -> set[type[PaygateError]]:
    found: set[type[PaygateError]] = set()
    for module in (domain_errors, edge_errors):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, PaygateError):
                found.add(value)
    return found - {PaygateError}


def test_every_error_the_api_can_answer_is_in_the_table_with_a_meaning() -> None:
    missing = {kind.__name__ for kind in _error_types() if kind not in HTTP_ERRORS}

    assert missing == set()
    for kind in HTTP_ERRORS:
        assert kind.__doc__, kind.__name__


def test_an_unknown_error_is_an_internal_error_and_subclasses_answer_as_their_base() -> None:
    class UnlistedError(PaygateError):
        pass

    assert http_error_of(UnlistedError("x")) == HTTP_ERRORS[InternalError]
    assert http_error_of(edge_errors.CardDataInTextError("x")).fail_code == "card_data_in_text"
