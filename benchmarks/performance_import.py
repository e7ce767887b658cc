"""Benchmark: import of a 100,000-row CSV by the background job (time and peak RSS).

Runs the real import job (apps.performance.services.import_job_run, what the Celery task
calls) in this process against PostgreSQL, on a generated file of calls and meetings for 50
reps of one team. Measures the first import (everything created) and a re-import of the same
file (everything unchanged), each in a fresh child process so the peak RSS is the job's own.

Targets (issue 4): under 60 s and under 300 MB RSS.

    createdb -h 127.0.0.1 -U postgres et_bench_perf
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/et_bench_perf \\
    REDIS_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python benchmarks/performance_import.py [--rows 100000] [--mode all_or_nothing]

It migrates the database, wipes the benchmark team's sales data first, and touches nothing
else. Loopback only; the file goes to a temporary directory that is removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "energytrack.settings.local")
TEAM_NAME = "Benchmark import team"
REPS = 50


def _django() -> None:
    import django

    django.setup()


def prepare(rows: int, directory: Path) -> dict[str, str]:
    """Migrate, create the team and reps, wipe their sales data, write the CSV."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from apps.accounts.models import Membership, Role, Team, User
    from apps.performance.models import Call, DailyCallStats, ImportJob, Meeting
    from tests.performance.test_import_stream import write_big_csv

    team, _ = Team.objects.get_or_create(name=TEAM_NAME)
    admin, _ = User.objects.get_or_create(email="bench-admin@bench.test")
    Membership.objects.get_or_create(team=team, user=admin, role=Role.ORG_ADMIN)
    emails = []
    for index in range(REPS):
        rep, _ = User.objects.get_or_create(
            email=f"bench-rep{index}@bench.test", defaults={"timezone": "Europe/Amsterdam"}
        )
        Membership.objects.get_or_create(team=team, user=rep, role=Role.REP)
        emails.append(rep.email)
    rep_ids = list(
        Membership.objects.filter(team=team, role=Role.REP).values_list("user_id", flat=True)
    )
    for model in (Call, Meeting, DailyCallStats):
        model.objects.filter(user_id__in=rep_ids).delete()
    ImportJob.objects.filter(created_by=admin).delete()
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for model in (Call, Meeting, DailyCallStats):
                cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
    path = directory / "big.csv"
    write_big_csv(path, rows, emails)
    return {"team": str(team.pk), "admin": str(admin.pk), "path": str(path)}


def run_job(
    team_id: str, admin_id: str, path: str, mode: str, media_root: str
) -> dict[str, object]:
    """One import job, as the Celery task runs it. Returns timings and the peak RSS."""
    from django.conf import settings

    settings.MEDIA_ROOT = media_root
    from apps.performance import services
    from apps.performance.models import ImportJob

    job_id = uuid.uuid4()
    target = Path(media_root) / "imports" / f"{job_id}.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(Path(path).read_bytes())
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ImportJob.objects.create(
        id=job_id,
        created_by_id=admin_id,
        team_id=team_id,
        format="energytrack",
        mode=mode,
        status="queued",
        file_path=f"imports/{job_id}.csv",
        file_size=target.stat().st_size,
        options={"column_map": {}, "timezone": "", "currency": ""},
    )
    started = time.perf_counter()
    cpu_started = time.process_time()
    services.import_job_run(job_id=job_id)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    job = ImportJob.objects.get(pk=job_id)
    return {
        "status": job.status,
        "rows": job.rows_total,
        "counts": job.counts,
        "seconds": round(seconds, 2),
        # CPU of this (worker) process only; the rest of the wall time is PostgreSQL.
        "worker_cpu_seconds": round(cpu_seconds, 2),
        "rows_per_second": round((job.rows_total or 0) / seconds),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_before_job_mb": round(rss_before / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--mode", default="all_or_nothing")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    _django()
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(run_job(**spec)))
        return
    with tempfile.TemporaryDirectory(prefix="et-bench-import-") as tmp:
        directory = Path(tmp)
        ids = prepare(args.rows, directory)
        size_mb = Path(ids["path"]).stat().st_size / 1024 / 1024
        print(f"file: {args.rows} rows, {size_mb:.1f} MB, {REPS} reps, mode {args.mode}")
        for label in ("first import (creates)", "re-import (unchanged)"):
            spec = {
                "team_id": ids["team"],
                "admin_id": ids["admin"],
                "path": ids["path"],
                "mode": args.mode,
                "media_root": str(directory / "media"),
            }
            child = subprocess.run(
                [sys.executable, __file__, "--child", json.dumps(spec)],
                check=True,
                capture_output=True,
                text=True,
            )
            result = json.loads(child.stdout.strip().splitlines()[-1])
            verdict = (
                "OK" if result["seconds"] < 60 and result["peak_rss_mb"] < 300 else "OVER TARGET"
            )
            print(f"{label}: {json.dumps(result)} -> {verdict}")


if __name__ == "__main__":
    main()
