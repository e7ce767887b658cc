"""The one error shape: every failure of the API is problem+json and changes nothing."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.test import override_settings
from rest_framework import exceptions
from rest_framework.test import APIClient

from apps.accounts.models import ApiToken, User
from apps.accounts.services import api_token_create
from apps.core.errors import ApplicationError
from apps.core.exceptions import problem_exception_handler
from tests.core.problems import assert_problem

pytestmark = pytest.mark.django_db

ME = "/api/v1/auth/me"
TOKENS = "/api/v1/auth/tokens"


def _unchanged(user: User) -> dict[str, object]:
    fresh = User.objects.get(pk=user.pk)
    return {
        "display_name": fresh.display_name,
        "timezone": fresh.timezone,
        "locale": fresh.locale,
        "day_boundary_hour": fresh.day_boundary_hour,
    }


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b'{"display_name": "Sam"', b"{not json}", b'{"display_name": }', b"\xff\xfe"],
    ids=["truncated", "bare-word", "missing-value", "not-utf8"],
)
def test_malformed_json_is_a_400_problem_and_changes_nothing(api, user, raw):
    before = _unchanged(user)
    response = api.generic("PATCH", ME, raw, content_type="application/json")
    body = assert_problem(response, 400, code="parse-error")
    assert "JSON" in body["detail"]
    assert body["errors"] == {}
    assert _unchanged(user) == before


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"day_boundary_hour": "early"}, "day_boundary_hour"),
        ({"day_boundary_hour": 4.5}, "day_boundary_hour"),
        ({"day_boundary_hour": True}, "day_boundary_hour"),
        ({"day_boundary_hour": None}, "day_boundary_hour"),
        ({"display_name": {"first": "Sam"}}, "display_name"),
        ({"display_name": ["Sam"]}, "display_name"),
        ({"locale": ["nl"]}, "locale"),
        ({"timezone": None}, "timezone"),
    ],
)
def test_wrong_types_are_a_400_naming_the_field(api, user, payload, field):
    before = _unchanged(user)
    response = api.patch(ME, payload, format="json")
    body = assert_problem(response, 400, fields=[field], code="validation-error")
    assert set(body["errors"]) == {field}
    assert body["detail"].startswith(f"{field}: ")
    assert _unchanged(user) == before


@pytest.mark.parametrize("document", ["[]", "null", '"text"', "42"])
def test_a_body_that_is_not_an_object_is_a_400(api, user, document):
    before = _unchanged(user)
    response = api.generic("PATCH", ME, document, content_type="application/json")
    body = assert_problem(response, 400, fields=["non_field_errors"])
    assert body["detail"] == body["errors"]["non_field_errors"][0]
    assert _unchanged(user) == before


def test_unknown_field_is_rejected_not_ignored(api, user):
    before = _unchanged(user)
    response = api.patch(ME, {"display_name": "Sam", "dispaly_name": "typo"}, format="json")
    body = assert_problem(response, 400, fields=["dispaly_name"])
    assert body["errors"] == {"dispaly_name": ["Unknown field."]}
    assert _unchanged(user) == before


def test_several_unknown_fields_are_all_named(api):
    response = api.post(TOKENS, {"name": "ci", "scope": "all", "expires": 3}, format="json")
    body = assert_problem(response, 400)
    assert body["errors"] == {"expires": ["Unknown field."], "scope": ["Unknown field."]}
    assert "(and 1 more)" in body["detail"]
    assert not ApiToken.objects.exists()


def test_missing_required_field_is_named(api):
    response = api.post(TOKENS, {}, format="json")
    body = assert_problem(response, 400, fields=["name"])
    assert body["errors"]["name"] == ["This field is required."]
    assert body["detail"] == "name: This field is required."


# --- body size ---------------------------------------------------------------------------


@override_settings(API_MAX_BODY_BYTES=64)
def test_oversize_body_is_a_413_problem_and_nothing_is_written(api):
    payload = json.dumps({"name": "x" * 80})
    assert len(payload) > 64
    response = api.generic("POST", TOKENS, payload, content_type="application/json")
    assert_problem(response, 413, code="payload-too-large")
    assert not ApiToken.objects.exists()


@override_settings(API_MAX_BODY_BYTES=64)
def test_body_at_the_limit_is_accepted(api):
    payload = json.dumps({"name": "x" * 50})
    assert len(payload) <= 64
    response = api.generic("POST", TOKENS, payload, content_type="application/json")
    assert response.status_code == 201, response.content
    assert ApiToken.objects.count() == 1


@override_settings(API_MAX_BODY_BYTES=64, API_BODY_LIMITS={"/api/v1/auth/tokens": 10_000})
def test_a_path_prefix_can_have_its_own_larger_limit(api):
    payload = json.dumps({"name": "x" * 80})
    response = api.generic("POST", TOKENS, payload, content_type="application/json")
    assert response.status_code == 201, response.content


@override_settings(API_MAX_BODY_BYTES=64)
def test_oversize_body_is_refused_before_authentication(user):
    # An anonymous client cannot make the server read a huge body either.
    response = APIClient().generic(
        "POST", TOKENS, json.dumps({"name": "x" * 200}), content_type="application/json"
    )
    assert_problem(response, 413)


# --- routing, methods, media types, authentication -----------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/v1/does-not-exist", "/api/v1/auth/me/", "/api/v1/auth/tokens/not-a-uuid"]
)
def test_unknown_api_url_is_a_404_problem(api, path):
    assert_problem(api.get(path), 404, code="not-found")


def test_unknown_api_url_is_a_404_problem_for_anonymous_clients_too(db):
    assert_problem(APIClient().post("/api/v1/nothing/here", {}, format="json"), 404)


def test_wrong_method_is_a_405_problem_with_allow_header(api):
    response = api.delete(ME)
    assert_problem(response, 405, detail='"DELETE"')
    allowed = {method.strip() for method in response["Allow"].split(",")}
    assert {"GET", "PATCH"} <= allowed
    assert "DELETE" not in allowed


def test_unauthenticated_is_a_401_problem_with_challenge(db):
    response = APIClient().get("/api/v1/ping")
    assert_problem(response, 401, code="not-authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_unsupported_media_type_is_a_415_problem_and_changes_nothing(api, user):
    before = _unchanged(user)
    response = api.generic(
        "PATCH", ME, "display_name=Sam", content_type="application/x-www-form-urlencoded"
    )
    assert_problem(response, 415, detail="application/x-www-form-urlencoded")
    assert _unchanged(user) == before


def test_unacceptable_accept_header_is_a_406_problem(api):
    assert_problem(api.get("/api/v1/ping", HTTP_ACCEPT="text/html"), 406)


def test_business_error_keeps_its_code_and_field_errors(api, user):
    response = api.patch(ME, {"timezone": "Mars/Olympus_Mons"}, format="json")
    body = assert_problem(response, 400, fields=["timezone"], code="invalid")
    assert body["detail"] == "Unknown time zone."


# --- ping and health -------------------------------------------------------------------------


def test_ping_is_an_authenticated_no_op(api):
    response = api.get("/api/v1/ping")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"ok": True}


def test_ping_accepts_an_api_token(user):
    _token, raw = api_token_create(user=user, name="bench")
    response = APIClient().get("/api/v1/ping", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_health_needs_no_authentication(db):
    response = APIClient().get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_health_ignores_a_bad_token(db):
    # Liveness must not depend on authentication (or on the token table).
    response = APIClient().get("/api/v1/health", HTTP_AUTHORIZATION="Bearer et_nonsense")
    assert response.status_code == 200


# --- the exception handler itself ----------------------------------------------------------


def _handle(exc: Exception) -> tuple[int, dict[str, object]]:
    response = problem_exception_handler(exc, {})
    assert response is not None
    assert response.content_type == "application/problem+json"
    return response.status_code, dict(response.data)


def test_nested_validation_errors_are_flattened_with_dotted_names():
    exc = exceptions.ValidationError(
        {
            "meetings": [{}, {"bant": ["Too high."], "deal": {"currency": ["Unknown."]}}],
            "non_field_errors": ["Start is after end."],
        }
    )
    status_code, body = _handle(exc)
    assert status_code == 400
    assert body["errors"] == {
        "meetings.1.bant": ["Too high."],
        "meetings.1.deal.currency": ["Unknown."],
        "non_field_errors": ["Start is after end."],
    }
    assert body["detail"] == "meetings.1.bant: Too high. (and 2 more)"


def test_django_validation_error_becomes_a_400():
    status_code, body = _handle(DjangoValidationError(["First.", "Second."]))
    assert status_code == 400
    assert body["errors"] == {"non_field_errors": ["First.", "Second."]}
    assert body["detail"] == "First."


def test_http404_becomes_a_404_problem():
    status_code, body = _handle(Http404("secret detail about the row"))
    assert status_code == 404
    # The internal message never reaches the client.
    assert "secret" not in str(body)


def test_application_error_extra_is_merged_into_the_body():
    exc = ApplicationError(
        "Consent missing.", status_code=403, code="consent-required", extra={"category": "sleep"}
    )
    status_code, body = _handle(exc)
    assert status_code == 403
    assert body == {
        "type": "https://energytrack.app/problems/consent-required",
        "title": "Forbidden",
        "status": 403,
        "detail": "Consent missing.",
        "errors": {},
        "category": "sleep",
    }


def test_unknown_exceptions_are_left_to_django():
    assert problem_exception_handler(RuntimeError("boom"), {}) is None


# --- Django-level errors on API paths ----------------------------------------------------------


def test_server_error_on_an_api_path_is_a_500_problem_without_internals(api, monkeypatch):
    # The only way to reach the 500 handler is a view that crashes; make ping crash.
    def crash(self, request):  # type: ignore[no-untyped-def]
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr("apps.core.apis.PingApi.get", crash)
    api.raise_request_exception = False
    response = api.get("/api/v1/ping")
    body = assert_problem(response, 500, code="server-error")
    assert "hunter2" not in response.content.decode()
    assert body["errors"] == {}


def test_bad_host_header_on_an_api_path_is_a_400_problem(api):
    assert_problem(api.get("/api/v1/ping", HTTP_HOST="evil.example"), 400)
