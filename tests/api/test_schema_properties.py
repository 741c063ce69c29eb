"""Property test of the whole API with schemathesis: requests generated from the OpenAPI schema, valid ones and ones
that break it, sent as an Operator with a token, find no server error and no answer that breaks the schema
(status, content type, body, headers).

Half the cases name the estate's real ids in the path and body, so the generated requests reach the services' refusals and
the operations' starts, not only the 404 of an unknown id.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import Estate

pytestmark = [pytest.mark.django_db]

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
# Modest, so the file runs in well under a minute and a half; raise it for a deeper search.
# Valid requests, and requests that break the schema (a word where an id goes, a missing field...).
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
EXAMPLES = int(os.environ.get("API_SCHEMA_EXAMPLES", "12"))


# The ids a request body names, from the estate.
BODY_IDS = {"vm": lambda e: e.free_vm, "registered_item": lambda e: e.registered, "policy": lambda e: e.policy,
            "recovery_point": lambda e: e.point, "subscription": lambda e: e.subscription}


def real_ids(path: str, estate: Estate) -> dict[str, int]:
    """The estate's ids for the path parameters of ``path`` (its template)."""
    if path.startswith("/api/v1/subscriptions"):
        return {"pk": estate.subscription}
    if path.startswith("/api/v1/jobs"):
        return {"pk": estate.job}
    ids = {"pk": estate.vault, "policy_pk": estate.policy}
    ids["item_pk"] = estate.registered if "/registered-items/" in path else estate.protected
    return ids


@pytest.fixture
def wsgi_app():
    """The portal's WSGI application, keeping the test's database connection open between requests (as Django's
    test client does: its transaction holds the estate)."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def test_generated_requests_find_no_server_error_and_no_answer_off_schema(estate, member, wsgi_app):
    from api import tokens

    _token, secret = tokens.create_token(member, "schemathesis", 1)
    headers = {"Authorization": f"Bearer {secret}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", wsgi_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    seen: dict[str, set[int]] = {}

    for operation in operations:

        cases = st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in MODES))

        @given(case=cases, use_real_ids=st.booleans())
        @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        def check(case, use_real_ids: bool) -> None:
            if use_real_ids and case.path_parameters:
                ids = real_ids(case.operation.path, estate)
                case.path_parameters = {name: ids.get(name, value) for name, value in case.path_parameters.items()}
            if use_real_ids and isinstance(case.body, dict):
                case.body = {name: BODY_IDS[name](estate) if name in BODY_IDS else value for name, value in case.body.items()}
            response = case.call(headers=headers)
            seen.setdefault(case.operation.label, set()).add(response.status_code)
            case.validate_response(response, checks=CHECKS, headers=headers)

        check()

    # The generated requests got past the 404 of unknown ids and the 422 of bad input into the services.
    reached = {label for label, statuses in seen.items() if statuses & {200, 201, 202, 204, 400, 403, 409}}
    print("\n".join(f"{label}: {sorted(statuses)}" for label, statuses in sorted(seen.items())))
    assert len(reached) == len(operations), set(seen) - reached
