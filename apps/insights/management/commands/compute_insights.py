"""Run the nightly insight computation synchronously (the same code path as Celery)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.accounts.models import User
from apps.insights.services import insights_compute


class Command(BaseCommand):
    help = "Compute insights for one rep (--email) or everyone (--all), optionally --as-of DATE."

    def add_arguments(self, parser: CommandParser) -> None:
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--email")
        who.add_argument("--all", action="store_true")
        parser.add_argument("--as-of", type=dt.date.fromisoformat, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        users = User.objects.filter(is_active=True)
        if options["email"]:
            users = users.filter(email__iexact=options["email"])
            if not users.exists():
                raise CommandError(f"no active user with e-mail {options['email']}")
        ids = [str(pk) for pk in users.order_by("pk").values_list("pk", flat=True)]
        counts = insights_compute(user_ids=ids, as_of=options["as_of"])
        self.stdout.write(
            f"reps: {counts['reps']}, findings: {counts['findings']}, new insights: {counts['new']}"
        )
