from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import time_machine

from tests.coaching.helpers import NOW


@pytest.fixture(autouse=True)
def clock() -> Iterator[Any]:
    """Every coaching test runs at ``NOW`` (a Thursday); ``clock.move_to(...)`` travels."""
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller
