"""What makes a retried write recognisable: one fingerprint for every idempotent endpoint."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def request_fingerprint(kind: str, entry_id: object, raw: Any) -> str:
    """Stable hash of what the client sent, so an exact retry can replay the first answer."""
    payload = json.dumps([kind, str(entry_id), raw], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()
