"""Coaches who accepted a share were made members of the rep's team with the coach role (until
2026-12-08). Those memberships go: the employer saw who coaches whom, the coach the rep's team,
and they outlived a withdrawn share. A coach the team invited as such (an accepted invitation)
keeps the membership."""

from __future__ import annotations

from typing import Any

from django.db import migrations
from django.db.models import Exists, OuterRef


def forward(apps: Any, schema_editor: Any) -> None:
    membership = apps.get_model("accounts", "Membership")
    invitation = apps.get_model("accounts", "Invitation")
    grant = apps.get_model("coaching", "ShareGrant")
    invited = invitation.objects.filter(
        team_id=OuterRef("team_id"),
        email__iexact=OuterRef("user__email"),
        role="coach",
        accepted_at__isnull=False,
    )
    shared = grant.objects.filter(
        coach_id=OuterRef("user_id"),
        accepted_at__isnull=False,
        rep__memberships__team_id=OuterRef("team_id"),
    )
    membership.objects.filter(role="coach").filter(Exists(shared)).exclude(
        Exists(invited)
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("coaching", "0001_initial"),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
