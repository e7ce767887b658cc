"""OWASP API3 (excessive data exposure): no response ever carries a credential.

Password hashes, the hashes of API tokens and invitation tokens, a CRM connection's webhook
secret (after the one answer that creates it) and the ciphertext of encrypted notes stay in
the database. Every GET route of the schema is read by the people closest to them: the user
whose credentials they are, and the org admin of the team that owns the CRM connection.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from django.db import connection
from drf_spectacular.generators import SchemaGenerator

from apps.accounts.models import ApiToken, Invitation, User
from apps.accounts.services import api_token_create
from apps.coaching.models import ShareGrant
from tests.security.scene import build_scene, client_for
from tests.test_privacy_sweep import LIST_PARAMS, SWEEP

pytestmark = pytest.mark.django_db

SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
GET_PATHS = sorted(path for path, item in SCHEMA["paths"].items() if "get" in item)
NOT_ABOUT_DATA = {"/api/v1/schema/", "/api/v1/docs/"}


def _stored_credentials() -> dict[str, str]:
    found: dict[str, str] = {}
    for user in User.objects.all():
        found[f"password hash of {user.email}"] = user.password
    for token in ApiToken.objects.all():
        found[f"token hash {token.name}"] = token.token_hash
    for invitation in Invitation.objects.all():
        found[f"invitation hash {invitation.email}"] = invitation.token_hash
    for grant in ShareGrant.objects.all():
        found[f"coach invitation hash {grant.coach_email}"] = grant.invitation_token_hash
    with connection.cursor() as cursor:
        # The ciphertext as stored, which the model never shows.
        cursor.execute("SELECT secret FROM performance_crmconnection")
        for (ciphertext,) in cursor.fetchall():
            found["CRM secret ciphertext"] = ciphertext
    return found


def _urls(path: str, owner: Any) -> list[str]:
    if path in LIST_PARAMS:
        return [path.format(**params) for params in LIST_PARAMS[path]]
    if "{" not in path:
        return [path]
    return [path.format(**case.params) for case in SWEEP[path](owner)]


def _body(response: Any) -> str:
    """The text a reader gets: a download's archive members, unpacked, count too."""
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    if response.get("Content-Type") == "application/zip":
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            raw = b"\n".join(archive.read(name) for name in archive.namelist())
    return raw.decode(errors="replace")


def test_no_get_route_shows_a_stored_credential_or_secret() -> None:
    scene = build_scene()
    _token, raw_token = api_token_create(user=scene.actor, name="script")
    credentials = _stored_credentials()
    credentials["raw CRM secret"] = scene.connection_secret
    credentials["raw API token"] = raw_token
    credentials["raw team invitation token"] = scene.team_invitation_token
    credentials["raw coach invitation token"] = scene.coach_invitation_token
    assert len(credentials) >= 10
    client = client_for(scene.actor)
    read = 0
    connection_shown = False
    for path in GET_PATHS:
        if path in NOT_ABOUT_DATA:
            continue
        urls = _urls(path, scene.actor)
        # The actor is the org admin of this team and owns its CRM connection.
        if "{team_id}" in path or "{connection_id}" in path:
            urls.append(
                path.replace("{team_id}", str(scene.team.pk)).replace(
                    "{connection_id}", str(scene.connection.pk)
                )
            )
        for url in urls:
            response = client.get(url)
            assert response.status_code < 500, url
            body = _body(response)
            leaked = [name for name, value in credentials.items() if value and value in body]
            assert not leaked, f"{url} shows {leaked}"
            read += 1
            connection_shown |= response.status_code == 200 and scene.connection.name in body
    assert read >= 40, read
    # The walk reached the connection itself, not only 404s.
    assert connection_shown
