"""The project's Celery app, set up for a worker the nightly-run kill test starts and kills.

- Redis hands a dead worker's unacknowledged message to the next worker after two seconds
  instead of an hour, and every task this worker sends goes to the test's own queue.
- Loopback push with the test's VAPID keys, so notifications reach the test's fake push service.
- Every finished task is appended to ``TEST_RUNS_FILE`` (name, id, pid, return value).
- ``TEST_HOLD_AFTER=<task name>``: the worker stops right after that task returned, before
  Celery acknowledges its message (acks_late), and waits there to be killed. That is the
  narrowest and nastiest moment to die: the work is committed, the message is not.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "energytrack.settings.test")

from celery.signals import task_postrun

# Loopback push, the test's VAPID keys and the two-second redelivery: as the push kill test.
from tests.notifications.worker_app import app

app.conf.task_default_queue = os.environ["TEST_QUEUE"]

RUNS = Path(os.environ["TEST_RUNS_FILE"])
HOLD_AFTER = os.environ.get("TEST_HOLD_AFTER", "")


@task_postrun.connect
def _record_and_maybe_hold(
    sender: Any = None, task_id: str = "", retval: Any = None, state: str = "", **_: Any
) -> None:
    name = getattr(sender, "name", "")
    line = {"task": name, "id": task_id, "pid": os.getpid(), "state": state, "retval": retval}
    with RUNS.open("a") as out:
        out.write(json.dumps(line, default=str) + "\n")
    if name == HOLD_AFTER:
        (RUNS.parent / "held").write_text(task_id)
        while True:
            time.sleep(1)


__all__ = ["app"]
