"""Export, import, erasure and retention: the rep's controls, end to end."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
import zipfile
from decimal import Decimal

import pytest
import time_machine
from django.apps import apps as django_apps
from django.conf import settings
from django.core.management import call_command
from django.db import models
from django.utils import timezone

from apps.accounts.models import User
from apps.insights.models import DayFeature
from apps.insights.services import day_features_rebuild
from apps.journal.models import ENTRY_MODELS
from apps.journal.services import EntryInput, entries_upsert, entry_delete
from apps.privacy.models import DataExport
from apps.privacy.registry import covered_models
from apps.privacy.services import (
    export_build,
    privacy_preference_update,
    retention_purge,
    user_erase,
    user_export,
)
from tests.factories import UserFactory
from tests.insights.sweep import make_insight


def _user_relations(model: type[models.Model]) -> bool:
    return any(
        isinstance(field, models.ForeignKey | models.OneToOneField) and field.related_model is User
        for field in model._meta.get_fields()
    )


def test_every_model_with_a_user_relation_is_exported_and_erased() -> None:
    ours = [m for m in django_apps.get_models() if m.__module__.startswith("apps.")]
    with_user = {m for m in ours if _user_relations(m) or m is User}
    missing = sorted(m.__name__ for m in with_user - covered_models())
    assert not missing, f"add these models to their app's privacy.py: {missing}"


def _log_everything(user: User) -> None:
    now = timezone.now()
    items = [
        EntryInput(
            kind="energy",
            id=uuid.uuid4(),
            values={"occurred_at": now - dt.timedelta(hours=2), "level": 6, "note": "secret note"},
        ),
        EntryInput(
            kind="sleep",
            id=uuid.uuid4(),
            values={
                "occurred_at": now - dt.timedelta(hours=5),
                "bedtime": now - dt.timedelta(hours=12),
                "quality": 4,
            },
        ),
        EntryInput(
            kind="alcohol",
            id=uuid.uuid4(),
            values={"occurred_at": now - dt.timedelta(days=1), "standard_drinks": Decimal("2.5")},
        ),
        EntryInput(
            kind="meal",
            id=uuid.uuid4(),
            values={
                "occurred_at": now - dt.timedelta(hours=3),
                "meal_type": "lunch",
                "tags": ["vegetables"],
            },
        ),
        EntryInput(
            kind="exercise",
            id=uuid.uuid4(),
            values={"occurred_at": now - dt.timedelta(hours=4), "duration_minutes": 30},
        ),
        EntryInput(
            kind="activity",
            id=uuid.uuid4(),
            values={"occurred_at": now - dt.timedelta(hours=6), "what": "choir", "effect": "gave"},
        ),
    ]
    assert all(o.result == "created" for o in entries_upsert(user=user, items=items))
    # One more, deleted: the record of its deletion is the rep's data too.
    deleted = EntryInput(kind="energy", id=uuid.uuid4(), values={"occurred_at": now, "level": 2})
    entries_upsert(user=user, items=[deleted])
    entry_delete(user=user, kind="energy", entry_id=deleted.id)
    day_features_rebuild(
        user_ids=[user.pk], date_from=(now - dt.timedelta(days=3)).date(), date_to=now.date()
    )
    make_insight(user)


@pytest.mark.django_db
def test_export_zip_has_json_and_a_csv_per_kind(
    consenting_user, api, django_capture_on_commit_callbacks
) -> None:
    _log_everything(consenting_user)
    response = api.post("/api/v1/privacy/exports")
    assert response.status_code == 202 and response.json()["status"] == "pending"
    export_build(export_id=response.json()["id"])
    detail = api.get(f"/api/v1/privacy/exports/{response.json()['id']}").json()
    assert detail["status"] == "ready" and detail["download_url"]
    download = api.get(detail["download_url"].replace("http://testserver", ""))
    assert download.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    names = set(archive.namelist())
    assert "export.json" in names
    for kind in ENTRY_MODELS:
        assert f"journal_{kind}.csv" in names
    document = json.loads(archive.read("export.json"))
    assert document["format"] == "energytrack-export" and document["version"] == 1
    assert document["journal"]["energy"][0]["note"] == "secret note"
    assert document["accounts"]["profile"]["email"] == consenting_user.email


@pytest.mark.django_db
def test_download_link_expires_after_24_hours(consenting_user, api) -> None:
    export = DataExport.objects.create(user=consenting_user)
    export_build(export_id=export.pk)
    url = api.get(f"/api/v1/privacy/exports/{export.pk}").json()["download_url"]
    path = url.replace("http://testserver", "")
    with time_machine.travel(timezone.now() + dt.timedelta(hours=25)):
        response = api.get(path)
    assert response.status_code == 404
    assert api.get(path[:-3] + "xyz").status_code == 404


@pytest.mark.django_db
def test_download_link_alone_is_not_enough(consenting_user, api) -> None:
    """The link's token is in the URL path, so access logs and proxies see it: a reader of
    those, signed in as someone else or not at all, gets nothing."""
    export = DataExport.objects.create(user=consenting_user)
    export_build(export_id=export.pk)
    url = api.get(f"/api/v1/privacy/exports/{export.pk}").json()["download_url"]
    path = url.replace("http://testserver", "")
    stranger = type(api)()
    stranger.force_login(UserFactory())

    anonymous = type(api)().get(path)
    assert anonymous.status_code in (401, 403)
    assert anonymous["Content-Type"] == "application/problem+json"
    assert stranger.get(path).status_code == 404
    assert api.get(path).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_an_account_erased_while_its_export_is_built_leaves_no_file(
    consenting_user, monkeypatch
) -> None:
    """The worker builds the archive outside any transaction; the rep deletes the account in
    the meantime. The erasure cannot see a file not yet written, so the build must not leave
    it behind (nothing else would ever delete it)."""
    from django.core.files.storage import default_storage

    from apps.privacy import services

    export = DataExport.objects.create(user=consenting_user)
    real_export = services.user_export

    def erased_meanwhile(*, user: User) -> dict:
        document = real_export(user=user)
        user_erase(user=User.objects.get(pk=user.pk))
        return document

    monkeypatch.setattr(services, "user_export", erased_meanwhile)
    export_build(export_id=export.pk)

    assert not DataExport.objects.filter(pk=export.pk).exists()
    assert not default_storage.exists(f"exports/{export.pk}.zip")
    _dirs, files = default_storage.listdir("exports")
    assert not [name for name in files if name.startswith(str(export.pk))]


@pytest.mark.django_db
def test_round_trip_export_import_loses_nothing(consenting_user, tmp_path) -> None:
    _log_everything(consenting_user)
    source = user_export(user=consenting_user)
    export = DataExport.objects.create(user=consenting_user)
    export_build(export_id=export.pk)
    from django.core.files.storage import default_storage

    path = tmp_path / "export.zip"
    path.write_bytes(default_storage.open(DataExport.objects.get(pk=export.pk).file_name).read())
    target = UserFactory()
    call_command("import_user_data", str(path), "--email", target.email)
    copy = user_export(user=target)

    def strip(rows: list[dict]) -> list[dict]:
        return sorted(
            (
                {k: v for k, v in row.items() if k not in ("id", "created_at", "updated_at")}
                for row in rows
            ),
            key=lambda r: json.dumps(r, sort_keys=True, default=str),
        )

    for kind in ENTRY_MODELS:
        assert strip(copy["journal"][kind]) == strip(source["journal"][kind]), kind
        assert len(copy["journal"][kind]) == len(source["journal"][kind]) > 0
    assert [r["category"] for r in copy["privacy"]["consent_states"]] == [
        r["category"] for r in source["privacy"]["consent_states"]
    ]
    assert len(copy["insights"]["insights"]) == len(source["insights"]["insights"]) == 1
    # Every stored fact of an insight (art. 15: inferred data too) is exported and comes back;
    # user and fingerprint are the account's own bookkeeping.
    from apps.insights.models import Insight

    stored = {f.name for f in Insight._meta.concrete_fields} - {"user", "fingerprint", "updated_at"}
    assert set(source["insights"]["insights"][0]) == stored
    assert strip(copy["insights"]["insights"]) == strip(source["insights"]["insights"])
    # A second import into the now non-empty account is refused.
    with pytest.raises(Exception, match="empty account"):
        call_command("import_user_data", str(path), "--email", target.email)


@pytest.mark.django_db
def test_import_api_rejects_garbage(api) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = api.post(
        "/api/v1/privacy/import",
        {"file": SimpleUploadedFile("x.json", b"not json")},
        format="multipart",
    )
    assert response.status_code == 400 and "file" in response.json()["errors"]


@pytest.mark.django_db
def test_erasure_removes_every_row_of_the_user(consenting_user, other_user, grant_all) -> None:
    grant_all(other_user)
    _log_everything(consenting_user)
    _log_everything(other_user)
    before_other = user_export(user=other_user)
    user_erase(user=consenting_user)
    ours = [m for m in django_apps.get_models() if m.__module__.startswith("apps.")]
    for model in ours:
        for field in model._meta.get_fields():
            if (
                isinstance(field, models.ForeignKey | models.OneToOneField)
                and field.related_model is User
            ):
                assert not model.objects.filter(**{field.name: consenting_user.pk}).exists(), model
    assert not User.objects.filter(pk=consenting_user.pk).exists()
    assert user_export(user=other_user) == before_other


@pytest.mark.django_db
def test_account_delete_api_needs_the_password(api, consenting_user) -> None:
    _log_everything(consenting_user)
    wrong = api.post("/api/v1/privacy/account/delete", {"password": "nope"}, format="json")
    assert wrong.status_code == 400
    assert User.objects.filter(pk=consenting_user.pk).exists()
    right = api.post(
        "/api/v1/privacy/account/delete", {"password": "correct horse battery"}, format="json"
    )
    assert right.status_code == 204
    assert not User.objects.filter(pk=consenting_user.pk).exists()
    assert api.get("/api/v1/auth/me").status_code in (401, 403)


@pytest.mark.django_db
def test_retention_purges_old_entries_and_aggregates_unless_kept(
    consenting_user, other_user, grant_all
) -> None:
    grant_all(other_user)
    old = timezone.now() - dt.timedelta(days=round(settings.RETENTION_MONTHS * 30.44) + 10)
    for user in (consenting_user, other_user):
        # Logged while it was recent: a write of an entry already older than the retention
        # period is refused.
        with time_machine.travel(old + dt.timedelta(hours=1)):
            old_entry = EntryInput(
                kind="energy", id=uuid.uuid4(), values={"occurred_at": old, "level": 5}
            )
            assert entries_upsert(user=user, items=[old_entry])[0].result == "created"
        entries_upsert(
            user=user,
            items=[
                EntryInput(
                    kind="energy",
                    id=uuid.uuid4(),
                    values={"occurred_at": timezone.now() - dt.timedelta(days=1), "level": 5},
                ),
            ],
        )
        day_features_rebuild(
            user_ids=[user.pk],
            date_from=old.date() - dt.timedelta(days=2),
            date_to=timezone.now().date(),
        )
    privacy_preference_update(user=other_user, keep_aggregates=True)
    counts = retention_purge()
    assert counts["entries"] == 2
    for user in (consenting_user, other_user):
        assert ENTRY_MODELS["energy"].objects.filter(user=user).count() == 1
    assert not DayFeature.objects.filter(
        user=consenting_user, local_date__lt=old.date() + dt.timedelta(days=5)
    ).exists()
    assert DayFeature.objects.filter(
        user=other_user, local_date__lt=old.date() + dt.timedelta(days=5)
    ).exists()


def test_journal_models_are_not_in_admin() -> None:
    from django.contrib import admin

    registered = {model._meta.app_label for model in admin.site._registry}
    assert not registered & {"journal", "insights", "coaching", "notifications", "privacy"}
