"""Import an energytrack export (.zip or export.json) into an empty account."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.accounts.models import User
from apps.core.errors import ApplicationError
from apps.privacy.services import read_export_file, user_import


class Command(BaseCommand):
    help = "Import FILE (an energytrack export) into the account with --email (must be empty)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--email", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email__iexact=options["email"]).first()
        if user is None:
            raise CommandError(f"no account with e-mail {options['email']}")
        try:
            document = read_export_file(raw=options["file"].read_bytes())
            counts = user_import(user=user, document=document)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write("imported: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
