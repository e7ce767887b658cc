"""Property-based run over every operation in the OpenAPI schema, in process (WSGI).

Fixed seed (derandomized), a real user with a real API token and all consents: no response
may be a 5xx, and every response must match the documented schema (status, content type,
body). The budget is raised in CI through SCHEMATHESIS_MAX_EXAMPLES.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import ignored_auth, positive_data_acceptance

from apps.accounts.services import api_token_create
from apps.privacy.models import Category
from apps.privacy.services import consent_grant
from tests.factories import UserFactory

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "20"))
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())


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
    user = UserFactory()
    for category in Category.values:
        consent_grant(user=user, category=category)
    _token, raw = api_token_create(user=user, name="schemathesis")
    return {"Authorization": f"Bearer {raw}"}


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
    # A schema-valid body can still break a business rule (a wrong password, a time in the
    # future): a documented 4xx problem is the right answer there, so that check is off.
    # The ignored-auth check is off because a valid bearer token is always sent alongside the
    # generated (invalid) session cookie; tests/core covers unauthenticated requests.
    case.validate_response(response, excluded_checks=[positive_data_acceptance, ignored_auth])
