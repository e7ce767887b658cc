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
from rest_framework.test import APIClient

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
    _assert_refused(section, content)


def _assert_refused(section: str, content: Any) -> APIClient:
    """A valid export with ``section`` replaced by ``content``: a 400 that writes nothing.
    Returns the importer's client."""
    importer = consenting()
    document = user_export(user=consenting())
    document[section] = content
    client = client_for(importer)
    client.raise_request_exception = False
    before = database_snapshot()
    response = client.post(URL, {"file": _upload(document)}, format="multipart")
    assert_problem(response, 400)
    assert database_snapshot() == before
    return client


def _exported_insight() -> dict[str, Any]:
    from tests.insights.sweep import make_insight

    owner = consenting()
    make_insight(owner)
    document = user_export(user=owner)
    (row,) = document["insights"]["insights"]
    return dict(row)


@pytest.mark.parametrize(
    "change",
    [
        {"status": "bogus"},
        {"feedback": "whatever"},
        {"construct": "c" * 21},
        {"construct": "alco\u0000hol"},
        {"lag": 2**70},
        {"lag": -1},
        {"params": [1, 2]},
        {"params": {}},
        {"params": "outcome"},
        "unknown outcome",
        "twice",
    ],
    ids=lambda c: c if isinstance(c, str) else next(iter(c)) + "=" + repr(c[next(iter(c))])[:12],
)
def test_an_insight_row_the_app_could_not_show_is_a_400(change: dict[str, Any] | str) -> None:
    """Rows that once went in (or hit a database error, a 500) and then broke the rep's
    insight list for good: the file is refused whole, and the list still answers."""
    row = _exported_insight()
    rows = [row]
    if change == "unknown outcome":
        row["params"] = {**row["params"], "outcome": "happiness"}
    elif change == "twice":
        rows = [row, dict(row)]
    else:
        assert isinstance(change, dict)
        row.update(change)
    client = _assert_refused("insights", {"insights": rows})
    assert client.get("/api/v1/insights/").status_code == 200


def test_an_unchanged_insight_row_imports() -> None:
    importer = consenting()
    document = user_export(user=consenting())
    document["insights"] = {"insights": [_exported_insight()]}
    client = client_for(importer)

    response = client.post(URL, {"file": _upload(document)}, format="multipart")

    assert response.status_code == 200, response.content
    listed = client.get("/api/v1/insights/")
    assert listed.status_code == 200
    assert len(listed.json()["insights"]) == 1


@pytest.mark.parametrize(
    "raw",
    [
        b'{"format": "energytrack-export", "version": 1, "privacy": {"x": NaN}}',
        b'{"format": "energytrack-export", "version": 1, "privacy": {"x": 1e400}}',
        b'{"format": "energytrack-export", "version": 1, "x": "\\u0000"}',
        b'{"format": "energytrack-export", "version": 1, "x": "\\ud800"}',
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=["NaN", "1e400", "NUL", "lone surrogate", "nested 100,000 deep"],
)
def test_json_the_database_cannot_store_is_a_400(raw: bytes) -> None:
    client = client_for(consenting())
    client.raise_request_exception = False
    before = database_snapshot()
    upload = SimpleUploadedFile("export.json", raw, "application/json")

    response = client.post(URL, {"file": upload}, format="multipart")

    assert_problem(response, 400)
    assert database_snapshot() == before


@pytest.mark.parametrize("event", [{"text_version": -5}, {"text_version": 2**70}])
def test_a_consent_event_out_of_range_is_a_400(event: dict[str, Any]) -> None:
    privacy = user_export(user=consenting())["privacy"]
    row = {**privacy["consent_events"][0], **event}
    _assert_refused("privacy", {**privacy, "consent_events": [row]})


def test_a_zip_member_this_server_cannot_unpack_is_a_400() -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("export.json", b"{}")
    raw = bytearray(buffer.getvalue())
    # Compression method 99 (AES, as some archivers write): zipfile refuses to read it.
    for header in (b"PK\x03\x04", b"PK\x01\x02"):
        at = raw.find(header)
        offset = 8 if header == b"PK\x03\x04" else 10
        raw[at + offset : at + offset + 2] = (99).to_bytes(2, "little")
    client = client_for(consenting())
    client.raise_request_exception = False
    upload = SimpleUploadedFile("export.zip", bytes(raw), "application/zip")

    response = client.post(URL, {"file": upload}, format="multipart")

    assert_problem(response, 400)
