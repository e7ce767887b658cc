"""The Celery app. Tasks live in ``apps/<app>/tasks.py``; the schedule lives in settings."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "energytrack.settings.local")

app = Celery("energytrack")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
