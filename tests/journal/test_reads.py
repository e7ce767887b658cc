"""Lists per kind, the day view, delete, and the note encrypted at rest."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.journal.models import ENTRY_MODELS
from apps.journal.services import (
    KIND_FIELDS,
    EntryInput,
    entries_purge_before,
    entries_upsert,
)
from tests.journal.helpers import (
    KINDS,
    VALID,
    assert_problem,
    batch,
    entry_url,
    item,
    put,
    rows,
)

pytestmark = pytest.mark.django_db

DAYS_URL = "/api/v1/journal/days"


def _energy_on_days(client, days: list[dt.date], hour: int = 10) -> list[str]:
    """One energy check-in per given local day (Amsterdam, winter time); returns the ids."""
    items = [
        item(
            "energy",
            uuid.uuid4(),
            {
                "occurred_at": dt.datetime(day.year, day.month, day.day, hour - 1, 0, tzinfo=dt.UTC)
                .isoformat()
                .replace("+00:00", "Z"),
                "level": 1 + i % 9,
            },
        )
        for i, day in enumerate(days)
    ]
    for start in range(0, len(items), 500):
        response = batch(client, items[start : start + 500])
        assert response.json()["counts"] == {"created": len(items[start : start + 500])}
    return [i["id"] for i in items]


def _walk(client, url: str) -> tuple[list[dict], int]:
    """Every result across pages by following ``next``; also the number of pages."""
    seen, pages = [], 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        seen.extend(body["results"])
        pages += 1
        url = body["next"]
    return seen, pages


def _all_kinds(client, owner) -> None:
    for kind in KINDS:
        assert put(client, kind, uuid.uuid4(), VALID[kind]).status_code == 201


# --- lists ---------------------------------------------------------------------------------


def test_list_paginates_with_a_cursor_without_gaps_or_duplicates(api, consenting_user):
    days = [dt.date(2026, 11, 25) - dt.timedelta(days=n) for n in range(23)]
    ids = _energy_on_days(api, days)

    seen, pages = _walk(api, entry_url("energy") + "?page_size=5")

    assert pages == 5
    assert [entry["id"] for entry in seen] == ids  # newest first, each once
    assert all(entry["kind"] == "energy" for entry in seen)


def test_list_pages_are_stable_when_many_entries_share_a_time(api, consenting_user):
    same_time = {"occurred_at": "2026-11-26T10:00:00+01:00", "level": 5}
    ids = {str(uuid.uuid4()) for _ in range(12)}
    batch(api, [item("energy", entry_id, same_time) for entry_id in ids])

    seen, _ = _walk(api, entry_url("energy") + "?page_size=5")

    assert sorted(entry["id"] for entry in seen) == sorted(ids)


def test_list_new_entries_do_not_shift_the_next_page(api, consenting_user):
    days = [dt.date(2026, 11, 25) - dt.timedelta(days=n) for n in range(10)]
    ids = _energy_on_days(api, days)
    first = api.get(entry_url("energy") + "?page_size=4").json()
    # A newer entry arrives while the phone pages through older ones.
    _energy_on_days(api, [dt.date(2026, 11, 26)])

    rest, _ = _walk(api, first["next"])

    assert [e["id"] for e in first["results"]] + [e["id"] for e in rest] == ids


def test_list_filters_by_local_date_range(api, consenting_user):
    days = [dt.date(2026, 11, 1) + dt.timedelta(days=n) for n in range(20)]
    _energy_on_days(api, days)

    seen, _ = _walk(api, entry_url("energy") + "?date_from=2026-11-05&date_to=2026-11-08")

    assert [e["local_date"] for e in seen] == [
        "2026-11-08",
        "2026-11-07",
        "2026-11-06",
        "2026-11-05",
    ]


def test_list_date_from_after_date_to_is_400(api, consenting_user):
    response = api.get(entry_url("energy") + "?date_from=2026-11-10&date_to=2026-11-01")

    problem = assert_problem(response, 400)
    assert "date_from" in problem["errors"]


@pytest.mark.parametrize(
    "query",
    ["date_from=yesterday", "page_size=0", "page_size=501", "colour=blue", "cursor=bz14"],
)
def test_list_bad_query_is_400_or_404_never_500(api, consenting_user, query):
    response = api.get(entry_url("energy") + "?" + query)

    assert response.status_code in (400, 404), response.content
    assert_problem(response, response.status_code)


def test_list_shows_only_my_entries(api, consenting_user, other_user, make_client, grant_all):
    grant_all(other_user)
    theirs = make_client(other_user)
    _all_kinds(theirs, other_user)
    mine = str(uuid.uuid4())
    put(api, "energy", mine, VALID["energy"])

    for kind in KINDS:
        seen, _ = _walk(api, entry_url(kind))
        assert [e["id"] for e in seen] == ([mine] if kind == "energy" else []), kind


def test_get_one_entry(api, consenting_user):
    entry_id = uuid.uuid4()
    put(api, "sleep", entry_id, VALID["sleep"])

    response = api.get(entry_url("sleep", entry_id))

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["kind"], body["duration_minutes"]) == (str(entry_id), "sleep", 465)


def test_get_unknown_id_is_404(api, consenting_user):
    assert_problem(api.get(entry_url("sleep", uuid.uuid4())), 404)


# --- day view ------------------------------------------------------------------------------


def test_day_view_groups_every_kind_by_local_day(api, consenting_user):
    _all_kinds(api, consenting_user)
    put(api, "energy", uuid.uuid4(), {"occurred_at": "2026-11-26T09:00:00+01:00", "level": 8})

    response = api.get(DAYS_URL)

    assert response.status_code == 200, response.content
    body = response.json()
    # Up to the latest date anywhere (the 27th at UTC+14 by 16:00 UTC).
    assert (body["date_from"], body["date_to"]) == ("2026-08-29", "2026-11-27")
    days = {day["local_date"]: day["entries"] for day in body["days"]}
    assert list(days) == ["2026-11-26", "2026-11-25"]
    assert {k: len(v) for k, v in days["2026-11-26"].items()} == {
        "sleep": 1,
        "meal": 1,
        "exercise": 1,
        "energy": 2,
    }
    assert {k: len(v) for k, v in days["2026-11-25"].items()} == {"alcohol": 1, "activity": 1}
    # Several check-ins a day, in time order (the after-lunch dip is visible).
    assert [e["level"] for e in days["2026-11-26"]["energy"]] == [8, 4]
    assert days["2026-11-26"]["sleep"][0]["note"] == "Woke up once"


def _day_view_by_id(client) -> dict[str, dict]:
    body = client.get(DAYS_URL).json()
    return {
        entry["id"]: entry
        for day in body["days"]
        for entries in day["entries"].values()
        for entry in entries
    }


def _as_shown(value):
    # Instants may be written with Z or +00:00 and with or without trailing zeros.
    if isinstance(value, str) and len(value) > 19 and value[10:11] == "T":
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


@pytest.mark.parametrize("kind", KINDS)
def test_day_view_shows_each_entry_as_the_entry_itself_reads(api, consenting_user, kind):
    entry_id = uuid.uuid4()
    put(api, kind, entry_id, {**VALID[kind], "note": "Één note"})

    shown = _day_view_by_id(api)[str(entry_id)]
    detail = api.get(entry_url(kind, entry_id)).json()

    # On PostgreSQL the day view is each row's stored JSON (a trigger keeps it): a field added
    # to a kind without updating that trigger shows up here.
    assert set(shown) == {"id", "occurred_at", "tz", "note", *KIND_FIELDS[kind], "kind"}
    assert {k: _as_shown(v) for k, v in shown.items()} == {k: _as_shown(detail[k]) for k in shown}


@pytest.mark.postgres
def test_day_view_follows_every_way_a_row_is_written(api, consenting_user):
    entry_id = uuid.uuid4()
    put(api, "energy", entry_id, VALID["energy"])
    # Neither an ORM update() nor raw SQL runs the application's code; nor does the writer's
    # session time zone change how instants are written.
    rows("energy").filter(pk=entry_id).update(level=9)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL TIME ZONE 'America/New_York'")
        cursor.execute(
            "UPDATE journal_energycheckin SET occurred_at = %s WHERE id = %s",
            [dt.datetime(2026, 11, 26, 12, 5, 30, tzinfo=dt.UTC), entry_id],
        )

    shown = _day_view_by_id(api)[str(entry_id)]

    assert shown["level"] == 9
    assert shown["occurred_at"] == "2026-11-26T12:05:30Z"


def test_day_view_notes_round_trip_whatever_they_contain(api, consenting_user):
    tricky = 'Said "note" : "gAAAAA" to \\ myself\nthen slept 😴'
    created = put(
        api, "activity", uuid.uuid4(), {**VALID["activity"], "note": tricky, "what": '"note" : "x"'}
    )
    assert created.status_code == 201, created.content
    put(api, "energy", uuid.uuid4(), {**VALID["energy"], "note": ""})

    body = api.get(DAYS_URL).json()

    entries = {k: v for day in body["days"] for k, v in day["entries"].items()}
    assert entries["activity"][0]["note"] == tricky
    assert entries["activity"][0]["what"] == '"note" : "x"'
    assert entries["energy"][0]["note"] == ""


def test_day_view_defaults_to_the_last_90_days(api, consenting_user):
    today = dt.date(2026, 11, 26)
    _energy_on_days(api, [today, today - dt.timedelta(days=89), today - dt.timedelta(days=90)])

    body = api.get(DAYS_URL).json()

    assert [d["local_date"] for d in body["days"]] == ["2026-11-26", "2026-08-29"]
    # At 16:00 UTC the date is the 27th in the zone furthest ahead: the window reaches it (a
    # rep who flew east has entries dated there), and the window before is as long.
    assert (body["date_from"], body["date_to"]) == ("2026-08-29", "2026-11-27")
    assert body["previous"].endswith("?date_from=2026-05-30&date_to=2026-08-28")


def test_the_default_day_view_shows_an_entry_logged_east_of_home(api, consenting_user, clock):
    """Home is Amsterdam; the rep flew to Tokyo. At 22:00 UTC it is 23:00 on the 26th at home
    and 07:00 on the 27th in Tokyo, where the rep logs a check-in: the day view the phone
    opens without a range shows it."""
    clock.move_to(dt.datetime(2026, 11, 26, 22, 0, tzinfo=dt.UTC))
    entry_id = uuid.uuid4()
    body = {"occurred_at": "2026-11-27T07:00:00+09:00", "tz": "Asia/Tokyo", "level": 5}
    assert put(api, "energy", entry_id, body).json()["entry"]["local_date"] == "2026-11-27"

    days = api.get(DAYS_URL).json()["days"]

    assert [(d["local_date"], d["entries"]["energy"][0]["id"]) for d in days] == [
        ("2026-11-27", str(entry_id))
    ]


def test_a_sleep_woken_minutes_ahead_past_midnight_in_utc14_shows_in_the_default_day_view(
    api, consenting_user, clock
):
    """A phone clock a few minutes fast is accepted (up to 10 minutes): a night woken from just
    after midnight in Kiritimati, 8 minutes ahead of the server, is dated a day later than the
    date there now. The default day view reaches that date."""
    clock.move_to(dt.datetime(2026, 11, 26, 9, 55, tzinfo=dt.UTC))  # 23:55 in Kiritimati
    wake = dt.datetime(2026, 11, 26, 10, 3, tzinfo=dt.UTC)  # 00:03 on the 27th there
    body = {"occurred_at": wake.isoformat(), "tz": "Pacific/Kiritimati", "quality": 3}
    response = put(api, "sleep", uuid.uuid4(), body)
    assert response.status_code == 201, response.content
    day = response.json()["entry"]["local_date"]
    assert day == "2026-11-27"

    view = api.get(DAYS_URL)
    again = api.get(DAYS_URL, HTTP_IF_NONE_MATCH=view["ETag"])
    by_date = api.get(DAYS_URL + f"?date_to={day}")

    assert view.json()["date_to"] == day
    assert [d["local_date"] for d in view.json()["days"]] == [day]
    assert again.status_code == 304
    # A range that ends on the entry's date, as the phone asks for it, is a valid one.
    assert by_date.status_code == 200, by_date.content
    assert [d["local_date"] for d in by_date.json()["days"]] == [day]


def test_day_view_previous_link_leads_to_the_window_before(api, consenting_user):
    today = dt.date(2026, 11, 26)
    _energy_on_days(api, [today - dt.timedelta(days=n) for n in (0, 6, 7, 13, 14)])

    first = api.get(DAYS_URL + "?date_from=2026-11-20&date_to=2026-11-26").json()
    second = api.get(first["previous"]).json()
    third = api.get(second["previous"]).json()

    assert [d["local_date"] for d in first["days"]] == ["2026-11-26", "2026-11-20"]
    assert (second["date_from"], second["date_to"]) == ("2026-11-13", "2026-11-19")
    assert [d["local_date"] for d in second["days"]] == ["2026-11-19", "2026-11-13"]
    assert [d["local_date"] for d in third["days"]] == ["2026-11-12"]


def test_day_view_only_date_to_gives_90_days_before_it(api, consenting_user):
    body = api.get(DAYS_URL + "?date_to=2026-10-31").json()

    assert (body["date_from"], body["date_to"]) == ("2026-08-03", "2026-10-31")


def test_day_view_includes_a_sleep_entry_woken_before_the_day_boundary(api, consenting_user, clock):
    """At 03:45 the rep logs the night that just ended: it belongs to today's calendar day,
    and the default day view (which ends today) must show it."""
    clock.move_to(dt.datetime(2026, 11, 26, 2, 45, tzinfo=dt.UTC))  # 03:45 in Amsterdam
    put(
        api,
        "sleep",
        uuid.uuid4(),
        {"occurred_at": "2026-11-26T03:30:00+01:00", "bedtime": "2026-11-25T22:00:00+01:00"},
    )

    days = api.get(DAYS_URL).json()["days"]

    assert [d["local_date"] for d in days] == ["2026-11-26"]


@pytest.mark.parametrize(
    "query",
    [
        "date_from=2026-11-10&date_to=2026-11-01",
        "date_from=2026-12-01",  # after the default date_to (today)
        "date_from=2020-01-01&date_to=2026-11-26",  # more than 366 days
        "date_from=2020-01-01",
        "date_to=nonsense",
        "kind=sleep",
    ],
)
def test_day_view_bad_range_is_400(api, consenting_user, query):
    problem = assert_problem(api.get(DAYS_URL + "?" + query), 400)

    assert problem["errors"]


def test_day_view_never_shows_other_users_entries(
    api, consenting_user, other_user, make_client, grant_all
):
    grant_all(other_user)
    _all_kinds(make_client(other_user), other_user)

    body = api.get(DAYS_URL + "?date_from=2026-11-01&date_to=2026-11-26").json()

    assert body["days"] == []


def _queries(api, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def _log_many(user, count: int) -> None:
    """``count`` entries spread over kinds and the last 80 days, written through the service."""
    start = dt.datetime(2026, 9, 5, 8, 0, tzinfo=dt.UTC)
    items = []
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        values = {
            "occurred_at": start + dt.timedelta(hours=9 * i),
            "note": f"n{i}",
        }
        if kind == "energy":
            values["level"] = 5
        items.append(EntryInput(kind=kind, id=uuid.uuid4(), values=values))
    outcomes = entries_upsert(user=user, items=items)
    assert {o.result for o in outcomes} == {"created"}


def test_query_count_is_constant_whatever_the_data_size(
    api, consenting_user, django_assert_max_num_queries
):
    urls = [DAYS_URL, entry_url("energy"), entry_url("energy") + "?page_size=500"]
    _log_many(consenting_user, 5)
    few = [_queries(api, url) for url in urls]

    _log_many(consenting_user, 195)
    many = [_queries(api, url) for url in urls]

    assert few == many
    # A day view built from the database: the user and one query for the journal version and
    # the six kinds (on PostgreSQL; the version and one query per kind elsewhere).
    with django_assert_max_num_queries(2 if connection.vendor == "postgresql" else 8):
        api.get(DAYS_URL + "?date_to=2026-11-25")
    with django_assert_max_num_queries(6):
        api.get(entry_url("energy"))


# --- day view: conditional GET and the cache ---------------------------------------------


def test_day_view_repeat_read_is_a_304_without_a_body(api, consenting_user):
    put(api, "energy", uuid.uuid4(), VALID["energy"])
    first = api.get(DAYS_URL)
    etag = first["ETag"]
    assert first["Cache-Control"] == "private, no-cache"

    again = api.get(DAYS_URL, HTTP_IF_NONE_MATCH=etag)

    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag


def test_day_view_repeat_read_costs_two_queries_and_builds_nothing(
    api, consenting_user, django_assert_max_num_queries
):
    _log_many(consenting_user, 60)
    first = api.get(DAYS_URL)

    # The user (authentication) and the journal version; the days come from the cache.
    with django_assert_max_num_queries(2):
        cached = api.get(DAYS_URL)
    with django_assert_max_num_queries(2):
        not_modified = api.get(DAYS_URL, HTTP_IF_NONE_MATCH=first["ETag"])

    assert cached.content == first.content
    assert not_modified.status_code == 304


def test_day_view_etag_of_another_range_or_a_made_up_version_is_no_304(api, consenting_user):
    put(api, "energy", uuid.uuid4(), VALID["energy"])
    other_range = api.get(DAYS_URL + "?date_to=2026-11-20")
    current = api.get(DAYS_URL)
    version, _, digest = current["ETag"].strip('"').partition("-")
    forged = f'"{version}-{"0" * len(digest)}"'

    made_up = (forged, f'"{int(version) + 1}-{digest}"', '"x-1"', '"\u00b2-1"', "*")
    for tag in (other_range["ETag"], *made_up):
        response = api.get(DAYS_URL, HTTP_IF_NONE_MATCH=tag)
        assert response.status_code == 200, tag
        assert response.content == current.content

    assert api.get(DAYS_URL, HTTP_IF_NONE_MATCH=f"W/{current['ETag']}").status_code == 304
    several = f"{forged}, {current['ETag']}"
    assert api.get(DAYS_URL, HTTP_IF_NONE_MATCH=several).status_code == 304


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the one-query day view")
def test_a_known_version_does_not_build_the_days(consenting_user):
    from apps.journal.selectors import _day_view_state_sql, journal_version

    _log_many(consenting_user, 30)
    params = {
        "user_id": consenting_user.pk,
        "date_from": dt.date(2026, 9, 1),
        "date_to": dt.date(2026, 11, 30),
    }
    version = journal_version(user=consenting_user)
    with connection.cursor() as cursor:
        plans = {}
        for known in (version, version - 1):
            cursor.execute(
                "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + _day_view_state_sql(),
                {**params, "known": known},
            )
            plans[known] = "\n".join(row[0] for row in cursor.fetchall())

    # The days' subquery is an InitPlan that runs only when the version is not the known one.
    assert "InitPlan" in plans[version]
    assert "never executed" in plans[version]
    assert "never executed" not in plans[version - 1]


@pytest.mark.parametrize("change", ["create", "edit", "delete", "batch", "withdraw", "purge"])
def test_every_change_shows_at_once_in_the_day_view(api, consenting_user, change):
    entry_id = uuid.uuid4()
    put(api, "alcohol", entry_id, VALID["alcohol"])
    before = api.get(DAYS_URL)
    assert before.status_code == 200

    if change == "create":
        put(api, "energy", uuid.uuid4(), VALID["energy"])
    elif change == "edit":
        put(api, "alcohol", entry_id, {**VALID["alcohol"], "standard_drinks": "4.0"})
    elif change == "delete":
        api.delete(entry_url("alcohol", entry_id))
    elif change == "batch":
        batch(api, [item("meal", uuid.uuid4())])
    elif change == "withdraw":
        api.post(
            "/api/v1/privacy/consents/alcohol/withdraw", {"delete_entries": True}, format="json"
        )
    else:
        entries_purge_before(cutoff=dt.datetime(2026, 11, 27, tzinfo=dt.UTC))

    conditional = api.get(DAYS_URL, HTTP_IF_NONE_MATCH=before["ETag"])
    plain = api.get(DAYS_URL)

    assert conditional.status_code == 200
    assert conditional["ETag"] != before["ETag"]
    assert conditional.content == plain.content != before.content


def test_day_view_etag_of_one_rep_never_matches_for_another(
    api, consenting_user, other_user, make_client, grant_all
):
    grant_all(other_user)
    theirs = make_client(other_user)
    # Same journal version, same range: only the user tells the two views apart.
    put(api, "energy", uuid.uuid4(), VALID["energy"])
    put(theirs, "energy", uuid.uuid4(), VALID["energy"])
    mine = api.get(DAYS_URL)

    response = theirs.get(DAYS_URL, HTTP_IF_NONE_MATCH=mine["ETag"])

    assert response.status_code == 200
    assert response["ETag"] != mine["ETag"]
    assert response.json()["days"] != mine.json()["days"]


# --- delete and encryption -----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_delete_then_404(api, consenting_user, kind):
    entry_id = uuid.uuid4()
    put(api, kind, entry_id, VALID[kind])

    deleted = api.delete(entry_url(kind, entry_id))

    assert deleted.status_code == 204
    assert not rows(kind).exists()
    assert_problem(api.get(entry_url(kind, entry_id)), 404)
    assert_problem(api.delete(entry_url(kind, entry_id)), 404)


def test_a_deleted_entry_can_be_logged_again_with_its_id(api, consenting_user):
    """An offline phone that replays an old PUT after a delete re-creates it (its choice)."""
    entry_id = uuid.uuid4()
    put(api, "energy", entry_id, VALID["energy"])
    api.delete(entry_url("energy", entry_id))

    again = put(api, "energy", entry_id, VALID["energy"])

    assert again.status_code == 201
    assert rows("energy").count() == 1


def test_note_is_encrypted_at_rest(api, consenting_user):
    secret = "Argued with my manager about targets"
    entry_id = uuid.uuid4()
    put(api, "energy", entry_id, {**VALID["energy"], "note": secret})
    model = ENTRY_MODELS["energy"]
    table = model._meta.db_table
    db_id = model._meta.pk.get_db_prep_value(entry_id, connection)

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT note FROM {table} WHERE id = %s", [db_id])  # noqa: S608
        (stored,) = cursor.fetchone()

    assert stored
    assert secret not in stored
    assert "manager" not in stored
    assert stored.startswith("gAAAAA")  # a Fernet token
    assert api.get(entry_url("energy", entry_id)).json()["note"] == secret
    days = api.get(DAYS_URL).json()["days"]
    assert days[0]["entries"]["energy"][0]["note"] == secret


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the cached days are PostgreSQL's")
def test_cached_day_view_keeps_the_note_encrypted(api, consenting_user):
    """The day view's cache lives in Redis, beside the broker: it must hold the note as the
    database does, as a Fernet token, and the note is decrypted for each response."""
    from django.core.cache import cache

    secret = "Argued with my manager about targets"
    put(api, "energy", uuid.uuid4(), {**VALID["energy"], "note": secret})
    first = api.get(DAYS_URL).json()
    cached = cache.get(f"journal:days:{consenting_user.pk}:{first['date_from']}:{first['date_to']}")

    assert cached is not None
    assert "manager" not in cached[1]
    assert '"note" : "gAAAAA' in cached[1]
    # Served from that cache (no version from the phone): the note is readable again.
    again = api.get(DAYS_URL).json()
    assert again["days"][0]["entries"]["energy"][0]["note"] == secret


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the cached days are PostgreSQL's")
@pytest.mark.parametrize("how", ["erasure", "withdrawal with deletion"])
def test_deleting_a_reps_data_deletes_their_cached_day_views(
    api,
    consenting_user,
    other_user,
    grant_all,
    make_client,
    how,
    django_capture_on_commit_callbacks,
):
    """A moved version keeps an old day view from being served, but the cached copy would
    still hold the rep's sleep, drinks and levels in Redis until it expired: erasure and a
    withdrawal with deletion take the rep's cached day views with them, and no one else's."""
    from django.core.cache import cache

    from apps.privacy.services import consent_withdraw, user_erase

    grant_all(other_user)
    other = make_client(other_user)
    keys = []
    for client, owner in ((api, consenting_user), (other, other_user)):
        put(client, "energy", uuid.uuid4(), VALID["energy"])
        for query in ("", "?date_from=2026-01-01&date_to=2026-01-31"):
            body = client.get(DAYS_URL + query).json()
            keys.append(f"journal:days:{owner.pk}:{body['date_from']}:{body['date_to']}")
    assert all(cache.get(key) is not None for key in keys)

    with django_capture_on_commit_callbacks(execute=True):
        if how == "erasure":
            user_erase(user=consenting_user)
        else:
            consent_withdraw(user=consenting_user, category="energy", delete_entries=True)

    assert [cache.get(key) is not None for key in keys] == [False, False, True, True]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the cached days are PostgreSQL's")
def test_a_day_view_read_before_a_withdrawal_is_not_cached_after_it(
    api, consenting_user, django_capture_on_commit_callbacks
):
    """The read gets its days from PostgreSQL, then the withdrawal (with deletion) commits and
    deletes the rep's cached views, then the read would cache what it got: the deleted
    entries would sit in Redis for ten minutes. The withdrawal's hold refuses that copy."""
    from django.core.cache import cache

    from apps.privacy.services import consent_withdraw

    put(api, "energy", uuid.uuid4(), {**VALID["energy"], "level": 8})
    withdrawn = []

    def withdraw_after_the_read(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if "day_view_json" in sql and not withdrawn:
            withdrawn.append(True)
            with django_capture_on_commit_callbacks(execute=True):
                consent_withdraw(user=consenting_user, category="energy", delete_entries=True)
        return result

    with connection.execute_wrapper(withdraw_after_the_read):
        body = api.get(DAYS_URL).json()

    assert withdrawn
    # Answered from what it read, before the withdrawal: that much is served once.
    assert body["days"][0]["entries"]["energy"][0]["level"] == 8
    assert not ENTRY_MODELS["energy"].objects.filter(user=consenting_user).exists()
    assert (
        cache.get(f"journal:days:{consenting_user.pk}:{body['date_from']}:{body['date_to']}")
        is None
    )


def test_empty_note_is_stored_empty(api, consenting_user):
    entry_id = uuid.uuid4()
    put(api, "energy", entry_id, VALID["energy"])

    assert api.get(entry_url("energy", entry_id)).json()["note"] == ""


def test_an_edited_note_is_encrypted_too(api, consenting_user):
    """Edits go through bulk_update: the new note must be encrypted there as well."""
    entry_id = uuid.uuid4()
    put(api, "meal", entry_id, {**VALID["meal"], "note": "first version"})
    put(api, "meal", entry_id, {**VALID["meal"], "note": "second version"})
    model = ENTRY_MODELS["meal"]
    db_id = model._meta.pk.get_db_prep_value(entry_id, connection)

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT note FROM {model._meta.db_table} WHERE id = %s",  # noqa: S608
            [db_id],
        )
        (stored,) = cursor.fetchone()

    assert "version" not in stored
    assert stored.startswith("gAAAAA")
    assert api.get(entry_url("meal", entry_id)).json()["note"] == "second version"
