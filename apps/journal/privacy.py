"""The journal's privacy hooks: export, erase and import one user's entries (DESIGN.md §2.6).

Import is an entry point like an API view: it parses the export section with the same input
serializers as the API and hands validated values to one service.
"""

from __future__ import annotations

import uuid
from typing import Any

from apps.core.errors import ApplicationError, flatten_errors
from apps.core.time import iso_instant
from apps.journal.models import ENTRY_MODELS, DeletedEntry, DeletedKind, JournalState
from apps.journal.selectors import OUTPUT_FIELDS, entry_to_dict
from apps.journal.serializers import INPUT_SERIALIZERS
from apps.journal.services import KIND_FIELDS, EntryInput, day_views_forget, entries_import
from apps.privacy.registry import PrivacyHandler, register

# What an exported row may carry back in; ids, timestamps and local_date are re-derived.
_IMPORT_COMMON = ("occurred_at", "tz", "note", "client_updated_at")


def export_user(user: Any) -> dict[str, Any]:
    state = JournalState.objects.filter(user=user).values("version").first()
    return {
        # Bookkeeping, exported because it is held: how many writes the journal has seen.
        "state": {"version": state["version"] if state else 0},
        # Which entries the rep deleted, and when (nothing of what they held).
        "deleted": [
            {"kind": kind, "id": str(entry_id), "deleted_at": iso_instant(deleted_at)}
            for kind, entry_id, deleted_at in DeletedEntry.objects.filter(user=user)
            .order_by("deleted_at", "pk")
            .values_list("kind", "entry_id", "deleted_at")
        ],
        # Kinds whose every entry was deleted with a consent withdrawal, and when.
        "deleted_kinds": [
            {"kind": kind, "deleted_at": iso_instant(deleted_at)}
            for kind, deleted_at in DeletedKind.objects.filter(user=user)
            .order_by("deleted_at", "kind")
            .values_list("kind", "deleted_at")
        ],
        **{
            kind: [
                entry_to_dict(kind, row)
                for row in model.objects.filter(user=user)
                .order_by("occurred_at")
                .values(*OUTPUT_FIELDS, *KIND_FIELDS[kind])
            ]
            for kind, model in ENTRY_MODELS.items()
        },
    }


def erase_user(user: Any) -> int:
    day_views_forget(user.pk)
    JournalState.objects.filter(user=user).delete()
    deleted = DeletedEntry.objects.filter(user=user).delete()[0]
    deleted += DeletedKind.objects.filter(user=user).delete()[0]
    return deleted + sum(
        model.objects.filter(user=user).delete()[0] for model in ENTRY_MODELS.values()
    )


def import_user(user: Any, section: dict[str, Any]) -> int:
    items: list[EntryInput] = []
    for kind, rows in section.items():
        if kind in ("state", "deleted", "deleted_kinds"):
            # Re-derived: the importing account has its own write count, and the entries get
            # new ids, which no deletion names; what the rep imports is theirs to store again.
            continue
        if kind not in INPUT_SERIALIZERS or not isinstance(rows, list):
            raise ApplicationError(
                f"The journal section has an unknown part '{kind}'.",
                errors={f"journal.{kind}": ["Expected one list per entry kind."]},
            )
        for position, row in enumerate(rows, start=1):
            if not isinstance(row, dict):
                raise ApplicationError(
                    f"Journal entry {position} ({kind}) is not an object.",
                    errors={f"journal.{kind}": ["Each entry must be an object."]},
                )
            # Blank and null values are the defaults: leave them out rather than send them.
            fields = {
                name: row[name]
                for name in (*_IMPORT_COMMON, *KIND_FIELDS[kind])
                if row.get(name) not in (None, "", [])
            }
            if kind == "sleep" and "bedtime" in fields:
                fields.pop("duration_minutes", None)  # derived from the two times again
            serializer = INPUT_SERIALIZERS[kind](data=fields)
            if not serializer.is_valid():
                errors = flatten_errors(serializer.errors, f"journal.{kind}")
                raise ApplicationError(
                    f"Journal entry {position} ({kind}) cannot be imported.", errors=errors
                )
            # A new id: the exported one still belongs to the account it came from.
            items.append(
                EntryInput(kind=kind, id=uuid.uuid4(), values=dict(serializer.validated_data))
            )
    return entries_import(user=user, items=items)


register(
    PrivacyHandler(
        app_label="journal",
        models=(*ENTRY_MODELS.values(), JournalState, DeletedEntry, DeletedKind),
        export_user=export_user,
        erase_user=erase_user,
        import_user=import_user,
    )
)
