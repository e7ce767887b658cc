from __future__ import annotations

from typing import Any

from apps.privacy.models import ConsentEvent, ConsentState
from apps.privacy.registry import PrivacyHandler, register


def export_user(user: Any) -> dict[str, Any]:
    return {
        "consent_states": list(
            ConsentState.objects.filter(user=user)
            .order_by("category")
            .values("category", "granted", "text_version", "updated_at")
        ),
        "consent_events": list(
            ConsentEvent.objects.filter(user=user)
            .order_by("created_at")
            .values("category", "granted", "text_version", "created_at")
        ),
    }


def erase_user(user: Any) -> int:
    deleted = ConsentEvent.objects.filter(user=user).delete()[0]
    return deleted + ConsentState.objects.filter(user=user).delete()[0]


register(
    PrivacyHandler(
        app_label="privacy",
        models=(ConsentEvent, ConsentState),
        export_user=export_user,
        erase_user=erase_user,
    )
)
