"""Print a fresh VAPID key pair for Web Push, as environment lines."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from apps.notifications.push import generate_vapid_keys


class Command(BaseCommand):
    help = (
        "Print a new VAPID key pair (base64url). Put both lines in the environment; keep the "
        "private key secret. Changing keys invalidates every existing browser subscription."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        private_key, public_key = generate_vapid_keys()
        self.stdout.write(f"VAPID_PRIVATE_KEY={private_key}")
        self.stdout.write(f"VAPID_PUBLIC_KEY={public_key}")
