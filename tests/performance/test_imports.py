"""CSV import: formats, dry run, re-import, bad files and rows, who may import, and the
background job with progress."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
import time_machine

from apps.accounts.models import Membership, Role, Team
from apps.performance import ingest, services, tasks
from apps.performance.models import Call, DailyCallStats, ImportJob, Meeting
from tests.core.problems import assert_problem
from tests.factories import UserFactory
from tests.performance.conftest import (
    IMPORTS_URL,
    Org,
    client_for,
    data_file,
    post_import,
    table_counts,
)

pytestmark = pytest.mark.usefixtures("frozen", "media_root")


def _snapshot() -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for model in (Call, Meeting, DailyCallStats):
        for values in model.objects.order_by("pk").values():
            rows.append((model.__name__, *sorted(values.items())))
    return rows


def _team_import(org: Org, name: str, **fields: Any) -> Any:
    fields.setdefault("format", name.removesuffix(".csv"))
    return post_import(
        client_for(org.admin), data_file(name), name=name, team_id=str(org.team.pk), **fields
    )


BANT_MAP = {
    "budget": "BANT Budget",
    "authority": "BANT Authority",
    "need": "BANT Need",
    "timeline": "BANT Timeline",
    "decision_maker_present": "Decision maker",
    "deal_value": "Deal value",
}


@pytest.fixture(params=["orm", "copy"])
def write_path(request: Any, monkeypatch: Any) -> str:
    """Both ways a chunk is written: bulk_create, and COPY + INSERT ... SELECT (PostgreSQL)."""
    if request.param == "copy":
        from django.db import connection

        if connection.vendor != "postgresql":
            pytest.skip("COPY is PostgreSQL only")
        monkeypatch.setattr(ingest, "COPY_MIN_ROWS", 1)
    return str(request.param)


# --- formats ---------------------------------------------------------------------------------


def test_hubspot_calls_become_calls_and_day_figures(org: Org, write_path: str) -> None:
    response = _team_import(org, "hubspot_calls.csv")
    assert response.status_code == 201, response.content
    job = response.json()
    assert job["status"] == "done"
    assert job["counts"] == {
        "created": 6,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
        "skipped": 0,
    }
    assert (job["rows_total"], job["progress"]) == (6, 1.0)
    assert Call.objects.filter(user=org.anna).count() == 4
    epoch_call = Call.objects.get(user=org.bram, external_id="9005")
    assert epoch_call.occurred_at == dt.datetime(2026, 11, 17, 10, 0, tzinfo=dt.UTC)
    naive_call = Call.objects.get(user=org.bram, external_id="9006")
    # A time without an offset is read in the rep's own zone (Amsterdam, UTC+1 in November).
    assert naive_call.occurred_at == dt.datetime(2026, 11, 17, 13, 0, tzinfo=dt.UTC)
    anna_day = DailyCallStats.objects.get(user=org.anna, source="csv")
    assert (anna_day.local_date, anna_day.calls_made, anna_day.connected) == (
        dt.date(2026, 11, 16),
        4,
        2,
    )
    assert (anna_day.conversations, anna_day.talk_minutes) == (1, 8)
    bram_day = DailyCallStats.objects.get(user=org.bram, source="csv")
    assert (bram_day.calls_made, bram_day.connected, bram_day.conversations) == (2, 1, 1)
    # A team's import brings the team's rows (on both write paths).
    assert set(Call.objects.values_list("team_id", flat=True)) == {org.team.pk}


def test_reimporting_the_same_file_changes_nothing(org: Org, write_path: str) -> None:
    first = _team_import(org, "hubspot_meetings.csv", column_map=BANT_MAP)
    assert first.json()["counts"]["created"] == 6
    before = _snapshot()
    second = _team_import(org, "hubspot_meetings.csv", column_map=BANT_MAP)
    assert second.status_code == 201
    assert second.json()["counts"]["unchanged"] == 6
    assert second.json()["counts"]["created"] == 0
    assert _snapshot() == before
    calls = _team_import(org, "hubspot_calls.csv")
    assert calls.json()["counts"]["created"] == 6
    before = _snapshot()
    assert _team_import(org, "hubspot_calls.csv").json()["counts"]["unchanged"] == 6
    assert _snapshot() == before


def test_hubspot_meetings_with_mapped_bant_columns(org: Org, write_path: str) -> None:
    response = _team_import(org, "hubspot_meetings.csv", column_map=BANT_MAP)
    assert response.status_code == 201, response.content
    meetings = {m.external_id: m for m in Meeting.objects.all()}
    strong = meetings["7001"]
    assert strong.user_id == org.anna.pk
    assert (strong.status, strong.bant_score, strong.qualified) == ("held", 3, True)
    assert strong.decision_maker_present is True
    assert (strong.deal_value_cents, strong.currency) == (1_250_000, "EUR")
    assert strong.source == "csv"
    assert (meetings["7002"].bant_score, meetings["7002"].qualified) == (1, False)
    assert meetings["7003"].status == "no_show"
    assert meetings["7004"].status == "cancelled"
    assert meetings["7005"].status == "rescheduled"
    best = meetings["7006"]
    assert (best.user_id, best.bant_score, best.qualified) == (org.bram.pk, 4, True)
    assert best.deal_value_cents == 300_050  # "3000,50" with a decimal comma
    assert {m.team_id for m in meetings.values()} == {org.team.pk}


def test_the_strictest_team_rule_of_the_rep_qualifies(org: Org) -> None:
    org.team.qualified_min_bant = 4
    org.team.save(update_fields=["qualified_min_bant"])
    _team_import(org, "hubspot_meetings.csv", column_map=BANT_MAP)
    assert Meeting.objects.get(external_id="7001").qualified is False  # BANT 3 < 4
    assert Meeting.objects.get(external_id="7006").qualified is True


def test_reimporting_a_bare_date_of_today_changes_nothing(org: Org) -> None:
    """A CRM export of this morning's calls has dates only; the same file again an hour later
    (still before noon) must be all unchanged."""
    rows = (
        b"Id,Owner.Email,Subject,TaskSubtype,ActivityDate,CallDurationInSeconds,CallDisposition\n"
        b"00T1,anna@acme.test,Call,Call,2026-11-25,185,Connected\n"
    )
    client = client_for(org.admin)
    team = str(org.team.pk)
    morning = dt.datetime(2026, 11, 25, 7, 0, tzinfo=dt.UTC)  # 08:00 in Amsterdam
    with time_machine.travel(morning, tick=False) as clock:
        first = post_import(client, rows, format="salesforce_tasks", team_id=team)
        assert first.json()["counts"]["created"] == 1, first.content
        stored = Call.objects.values_list("occurred_at", "local_date").get()
        clock.move_to(morning + dt.timedelta(hours=1, minutes=30))
        again = post_import(client, rows, format="salesforce_tasks", team_id=team)

    counts = again.json()["counts"]
    assert {kind: n for kind, n in counts.items() if n} == {"unchanged": 1}
    assert Call.objects.values_list("occurred_at", "local_date").get() == stored
    # Not in the future when imported, and on its own day.
    assert stored[0] <= morning
    assert stored[1] == dt.date(2026, 11, 25)


def test_salesforce_tasks_skip_what_is_not_a_call(org: Org) -> None:
    job = _team_import(org, "salesforce_tasks.csv").json()
    assert job["counts"]["created"] == 3
    assert job["counts"]["skipped"] == 1
    date_only = Call.objects.get(user=org.bram)
    assert date_only.local_date == dt.date(2026, 11, 18)
    assert (date_only.disposition, date_only.connected) == ("left voicemail", False)
    connected = Call.objects.get(external_id="00T000000000001AAA")
    assert (connected.duration_seconds, connected.connected) == (185, True)


def test_salesforce_events_from_a_semicolon_file(org: Org) -> None:
    job = _team_import(org, "salesforce_events.csv").json()
    assert job["counts"]["created"] == 2, job
    demo = Meeting.objects.get(user=org.anna)
    assert (demo.status, demo.bant_score, demo.qualified) == ("held", 4, True)
    assert (demo.deal_value_cents, demo.currency) == (2_500_000, "EUR")
    assert Meeting.objects.get(user=org.bram).status == "no_show"


def test_salesforce_events_without_an_outcome_column_go_by_time(org: Org) -> None:
    content = (
        b"Id,Owner.Email,StartDateTime\n"
        b"00U1,anna@acme.test,2026-11-19T10:00:00.000Z\n"
        b"00U2,anna@acme.test,2026-12-19T10:00:00.000Z\n"
    )
    response = post_import(
        client_for(org.admin), content, format="salesforce_events", team_id=str(org.team.pk)
    )
    assert response.status_code == 201, response.content
    assert Meeting.objects.get(external_id="00U1").status == "held"
    assert Meeting.objects.get(external_id="00U2").status == "scheduled"


def test_our_own_format(org: Org) -> None:
    job = _team_import(org, "energytrack.csv").json()
    assert job["counts"]["created"] == 4, job
    assert Call.objects.filter(user=org.anna).count() == 2
    meeting = Meeting.objects.get(external_id="m-1")
    assert (meeting.bant_score, meeting.qualified, meeting.deal_value_cents) == (3, True, 150_000)
    assert meeting.decision_maker_present is True
    assert meeting.local_date == dt.date(2026, 11, 20)
    assert Meeting.objects.get(external_id="m-2").status == "scheduled"


# --- dry run and modes -----------------------------------------------------------------------


def test_dry_run_reports_without_writing(org: Org) -> None:
    before = table_counts()
    dry = _team_import(org, "hubspot_calls.csv", dry_run="true")
    assert dry.status_code == 201
    assert dry.json()["dry_run"] is True
    assert dry.json()["counts"]["created"] == 6
    after = table_counts()
    assert after["Call"] == before["Call"] and after["DailyCallStats"] == before["DailyCallStats"]
    _team_import(org, "hubspot_calls.csv")
    again = _team_import(org, "hubspot_calls.csv", dry_run="true").json()
    assert again["counts"]["unchanged"] == 6


def test_all_or_nothing_with_bad_rows_writes_nothing_and_reports_each_row(org: Org) -> None:
    before = table_counts()
    response = _team_import(org, "bad_rows.csv", format="energytrack")
    body = assert_problem(response, 400, fields=["file"], code="import-rejected")
    assert table_counts() == before
    report = {(item["row"], item["column"]): item["reason"] for item in body["report"]}
    assert set(report) == {
        (3, "occurred_at"),
        (4, "duration_seconds"),
        (5, "owner_email"),
        (6, "status"),
    }
    assert "ISO 8601" in report[(3, "occurred_at")]
    assert "negative" in report[(4, "duration_seconds")]
    assert "ghost@acme.test" in report[(5, "owner_email")]
    assert body["counts"] == {
        "created": 0,
        "updated": 0,
        "unchanged": 0,
        "rejected": 4,
        "skipped": 0,
        "valid": 2,
    }
    assert body["unknown_reps"] == ["ghost@acme.test"]


def test_valid_rows_only_imports_the_rest(org: Org) -> None:
    response = _team_import(org, "bad_rows.csv", format="energytrack", mode="valid_rows_only")
    assert response.status_code == 201, response.content
    job = response.json()
    assert (job["counts"]["created"], job["counts"]["rejected"]) == (2, 4)
    assert job["unknown_reps"] == ["ghost@acme.test"]
    assert set(Call.objects.values_list("external_id", flat=True)) == {"b-1", "b-6"}


def test_dry_run_of_a_bad_file_says_nothing_would_be_imported(org: Org) -> None:
    job = _team_import(org, "bad_rows.csv", format="energytrack", dry_run="true").json()
    assert job["status"] == "done"
    assert "nothing would be imported" in job["detail"]
    assert (job["counts"]["created"], job["counts"]["rejected"]) == (2, 4)
    assert not Call.objects.exists()


def test_row_rules(org: Org) -> None:
    content = (
        b"kind,external_id,owner_email,occurred_at,duration_seconds,outcome,status,deal_value\n"
        b"call,r-1,anna@acme.test,2026-11-20T09:00:00+01:00,10,connected,,\n"
        b"call,r-1,anna@acme.test,2026-11-20T09:30:00+01:00,10,connected,,\n"
        b"call,r-2,anna@acme.test,2026-11-30T09:00:00+01:00,10,connected,,\n"
        b"meeting,r-3,anna@acme.test,2026-11-20T09:00:00+01:00,,,held,500\n"
        b"meeting,r-4,anna@acme.test,2026-12-20T09:00:00+01:00,,,held,\n"
        b"call,r-5,anna@acme.test,2023-01-01T09:00:00+01:00,10,connected,,\n"
        b"call,r-6,anna@acme.test,2026-11-20T09:00:00+01:00,10,Connected!,,\n"
    )
    job = post_import(
        client_for(org.admin),
        content,
        format="energytrack",
        team_id=str(org.team.pk),
        mode="valid_rows_only",
    ).json()
    reasons = {item["row"]: item["reason"] for item in job["report"]}
    assert "row 2" in reasons[3]  # duplicate id
    assert "future" in reasons[4]
    assert "currency" in reasons[5]
    assert "future" in reasons[6]
    assert "two years" in reasons[7]
    assert "one of" in reasons[8]
    assert job["counts"]["created"] == 1


def test_import_options_currency_and_timezone(org: Org) -> None:
    content = (
        b"kind,external_id,owner_email,occurred_at,status,deal_value\n"
        b"meeting,o-1,anna@acme.test,2026-11-20 09:00,held,250.5\n"
    )
    response = post_import(
        client_for(org.admin),
        content,
        format="energytrack",
        team_id=str(org.team.pk),
        currency="usd",
        timezone="America/New_York",
    )
    assert response.status_code == 201, response.content
    meeting = Meeting.objects.get(external_id="o-1")
    assert (meeting.deal_value_cents, meeting.currency) == (25_050, "USD")
    assert meeting.occurred_at == dt.datetime(2026, 11, 20, 14, 0, tzinfo=dt.UTC)
    assert meeting.tz == "America/New_York"


def test_a_changed_row_updates_and_moves_the_day_figures(org: Org, write_path: str) -> None:
    header = "kind,external_id,owner_email,occurred_at,duration_seconds,outcome\n"
    first = header + "call,x-1,anna@acme.test,2026-11-20T09:00:00+01:00,300,connected\n"
    moved = header + "call,x-1,anna@acme.test,2026-11-21T09:00:00+01:00,300,connected\n"
    client = client_for(org.admin)
    post_import(client, first.encode(), format="energytrack", team_id=str(org.team.pk))
    job = post_import(client, moved.encode(), format="energytrack", team_id=str(org.team.pk))
    assert job.json()["counts"]["updated"] == 1
    days = list(
        DailyCallStats.objects.filter(user=org.anna).values_list("local_date", "calls_made")
    )
    assert days == [(dt.date(2026, 11, 21), 1)]


# --- who may import --------------------------------------------------------------------------


def test_a_rep_imports_only_their_own_rows(org: Org) -> None:
    content = (
        b"kind,external_id,owner_email,occurred_at,duration_seconds,outcome\n"
        b"call,s-1,anna@acme.test,2026-11-20T09:00:00+01:00,120,connected\n"
        b"call,s-2,,2026-11-20T09:10:00+01:00,0,no_answer\n"
        b"call,s-3,bram@acme.test,2026-11-20T09:20:00+01:00,60,connected\n"
    )
    response = post_import(
        client_for(org.anna), content, format="energytrack", mode="valid_rows_only"
    )
    assert response.status_code == 201, response.content
    job = response.json()
    assert (job["counts"]["created"], job["counts"]["rejected"]) == (2, 1)
    assert "another person" in job["report"][0]["reason"]
    assert set(Call.objects.values_list("user_id", flat=True)) == {org.anna.pk}
    assert job["team_id"] is None
    # The rep's own import is the rep's own: no team.
    assert set(Call.objects.values_list("team_id", flat=True)) == {None}


def test_own_import_needs_no_owner_column(db: None) -> None:
    rep = UserFactory()
    content = b"kind,external_id,occurred_at,outcome\ncall,z-1,2026-11-20T09:00:00Z,busy\n"
    response = post_import(client_for(rep), content, format="energytrack")
    assert response.status_code == 201, response.content
    assert Call.objects.get().user_id == rep.pk


@pytest.mark.parametrize("who", ["anna", "coach", "outsider"])
def test_only_the_teams_org_admin_imports_for_the_team(org: Org, who: str) -> None:
    if who == "outsider":
        outsider = UserFactory()
        other_team = Team.objects.create(name="Other")
        Membership.objects.create(team=other_team, user=outsider, role=Role.ORG_ADMIN)
        user = outsider
    else:
        user = getattr(org, who)
    before = table_counts()
    response = post_import(
        client_for(user),
        data_file("hubspot_calls.csv"),
        format="hubspot_calls",
        team_id=str(org.team.pk),
    )
    assert_problem(response, 404)
    assert table_counts() == before


def test_team_import_needs_the_owner_column(org: Org) -> None:
    content = b"kind,external_id,occurred_at,outcome\ncall,z-1,2026-11-20T09:00:00Z,busy\n"
    response = post_import(
        client_for(org.admin), content, format="energytrack", team_id=str(org.team.pk)
    )
    body = assert_problem(response, 400, fields=["file"], code="import-file-invalid")
    assert "owner_email" in body["detail"]


def test_an_import_is_seen_by_its_importer_only(org: Org) -> None:
    job_id = _team_import(org, "hubspot_calls.csv").json()["id"]
    admin = client_for(org.admin)
    assert admin.get(f"{IMPORTS_URL}/{job_id}").json()["id"] == job_id
    assert [job["id"] for job in admin.get(IMPORTS_URL).json()["results"]] == [job_id]
    assert_problem(client_for(org.anna).get(f"{IMPORTS_URL}/{job_id}"), 404)
    assert client_for(org.anna).get(IMPORTS_URL).json()["results"] == []


# --- bad files and bad requests --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt", "words"),
    [
        ("latin1.csv", "energytrack", "not UTF-8"),
        ("missing_columns.csv", "hubspot_calls", "disposition"),
    ],
)
def test_unreadable_files_are_a_clear_problem(org: Org, name: str, fmt: str, words: str) -> None:
    before = table_counts()
    response = post_import(
        client_for(org.admin), data_file(name), format=fmt, team_id=str(org.team.pk)
    )
    body = assert_problem(response, 400, fields=["file"], code="import-file-invalid")
    assert words in body["detail"]
    assert table_counts() == before


def test_a_stray_non_utf8_byte_later_in_the_file_rejects_that_row(org: Org) -> None:
    rows = b"".join(
        b"call,ok-%d,anna@acme.test,2026-11-20T09:00:00+01:00,10,connected\n" % i
        for i in range(3000)
    )
    content = (
        b"kind,external_id,owner_email,occurred_at,duration_seconds,outcome\n"
        + rows
        + b"call,bad,jos\xe9@acme.test,2026-11-20T09:00:00+01:00,10,connected\n"
    )
    response = post_import(
        client_for(org.admin), content, format="energytrack", team_id=str(org.team.pk)
    )
    body = assert_problem(response, 400, code="import-rejected")
    assert body["report"] == [
        {
            "row": 3002,
            "column": "owner_email",
            "reason": "The row contains bytes that are not UTF-8; save the file as 'CSV UTF-8'.",
        }
    ]
    assert not Call.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"format": "excel"}, "format"),
        ({"format": "energytrack", "mode": "some"}, "mode"),
        ({"format": "energytrack", "column_map": "{not json"}, "column_map"),
        ({"format": "energytrack", "column_map": {"colour": "Colour"}}, "column_map"),
        ({"format": "energytrack", "column_map": {"budget": 3}}, "column_map"),
        ({"format": "energytrack", "timezone": "Mars/Olympus"}, "timezone"),
        ({"format": "energytrack", "currency": "XYZ"}, "currency"),
        ({"format": "energytrack", "colour": "blue"}, "colour"),
        ({"format": "energytrack", "team_id": "not-a-uuid"}, "team_id"),
    ],
)
def test_bad_import_requests(org: Org, fields: dict[str, Any], field: str) -> None:
    before = table_counts()
    response = post_import(client_for(org.admin), data_file("energytrack.csv"), **fields)
    assert_problem(response, 400, fields=[field])
    assert table_counts() == before


def test_an_import_needs_a_multipart_file(org: Org) -> None:
    admin = client_for(org.admin)
    assert_problem(admin.post(IMPORTS_URL, {"format": "energytrack"}, format="multipart"), 400)
    assert_problem(admin.post(IMPORTS_URL, {"format": "energytrack"}, format="json"), 415)


def test_a_file_over_the_import_limit_is_413(org: Org, settings: Any) -> None:
    settings.IMPORT_MAX_BYTES = 200
    settings.API_BODY_LIMITS = {IMPORTS_URL: 10 * 1024 * 1024}
    before = table_counts()
    response = _team_import(org, "hubspot_calls.csv")
    assert_problem(response, 413, code="payload-too-large")
    assert table_counts() == before


def test_a_200_mb_body_is_refused_before_it_is_read(org: Org, settings: Any) -> None:
    settings.API_BODY_LIMITS = {IMPORTS_URL: 101 * 1024 * 1024}
    response = client_for(org.admin).generic(
        "POST",
        IMPORTS_URL,
        b"x",
        content_type="multipart/form-data; boundary=xyz",
        CONTENT_LENGTH=str(200 * 1024 * 1024),
    )
    assert_problem(response, 413, code="payload-too-large")


# --- the background job ----------------------------------------------------------------------


@pytest.fixture
def sent_tasks(monkeypatch: Any) -> list[tuple[str, tuple[Any, ...]]]:
    """The broker (the outside world) is replaced by a list of what was sent."""
    sent: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(
        "apps.core.tasks.app.send_task", lambda name, args, **kw: sent.append((name, args))
    )
    return sent


def _queue(org: Org, settings: Any, name: str, captured: Any, **fields: Any) -> dict[str, Any]:
    settings.IMPORT_SYNC_MAX_BYTES = 0
    with captured(execute=True):
        response = _team_import(org, name, **fields)
    assert response.status_code == 202, response.content
    return dict(response.json())


def test_large_files_are_queued_then_imported_by_the_task(
    org: Org,
    settings: Any,
    media_root: Path,
    sent_tasks: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    job = _queue(org, settings, "hubspot_calls.csv", django_capture_on_commit_callbacks)
    assert job["status"] == "queued" and job["progress"] is None
    assert sent_tasks == [("apps.performance.tasks.import_job_run", (job["id"],))]
    stored = media_root / "imports" / f"{job['id']}.csv"
    assert stored.read_bytes() == data_file("hubspot_calls.csv")
    assert not Call.objects.exists()

    tasks.import_job_run(job["id"])

    done = client_for(org.admin).get(f"{IMPORTS_URL}/{job['id']}").json()
    assert done["status"] == "done"
    assert (done["rows_total"], done["rows_done"], done["progress"]) == (6, 6, 1.0)
    assert done["counts"]["created"] == 6
    assert Call.objects.count() == 6
    assert not stored.exists()  # the upload is deleted once imported
    assert ImportJob.objects.get(pk=job["id"]).file_path == ""
    # Running the task again is harmless.
    tasks.import_job_run(job["id"])
    assert Call.objects.count() == 6


def test_a_queued_all_or_nothing_job_with_bad_rows_fails_and_writes_nothing(
    org: Org, settings: Any, sent_tasks: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    job = _queue(
        org, settings, "bad_rows.csv", django_capture_on_commit_callbacks, format="energytrack"
    )
    tasks.import_job_run(job["id"])
    failed = client_for(org.admin).get(f"{IMPORTS_URL}/{job['id']}").json()
    assert failed["status"] == "failed"
    assert "nothing was imported" in failed["detail"]
    assert len(failed["report"]) == 4
    assert not Call.objects.exists() and not Meeting.objects.exists()


def test_a_running_job_is_not_run_twice_but_a_stalled_one_is_resumed(
    org: Org, settings: Any, sent_tasks: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    job = _queue(org, settings, "hubspot_calls.csv", django_capture_on_commit_callbacks)
    ImportJob.objects.filter(pk=job["id"]).update(status="running")
    tasks.import_job_run(job["id"])
    assert not Call.objects.exists()
    ImportJob.objects.filter(pk=job["id"]).update(
        updated_at=dt.datetime(2026, 11, 25, 11, 0, tzinfo=dt.UTC)
    )
    sent_tasks.clear()
    assert services.performance_sweep() == {"webhook_connections": 0, "import_jobs": 1}
    assert sent_tasks == [("apps.performance.tasks.import_job_run", (job["id"],))]
    tasks.import_job_run(job["id"])
    assert Call.objects.count() == 6


def test_the_sweeper_redispatches_jobs_whose_message_was_lost(
    org: Org, settings: Any, sent_tasks: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    job = _queue(org, settings, "hubspot_calls.csv", django_capture_on_commit_callbacks)
    sent_tasks.clear()
    assert services.performance_sweep()["import_jobs"] == 0  # just queued: leave it
    ImportJob.objects.filter(pk=job["id"]).update(
        created_at=dt.datetime(2026, 11, 25, 11, 0, tzinfo=dt.UTC)
    )
    assert services.performance_sweep()["import_jobs"] == 1
    assert sent_tasks == [("apps.performance.tasks.import_job_run", (job["id"],))]


def test_a_job_whose_file_is_gone_fails_clearly(
    org: Org,
    settings: Any,
    media_root: Path,
    sent_tasks: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    job = _queue(org, settings, "hubspot_calls.csv", django_capture_on_commit_callbacks)
    (media_root / "imports" / f"{job['id']}.csv").unlink()
    tasks.import_job_run(job["id"])
    failed = ImportJob.objects.get(pk=job["id"])
    assert failed.status == "failed" and "upload it again" in failed.detail


def test_a_queued_import_survives_a_dead_broker(
    org: Org, settings: Any, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr("apps.core.tasks.app.send_task", broker_down)
    job = _queue(org, settings, "hubspot_calls.csv", django_capture_on_commit_callbacks)
    assert ImportJob.objects.get(pk=job["id"]).status == "queued"


def test_an_unknown_job_id_is_ignored(db: None) -> None:
    tasks.import_job_run(str(uuid.uuid4()))


# --- hostile files (found by a hunt for 500s, 2026-12-07) --------------------------------

_HEAD = b"kind,external_id,owner_email,occurred_at,duration_seconds,outcome\n"
_GOOD = b"call,ok-%d,anna@acme.test,2026-11-%02dT09:00:00+01:00,10,connected\n"
_PADDING = b"".join(_GOOD % (i, 16 + i % 4) for i in range(2000))  # past the first 64 KiB
_NUL_ROW = b"call,nul\x00id,anna@acme.test,2026-11-20T09:00:00+01:00,10,connected\n"
_HUGE_HOURS = b"call,big,anna@acme.test,2026-11-20T09:00:00+01:00,1:" + b"9" * 5000 + b",ok\n"


@pytest.mark.parametrize(
    ("content", "column"),
    [
        (_HEAD + _PADDING + _NUL_ROW, "external_id"),
        (_HEAD + _HUGE_HOURS, "duration_seconds"),
    ],
    ids=["NUL byte in a late row", "5000-digit hours"],
)
def test_a_hostile_row_is_a_row_refusal_not_a_500(org: Org, content: bytes, column: str) -> None:
    before = table_counts()
    response = post_import(
        client_for(org.admin), content, format="energytrack", team_id=str(org.team.pk)
    )
    body = assert_problem(response, 400, fields=["file"], code="import-rejected")
    assert [item["column"] for item in body["report"]] == [column]
    assert table_counts() == before


@pytest.mark.parametrize(
    "content",
    [_HEAD[:-1] + b"," + b"x" * 200_000 + b"\n" + _GOOD % (1, 20), b"kind," + b"y" * 300_000],
    ids=["header field over 128 KiB", "one 300 KB line"],
)
def test_a_header_the_csv_module_cannot_read_is_a_400(org: Org, content: bytes) -> None:
    before = table_counts()
    response = post_import(
        client_for(org.admin), content, format="energytrack", team_id=str(org.team.pk)
    )
    assert_problem(response, 400)
    assert table_counts() == before


@pytest.mark.django_db(transaction=True)
def test_a_queued_all_or_nothing_job_leaves_no_row_if_a_late_row_is_refused(
    org: Org, settings: Any, sent_tasks: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    """A NUL byte past the part of the file sniffed up front: the check pass refuses the row,
    so nothing is written (before, the check let it through and the write pass failed on it
    after writing 4,000 rows; the write pass is now also one transaction)."""
    settings.IMPORT_SYNC_MAX_BYTES = 0
    content = _HEAD + b"".join(_GOOD % (i, 16 + i % 4) for i in range(4500)) + _NUL_ROW
    with django_capture_on_commit_callbacks(execute=True):
        response = post_import(
            client_for(org.admin), content, format="energytrack", team_id=str(org.team.pk)
        )
    assert response.status_code == 202, response.content

    tasks.import_job_run(response.json()["id"])

    job = ImportJob.objects.get(pk=response.json()["id"])
    assert job.status == "failed" and "nothing was imported" in job.detail
    assert not Call.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_queued_all_or_nothing_job_writes_in_one_transaction(
    org: Org, settings: Any, sent_tasks: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    """PostgreSQL refuses the last row while the first 4,000 are already sent (a trigger
    stands in for whatever the check pass cannot foresee): nothing stays."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL trigger refuses the row")
    table = Call._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION et_test_refuse() RETURNS trigger AS $$ BEGIN "
            "IF NEW.external_id = 'refused-late' THEN RAISE EXCEPTION 'refused'; END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        cursor.execute(
            f"CREATE TRIGGER et_test_refuse BEFORE INSERT ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION et_test_refuse()"
        )
    try:
        settings.IMPORT_SYNC_MAX_BYTES = 0
        refused = b"call,refused-late,anna@acme.test,2026-11-20T09:00:00+01:00,10,connected\n"
        content = _HEAD + b"".join(_GOOD % (i, 16 + i % 4) for i in range(4500)) + refused
        with django_capture_on_commit_callbacks(execute=True):
            response = post_import(
                client_for(org.admin), content, format="energytrack", team_id=str(org.team.pk)
            )
        with pytest.raises(Exception, match="refused"):
            tasks.import_job_run(response.json()["id"])
        job = ImportJob.objects.get(pk=response.json()["id"])
        assert job.status == "failed" and "nothing was imported" in job.detail
        assert not Call.objects.exists()
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER IF EXISTS et_test_refuse ON {table}")
            cursor.execute("DROP FUNCTION IF EXISTS et_test_refuse()")


def test_a_bare_date_of_today_is_not_in_the_future_before_noon(org: Org) -> None:
    """A CRM export of this morning's calls, dates without times, imported at 09:00 local:
    the date is the whole day (before, noon marked it and the row was 'in the future')."""
    import time_machine

    content = (
        _HEAD
        + b"call,today-1,anna@acme.test,2026-11-25,60,connected\n"
        + b"call,tomorrow-1,anna@acme.test,2026-11-26,60,connected\n"
    )
    with time_machine.travel(dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC), tick=False):
        response = post_import(
            client_for(org.admin),
            content,
            format="energytrack",
            team_id=str(org.team.pk),
            mode="valid_rows_only",
        )
        assert response.status_code == 201, response.content
        job = response.json()
        assert [(r["row"], r["reason"]) for r in job["report"]] == [
            (3, "The call is in the future.")
        ]
        call = Call.objects.get()
        assert (call.external_id, call.local_date) == ("today-1", dt.date(2026, 11, 25))
        assert call.occurred_at <= dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)
