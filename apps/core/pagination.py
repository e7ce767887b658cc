"""Cursor pagination whose cursors cannot reach the database with an impossible position.

A cursor is base64 the client holds; DRF decodes its position and filters on it as it is. A
crafted position the database cannot compare (``p=9999-12-31T23:59:59-23:59``: PostgreSQL
allows offsets up to 15:59) raised a database error, a 500. Every list's paginator derives
from :class:`CheckedCursorPagination`, which answers such a cursor as DRF answers one it
cannot decode: 404 "Invalid cursor".

Lists where many rows share the first ordering value (journal entries synced in one batch share
``occurred_at``) use :class:`KeysetCursorPagination`, whose cursor names the whole row (time and
id) instead of DRF's first field plus an offset, so inserts and deletes between pages neither
repeat nor hide a row.
"""

from __future__ import annotations

import datetime as dt
import operator
from base64 import b64decode, b64encode
from functools import reduce
from typing import Any
from urllib.parse import parse_qs, urlencode

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request
from rest_framework.utils.urls import remove_query_param, replace_query_param

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


def _check_position(field: Any, position: str) -> Any:
    value = field.to_python(position)
    if isinstance(field, models.DateTimeField) and isinstance(value, dt.datetime):
        offset = value.utcoffset()
        if offset is not None and abs(offset) > _MAX_OFFSET:
            raise ValueError("offset")
        value.astimezone(dt.UTC)
    return value


class KeysetCursorPagination(CheckedCursorPagination):
    """Cursor over every ordering field: the cursor names the row a page ended on.

    DRF's cursor keeps only the first field and counts ties with an offset, so an insert or
    delete among rows sharing that value between two pages repeats or hides one. Here the
    cursor holds one value per field (``p`` repeated, in ordering order) and the next page is
    the rows strictly beyond that row in the ordering: no offset, nothing to shift. The last
    ordering field must be unique and none may be NULL (a NULL never compares).
    """

    def paginate_queryset(
        self, queryset: Any, request: Request, view: Any = None
    ) -> list[Any] | None:
        self._model = queryset.model
        self.request = request
        page_size = self.get_page_size(request)
        if not page_size:
            return None
        self.page_size = page_size
        self.base_url = self._page_url = request.build_absolute_uri()
        self.ordering = self.get_ordering(request, queryset, view)

        reverse, self._position = self._decode_keyset(request)
        ordering = _reversed(self.ordering) if reverse else self.ordering
        queryset = queryset.order_by(*ordering)
        if self._position is not None:
            queryset = queryset.filter(_beyond(ordering, self._position))

        # One row more than the page says whether anything lies beyond it.
        rows = list(queryset[: self.page_size + 1])
        self.page = rows[: self.page_size]
        has_more = len(rows) > self.page_size
        if reverse:
            self.page.reverse()
        # A cursor was handed out from a row, so the other side of it is taken to exist.
        self.has_next = self._position is not None if reverse else has_more
        self.has_previous = has_more if reverse else self._position is not None
        if (self.has_previous or self.has_next) and self.template is not None:
            self.display_page_controls = True
        return self.page

    def get_next_link(self) -> str | None:
        if not self.has_next:
            return None
        if not self.page:
            # Paging back found nothing newer than the cursor: the next page is the first.
            return remove_query_param(self._page_url, self.cursor_query_param)
        return self._encode_keyset(reverse=False, position=self._position_of(self.page[-1]))

    def get_previous_link(self) -> str | None:
        if not self.has_previous:
            return None
        if not self.page:
            # Nothing is left after the cursor, so what lies before it is the list's last page.
            return self._encode_keyset(reverse=True, position=None)
        return self._encode_keyset(reverse=True, position=self._position_of(self.page[0]))

    def _position_of(self, row: Any) -> list[str]:
        names = [order.lstrip("-") for order in self.ordering]
        if isinstance(row, dict):  # a .values() queryset
            return [str(row[name]) for name in names]
        return [str(getattr(row, name)) for name in names]

    def _encode_keyset(self, *, reverse: bool, position: list[str] | None) -> str:
        tokens: dict[str, Any] = {}
        if reverse:
            tokens["r"] = "1"
        if position is not None:
            tokens["p"] = position
        encoded = b64encode(urlencode(tokens, doseq=True).encode("ascii")).decode("ascii")
        return replace_query_param(self._page_url, self.cursor_query_param, encoded)

    def _decode_keyset(self, request: Request) -> tuple[bool, list[Any] | None]:
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return False, None
        try:
            tokens = parse_qs(
                b64decode(encoded.encode("ascii"), validate=True).decode("ascii"),
                keep_blank_values=True,
                strict_parsing=bool(encoded),
            )
            # Only what _encode_keyset writes: an old offset cursor would page by offset again.
            if set(tokens) - {"r", "p"} or tokens.get("r", ["1"]) != ["1"]:
                raise ValueError("tokens")
            raw = tokens.get("p")
            position = None if raw is None else self._checked_position(raw)
        except (ValidationError, ValueError, OverflowError, UnicodeError):
            raise NotFound(self.invalid_cursor_message) from None
        return "r" in tokens, position

    def _checked_position(self, raw: list[str]) -> list[Any]:
        if len(raw) != len(self.ordering):
            raise ValueError("position")
        fields = [self._model._meta.get_field(order.lstrip("-")) for order in self.ordering]
        values = [_check_position(field, text) for field, text in zip(fields, raw, strict=True)]
        # Every cursor we write carries an offset; a naive time would be read in the server's
        # zone and land somewhere else.
        if any(isinstance(v, dt.datetime) and v.utcoffset() is None for v in values):
            raise ValueError("naive")
        return values


def _reversed(ordering: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(order[1:] if order.startswith("-") else "-" + order for order in ordering)


def _beyond(ordering: tuple[str, ...], position: list[Any]) -> Q:
    """Rows after ``position`` in ``ordering``: (a, b) after (x, y) is a > x, or a = x and b > y."""
    names = [order.lstrip("-") for order in ordering]
    steps = []
    for depth, order in enumerate(ordering):
        ties = dict(zip(names[:depth], position[:depth], strict=True))
        step = "lt" if order.startswith("-") else "gt"
        steps.append(Q(**ties, **{f"{names[depth]}__{step}": position[depth]}))
    return reduce(operator.or_, steps)


class CreatedCursorPagination(KeysetCursorPagination):
    """Newest first. Rows made together share ``created_at`` (a coach's list read logs one row
    per summary at once): the id orders them, and the cursor names both."""

    ordering = ("-created_at", "-id")


class TimeCursorPagination(KeysetCursorPagination):
    """Journal lists: newest entry first, stable across inserts (cursor, not offset)."""

    ordering = ("-occurred_at", "-id")
