"""The hand-built statements of apps.core.sql on a real database."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core.sql import array_literal, insert_new, server_bound_cursor
from apps.journal.models import EnergyCheckin
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _entry(user, entry_id: uuid.UUID | None = None) -> EnergyCheckin:
    import datetime as dt

    at = dt.datetime(2026, 11, 26, 9, tzinfo=dt.UTC)
    return EnergyCheckin(
        id=entry_id or uuid.uuid4(),
        user=user,
        occurred_at=at,
        tz="Europe/Amsterdam",
        local_date=at.date(),
        client_updated_at=at,
        level=5,
    )


def test_insert_new_returns_only_the_keys_it_inserted():
    user = UserFactory()
    first = _entry(user)
    assert insert_new(EnergyCheckin, [first]) == {first.pk}
    second = _entry(user)
    # The taken key is left alone, the free one is inserted: one statement for both.
    assert insert_new(EnergyCheckin, [_entry(user, first.pk), second]) == {second.pk}
    assert EnergyCheckin.objects.count() == 2


@pytest.mark.postgres
def test_a_statement_run_often_through_the_server_bound_cursor_is_prepared_once():
    """The hot write path relies on PostgreSQL planning its WITH query once per connection
    (settings: prepare_threshold); Django's own cursors never prepare."""
    marker = f"prepared-{uuid.uuid4().hex}"
    with CaptureQueriesContext(connection) as captured:
        for _ in range(8):
            with server_bound_cursor() as cursor:
                cursor.execute(f"SELECT %s::text, '{marker}'", ["x"])
                assert cursor.fetchone()[0] == "x"
    # The query log keeps the statement, values rendered in, after it was prepared too.
    assert [q["sql"] for q in captured.captured_queries] == [f"SELECT 'x'::text, '{marker}'"] * 8
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans + custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE %s",
            [f"%{marker}%"],
        )
        (runs,) = cursor.fetchone()
    # Prepared on its fifth run; the later runs executed the prepared statement.
    assert runs >= 3


@pytest.mark.postgres
def test_django_cursors_still_bind_on_the_client():
    marker = f"client-{uuid.uuid4().hex}"
    for _ in range(8):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT %s::text, '{marker}'", ["x"])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            [f"%{marker}%"],
        )
        assert cursor.fetchone()[0] == 0


_AWKWARD_TEXT = "Quotes \" and ' and \\ backslash, a newline\n, ünïcode and 🙂"


def _full_entries(user, kind: str, count: int) -> list:
    """Entries of ``kind`` with every field set, awkward text, fractions and microseconds."""
    import datetime as dt
    from decimal import Decimal

    from apps.journal.models import ENTRY_MODELS

    at = dt.datetime(2026, 11, 26, 7, 15, 30, 123456, tzinfo=dt.UTC)
    extra = {
        "sleep": {
            "bedtime": at - dt.timedelta(hours=7, microseconds=7),
            "duration_minutes": 420,
            "quality": 4,
        },
        "meal": {
            "meal_type": "lunch",
            "heaviness": "heavy",
            "tags": ["vegetables", _AWKWARD_TEXT, {"nested": [1, None, True]}],
        },
        "exercise": {"exercise_type": "run", "duration_minutes": 35, "intensity": "vigorous"},
        "alcohol": {"standard_drinks": Decimal("1.5"), "context": "social"},
        "energy": {"level": 7, "focus": None, "mood": 3},
        "activity": {"what": _AWKWARD_TEXT, "duration_minutes": 50, "effect": "drained"},
    }[kind]
    return [
        ENTRY_MODELS[kind](
            id=uuid.uuid4(),
            user=user,
            occurred_at=at,
            tz="America/St_Johns",
            local_date=at.date(),
            note=_AWKWARD_TEXT,
            client_updated_at=at - dt.timedelta(seconds=1),
            request_hash="h" * 64,
            last_result="created",
            **extra,
        )
        for _ in range(count)
    ]


