"""Running the project under energytrack.settings.production, in a subprocess, with secrets
generated for the run (as `make ci-checks` does) and nothing else from this shell."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet
from django.conf import settings

from apps.notifications.push import generate_vapid_keys

ROOT = Path(__file__).resolve().parent.parent.parent
PYTHON = sys.executable
HOST = "energytrack.example"


def production_env(*, database_name: str | None = None) -> dict[str, str]:
    """A complete production environment: fresh secrets, this machine's services."""
    database = settings.DATABASES["default"]
    name = database_name or database["NAME"]
    private_key, public_key = generate_vapid_keys()
    return {
        # Only what a process needs to run: no secret leaks in from the developer's shell.
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "energytrack.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": HOST,
        "DATABASE_URL": (
            f"postgres://{database['USER'] or 'postgres'}@{database['HOST'] or '127.0.0.1'}:"
            f"{database['PORT'] or 5432}/{name}"
        ),
        "REDIS_URL": settings.REDIS_URL,
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "VAPID_PRIVATE_KEY": private_key,
        "VAPID_PUBLIC_KEY": public_key,
        "LOG_LEVEL": "WARNING",
    }


def manage(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
