"""Export and erasure of a rep with 3 years of dense data (~20,000 entries), issue 8.

    .venv/bin/python benchmarks/privacy_export_erase.py [--entries 20000]

Runs in a fresh PostgreSQL database `et_bench_privacy`; each step runs in its own child
process so its peak RSS is its own. Target: under 10 s each, bounded memory.
"""

from __future__ import annotations

import argparse
import json

from harness import bench_env, django_script, fresh_database

SEED = r"""
import json, os, random, uuid, datetime as dt
from decimal import Decimal
from django.utils import timezone
from apps.accounts.models import User
from apps.privacy.models import Category
from apps.privacy.services import consent_grant
from apps.journal.services import EntryInput, entries_upsert
from apps.insights.services import day_features_rebuild
n = int(os.environ["BENCH_ENTRIES"])
now = timezone.now()
user = User.objects.create_user(email="dense@example.com", password="x-bench-password-1",
                                date_joined=now - dt.timedelta(days=3 * 365 + 10))
for c in Category.values:
    consent_grant(user=user, category=c)
rng = random.Random(5)
kinds = ["energy", "energy", "energy", "sleep", "meal", "meal", "alcohol", "exercise", "activity"]
items = []
for i in range(n):
    kind = kinds[i % len(kinds)]
    at = now - dt.timedelta(minutes=rng.randint(60, 3 * 365 * 24 * 60))
    values = {"occurred_at": at, "note": "a private note" if i % 10 == 0 else ""}
    if kind == "energy": values["level"] = rng.randint(1, 9)
    if kind == "alcohol": values["standard_drinks"] = Decimal("2.0")
    if kind == "sleep": values["quality"] = 3
    items.append(EntryInput(kind=kind, id=uuid.uuid4(), values=values))
for start in range(0, n, 2000):
    entries_upsert(user=user, items=items[start:start + 2000])
day_features_rebuild(user_ids=[user.pk], date_from=(now - dt.timedelta(days=3 * 365 + 2)).date(), date_to=now.date())
print(json.dumps({"user": str(user.pk)}))
"""

MEASURE = r"""
import json, os, resource, time
from apps.accounts.models import User
from apps.privacy.models import DataExport
from apps.privacy.services import export_build, user_erase
user = User.objects.get(email="dense@example.com")
step = os.environ["BENCH_STEP"]
start = time.perf_counter()
if step == "export":
    export = DataExport.objects.create(user=user)
    export = export_build(export_id=export.pk)
    extra = {"zip_bytes": export.size_bytes}
else:
    extra = {"rows": sum(user_erase(user=user).values())}
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **extra}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=20000)
    args = parser.parse_args()
    env = bench_env("et_bench_privacy")
    fresh_database("et_bench_privacy", env)
    django_script(SEED, {**env, "BENCH_ENTRIES": str(args.entries)})
    export = django_script(MEASURE, {**env, "BENCH_STEP": "export"})
    erase = django_script(MEASURE, {**env, "BENCH_STEP": "erase"})
    print(f"\n{args.entries} journal entries over 3 years\n")
    print("| step | seconds | peak RSS MB | detail |\n| --- | ---: | ---: | --- |")
    print(
        f"| export (zip: JSON + CSV per kind) | {export['seconds']:.2f} | {export['peak_rss_mb']:.0f} | {export['zip_bytes'] / 1e6:.1f} MB zip |"
    )
    print(
        f"| erasure (one transaction) | {erase['seconds']:.2f} | {erase['peak_rss_mb']:.0f} | {erase['rows']} rows |"
    )
    print(json.dumps({"export": export, "erase": erase}))


if __name__ == "__main__":
    main()
