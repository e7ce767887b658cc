"""The data import (POST /api/v1/privacy/import) takes a whole document from the client: the
same property-level rules apply to what is inside the file (OWASP API3).

Whose data it is comes from the session, never from the file: ids in the document are not
reused, and memberships, roles and profile fields in it are not applied.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.accounts.models import Membership, Role, User
from apps.journal.models import ENTRY_MODELS
from apps.privacy.services import user_export
from tests.core.problems import assert_problem
from tests.security.scene import build_scene, client_for, consenting, database_snapshot

pytestmark = pytest.mark.django_db

URL = "/api/v1/privacy/import"


def _upload(document: dict[str, Any]) -> SimpleUploadedFile:
    raw = json.dumps(document, default=str).encode()
    return SimpleUploadedFile("export.json", raw, "application/json")


def test_a_document_naming_someone_else_imports_only_into_the_importer() -> None:
    scene = build_scene()
    importer = consenting(email="importer@example.com")
    # The victim's own export, as if it had been obtained, then dressed up as theirs.
    document = user_export(user=scene.victim)
    document["accounts"]["profile"]["email"] = scene.victim.email
    document["accounts"]["memberships"] = [
        {"team__name": scene.team.name, "role": Role.ORG_ADMIN, "created_at": "2026-01-01"}
    ]
    document["user"] = str(scene.victim.pk)
    entries = document["journal"]["energy"]
    assert [row["id"] for row in entries] == [scene.victim_entry_id]
    victim_before = user_export(user=scene.victim)

    response = client_for(importer).post(URL, {"file": _upload(document)}, format="multipart")

    assert response.status_code == 200, response.content
    assert user_export(user=scene.victim) == victim_before
    imported = ENTRY_MODELS["energy"].objects.filter(user=importer)
    assert imported.count() == 1
    assert str(imported.get().pk) != scene.victim_entry_id
    fresh = User.objects.get(pk=importer.pk)
    assert (fresh.email, fresh.is_staff, fresh.is_superuser) == (importer.email, False, False)
    assert not Membership.objects.filter(user=importer).exists()


@pytest.mark.parametrize(
    ("section", "content"),
    [
        ("insights", {"insights": [{"status": "new"}]}),
        ("insights", {"insights": "not a list"}),
        ("privacy", {"consent_events": [{"granted": True}]}),
    ],
    ids=["insight without fields", "insights not a list", "consent event without category"],
)
def test_a_malformed_section_is_a_400_and_writes_nothing(
    section: str, content: dict[str, Any]
) -> None:
    importer = consenting()
    document = user_export(user=consenting())
    document[section] = content
    client = client_for(importer)
    client.raise_request_exception = False
    before = database_snapshot()
    response = client.post(URL, {"file": _upload(document)}, format="multipart")
    assert_problem(response, 400)
    assert database_snapshot() == before
