from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SweepCase:
    """One object of the owner: the path parameters that address it, a body a write would
    carry, and ids that must never appear in another user's responses."""

    params: dict[str, str]
    body: dict[str, Any] = field(default_factory=dict)
    secret_ids: list[str] = field(default_factory=list)
