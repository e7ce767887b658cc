"""System checks: a wrong VAPID configuration stops start-up checks loudly instead of
failing every push at night."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, register
from django.core.checks import Warning as CheckWarning

from apps.notifications import push


@register()
def vapid_settings_valid(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        push.vapid_config()
    except push.VapidConfigError as exc:
        return [Error(str(exc), id="notifications.E001")]
    return []


@register(deploy=True)
def vapid_settings_present(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        config = push.vapid_config()
    except push.VapidConfigError:
        return []  # reported by vapid_settings_valid
    if config is None:
        return [
            CheckWarning(
                "VAPID_PRIVATE_KEY is not set: Web Push is off. Create a pair with "
                "`manage.py vapid_keys`.",
                id="notifications.W001",
            )
        ]
    return []
