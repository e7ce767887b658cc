"""Privacy-app objects for the sweep: consent categories are per-user, not addressable
objects of another user, so the sweep checks that another user's grant/withdraw only ever
touches their own ledger."""

from __future__ import annotations

from apps.accounts.models import User
from apps.privacy.services import consent_grant
from tests.sweep_types import SweepCase


def _consent(owner: User) -> list[SweepCase]:
    consent_grant(user=owner, category="sleep")
    return [SweepCase(params={"category": "sleep"}, body={"delete_entries": True})]


SWEEP = {
    "/api/v1/privacy/consents/{category}/grant": _consent,
    "/api/v1/privacy/consents/{category}/withdraw": _consent,
}
# Per-user paths: another user acting on them acts on their own data; 404 is not expected.
OWN_SCOPE_PATHS = {
    "/api/v1/privacy/consents/{category}/grant",
    "/api/v1/privacy/consents/{category}/withdraw",
}


def _export(owner: User) -> list[SweepCase]:
    from apps.privacy.models import DataExport
    from apps.privacy.services import export_build

    export = DataExport.objects.create(user=owner)
    export_build(export_id=export.pk)
    return [SweepCase(params={"export_id": str(export.pk)}, secret_ids=[str(export.pk)])]


def _download(owner: User) -> list[SweepCase]:
    # The owner's real signed link: held by anyone else (from an access log, say), it is a 404.
    from apps.privacy.models import DataExport
    from apps.privacy.services import export_download_token

    cases = _export(owner)
    export = DataExport.objects.get(pk=cases[0].params["export_id"])
    return [
        SweepCase(
            params={"token": export_download_token(export=export)},
            secret_ids=cases[0].secret_ids,
        )
    ]


SWEEP.update(
    {
        "/api/v1/privacy/exports/{export_id}": _export,
        "/api/v1/privacy/exports/download/{token}": _download,
    }
)
