"""POST /api/v1/journal/batch: per-item answers, one bad item never blocks the rest."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.journal.helpers import (
    EXPECTED_OUT,
    KINDS,
    VALID,
    assert_problem,
    batch,
    changed,
    item,
    put,
    row_values,
    rows,
    subset,
    total_rows,
)

pytestmark = pytest.mark.django_db


def _energy_items(count: int, start: dt.datetime | None = None) -> list[dict]:
    start = start or dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)
    return [
        item(
            "energy",
            uuid.uuid4(),
            {"occurred_at": (start + dt.timedelta(minutes=7 * i)).isoformat(), "level": 1 + i % 9},
        )
        for i in range(count)
    ]


def _mixed_items(count: int) -> list[dict]:
    """``count`` valid items cycling through every kind, each with its own id."""
    out = []
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        body = dict(VALID[kind])
        body["note"] = f"item {i}"
        out.append(item(kind, uuid.uuid4(), body))
    return out


def test_mixed_kinds_are_created_in_order(api, consenting_user):
    items = [item(kind, uuid.uuid4()) for kind in KINDS]

    response = batch(api, items)

    assert response.status_code == 200, response.content
    body = response.json()
    results = body["results"]
    assert [r["index"] for r in results] == list(range(len(KINDS)))
    assert [(r["kind"], r["id"], r["result"], r["status"]) for r in results] == [
        (i["kind"], i["id"], "created", 201) for i in items
    ]
    for result in results:
        kind = result["kind"]
        assert subset(result["entry"], EXPECTED_OUT[kind]) == EXPECTED_OUT[kind]
    assert body["counts"] == {"created": len(KINDS)}
    for i in items:
        assert rows(i["kind"]).filter(pk=i["id"]).exists()


def test_every_result_kind_in_one_batch(api, consenting_user, other_user, make_client, grant_all):
    grant_all(other_user)
    ids = {name: uuid.uuid4() for name in ("update", "unchanged", "stale", "foreign")}
    cua = {"client_updated_at": "2026-11-26T14:00:00Z"}
    put(api, "energy", ids["update"], {**VALID["energy"], **cua})
    put(api, "sleep", ids["unchanged"], {**VALID["sleep"], **cua})
    put(api, "meal", ids["stale"], {**VALID["meal"], **cua})
    put(make_client(other_user), "alcohol", ids["foreign"], VALID["alcohol"])
    foreign_before = row_values(rows("alcohol").get())
    new_id, bad_id = uuid.uuid4(), uuid.uuid4()

    response = batch(
        api,
        [
            item("exercise", new_id),
            item("energy", ids["update"], changed("energy", client_updated_at="2026-11-26T15:00Z")),
            item(
                "sleep",
                ids["unchanged"],
                {**VALID["sleep"], "client_updated_at": "2026-11-26T15:00Z"},
            ),
            item("meal", ids["stale"], changed("meal", client_updated_at="2026-11-26T13:00:00Z")),
            item("energy", bad_id, {**VALID["energy"], "level": 0}),
            item("alcohol", ids["foreign"], changed("alcohol")),
        ],
    )

    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [(r["result"], r["status"]) for r in results] == [
        ("created", 201),
        ("updated", 200),
        ("unchanged", 200),
        ("stale", 200),
        ("rejected", 400),
        ("rejected", 404),
    ]
    assert results[1]["entry"]["level"] == 6
    assert results[3]["entry"]["heaviness"] == "heavy"
    assert "newer" in results[3]["detail"]
    rejected = results[4]
    assert rejected["id"] == str(bad_id)
    assert rejected["kind"] == "energy"
    assert "level" in rejected["errors"]
    assert "1" in rejected["errors"]["level"][0] and "9" in rejected["errors"]["level"][0]
    assert rejected["detail"]
    assert "entry" not in rejected
    assert "entry" not in results[5]
    assert results[5]["detail"]
    assert [r.get("code") for r in results] == [None] * 4 + ["invalid", "not-found"]
    assert response.json()["counts"] == {
        "created": 1,
        "updated": 1,
        "unchanged": 1,
        "stale": 1,
        "rejected": 2,
    }
    assert rows("energy").get(pk=ids["update"]).level == 6
    assert rows("meal").get(pk=ids["stale"]).heaviness == "heavy"
    assert not rows("energy").filter(pk=bad_id).exists()
    assert row_values(rows("alcohol").get()) == foreign_before


def test_one_bad_item_does_not_block_the_others_and_leaves_no_row(api, consenting_user):
    good = _mixed_items(6)
    bad = [
        item("energy", uuid.uuid4(), {**VALID["energy"], "level": 10}),
        item(
            "sleep",
            uuid.uuid4(),
            {"occurred_at": "2026-11-26T07:00:00+01:00", "bedtime": "2026-11-25T12:00:00+01:00"},
        ),
        item("alcohol", uuid.uuid4(), {**VALID["alcohol"], "standard_drinks": "-2"}),
        item("energy", uuid.uuid4(), {**VALID["energy"], "occurred_at": "2026-11-26T10:00:00"}),
        item("energy", uuid.uuid4(), {**VALID["energy"], "tz": "Mars/Olympus"}),
        item("meal", uuid.uuid4(), {**VALID["meal"], "tags": ["fried", "glazed"]}),
        item("energy", uuid.uuid4(), {**VALID["energy"], "colour": "red"}),
        {"kind": "smoking", "id": str(uuid.uuid4()), "occurred_at": "2026-11-26T10:00:00Z"},
        {"kind": "energy", "id": "not-a-uuid", **VALID["energy"]},
        {"id": str(uuid.uuid4()), **VALID["energy"]},
    ]
    items = [good[0], *bad[:5], good[1], good[2], *bad[5:], *good[3:]]

    response = batch(api, items)

    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert len(results) == len(items)
    for index, (sent, result) in enumerate(zip(items, results, strict=True)):
        assert result["index"] == index
        expected = "created" if sent in good else "rejected"
        assert result["result"] == expected, (index, result)
        if expected == "rejected":
            assert result["status"] == 400
            assert result["errors"], result
            assert all(
                isinstance(k, str) and all(isinstance(m, str) for m in v)
                for k, v in result["errors"].items()
            ), result
            assert "ErrorDetail" not in result["detail"], result
    assert total_rows() == len(good)
    by_field = {r["index"]: set(r["errors"]) for r in results if r["result"] == "rejected"}
    assert "level" in by_field[1]
    assert "bedtime" in by_field[2]
    assert "standard_drinks" in by_field[3]
    assert "occurred_at" in by_field[4]
    assert "tz" in by_field[5]
    assert any(name.startswith("tags") for name in by_field[8])
    assert "colour" in by_field[9]
    assert "kind" in by_field[10]
    assert "id" in by_field[11]
    assert "kind" in by_field[12]


def test_a_batch_of_only_refused_items_answers_each(api, consenting_user):
    """No item survives parsing, so nothing reaches the write at all (a regression: the
    one-statement write was once built for zero entries, a 500)."""
    response = batch(api, [item("energy", uuid.uuid4(), {**VALID["energy"], "level": 10})])

    assert response.status_code == 200, response.content
    assert [r["result"] for r in response.json()["results"]] == ["rejected"]
    assert total_rows() == 0


@pytest.mark.parametrize("bad", ["energy", 42, None, [1]])
def test_item_that_is_not_an_object_fails_the_envelope(api, consenting_user, bad):
    """Not an entry at all but a broken envelope (the schema says items are objects)."""
    response = batch(api, [item("energy", uuid.uuid4()), bad])

    problem = assert_problem(response, 400)
    assert any(name.startswith("items") for name in problem["errors"]), problem
    assert total_rows() == 0


def test_500_items_are_accepted(api, consenting_user):
    items = _energy_items(500)

    response = batch(api, items)

    assert response.status_code == 200, response.content
    assert response.json()["counts"] == {"created": 500}
    assert rows("energy").count() == 500


def test_501_items_are_refused_whole(api, consenting_user):
    response = batch(api, _energy_items(501))

    problem = assert_problem(response, 400)
    assert "items" in problem["errors"]
    assert "500" in problem["errors"]["items"][0]
    assert total_rows() == 0


@pytest.mark.parametrize("payload", [{}, {"items": []}, {"items": "x"}, [], {"items": [], "x": 1}])
def test_malformed_envelope_is_400(api, consenting_user, payload):
    response = api.post("/api/v1/journal/batch", payload, format="json")

    assert_problem(response, 400)


def test_duplicate_id_in_one_batch(api, consenting_user):
    entry_id = uuid.uuid4()
    first = item("energy", entry_id, {**VALID["energy"], "level": 3})
    second = item("energy", entry_id, {**VALID["energy"], "level": 8})

    response = batch(api, [first, second])

    results = response.json()["results"]
    assert [r["result"] for r in results] == ["created", "rejected"]
    assert results[1]["status"] == 400
    assert "id" in results[1]["errors"]
    assert rows("energy").get().level == 3


def test_same_id_for_two_kinds_is_two_entries(api, consenting_user):
    entry_id = uuid.uuid4()

    response = batch(api, [item("energy", entry_id), item("sleep", entry_id)])

    assert [r["result"] for r in response.json()["results"]] == ["created", "created"]


def test_the_same_batch_twice_gives_the_same_answer_and_one_copy(api, consenting_user):
    items = [*_mixed_items(12), item("energy", uuid.uuid4(), {**VALID["energy"], "level": 0})]

    first = batch(api, items)
    second = batch(api, items)

    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert total_rows() == 12
    # And each single PUT of the same body gives the same answer as the batch did.
    for sent, result in zip(items[:12], first.json()["results"], strict=False):
        body = {k: v for k, v in sent.items() if k not in ("kind", "id")}
        replay = put(api, sent["kind"], sent["id"], body)
        assert replay.status_code == result["status"]
        assert replay.json()["entry"] == result["entry"]


def test_another_users_id_is_rejected_404(api, consenting_user, other_user, make_client, grant_all):
    grant_all(other_user)
    foreign_id = uuid.uuid4()
    put(make_client(other_user), "sleep", foreign_id, VALID["sleep"])
    before = row_values(rows("sleep").get())

    response = batch(api, [item("sleep", foreign_id), item("energy", uuid.uuid4())])

    results = response.json()["results"]
    assert (results[0]["result"], results[0]["status"]) == ("rejected", 404)
    assert "entry" not in results[0]
    assert results[1]["result"] == "created"
    assert row_values(rows("sleep").get()) == before
    assert rows("sleep", consenting_user).count() == 0


def _batch_queries(api, items) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = batch(api, items)
    assert response.status_code == 200
    assert all(r["result"] in ("created", "updated") for r in response.json()["results"])
    return len(ctx.captured_queries)


def _after_the_first_write(api) -> None:
    """A rep's very first write that takes the general path also reads the account once (it may
    have been erased meanwhile; decisions.md); the counts compared here are of the writes after."""
    assert batch(api, _energy_items(1)).status_code == 200


def test_query_count_does_not_grow_with_items(api, consenting_user, django_assert_max_num_queries):
    from apps.journal.services import TOGETHER_MAX_ENTRIES

    _after_the_first_write(api)
    # New entries: one statement up to TOGETHER_MAX_ENTRIES, the general path above; neither
    # grows with the number of entries.
    assert _batch_queries(api, _mixed_items(12)) == _batch_queries(
        api, _mixed_items(TOGETHER_MAX_ENTRIES)
    )
    large_items = _mixed_items(120)
    large_create = _batch_queries(api, large_items)
    assert large_create == _batch_queries(api, _mixed_items(TOGETHER_MAX_ENTRIES + 1))

    # Updates of existing entries: also a fixed number per kind.
    edits = [{**i, "note": i["note"] + " (edited)"} for i in large_items]
    large_update = _batch_queries(api, edits)
    small_update = _batch_queries(api, [{**i, "note": "again"} for i in large_items[:60]])
    assert large_update == small_update

    # Session, lock, consent, then per kind: lock existing rows, insert, read back owners.
    with django_assert_max_num_queries(4 + 3 * len(KINDS) + 6):
        batch(api, _mixed_items(100))


def test_query_count_single_kind_10_vs_100(api, consenting_user, django_assert_max_num_queries):
    from apps.journal.services import TOGETHER_MAX_ENTRIES

    _after_the_first_write(api)
    ten = _batch_queries(api, _energy_items(10))
    hundred = _batch_queries(api, _energy_items(100))

    assert ten == _batch_queries(api, _energy_items(TOGETHER_MAX_ENTRIES))
    assert hundred == _batch_queries(api, _energy_items(TOGETHER_MAX_ENTRIES + 1))
    with django_assert_max_num_queries(10):
        batch(api, _energy_items(100))


def test_a_sync_of_only_new_entries_is_one_statement(api, consenting_user):
    """What a phone queued offline is new entries, several of a kind: on PostgreSQL they go in
    one statement (consent, journal lock, version and count, one insert per kind, stale days)
    inside the transaction's two; elsewhere the general path answers the same."""
    from apps.insights.models import StaleDay
    from apps.journal.models import JournalState

    start = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)
    items = [*_mixed_items(14), *_energy_items(5, start=start - dt.timedelta(days=3))]

    with CaptureQueriesContext(connection) as captured:
        response = batch(api, items)

    assert response.status_code == 200, response.content
    assert [r["result"] for r in response.json()["results"]] == ["created"] * len(items)
    assert total_rows() == len(items)
    state = JournalState.objects.get(user=consenting_user)
    assert (state.version, state.writes_in_window) == (1, 1)
    days = {rows(i["kind"]).get(pk=i["id"]).local_date for i in items}
    assert (
        set(StaleDay.objects.filter(user=consenting_user).values_list("local_date", flat=True))
        == days
    )
    statements = [
        q["sql"]
        for q in captured.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "BEGIN", "COMMIT"))
        and 'FROM "accounts_user"' not in q["sql"]
    ]
    if connection.vendor == "postgresql":
        assert len(statements) == 1, statements
        assert statements[0].startswith("WITH consent")
        for kind in KINDS:
            assert rows(kind).model._meta.db_table in statements[0]


