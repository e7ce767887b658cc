"""Property-based run over every operation in the OpenAPI schema, in process (WSGI).

Fixed seed (derandomized), a real user with a real API token and all consents: no response
may be a 5xx, and every response must match the documented schema (status, content type,
body). Two parts:

- every operation on its own, SCHEMATHESIS_MAX_EXAMPLES examples each (default 20);
- stateful sequences: the schema defines no OpenAPI links, so schemathesis infers them
  (dependency analysis of the schema: a grant's ``id`` from ``POST /coaching/grants`` feeds
  ``{grant_id}`` of ``GET``/``revoke``, and so on), and walks chains of calls where each step
  uses ids the API returned before. SCHEMATHESIS_STATEFUL_EXAMPLES sequences (default 10).

CI raises both budgets (.ci/run).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from schemathesis.checks import ignored_auth, positive_data_acceptance
from schemathesis.config import SchemathesisConfig

from apps.accounts.services import api_token_create
from apps.privacy.models import Category
from apps.privacy.services import consent_grant
from tests.factories import UserFactory

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "20"))
STATEFUL_EXAMPLES = int(os.environ.get("SCHEMATHESIS_STATEFUL_EXAMPLES", "10"))
# An invalid body too large for its endpoint is refused with 413 before it is parsed
# (core.middleware): a rejection, which schemathesis's default list of rejecting statuses (the
# rest of this one) leaves out.
REJECTING_STATUSES = [
    "400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"
]  # fmt: skip
CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": REJECTING_STATUSES}}}
)
schema = schemathesis.openapi.from_wsgi(
    "/api/v1/schema/?format=json", get_wsgi_application(), config=CONFIG
)
# A schema-valid body can still break a business rule (a wrong password, a time in the
# future): a documented 4xx problem is the right answer there, so that check is off.
# The ignored-auth check is off because a valid bearer token is always sent alongside the
# generated (invalid) session cookie; tests/core covers unauthenticated requests.
EXCLUDED_CHECKS = [positive_data_acceptance, ignored_auth]


@pytest.fixture(autouse=True)
def _keep_test_connection() -> Iterator[None]:
    # Like Django's test client: the WSGI handler must not close the connection that holds
    # the test transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def bearer(db: None) -> dict[str, str]:
    user: Any = UserFactory()
    for category in Category.values:
        consent_grant(user=user, category=category)
    _token, raw = api_token_create(user=user, name="schemathesis")
    # Schemathesis's WSGI transport asks for gzip (requests' default headers) but does not
    # decode it; the larger answers would reach its checks compressed. Compression has its own
    # tests (tests/journal/test_compression.py).
    return {"Authorization": f"Bearer {raw}", "Accept-Encoding": "identity"}


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_schema(case: Any, bearer: dict[str, str]) -> None:
    response = case.call(headers=bearer)
    assert response.status_code < 500, (case.method, case.path, response.text[:500])
    case.validate_response(response, excluded_checks=EXCLUDED_CHECKS)


class APIWorkflows(schema.as_state_machine()):  # type: ignore[misc]
    """Chains of calls along the inferred links, all as the one test user."""

    headers: ClassVar[dict[str, str]] = {}
    _savepoint: str = ""

    def setup(self) -> None:
        # Every sequence starts from the same data: hypothesis replays sequences while it
        # searches and shrinks, and a link is only followed after the answer it expects, so
        # rows (and throttle counts) left by an earlier sequence would change which rules run.
        cache.clear()
        self._savepoint = transaction.savepoint()

    def teardown(self) -> None:
        transaction.savepoint_rollback(self._savepoint)

    def get_call_kwargs(self, case: Any) -> dict[str, Any]:
        return {"headers": self.headers}

    def validate_response(
        self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
    ) -> None:
        assert response.status_code < 500, (case.method, case.path, response.text[:500])
        case.validate_response(
            response, excluded_checks=EXCLUDED_CHECKS, transport_kwargs=kwargs or None
        )


def test_the_schema_yields_links_to_walk() -> None:
    # The stateful part is only as good as its links: without them it would test nothing
    # beyond the first part.
    transitions = schema.statistic.transitions
    assert transitions.total >= 50, transitions


@pytest.mark.django_db
def test_api_workflows_conform_to_schema(bearer: dict[str, str]) -> None:
    APIWorkflows.headers = bearer
    APIWorkflows.run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            derandomize=True,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            stateful_step_count=8,
        )
    )
