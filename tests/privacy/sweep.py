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
