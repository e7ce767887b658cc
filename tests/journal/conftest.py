from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import time_machine

from tests.journal.helpers import NOW


@pytest.fixture(autouse=True)
def clock() -> Iterator[Any]:
    """Every journal test runs at ``NOW`` (autouse fixtures start first, so users created by
    the ``user`` fixture joined 400 days before ``NOW``). ``clock.move_to(...)`` travels."""
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller
