"""The project's Celery app, configured for the worker-kill test (a real worker process).

Loopback push is allowed and the test's VAPID keys are used (both from the environment the
test sets), and Redis hands a dead worker's unacknowledged message to another worker after
two seconds instead of an hour.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "energytrack.settings.test")

from django.conf import settings

from energytrack.celery import app

settings.PUSH_ALLOW_LOOPBACK = True
settings.VAPID_PRIVATE_KEY = os.environ["TEST_VAPID_PRIVATE_KEY"]
settings.VAPID_PUBLIC_KEY = os.environ["TEST_VAPID_PUBLIC_KEY"]
settings.VAPID_SUBJECT = os.environ["TEST_VAPID_SUBJECT"]
app.conf.broker_transport_options = {
    "visibility_timeout": 2,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}

__all__ = ["app"]
