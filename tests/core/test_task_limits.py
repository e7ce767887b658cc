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


def test_a_dead_workers_message_comes_back_neither_too_early_nor_too_late() -> None:
    """Redelivery (acks_late) after the visibility timeout: never while a task may still run on
    another worker, and before an hourly dispatcher's chunk expires unprocessed."""
    from django.conf import settings

    app.loader.import_default_modules()
    timeout = settings.BROKER_VISIBILITY_TIMEOUT
    hard_limits = [
        task.time_limit or app.conf.task_time_limit
        for name, task in app.tasks.items()
        if name.startswith("apps.")
    ]
    expiries = [
        entry["options"]["expires"]
        for entry in app.conf.beat_schedule.values()
        if entry["options"]["expires"] >= 30 * 60
    ]
    assert max(hard_limits) < timeout < min(expiries)
