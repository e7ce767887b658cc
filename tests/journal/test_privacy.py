"""The journal's privacy hooks: export, erase, import (portability) and retention purge."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from apps.core.errors import ApplicationError
from apps.journal import privacy
from apps.journal.models import ENTRY_MODELS, DeletedEntry, DeletedKind, JournalState
from apps.journal.services import entries_purge_before
from apps.privacy.registry import handlers
from apps.privacy.services import consent_grant
from tests.factories import UserFactory
from tests.journal.helpers import (
    EXPECTED_OUT,
    KINDS,
    NOW,
    VALID,
    put,
    rows,
    subset,
    total_rows,
)

pytestmark = pytest.mark.django_db


def _log_all(client) -> dict[str, str]:
    ids = {}
    for kind in KINDS:
        ids[kind] = str(uuid.uuid4())
        assert put(client, kind, ids[kind], VALID[kind]).status_code == 201
    return ids


def test_journal_is_registered_for_every_entry_model():
    journal = [h for h in handlers() if h.app_label == "journal"]

    assert len(journal) == 1
    assert set(journal[0].models) == {
        *ENTRY_MODELS.values(),
        JournalState,
        DeletedEntry,
        DeletedKind,
    }


def test_export_contains_every_entry_with_plain_values(
    api, consenting_user, other_user, make_client, grant_all
):
    grant_all(other_user)
    _log_all(make_client(other_user))
    ids = _log_all(api)

    exported = privacy.export_user(consenting_user)

    assert set(exported) == {*KINDS, "state", "deleted", "deleted_kinds"}
    assert exported["deleted"] == []
    assert exported["deleted_kinds"] == []
    assert exported["state"] == {"version": len(KINDS)}  # one write transaction per entry
    for kind in KINDS:
        assert [e["id"] for e in exported[kind]] == [ids[kind]], kind
        assert subset(exported[kind][0], EXPECTED_OUT[kind]) == EXPECTED_OUT[kind]
    assert exported["sleep"][0]["note"] == "Woke up once"


def test_export_through_the_api(api, consenting_user):
    ids = _log_all(api)

    response = api.get("/api/v1/privacy/export")

    assert response.status_code == 200
    journal = response.json()["journal"]
    assert {kind: [e["id"] for e in journal[kind]] for kind in KINDS} == {
        kind: [ids[kind]] for kind in KINDS
    }


def test_erase_deletes_only_that_users_entries(
    api, consenting_user, other_user, make_client, grant_all
):
    grant_all(other_user)
    _log_all(make_client(other_user))
    _log_all(api)
    put(api, "energy", uuid.uuid4(), VALID["energy"])

    erased = privacy.erase_user(consenting_user)

    assert erased == len(KINDS) + 1
    for kind in KINDS:
        assert rows(kind, consenting_user).count() == 0
        assert rows(kind, other_user).count() == 1
    assert privacy.export_user(consenting_user) == {
        "state": {"version": 0},
        "deleted": [],
        "deleted_kinds": [],
        **{kind: [] for kind in KINDS},
    }


def test_import_recreates_the_entries_under_new_ids(api, consenting_user, grant_all):
    ids = _log_all(api)
    put(
        api,
        "sleep",
        uuid.uuid4(),
        {"occurred_at": "2026-11-24T07:00:00+01:00", "duration_minutes": 400},
    )
    section = privacy.export_user(consenting_user)
    target = UserFactory()
    grant_all(target)

    imported = privacy.import_user(target, section)

    assert imported == len(KINDS) + 1
    copy = privacy.export_user(target)
    volatile = ("id", "created_at", "updated_at")
    for kind in KINDS:
        strip = [{k: v for k, v in e.items() if k not in volatile} for e in section[kind]]
        assert [{k: v for k, v in e.items() if k not in volatile} for e in copy[kind]] == strip
        assert not {e["id"] for e in copy[kind]} & set(ids.values())
    assert rows("energy", consenting_user).count() == 1  # the source is untouched


def test_import_of_old_history_into_a_new_account_is_allowed(consenting_user, grant_all):
    """A fresh account may take back 18 months: the account-age rule guards typos only."""
    target = UserFactory(date_joined=NOW)
    grant_all(target)
    old = {"occurred_at": "2025-06-01T08:00:00Z", "level": 4, "tz": "Europe/Amsterdam"}

    assert privacy.import_user(target, {"energy": [old]}) == 1
    assert rows("energy", target).get().local_date == dt.date(2025, 6, 1)


@pytest.mark.parametrize(
    ("section", "field"),
    [
        (
            {"energy": [{"occurred_at": "2026-11-20T08:00:00Z", "level": 12}]},
            "journal.energy.level",
        ),
        ({"energy": [{"occurred_at": "2030-01-01T08:00:00Z"}]}, "journal.energy.occurred_at"),
        ({"energy": [{"level": 3}]}, "journal.energy.occurred_at"),
        (
            {"sleep": [{"occurred_at": "2026-11-20T08:00:00Z", "bedtime": "2026-11-19T08:00:00Z"}]},
            "journal.sleep.bedtime",
        ),
        ({"smoking": []}, "journal.smoking"),
        ({"energy": ["x"]}, "journal.energy"),
    ],
)
def test_a_bad_import_is_a_400_and_imports_nothing(consenting_user, section, field):
    good = {"occurred_at": "2026-11-20T08:00:00Z", "level": 5}
    section = {**section, "energy": [good, *section.get("energy", [])]}

    with pytest.raises(ApplicationError) as refused:
        privacy.import_user(consenting_user, section)

    assert refused.value.status_code == 400
    assert any(name.startswith(field) for name in refused.value.errors), refused.value.errors
    assert total_rows() == 0


def test_import_needs_consent_for_each_category(user, grant_all):
    consent_grant(user=user, category="energy")
    section = {
        "energy": [{"occurred_at": "2026-11-20T08:00:00Z", "level": 5}],
        "alcohol": [{"occurred_at": "2026-11-20T21:00:00Z", "standard_drinks": "2.0"}],
    }

    with pytest.raises(ApplicationError) as refused:
        privacy.import_user(user, section)

    assert refused.value.status_code == 403
    assert refused.value.extra == {"category": "alcohol"}
    assert total_rows() == 0


def test_retention_purge_deletes_only_entries_before_the_cutoff(
    api, consenting_user, other_user, make_client, grant_all, clock
):
    grant_all(other_user)
    # Logged while they were recent: a write of an entry already older than the retention
    # period is refused.
    clock.move_to(dt.datetime(2025, 6, 2, 12, 0, tzinfo=dt.UTC))
    for client in (api, make_client(other_user)):
        put(client, "energy", uuid.uuid4(), {"occurred_at": "2025-05-01T08:00:00Z", "level": 3})
        put(client, "sleep", uuid.uuid4(), {"occurred_at": "2025-05-02T06:00:00Z"})
        put(client, "energy", uuid.uuid4(), {"occurred_at": "2025-06-01T08:00:00Z", "level": 3})
    clock.move_to(NOW)
    assert total_rows() == 6

    purged = entries_purge_before(cutoff=dt.datetime(2025, 6, 1, 8, 0, tzinfo=dt.UTC))

    assert purged == 4
    for owner in (consenting_user, other_user):
        assert rows("sleep", owner).count() == 0
        assert list(rows("energy", owner).values_list("occurred_at", flat=True)) == [
            dt.datetime(2025, 6, 1, 8, 0, tzinfo=dt.UTC)
        ]
