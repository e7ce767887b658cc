"""No consent, no storage: per-category refusal, and withdrawal that stops writes at once."""

from __future__ import annotations

import uuid

import pytest

from apps.privacy.models import Category
from apps.privacy.services import consent_grant
from tests.journal.helpers import (
    CATEGORY_OF_KIND,
    KINDS,
    VALID,
    assert_problem,
    batch,
    changed,
    item,
    put,
    row_values,
    rows,
    total_rows,
)

pytestmark = pytest.mark.django_db


def _grant_all_but(user, missing: str) -> None:
    for category in Category.values:
        if category != missing:
            consent_grant(user=user, category=category)


def _withdraw(client, category: str, delete_entries: bool):
    return client.post(
        f"/api/v1/privacy/consents/{category}/withdraw",
        {"delete_entries": delete_entries},
        format="json",
    )


def _log_one_of_each(client) -> dict[str, uuid.UUID]:
    ids = {}
    for kind in KINDS:
        ids[kind] = uuid.uuid4()
        assert put(client, kind, ids[kind], VALID[kind]).status_code == 201
    return ids


@pytest.mark.parametrize("kind", KINDS)
def test_missing_consent_is_a_403_naming_the_category(api, user, kind):
    category = CATEGORY_OF_KIND[kind]
    _grant_all_but(user, category)

    response = put(api, kind, uuid.uuid4(), VALID[kind])

    body = assert_problem(response, 403)
    assert body["type"].endswith("/consent-required")
    assert body["category"] == category
    assert str(Category(category).label).lower() in body["detail"]
    assert total_rows() == 0


def test_no_consent_at_all_stores_nothing(api, user):
    for kind in KINDS:
        assert put(api, kind, uuid.uuid4(), VALID[kind]).status_code == 403
    assert total_rows() == 0


@pytest.mark.parametrize("kind", KINDS)
def test_withdraw_with_delete_removes_only_that_category(api, consenting_user, kind):
    _log_one_of_each(api)
    put(api, kind, uuid.uuid4(), {**VALID[kind], "note": "second"})
    category = CATEGORY_OF_KIND[kind]

    response = _withdraw(api, category, delete_entries=True)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["granted"] is False
    assert body["entries_deleted"] == 2
    assert body["entries_kept"] == 0
    assert rows(kind).count() == 0
    for other in KINDS:
        if other != kind:
            assert rows(other).count() == 1, other


def test_withdraw_without_delete_keeps_entries_and_says_how_many(api, consenting_user):
    ids = _log_one_of_each(api)
    put(api, "alcohol", uuid.uuid4(), VALID["alcohol"])

    response = _withdraw(api, "alcohol", delete_entries=False)

    body = response.json()
    assert (body["granted"], body["entries_deleted"], body["entries_kept"]) == (False, 0, 2)
    assert rows("alcohol").count() == 2
    # Kept entries stay readable by their owner.
    assert api.get(f"/api/v1/journal/alcohol/{ids['alcohol']}").status_code == 200


def test_withdraw_only_touches_the_withdrawing_users_entries(
    api, consenting_user, other_user, make_client, grant_all
):
    grant_all(other_user)
    other = make_client(other_user)
    put(other, "energy", uuid.uuid4(), VALID["energy"])
    put(api, "energy", uuid.uuid4(), VALID["energy"])

    _withdraw(api, "energy", delete_entries=True)

    assert rows("energy", consenting_user).count() == 0
    assert rows("energy", other_user).count() == 1


def test_after_withdrawal_writes_are_refused_at_once(api, consenting_user):
    entry_id = uuid.uuid4()
    put(api, "alcohol", entry_id, VALID["alcohol"])
    _withdraw(api, "alcohol", delete_entries=False)
    before = row_values(rows("alcohol").get())

    new = put(api, "alcohol", uuid.uuid4(), VALID["alcohol"])
    edit = put(api, "alcohol", entry_id, changed("alcohol"))
    in_batch = batch(api, [item("alcohol", uuid.uuid4()), item("energy", uuid.uuid4())])

    for response in (new, edit):
        assert assert_problem(response, 403)["category"] == "alcohol"
    results = in_batch.json()["results"]
    assert [r["result"] for r in results] == ["rejected", "created"]
    assert results[0]["status"] == 403
    assert results[0]["category"] == "alcohol"
    # The app says it in the rep's language from the code (detail is English).
    assert results[0]["code"] == "consent-required"
    assert "code" not in results[1]
    assert rows("alcohol").count() == 1
    assert row_values(rows("alcohol").get()) == before


def test_granting_again_allows_writes_again(api, consenting_user):
    _withdraw(api, "sleep", delete_entries=True)
    assert put(api, "sleep", uuid.uuid4(), VALID["sleep"]).status_code == 403

    granted = api.post("/api/v1/privacy/consents/sleep/grant")

    assert granted.status_code == 200
    assert put(api, "sleep", uuid.uuid4(), VALID["sleep"]).status_code == 201
