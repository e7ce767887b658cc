from __future__ import annotations

import datetime as dt

import factory
from django.utils import timezone

from apps.accounts.models import Membership, Role, Team, User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"rep{n}@example.com")
    display_name = factory.Faker("first_name")
    timezone = "Europe/Amsterdam"
    locale = "en"
    # Long enough ago for the fixed 2025-2026 dates of tests that do not stop the clock: a
    # join date relative to today alone would refuse them (a year before joining is the
    # limit) from late 2028 on.
    date_joined = factory.LazyFunction(
        lambda: min(timezone.now() - dt.timedelta(days=400), dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    )
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @factory.post_generation
    def _save(obj: User, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            obj.save()


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.REP
