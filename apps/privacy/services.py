"""Consent, export and erasure: the rep's controls over their own data."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError, transaction

from apps.core.errors import ApplicationError
from apps.core.jsonvalues import loads_storable
from apps.privacy.models import (
    CONSENT_TEXT_VERSION,
    Category,
    ConsentEvent,
    ConsentState,
    DataExport,
    PrivacyPreference,
)
from apps.privacy.registry import handlers

EXPORT_FORMAT_VERSION = 1


def consent_require(*, user: Any, category: str, consented: set[str] | None = None) -> None:
    """Raise the 403 problem naming the missing category, unless consent is on record."""
    from apps.privacy.selectors import consented_categories

    granted = consented if consented is not None else consented_categories(user=user)
    if category not in granted:
        label = Category(category).label.lower()
        raise ApplicationError(
            f"You have not given consent to store {label} data. Turn on '{label}' under "
            "Sharing & privacy to log it.",
            status_code=403,
            code="consent-required",
            extra={"category": category},
        )


def consent_grant(*, user: Any, category: str) -> ConsentState:
    with transaction.atomic():
        ConsentEvent.objects.create(
            user=user, category=category, granted=True, text_version=CONSENT_TEXT_VERSION
        )
        state, _ = ConsentState.objects.update_or_create(
            user=user,
            category=category,
            defaults={"granted": True, "text_version": CONSENT_TEXT_VERSION},
        )
    return state


def consent_withdraw(*, user: Any, category: str, delete_entries: bool) -> tuple[ConsentState, int]:
    """Stops collection at once; deletes that category's entries if the rep says so. What the
    rep shared with a coach that was built on the category is withdrawn either way, and so is
    what the insights derived from it (insights, progress, day values): no consent, no storage
    of the category (DESIGN.md §2.4)."""
    from apps.coaching.services import summaries_withdraw_category
    from apps.insights.services import derived_delete_for_category
    from apps.journal.services import entries_delete_for_category

    with transaction.atomic():
        ConsentEvent.objects.create(
            user=user, category=category, granted=False, text_version=CONSENT_TEXT_VERSION
        )
        state, _ = ConsentState.objects.update_or_create(
            user=user,
            category=category,
            defaults={"granted": False, "text_version": CONSENT_TEXT_VERSION},
        )
        deleted = entries_delete_for_category(user=user, category=category) if delete_entries else 0
        summaries_withdraw_category(rep=user, category=category)
        derived_delete_for_category(user=user, category=category)
        # An archive built (or being built) before holds what was just deleted: it goes too.
        exports_forget(user=user)
    return state, deleted


def category_entry_count(*, user: Any, category: str) -> int:
    from apps.journal.selectors import category_entry_count as count

    return count(user=user, category=category)


def user_export(*, user: Any) -> dict[str, Any]:
    """Everything about the user, one section per app (format documented in docs)."""
    document: dict[str, Any] = {"format": "energytrack-export", "version": EXPORT_FORMAT_VERSION}
    for handler in sorted(handlers(), key=lambda h: h.app_label):
        document[handler.app_label] = handler.export_user(user)
    return document


def user_erase(*, user: Any) -> dict[str, int]:
    """Hard delete of the account and everything derived from it, in one transaction."""
    counts: dict[str, int] = {}
    with transaction.atomic():
        # Accounts last: the other apps' rows reference the user. Consent first: a journal write
        # in flight holds its consent rows, then the journal lock (privacy.selectors), and
        # locks taken in the same order cannot deadlock.
        ordered = sorted(
            handlers(), key=lambda h: (h.app_label == "accounts", h.app_label != "privacy")
        )
        for handler in ordered:
            counts[handler.app_label] = handler.erase_user(user)
    return counts


# --- export files, import, retention ---------------------------------------------------------

EXPORT_LINK_MAX_AGE = 24 * 3600
_EXPORT_SALT = "privacy.export.download"


def _csv_sections(document: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Every list of records in the document becomes one CSV (one per entry kind, etc.)."""
    tables: dict[str, list[dict[str, Any]]] = {}
    for app_label, section in document.items():
        if not isinstance(section, dict):
            continue
        for key, value in section.items():
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                tables[f"{app_label}_{key}"] = value
    return tables


