"""Cross-app privacy hooks (DESIGN.md §3): each app with personal data registers how to
export and erase one user's rows, and names the models it covers so a test can prove that
every model with a user relation is covered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import models


@dataclass(frozen=True)
class PrivacyHandler:
    app_label: str
    models: tuple[type[models.Model], ...]
    export_user: Callable[[Any], dict[str, Any]]
    erase_user: Callable[[Any], int]
    # Re-creates the app's rows for ``user`` from its export section (data portability).
    # Apps whose rows are derived or are someone else's records leave it None.
    import_user: Callable[[Any, dict[str, Any]], int] | None = None


_HANDLERS: dict[str, PrivacyHandler] = {}


def register(handler: PrivacyHandler) -> None:
    _HANDLERS[handler.app_label] = handler


def handlers() -> list[PrivacyHandler]:
    from django.apps import apps

    # Importing each app's privacy module registers it; done lazily to avoid import cycles.
    for config in apps.get_app_configs():
        if config.name.startswith("apps."):
            try:
                __import__(f"{config.name}.privacy")
            except ModuleNotFoundError as exc:
                if exc.name != f"{config.name}.privacy":
                    raise
    return list(_HANDLERS.values())


def covered_models() -> set[type[models.Model]]:
    return {model for handler in handlers() for model in handler.models}
