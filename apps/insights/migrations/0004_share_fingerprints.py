"""Share findings (0..1) are fingerprinted in 5-point buckets since 2026-12-07, not in half
units. Stored share insights get the new fingerprint, so the next nightly run refreshes them
instead of announcing each one again. Rows whose fingerprint is not the old formula's (imported
insights) are left alone. The formulas are frozen here: the app's may change later."""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import migrations

SHARE_OUTCOMES = ("qualified_share", "decision_maker_rate")


def _digest(insight: Any, bucket: int) -> str:
    raw = f"{insight.user_id}|{insight.construct}|{insight.outcome}|{insight.direction}|{bucket}"
    return hashlib.sha256(raw.encode()).hexdigest()


def forwards(apps: Any, schema_editor: Any) -> None:
    Insight = apps.get_model("insights", "Insight")
    changed = []
    for insight in Insight.objects.filter(outcome__in=SHARE_OUTCOMES).iterator():
        effect = insight.mean_high - insight.mean_low
        if insight.fingerprint != _digest(insight, round(effect * 2)):
            continue
        insight.fingerprint = _digest(insight, round(effect * 100 / 5))
        changed.append(insight)
    Insight.objects.bulk_update(changed, ["fingerprint"], batch_size=1000)


def backwards(apps: Any, schema_editor: Any) -> None:
    Insight = apps.get_model("insights", "Insight")
    changed = []
    for insight in Insight.objects.filter(outcome__in=SHARE_OUTCOMES).iterator():
        effect = insight.mean_high - insight.mean_low
        if insight.fingerprint != _digest(insight, round(effect * 100 / 5)):
            continue
        insight.fingerprint = _digest(insight, round(effect * 2))
        changed.append(insight)
    Insight.objects.bulk_update(changed, ["fingerprint"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [("insights", "0003_drop_user_index")]

    operations = [migrations.RunPython(forwards, backwards)]