@pytest.mark.postgres
def test_a_large_sync_of_only_new_entries_is_one_question_and_one_statement(api, consenting_user):
    from apps.journal.services import TOGETHER_MAX_ENTRIES

    items = _mixed_items(TOGETHER_MAX_ENTRIES * 2)

    with CaptureQueriesContext(connection) as captured:
        response = batch(api, items)

    assert [r["result"] for r in response.json()["results"]] == ["created"] * len(items)
    assert total_rows() == len(items)
    statements = [
        q["sql"]
        for q in captured.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "BEGIN", "COMMIT"))
        and 'FROM "accounts_user"' not in q["sql"]
    ]
    assert len(statements) == 2, statements
    assert statements[0].startswith("SELECT EXISTS")
    assert statements[1].startswith("WITH consent")


def _rows_inserted() -> int:
    """Rows inserted into the journal tables in this transaction, rolled-back ones included."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(n_tup_ins), 0) FROM pg_stat_xact_user_tables "
            "WHERE relname LIKE 'journal\\_%%entry' OR relname = 'journal_energycheckin'"
        )
        return int(cursor.fetchone()[0])


@pytest.mark.parametrize("new_entries", [10, 60], ids=["one statement first", "general path"])
def test_a_sync_with_one_taken_id_is_answered_whole_and_counted_once(
    api, consenting_user, new_entries
):
    """One entry already stored (an edit made offline): the one-statement attempt is rolled back
    whole (nothing of it stays, its count neither) and the general path answers every item. A
    sync above TOGETHER_MAX_ENTRIES is first asked whether any of its ids is taken and goes to
    the general path at once, so the rows written and rolled back by such an attempt stay
    bounded."""
    from apps.journal.models import JournalState
    from apps.journal.services import TOGETHER_MAX_ENTRIES

    edited = _mixed_items(1)[0]
    assert batch(api, [{**edited, "note": "first version"}]).status_code == 200
    sent = [edited, *_mixed_items(new_entries)]
    before = _rows_inserted() if connection.vendor == "postgresql" else 0

    response = batch(api, sent)

    results = response.json()["results"]
    assert [r["result"] for r in results] == ["updated"] + ["created"] * new_entries
    assert total_rows() == len(sent)
    assert JournalState.objects.get(user=consenting_user).writes_in_window == 2
    if connection.vendor == "postgresql":
        tried_first = len(sent) <= TOGETHER_MAX_ENTRIES
        assert _rows_inserted() - before == new_entries * (2 if tried_first else 1)
