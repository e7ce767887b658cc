from __future__ import annotations

from typing import Any

from apps.journal.models import ENTRY_MODELS
from apps.journal.selectors import OUTPUT_FIELDS, entry_to_dict
from apps.journal.services import KIND_FIELDS
from apps.privacy.registry import PrivacyHandler, register


def export_user(user: Any) -> dict[str, Any]:
    return {
        kind: [
            entry_to_dict(kind, row)
            for row in model.objects.filter(user=user)
            .order_by("occurred_at")
            .values(*OUTPUT_FIELDS, *KIND_FIELDS[kind])
        ]
        for kind, model in ENTRY_MODELS.items()
    }


def erase_user(user: Any) -> int:
    return sum(model.objects.filter(user=user).delete()[0] for model in ENTRY_MODELS.values())


register(
    PrivacyHandler(
        app_label="journal",
        models=tuple(ENTRY_MODELS.values()),
        export_user=export_user,
        erase_user=erase_user,
    )
)
