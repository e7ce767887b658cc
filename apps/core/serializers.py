"""Serializer helpers shared by every app."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.http import QueryDict
from django.utils import timezone
from rest_framework import serializers

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Dates outside this window are typos, and date arithmetic near year 1 or 9999 overflows.
EARLIEST_DATE = dt.date(1970, 1, 1)
LATEST_DATE = dt.date(2100, 12, 31)


class AwareDateTimeField(serializers.DateTimeField):
    """An instant with an explicit UTC offset, as UTC; a bare local time is ambiguous on a
    travelling phone, so it is refused instead of guessed."""

    default_error_messages = {
        **serializers.DateTimeField.default_error_messages,
        "naive": "Give the time with a UTC offset, e.g. 2026-11-26T07:30:00+01:00 or ...Z.",
        "out_of_range": "The time is outside the years 1 to 9999 in UTC.",
    }

    def to_internal_value(self, value: Any) -> dt.datetime:
        # DRF parses first (so "yesterday" is "wrong format"), then enforce_timezone refuses
        # a parsed time without an offset.
        result = super().to_internal_value(value)
        try:
            return result.astimezone(dt.UTC)
        except OverflowError:
            # 0001-01-01T00:00+14:00 is a valid ISO time before the first UTC instant.
            self.fail("out_of_range")

    def enforce_timezone(self, value: dt.datetime) -> dt.datetime:
        if timezone.is_naive(value):
            self.fail("naive")
        return value


class FixedFieldsSerializer(serializers.Serializer):
    """DRF's Serializer, with the fields it walks on every validation listed once.

    DRF finds the writable fields and the read-only defaults by iterating its field mapping
    through ``collections.abc`` on each run; a 100-item sync validates 200 items, and that walk
    was about a twentieth of its CPU (cProfile). The fields of a bound serializer never change,
    so the lists are kept.
    """

    @property
    def _writable_fields(self) -> list[serializers.Field]:
        found = self.__dict__.get("_writable_list")
        if found is None:
            found = [field for field in self.fields.values() if not field.read_only]
            self.__dict__["_writable_list"] = found
        return found

    def _read_only_defaults(self) -> dict[str, Any]:
        if self.__dict__.get("_no_read_only_defaults"):
            return {}
        defaults: dict[str, Any] = super()._read_only_defaults()
        if not defaults and not any(field.read_only for field in self.fields.values()):
            self.__dict__["_no_read_only_defaults"] = True
        return defaults


class StrictSerializer(FixedFieldsSerializer):
    """Rejects what DRF would quietly coerce or ignore: unknown fields (a typo must not be a
    no-op), numbers where text is expected, and dates that are not plain YYYY-MM-DD."""

    def to_internal_value(self, data: Any) -> Any:
        if hasattr(data, "keys"):
            unknown = sorted(set(data.keys()) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
            errors: dict[str, list[str]] = {}
            for name, field in self.fields.items():
                if name not in data or field.read_only:
                    continue
                value = data[name]
                problem = _type_problem(field, value, from_query=isinstance(data, QueryDict))
                if problem:
                    errors[name] = [problem]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


_SHARED: dict[type[serializers.Serializer], serializers.Serializer] = {}


def validate_with(serializer_class: type[serializers.Serializer], data: Any) -> Any:
    """``serializer_class(data=data)`` validated, raising ValidationError like ``is_valid``.

    One instance per class is kept and reused: building a DRF serializer deep-copies all its
    fields, which costs more than validating a small body on the hot write paths. Only for
    serializers whose validation needs no context.
    """
    instance = _SHARED.get(serializer_class)
    if instance is None:
        instance = _SHARED.setdefault(serializer_class, serializer_class())
    return instance.run_validation(data)


class ProblemSerializer(serializers.Serializer):
    """Documentation of the one error shape (problem+json)."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField())
    )


def _type_problem(field: serializers.Field, value: Any, *, from_query: bool) -> str | None:
    if value is None:
        return None
    if from_query and value == "":
        # DRF would treat an empty query value as "not given"; the schema says it is invalid.
        return "May not be blank."
    if isinstance(field, serializers.CharField | serializers.ChoiceField):
        if not isinstance(value, str):
            return "Must be a string."
        # DRF trims before it counts; the schema's maxLength is about what was sent.
        max_length = getattr(field, "max_length", None)
        if max_length is not None and len(value) > max_length:
            return f"Ensure this field has no more than {max_length} characters."
    elif isinstance(field, serializers.BooleanField):
        if not from_query and not isinstance(value, bool):
            return "Must be true or false."
    elif isinstance(field, serializers.IntegerField):
        if not from_query and (isinstance(value, bool) or not isinstance(value, int)):
            return "Must be a whole number."
    elif isinstance(field, serializers.DateField) and not isinstance(
        field, serializers.DateTimeField
    ):
        if not isinstance(value, str) or not _ISO_DATE.match(value):
            return "Use the date format YYYY-MM-DD."
        try:
            parsed = dt.date.fromisoformat(value)
        except ValueError:
            return "Not a real date."
        if not EARLIEST_DATE <= parsed <= LATEST_DATE:
            return f"Must be between {EARLIEST_DATE} and {LATEST_DATE}."
    return None