def export_build(*, export_id: Any) -> DataExport:
    """Builds the zip of one requested export (idempotent: a ready export is left alone)."""
    import csv
    import io
    import json
    import zipfile

    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.core.serializers.json import DjangoJSONEncoder
    from django.utils import timezone

    export = DataExport.objects.select_related("user").get(pk=export_id)
    if export.status == DataExport.Status.READY:
        return export
    document = user_export(user=export.user)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "export.json", json.dumps(document, cls=DjangoJSONEncoder, indent=2, sort_keys=True)
        )
        for name, rows in _csv_sections(document).items():
            text = io.StringIO()
            columns = sorted({column for row in rows for column in row})
            writer = csv.DictWriter(text, fieldnames=columns)
            writer.writeheader()
            for row in rows:
                writer.writerow(
                    {
                        k: json.dumps(v, cls=DjangoJSONEncoder) if isinstance(v, dict | list) else v
                        for k, v in row.items()
                    }
                )
            archive.writestr(f"{name}.csv", text.getvalue())
    name = default_storage.save(f"exports/{export.pk}.zip", ContentFile(buffer.getvalue()))
    export.file_name = name
    export.size_bytes = buffer.tell()
    export.status = DataExport.Status.READY
    export.finished_at = export.updated_at = timezone.now()
    fields = ["file_name", "size_bytes", "status", "finished_at", "updated_at"]
    # An update, not save(): the account may have been erased while the archive was built.
    # Erasure locks the export rows before it deletes their files, so either it sees this
    # file, or this update finds no row and the file goes here. The same for a second build
    # of this export (the sweeper re-queues one still pending) that finished first: the row
    # names its file, and this one would be on disk with no row to delete it by.
    if (
        not DataExport.objects.filter(pk=export.pk)
        .exclude(status=DataExport.Status.READY)
        .update(**{f: getattr(export, f) for f in fields})
    ):
        default_storage.delete(name)
        return DataExport.objects.filter(pk=export.pk).first() or export
    return export


def export_request(*, user: Any) -> DataExport:
    from apps.core.tasks import enqueue_on_commit

    export = DataExport.objects.create(user=user)
    enqueue_on_commit("apps.privacy.tasks.build_export", str(export.pk))
    return export


def export_download_token(*, export: DataExport) -> str:
    from django.core import signing

    return signing.dumps({"export": str(export.pk)}, salt=_EXPORT_SALT)


def export_for_token(*, token: str, user: Any) -> DataExport:
    """The ready export the signed link names, if it is ``user``'s own.

    The link alone is not enough: it travels in the URL path, which access logs and proxies
    record; whoever reads those must not be able to download a rep's data.
    """
    from django.core import signing

    try:
        data = signing.loads(token, salt=_EXPORT_SALT, max_age=EXPORT_LINK_MAX_AGE)
    except signing.SignatureExpired:
        raise ApplicationError(
            "This download link has expired; request a new export.",
            status_code=404,
            code="not-found",
        ) from None
    except signing.BadSignature:
        raise ApplicationError("No such download.", status_code=404, code="not-found") from None
    export = DataExport.objects.filter(
        pk=data.get("export"), user=user, status=DataExport.Status.READY
    ).first()
    if export is None:
        raise ApplicationError("No such download.", status_code=404, code="not-found")
    return export


def user_import(*, user: Any, document: Any) -> dict[str, int]:
    """Re-create a user's data from an export document, into an account with no data yet."""
    if not isinstance(document, dict) or document.get("format") != "energytrack-export":
        raise ApplicationError(
            "This is not an energytrack export file.", errors={"file": ["Unknown format."]}
        )
    if document.get("version") != EXPORT_FORMAT_VERSION:
        raise ApplicationError(
            f"Export format version {document.get('version')} is not supported.",
            errors={"file": [f"Supported version: {EXPORT_FORMAT_VERSION}."]},
        )
    existing = user_export(user=user)
    journal = existing.get("journal") or {}
    if any(isinstance(rows, list) and rows for rows in journal.values()):
        raise ApplicationError(
            "This account already holds journal data; import only into an empty account.",
            status_code=409,
            code="conflict",
        )
    counts: dict[str, int] = {}
    with transaction.atomic():
        # Consents first: the journal refuses entries of a category without consent.
        for handler in sorted(handlers(), key=lambda h: h.app_label != "privacy"):
            section = document.get(handler.app_label)
            if handler.import_user is not None and isinstance(section, dict):
                try:
                    counts[handler.app_label] = handler.import_user(user, section)
                except (
                    KeyError,
                    TypeError,
                    ValueError,
                    AttributeError,
                    OverflowError,
                    # Values the database refuses (too long, out of range, a duplicate):
                    # the atomic block rolls back whatever this file wrote. Not every
                    # DatabaseError: an unreachable database stays a 503.
                    DataError,
                    IntegrityError,
                    DjangoValidationError,
                ) as exc:
                    # A hand-edited or truncated file: say which part, write nothing.
                    raise ApplicationError(
                        f"The '{handler.app_label}' part of the file is damaged; nothing was "
                        "imported.",
                        errors={
                            f"file.{handler.app_label}": [
                                f"Unreadable: {type(exc).__name__} in its rows."
                            ]
                        },
                    ) from exc
    return counts


