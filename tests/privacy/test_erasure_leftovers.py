"""What erasure could leave behind: the archive of a second build of one export, and the
shares still waiting for an erased coach (they hold the coach's address)."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.coaching.models import ShareGrant
from apps.privacy import services as privacy_services
from apps.privacy.models import DataExport
from apps.privacy.services import consent_withdraw, export_build, user_erase
from tests.coaching.helpers import share
from tests.factories import UserFactory
from tests.privacy.test_toolkit import _log_everything

pytestmark = pytest.mark.django_db


def test_two_builds_of_one_export_leave_one_archive_and_erasure_deletes_it(
    consenting_user, monkeypatch, tmp_path, settings
) -> None:
    """The sweeper re-queues an export still pending after 2 minutes: a second build of it may
    finish while the first still runs. Only the archive the row names may stay on disk."""
    settings.MEDIA_ROOT = str(tmp_path)
    _log_everything(consenting_user)
    export = DataExport.objects.create(user=consenting_user)
    real = privacy_services.user_export
    second_build_ran = False

    def first_build_slow(*, user):
        nonlocal second_build_ran
        if not second_build_ran:
            second_build_ran = True
            export_build(export_id=export.pk)
        return real(user=user)

    monkeypatch.setattr(privacy_services, "user_export", first_build_slow)
    export_build(export_id=export.pk)

    export.refresh_from_db()
    archives = sorted(p.name for p in (tmp_path / "exports").iterdir())
    assert (export.status, archives) == (DataExport.Status.READY, [Path(export.file_name).name])

    user_erase(user=consenting_user)

    assert not list((tmp_path / "exports").iterdir())


def test_erasing_a_coach_deletes_the_shares_still_waiting_for_them(user) -> None:
    coach = UserFactory()
    share(user, coach, accept=False)
    other = share(user, accept=False)

    user_erase(user=coach)

    assert not ShareGrant.objects.filter(coach_email__iexact=coach.email).exists()
    assert ShareGrant.objects.filter(pk=other.pk).exists()


@pytest.mark.parametrize("delete_entries", [True, False], ids=["with deletion", "keeping entries"])
def test_a_withdrawal_deletes_the_exports_built_before_it(
    consenting_user, api, tmp_path, settings, delete_entries
) -> None:
    """A built archive holds the category's entries and what was derived from them: after the
    withdrawal its link must not hand them out for the rest of its 24 hours."""
    settings.MEDIA_ROOT = str(tmp_path)
    _log_everything(consenting_user)
    export = DataExport.objects.create(user=consenting_user)
    export_build(export_id=export.pk)
    url = api.get(f"/api/v1/privacy/exports/{export.pk}").json()["download_url"]
    assert list((tmp_path / "exports").iterdir())

    consent_withdraw(user=consenting_user, category="alcohol", delete_entries=delete_entries)

    assert not DataExport.objects.filter(user=consenting_user).exists()
    assert not list((tmp_path / "exports").iterdir())
    assert api.get(url.replace("http://testserver", "")).status_code == 404
