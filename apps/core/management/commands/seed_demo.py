"""Load a demo rep with ~90 days of plausible data. Safe to run again: ids are derived from
the date, so a second run changes nothing."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.journal.services import EntryInput, entries_upsert
from apps.privacy.models import Category
from apps.privacy.selectors import consented_categories
from apps.privacy.services import consent_grant

DEMO_EMAIL = "demo@energytrack.local"
DEMO_PASSWORD = "energy-demo-2026"  # noqa: S105 - published demo credentials
NAMESPACE = uuid.UUID("6f1c7d36-0a53-4a8e-9d0c-5b7ab7a0c001")


def _id(*parts: object) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, "/".join(str(p) for p in parts))


class Command(BaseCommand):
    help = "Create the demo rep (demo@energytrack.local) with ~90 days of journal and sales data."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=90)
        parser.add_argument("--email", default=DEMO_EMAIL)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args: Any, **options: Any) -> None:
        email: str = options["email"]
        days: int = options["days"]
        rng = random.Random(options["seed"])
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(
                email=email,
                password=DEMO_PASSWORD,
                display_name="Demo Rep",
                timezone="Europe/Amsterdam",
                date_joined=timezone.now() - dt.timedelta(days=days + 5),
            )
        missing = set(Category.values) - consented_categories(user=user)
        for category in sorted(missing):
            consent_grant(user=user, category=category)

        tz = ZoneInfo(user.timezone)
        today = timezone.now().astimezone(tz).date()
        items: list[EntryInput] = []
        for offset in range(days, 0, -1):
            day = today - dt.timedelta(days=offset)
            items.extend(_journal_day(rng, day, tz))
        with transaction.atomic():
            outcomes = entries_upsert(user=user, items=items)
        created = sum(1 for o in outcomes if o.result == "created")
        rejected = [o for o in outcomes if o.result == "rejected"]
        for hook in _extra_seeders():
            hook(user=user, days=days, rng=rng)
        self.stdout.write(
            f"demo rep {email} / {DEMO_PASSWORD}: {len(items)} journal entries "
            f"({created} new, {len(rejected)} rejected)"
        )


def _at(day: dt.date, hour: float, tz: ZoneInfo) -> dt.datetime:
    minutes = int(hour * 60)
    local = dt.datetime.combine(day, dt.time(minutes // 60 % 24, minutes % 60), tzinfo=tz)
    if minutes >= 24 * 60:
        local += dt.timedelta(days=1)
    return local.astimezone(dt.UTC)


def _journal_day(rng: random.Random, day: dt.date, tz: ZoneInfo) -> list[EntryInput]:
    weekend = day.weekday() >= 5
    friday_or_saturday = day.weekday() in (4, 5)
    bedtime_hour = rng.gauss(23.2 if not weekend else 23.9, 0.6)
    sleep_hours = max(4.5, min(9.5, rng.gauss(7.1 if not weekend else 8.0, 0.8)))
    wake = _at(day, bedtime_hour - 24 + sleep_hours, tz)
    bed = wake - dt.timedelta(hours=sleep_hours)
    wake_day_items: list[EntryInput] = [
        EntryInput(
            kind="sleep",
            id=_id(day, "sleep"),
            values={
                "occurred_at": wake,
                "bedtime": bed,
                "quality": max(1, min(5, round(rng.gauss(2 + sleep_hours / 3, 0.7)))),
            },
        )
    ]
    drinks = 0.0
    if friday_or_saturday and rng.random() < 0.7:
        drinks = float(rng.choice([1, 2, 2, 3, 4]))
    elif rng.random() < 0.12:
        drinks = 1.0
    base_energy = 5.2 + (sleep_hours - 7) * 0.6
    for hour, dip in ((8.5, 0.0), (13.8, -1.2), (16.5, -0.4)):
        if rng.random() < 0.85:
            level = max(1, min(9, round(rng.gauss(base_energy + dip, 0.9))))
            wake_day_items.append(
                EntryInput(
                    kind="energy",
                    id=_id(day, "energy", hour),
                    values={"occurred_at": _at(day, hour, tz), "level": level},
                )
            )
    if drinks:
        wake_day_items.append(
            EntryInput(
                kind="alcohol",
                id=_id(day, "alcohol"),
                values={
                    "occurred_at": _at(day, 21.5, tz),
                    "standard_drinks": Decimal(str(drinks)),
                    "context": "social" if weekend else "dinner",
                },
            )
        )
    for meal_type, hour in (("breakfast", 7.8), ("lunch", 12.5), ("dinner", 18.7)):
        wake_day_items.append(
            EntryInput(
                kind="meal",
                id=_id(day, "meal", meal_type),
                values={
                    "occurred_at": _at(day, hour + rng.uniform(-0.4, 0.6), tz),
                    "meal_type": meal_type,
                    "heaviness": rng.choice(["light", "normal", "normal", "heavy"]),
                    "tags": rng.sample(["vegetables", "caffeine", "sugary", "protein"], 2),
                },
            )
        )
    if rng.random() < 0.4:
        wake_day_items.append(
            EntryInput(
                kind="exercise",
                id=_id(day, "exercise"),
                values={
                    "occurred_at": _at(day, 18.0, tz),
                    "exercise_type": rng.choice(["run", "gym", "cycling", "walk"]),
                    "duration_minutes": rng.choice([20, 30, 45, 60]),
                    "intensity": rng.choice(["light", "moderate", "vigorous"]),
                },
            )
        )
    if weekend and rng.random() < 0.5:
        wake_day_items.append(
            EntryInput(
                kind="activity",
                id=_id(day, "activity"),
                values={
                    "occurred_at": _at(day, 15.0, tz),
                    "what": rng.choice(["friends", "family visit", "reading", "football"]),
                    "duration_minutes": rng.choice([60, 90, 120]),
                    "effect": rng.choice(["gave", "gave", "neutral", "drained"]),
                },
            )
        )
    return wake_day_items


def _extra_seeders() -> list[Any]:
    """Other apps' demo data (sales figures), when those apps provide a seeder."""
    hooks = []
    try:
        from apps.performance.services import seed_demo_performance
    except ImportError:
        pass
    else:
        hooks.append(seed_demo_performance)
    return hooks
