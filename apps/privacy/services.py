"""Consent, export and erasure: the rep's controls over their own data."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from apps.core.errors import ApplicationError
from apps.privacy.models import CONSENT_TEXT_VERSION, Category, ConsentEvent, ConsentState
from apps.privacy.registry import handlers

EXPORT_FORMAT_VERSION = 1


def consent_require(*, user: Any, category: str, consented: set[str] | None = None) -> None:
    """Raise the 403 problem naming the missing category, unless consent is on record."""
    from apps.privacy.selectors import consented_categories

    granted = consented if consented is not None else consented_categories(user=user)
    if category not in granted:
        label = Category(category).label.lower()
        raise ApplicationError(
            f"You have not given consent to store {label} data. Turn on '{label}' under "
            "Sharing & privacy to log it.",
            status_code=403,
            code="consent-required",
            extra={"category": category},
        )


def consent_grant(*, user: Any, category: str) -> ConsentState:
    with transaction.atomic():
        ConsentEvent.objects.create(
            user=user, category=category, granted=True, text_version=CONSENT_TEXT_VERSION
        )
        state, _ = ConsentState.objects.update_or_create(
            user=user,
            category=category,
            defaults={"granted": True, "text_version": CONSENT_TEXT_VERSION},
        )
    return state


def consent_withdraw(*, user: Any, category: str, delete_entries: bool) -> tuple[ConsentState, int]:
    """Stops collection at once; deletes that category's entries if the rep says so."""
    from apps.journal.services import entries_delete_for_category

    with transaction.atomic():
        ConsentEvent.objects.create(
            user=user, category=category, granted=False, text_version=CONSENT_TEXT_VERSION
        )
        state, _ = ConsentState.objects.update_or_create(
            user=user,
            category=category,
            defaults={"granted": False, "text_version": CONSENT_TEXT_VERSION},
        )
        deleted = entries_delete_for_category(user=user, category=category) if delete_entries else 0
    return state, deleted


def category_entry_count(*, user: Any, category: str) -> int:
    from apps.journal.selectors import category_entry_count as count

    return count(user=user, category=category)


def user_export(*, user: Any) -> dict[str, Any]:
    """Everything about the user, one section per app (format documented in docs)."""
    document: dict[str, Any] = {"format": "energytrack-export", "version": EXPORT_FORMAT_VERSION}
    for handler in sorted(handlers(), key=lambda h: h.app_label):
        document[handler.app_label] = handler.export_user(user)
    return document


def user_erase(*, user: Any) -> dict[str, int]:
    """Hard delete of the account and everything derived from it, in one transaction."""
    counts: dict[str, int] = {}
    with transaction.atomic():
        # Accounts last: the other apps' rows reference the user.
        ordered = sorted(handlers(), key=lambda h: h.app_label == "accounts")
        for handler in ordered:
            counts[handler.app_label] = handler.erase_user(user)
    return counts