def retention_purge(*, now: Any = None) -> dict[str, int]:
    """Delete raw entries older than the retention period; aggregates too unless allowed."""
    import datetime as dt

    from django.utils import timezone

    from apps.insights.services import day_features_purge_before
    from apps.journal.services import entries_purge_before
    from apps.privacy.selectors import retention_cutoff

    now = now or timezone.now()
    cutoff = retention_cutoff(now)
    keep_aggregates = set(
        PrivacyPreference.objects.filter(keep_aggregates=True).values_list("user_id", flat=True)
    )
    counts = {
        "entries": entries_purge_before(cutoff=cutoff),
        "day_features": day_features_purge_before(
            cutoff_date=cutoff.date(), except_user_ids=keep_aggregates
        ),
    }
    stale_exports = DataExport.objects.filter(created_at__lt=now - dt.timedelta(days=2))
    for export in stale_exports:
        _delete_export_file(export)
    counts["exports"] = stale_exports.delete()[0]
    return counts


def exports_forget(*, user: Any) -> int:
    """Delete the user's exports, their archives with them; returns the rows deleted. Locked: an
    archive being finished (``export_build``) either shows its file here or finds its row gone
    and deletes the file itself."""
    exports = DataExport.objects.filter(user=user)
    for export in exports.select_for_update().order_by("pk"):
        _delete_export_file(export)
    return int(exports.delete()[0])


def _delete_export_file(export: DataExport) -> None:
    from django.core.files.storage import default_storage

    if export.file_name and default_storage.exists(export.file_name):
        default_storage.delete(export.file_name)


def privacy_preference_update(*, user: Any, keep_aggregates: bool) -> PrivacyPreference:
    preference, _ = PrivacyPreference.objects.update_or_create(
        user=user, defaults={"keep_aggregates": keep_aggregates}
    )
    return preference


def exports_stuck(*, older_than_minutes: int = 2, limit: int = 100) -> list[str]:
    import datetime as dt

    from django.utils import timezone

    cutoff = timezone.now() - dt.timedelta(minutes=older_than_minutes)
    return [
        str(pk)
        for pk in DataExport.objects.filter(
            status=DataExport.Status.PENDING, created_at__lt=cutoff
        ).values_list("pk", flat=True)[:limit]
    ]


# An export of three years of daily logging is ~15 MB of JSON; this bounds what a small .zip
# may unpack to (its header's size is what zipfile decompresses, no more).
EXPORT_JSON_MAX_BYTES = 100 * 1024 * 1024


def read_export_file(*, raw: bytes) -> Any:
    """The export document from an uploaded .zip (export.json inside) or a bare .json file."""
    import io
    import zipfile
    import zlib

    try:
        if raw[:2] == b"PK":
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                if archive.getinfo("export.json").file_size > EXPORT_JSON_MAX_BYTES:
                    raise ValueError("export.json is larger than 100 MB uncompressed")
                raw = archive.read("export.json")
        # ValueError also for JSON that PostgreSQL cannot store (NaN, NUL, lone surrogates).
        return loads_storable(raw.decode("utf-8"))
    except (
        zipfile.BadZipFile,
        KeyError,
        UnicodeDecodeError,
        ValueError,
        # An encrypted member (RuntimeError), an unsupported compression method
        # (NotImplementedError), a truncated or corrupt stream.
        RuntimeError,
        NotImplementedError,
        EOFError,
        zlib.error,
    ) as exc:
        raise ApplicationError(
            "The file is not an energytrack export (.zip or export.json).",
            errors={"file": [str(exc)[:200]]},
        ) from exc
