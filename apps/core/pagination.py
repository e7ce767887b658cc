"""Cursor pagination whose cursors cannot reach the database with an impossible position.

A cursor is base64 the client holds; DRF decodes its position and filters on it as it is. A
crafted position the database cannot compare (``p=9999-12-31T23:59:59-23:59``: PostgreSQL
allows offsets up to 15:59) raised a database error, a 500. Every list's paginator derives
from :class:`CheckedCursorPagination`, which answers such a cursor as DRF answers one it
cannot decode: 404 "Invalid cursor".
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request

# PostgreSQL's widest UTC offset (Python allows up to 23:59).
_MAX_OFFSET = dt.timedelta(hours=15, minutes=59)


class CheckedCursorPagination(CursorPagination):
    page_size = 50
    max_page_size = 500
    page_size_query_param = "page_size"

    def paginate_queryset(
        self, queryset: Any, request: Request, view: Any = None
    ) -> list[Any] | None:
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request: Request) -> Cursor | None:
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            name = self.ordering[0].lstrip("-")
            try:
                _check_position(self._model._meta.get_field(name), str(cursor.position))
            except (ValidationError, ValueError, OverflowError):
                raise NotFound(self.invalid_cursor_message) from None
        return cursor


def _check_position(field: Any, position: str) -> None:
    value = field.to_python(position)
    if isinstance(field, models.DateTimeField) and isinstance(value, dt.datetime):
        offset = value.utcoffset()
        if offset is not None and abs(offset) > _MAX_OFFSET:
            raise ValueError("offset")
        value.astimezone(dt.UTC)


class CreatedCursorPagination(CheckedCursorPagination):
    ordering = "-created_at"


class TimeCursorPagination(CheckedCursorPagination):
    """Journal lists: newest entry first, stable across inserts (cursor, not offset)."""

    ordering = ("-occurred_at", "-id")
