from __future__ import annotations

from typing import Any

from apps.privacy.models import (
    Category,
    ConsentEvent,
    ConsentState,
    DataExport,
    PrivacyPreference,
)
from apps.privacy.registry import PrivacyHandler, register


def export_user(user: Any) -> dict[str, Any]:
    preference = PrivacyPreference.objects.filter(user=user).first()
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
        "preferences": {"keep_aggregates": bool(preference and preference.keep_aggregates)},
        "exports": list(
            DataExport.objects.filter(user=user)
            .order_by("created_at")
            .values("id", "status", "size_bytes", "created_at", "finished_at")
        ),
    }


def erase_user(user: Any) -> int:
    from apps.privacy.services import exports_forget

    count = exports_forget(user=user)
    count += PrivacyPreference.objects.filter(user=user).delete()[0]
    count += ConsentEvent.objects.filter(user=user).delete()[0]
    states = ConsentState.objects.filter(user=user)
    # Locked in category order first, as a journal write in flight locks them
    # (privacy.selectors.consent_held_sql): two sets of locks in one order cannot deadlock.
    list(states.order_by("category").select_for_update().values_list("pk", flat=True))
    return count + states.delete()[0]


def import_user(user: Any, section: dict[str, Any]) -> int:
    """Consent history and current answers move with the data they allowed."""
    categories = set(Category.values)
    rows = [*section.get("consent_events", []), *section.get("consent_states", [])]
    if any(row["category"] not in categories for row in rows):
        raise ValueError("unknown consent category")
    events = [
        ConsentEvent(
            user=user,
            category=row["category"],
            granted=bool(row["granted"]),
            text_version=int(row["text_version"]),
        )
        for row in section.get("consent_events", [])
    ]
    ConsentEvent.objects.bulk_create(events)
    for row in section.get("consent_states", []):
        ConsentState.objects.update_or_create(
            user=user,
            category=row["category"],
            defaults={"granted": bool(row["granted"]), "text_version": int(row["text_version"])},
        )
    keep = bool((section.get("preferences") or {}).get("keep_aggregates"))
    if keep:
        PrivacyPreference.objects.update_or_create(user=user, defaults={"keep_aggregates": True})
    return len(events)


register(
    PrivacyHandler(
        app_label="privacy",
        models=(ConsentEvent, ConsentState, DataExport, PrivacyPreference),
        export_user=export_user,
        erase_user=erase_user,
        import_user=import_user,
    )
)
