"""The Celery app. Tasks live in ``apps/<app>/tasks.py``; the schedule lives in settings."""

import os
from pathlib import Path

from celery import Celery
from celery.signals import import_modules

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "energytrack.settings.local")

app = Celery("energytrack")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@import_modules.connect
def _ensure_filesystem_broker_folders(**_: object) -> None:
    ensure_broker_folders()


def ensure_broker_folders() -> None:
    # The embedded default's filesystem transport needs its folders before the first publish.
    options = app.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)
