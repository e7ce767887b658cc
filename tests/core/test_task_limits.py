"""Every task's limits are consistent: Celery refuses to send a task whose soft limit exceeds its
hard limit, so a wrong pair silently stops a periodic job (found by the load test: beat could
never send the export sweep)."""

from __future__ import annotations

from energytrack.celery import app


def test_every_task_has_a_soft_limit_below_its_hard_limit() -> None:
    app.loader.import_default_modules()
    ours = {name: task for name, task in app.tasks.items() if name.startswith("apps.")}
    assert len(ours) > 10
    wrong = {}
    for name, task in ours.items():
        soft = task.soft_time_limit or app.conf.task_soft_time_limit
        hard = task.time_limit or app.conf.task_time_limit
        if soft and hard and soft >= hard:
            wrong[name] = (soft, hard)
    assert wrong == {}


def test_every_scheduled_task_exists() -> None:
    app.loader.import_default_modules()
    missing = sorted(
        entry["task"] for entry in app.conf.beat_schedule.values() if entry["task"] not in app.tasks
    )
    assert missing == []
