"""A 100,000-row file is imported by the background job in chunks, with progress; the row
report stays capped however many rows are bad. (Speed and memory: benchmarks/.)"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.db.models import Sum

from apps.accounts.models import Membership, Role
from apps.performance import tasks
from apps.performance.ingest import REPORT_MAX_ROWS
from apps.performance.models import Call, DailyCallStats, ImportJob, Meeting
from tests.factories import UserFactory
from tests.performance.conftest import Org

pytestmark = pytest.mark.usefixtures("frozen")

HEADER = (
    "kind,external_id,owner_email,occurred_at,duration_seconds,outcome,status,"
    "decision_maker_present,budget,authority,need,timeline,deal_value,currency\n"
)


def write_big_csv(path: Path, rows: int, emails: list[str], *, seed: int = 1) -> None:
    """Calls and meetings spread over reps and the past year (9 in 10 rows are calls)."""
    rng = random.Random(seed)
    start = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        for index in range(rows):
            email = emails[index % len(emails)]
            when = (start + dt.timedelta(minutes=5 * (index // len(emails)))).isoformat()
            if index % 10:
                outcome = rng.choice(("connected", "no_answer", "voicemail", "busy"))
                seconds = rng.randint(30, 900) if outcome == "connected" else 0
                out.write(f"call,c{index},{email},{when},{seconds},{outcome},,,,,,,,\n")
            else:
                flags = ",".join(rng.choice(("true", "false")) for _ in range(5))
                value = f"{rng.randint(0, 50000)}.00"
                out.write(f"meeting,m{index},{email},{when},,,held,{flags},{value},EUR\n")


def _queued_job(owner: Any, team: Any, media_root: Path, name: str, **fields: Any) -> ImportJob:
    job_id = uuid.uuid4()
    (media_root / "imports").mkdir(exist_ok=True)
    target = media_root / "imports" / f"{job_id}.csv"
    target.write_bytes((media_root / name).read_bytes())
    return ImportJob.objects.create(
        id=job_id,
        created_by=owner,
        team=team,
        format="energytrack",
        mode=fields.get("mode", "all_or_nothing"),
        status="queued",
        file_path=f"imports/{job_id}.csv",
        file_size=target.stat().st_size,
        options={"column_map": {}, "timezone": "", "currency": ""},
    )


def test_a_100k_row_file_streams_in_chunks(org: Org, media_root: Path) -> None:
    reps = [org.anna, org.bram]
    for index in range(48):
        rep = UserFactory(email=f"rep{index}@acme.test")
        Membership.objects.create(team=org.team, user=rep, role=Role.REP)
        reps.append(rep)
    write_big_csv(media_root / "big.csv", 100_000, [rep.email for rep in reps])
    job = _queued_job(org.admin, org.team, media_root, "big.csv")

    tasks.import_job_run(str(job.pk))

    job.refresh_from_db()
    assert job.status == "done", job.detail
    assert (job.rows_total, job.rows_done) == (100_000, 100_000)
    assert job.counts["created"] == 100_000 and job.counts["rejected"] == 0
    assert Call.objects.count() == 90_000
    assert Meeting.objects.count() == 10_000
    assert DailyCallStats.objects.aggregate(total=Sum("calls_made"))["total"] == 90_000
    assert not (media_root / job.file_path).exists() if job.file_path else True


def test_the_report_is_capped_when_every_row_is_bad(org: Org, media_root: Path) -> None:
    lines = [HEADER] + [
        f"call,x{i},anna@acme.test,not-a-date,10,connected,,,,,,,,\n" for i in range(3000)
    ]
    (media_root / "bad.csv").write_text("".join(lines))
    job = _queued_job(org.admin, org.team, media_root, "bad.csv", mode="valid_rows_only")
    tasks.import_job_run(str(job.pk))
    job.refresh_from_db()
    assert job.status == "done"
    assert job.counts["rejected"] == 3000
    assert len(job.report) == REPORT_MAX_ROWS
    assert job.report_truncated is True