@pytest.mark.parametrize("kind", ["sleep", "meal", "exercise", "alcohol", "energy", "activity"])
def test_many_rows_are_stored_exactly_as_the_orm_stores_them(kind):
    """Several rows go to PostgreSQL as one JSON parameter: every value must come back as the
    ORM's own save stores it (awkward text, JSON, decimals, microseconds, NULLs)."""
    from apps.journal.models import ENTRY_MODELS

    model = ENTRY_MODELS[kind]
    user = UserFactory()
    by_orm, *by_insert = _full_entries(user, kind, 3)
    by_orm.save(force_insert=True)
    assert insert_new(model, by_insert) == {entry.pk for entry in by_insert}

    names = [
        f.attname
        for f in model._meta.concrete_fields
        if f.name not in {"id", "created_at", "updated_at"}
    ]
    stored = {row.pop("id"): row for row in model.objects.values("id", *names)}
    assert len(stored) == 3
    assert stored[by_insert[0].pk] == stored[by_orm.pk] == stored[by_insert[1].pk]
    # The decrypted note and the model-level values read back as they were given.
    reread = model.objects.get(pk=by_insert[1].pk)
    assert reread.note == _AWKWARD_TEXT
    for name in names:
        if name not in {"note", "user_id"}:
            assert getattr(reread, name) == getattr(by_insert[1], name), name


def test_a_value_without_a_json_form_is_refused_not_guessed():
    from apps.core.sql import rows_json

    field = EnergyCheckin._meta.get_field("level")
    with pytest.raises(TypeError, match="not JSON serializable: object"):
        rows_json([field], [[object()]])


@pytest.mark.postgres
@pytest.mark.filterwarnings("ignore:DateTimeField .* received a naive datetime:RuntimeWarning")
def test_the_rows_values_are_what_the_orms_conversion_gives(monkeypatch):
    """``_row`` passes the common values through as they are; for every entry model, with the
    values a sync brings (and a naive time, a TextChoices member, a bool for a number), each is
    what ``get_db_prep_save`` would hand PostgreSQL, but the encrypted note, which is not
    deterministic and must be a Fernet token."""
    import datetime as dt
    from decimal import Decimal

    from django.utils import timezone

    from apps.core.sql import _row, insert_parts
    from apps.journal.models import ENTRY_MODELS, MealEntry

    frozen = dt.datetime(2026, 12, 7, 8, tzinfo=dt.UTC)
    monkeypatch.setattr(timezone, "now", lambda: frozen)
    user = UserFactory()
    at = dt.datetime(2026, 12, 7, 7, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    extra = {
        "sleep": {"bedtime": at - dt.timedelta(hours=7), "duration_minutes": 420, "quality": 4},
        "meal": {"meal_type": MealEntry.MealType.LUNCH, "heaviness": "light", "tags": ["fried"]},
        "exercise": {"exercise_type": "run", "duration_minutes": 30, "intensity": "moderate"},
        "alcohol": {"standard_drinks": Decimal("1.5"), "context": "dinner"},
        "energy": {"level": 7, "focus": True, "mood": None},
        "activity": {"what": "piano", "duration_minutes": 45, "effect": "gave"},
    }
    for kind, model in ENTRY_MODELS.items():
        for occurred_at in (at, at.replace(tzinfo=None)):
            obj = model(
                id=uuid.uuid4(),
                user=user,
                occurred_at=occurred_at,
                tz="Europe/Amsterdam",
                local_date=at.date(),
                note="slept badly",
                client_updated_at=at,
                request_hash="abc",
                last_result="created",
                **extra[kind],
            )
            fields = insert_parts(model)[0]
            fast = _row(model, obj)
            orm = [f.get_db_prep_save(f.pre_save(obj, add=True), connection) for f in fields]
            for field, ours, theirs in zip(fields, fast, orm, strict=True):
                if field.name == "note":
                    assert str(ours).startswith("gAAAAA"), kind
                else:
                    assert _comparable(ours) == _comparable(theirs), (kind, field.name)


def _comparable(value):
    from psycopg.types.json import Jsonb

    # psycopg's JSON wrapper has no equality of its own.
    return (type(value), value.obj if isinstance(value, Jsonb) else value)


@pytest.mark.postgres
def test_an_array_literal_reads_back_as_the_values_it_was_made_of():
    import datetime as dt

    days = [dt.date(2026, 11, 30), dt.date(2026, 12, 1)]
    with server_bound_cursor() as cursor:
        cursor.execute(
            "SELECT %s::date[], %s::text[]",
            [array_literal(days), array_literal(["energy", "sleep"])],
        )
        assert cursor.fetchone() == (days, ["energy", "sleep"])


@pytest.mark.parametrize("value", ["a,b", "{a}", 'a"b', "a b", "a\\b", "NULL", "null", ""])
def test_an_array_element_that_would_need_quoting_is_refused_not_quoted(value):
    with pytest.raises(ValueError, match="not a plain array element"):
        array_literal(["energy", value])


def test_no_values_make_the_empty_array():
    assert array_literal([]) == "{}"
