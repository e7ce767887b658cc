"""Input and output shapes of journal entries. Field-level ranges live here; rules that need
the user or the database (consent, future times, ownership) live in services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rest_framework import serializers

from apps.core.serializers import (
    AwareDateTimeField,
    FixedFieldsSerializer,
    StrictSerializer,
    validate_with,
)
from apps.journal.models import (
    ActivityEntry,
    AlcoholEntry,
    ExerciseEntry,
    MealEntry,
)

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise as _StrPromise

MEAL_TAGS = (
    "sugary",
    "fried",
    "vegetables",
    "fruit",
    "caffeine",
    "protein",
    "wholegrain",
    "processed",
    "spicy",
)
MAX_BATCH_ITEMS = 500
DAY_VIEW_DEFAULT_DAYS = 90
DAY_VIEW_MAX_DAYS = 366


def _range_messages(low: object, high: object, unit: str = "") -> dict[str, str | _StrPromise]:
    """One message for both ends, so a refusal names the whole allowed range."""
    suffix = f" {unit}" if unit else ""
    message = f"Must be between {low} and {high}{suffix}."
    return {"min_value": message, "max_value": message}


def ranged_int(low: int, high: int, unit: str = "", **kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=low,
        max_value=high,
        error_messages=_range_messages(low, high, unit),
        **{"required": False, "allow_null": True, **kwargs},
    )


class _DrinksField(serializers.DecimalField):
    def to_internal_value(self, data: Any) -> Decimal:
        value: Decimal = super().to_internal_value(data)
        # "-0" is zero drinks: stored as 0.0, and answered so the first time too.
        return value.copy_abs() if value.is_zero() else value


def standard_drinks_field(**kwargs: Any) -> serializers.DecimalField:
    return _DrinksField(
        max_digits=4,
        decimal_places=1,
        min_value=Decimal(0),
        max_value=Decimal(30),
        error_messages=_range_messages(0, 30, "standard drinks"),
        **kwargs,
    )


class EntryBaseSerializer(StrictSerializer):
    occurred_at = AwareDateTimeField(
        help_text="When it happened (for sleep: the wake time), with a UTC offset."
    )
    tz = serializers.CharField(
        max_length=64, required=False, help_text="IANA zone the rep was in (default: profile)."
    )
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    client_updated_at = AwareDateTimeField(
        required=False,
        help_text="The phone's edit time; the latest edit wins. Default: when the server got it.",
    )


class SleepInSerializer(EntryBaseSerializer):
    bedtime = AwareDateTimeField(required=False, allow_null=True)
    duration_minutes = ranged_int(0, 16 * 60, "minutes")
    quality = ranged_int(1, 5)


class MealInSerializer(EntryBaseSerializer):
    meal_type = serializers.ChoiceField(choices=MealEntry.MealType.choices, required=False)
    heaviness = serializers.ChoiceField(choices=MealEntry.Heaviness.choices, required=False)
    tags = serializers.ListField(
        child=serializers.ChoiceField(choices=MEAL_TAGS), max_length=10, required=False
    )


class ExerciseInSerializer(EntryBaseSerializer):
    exercise_type = serializers.CharField(max_length=40, required=False, allow_blank=True)
    duration_minutes = ranged_int(0, 12 * 60, "minutes")
    intensity = serializers.ChoiceField(choices=ExerciseEntry.Intensity.choices, required=False)


class AlcoholInSerializer(EntryBaseSerializer):
    standard_drinks = standard_drinks_field(required=False, allow_null=True)
    context = serializers.ChoiceField(choices=AlcoholEntry.Context.choices, required=False)  # type: ignore[assignment]


class EnergyInSerializer(EntryBaseSerializer):
    level = ranged_int(1, 9)
    focus = ranged_int(1, 5)
    mood = ranged_int(1, 5)


class ActivityInSerializer(EntryBaseSerializer):
    what = serializers.CharField(max_length=80, required=False, allow_blank=True)
    duration_minutes = ranged_int(0, 24 * 60, "minutes")
    effect = serializers.ChoiceField(choices=ActivityEntry.Effect.choices, required=False)


INPUT_SERIALIZERS: dict[str, type[EntryBaseSerializer]] = {
    "sleep": SleepInSerializer,
    "meal": MealInSerializer,
    "exercise": ExerciseInSerializer,
    "alcohol": AlcoholInSerializer,
    "energy": EnergyInSerializer,
    "activity": ActivityInSerializer,
}


# --- output (documentation for the schema; rendering uses services.entry_to_dict) ----------


class EntryOutBaseSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    tz = serializers.CharField()
    local_date = serializers.DateField()
    note = serializers.CharField()
    client_updated_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class SleepOutSerializer(EntryOutBaseSerializer):
    bedtime = serializers.DateTimeField(allow_null=True)
    duration_minutes = serializers.IntegerField(allow_null=True)
    quality = serializers.IntegerField(allow_null=True)


class MealOutSerializer(EntryOutBaseSerializer):
    meal_type = serializers.CharField()
    heaviness = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())


class ExerciseOutSerializer(EntryOutBaseSerializer):
    exercise_type = serializers.CharField()
    duration_minutes = serializers.IntegerField(allow_null=True)
    intensity = serializers.CharField()


class AlcoholOutSerializer(EntryOutBaseSerializer):
    standard_drinks = serializers.DecimalField(max_digits=4, decimal_places=1, allow_null=True)
    context = serializers.CharField()  # type: ignore[assignment]


class EnergyOutSerializer(EntryOutBaseSerializer):
    level = serializers.IntegerField(allow_null=True)
    focus = serializers.IntegerField(allow_null=True)
    mood = serializers.IntegerField(allow_null=True)


class ActivityOutSerializer(EntryOutBaseSerializer):
    what = serializers.CharField()
    duration_minutes = serializers.IntegerField(allow_null=True)
    effect = serializers.CharField()


OUTPUT_SERIALIZERS: dict[str, type[EntryOutBaseSerializer]] = {
    "sleep": SleepOutSerializer,
    "meal": MealOutSerializer,
    "exercise": ExerciseOutSerializer,
    "alcohol": AlcoholOutSerializer,
    "energy": EnergyOutSerializer,
    "activity": ActivityOutSerializer,
}


class UpsertResultSerializer(serializers.Serializer):
    result = serializers.ChoiceField(choices=["created", "updated", "unchanged", "stale"])
    detail = serializers.CharField(required=False)
    entry = serializers.DictField(
        required=False,
        help_text="The stored entry; absent when it was deleted after this change (stale).",
    )


class BatchItemSerializer(FixedFieldsSerializer):
    kind = serializers.ChoiceField(choices=list(INPUT_SERIALIZERS))
    id = serializers.UUIDField()


class BatchInSerializer(StrictSerializer):
    # Items must at least be objects (a structurally broken envelope is refused whole, as the
    # schema says); everything inside an item is checked per item by the view.
    items = serializers.ListField(
        child=serializers.DictField(), min_length=1, max_length=MAX_BATCH_ITEMS
    )


class BatchItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    id = serializers.CharField(allow_null=True)
    kind = serializers.CharField(allow_null=True)
    result = serializers.ChoiceField(
        choices=["created", "updated", "unchanged", "stale", "rejected"]
    )
    status = serializers.IntegerField()
    code = serializers.ChoiceField(
        choices=["invalid", "consent-required", "not-found", "conflict"],
        required=False,
        help_text=(
            "Why a rejected item was refused, for the app to say in the rep's language "
            "(detail is English); with consent-required, `category` names the consent."
        ),
    )
    category = serializers.CharField(required=False)
    detail = serializers.CharField(required=False)
    errors = serializers.DictField(required=False)  # type: ignore[assignment]
    entry = serializers.DictField(required=False)


class BatchOutSerializer(serializers.Serializer):
    results = BatchItemResultSerializer(many=True)
    counts = serializers.DictField(child=serializers.IntegerField())


class CheckinSleepSerializer(StrictSerializer):
    id = serializers.UUIDField(required=False)
    bedtime = AwareDateTimeField(required=False, allow_null=True)
    wake_time = AwareDateTimeField(required=False)
    duration_minutes = ranged_int(0, 16 * 60, "minutes")
    quality = ranged_int(1, 5)


class CheckinDrinksSerializer(StrictSerializer):
    id = serializers.UUIDField(required=False)
    standard_drinks = standard_drinks_field()
    context = serializers.ChoiceField(choices=AlcoholEntry.Context.choices, required=False)  # type: ignore[assignment]
    occurred_at = AwareDateTimeField(required=False)


class CheckinInSerializer(StrictSerializer):
    id = serializers.UUIDField(help_text="Client UUID of the energy check-in.")
    occurred_at = AwareDateTimeField(
        required=False,
        help_text=(
            "When the rep checked in (ISO 8601 instant); every part counts as edited then. "
            "Without it the server's clock times the check-in when it arrives: such a check-in "
            "creates its entries or, retried, repeats its first answer, but never replaces an "
            "entry the rep edited or revives one the rep deleted (answered `stale`)."
        ),
    )
    tz = serializers.CharField(max_length=64, required=False)
    level = ranged_int(1, 9, required=True, allow_null=False)
    focus = ranged_int(1, 5)
    mood = ranged_int(1, 5)
    sleep = CheckinSleepSerializer(required=False)
    drinks = CheckinDrinksSerializer(required=False)


class CheckinOutSerializer(serializers.Serializer):
    energy = UpsertResultSerializer()
    sleep = UpsertResultSerializer(required=False)
    drinks = UpsertResultSerializer(required=False)


class DeleteQuerySerializer(StrictSerializer):
    deleted_at = AwareDateTimeField(
        required=False,
        help_text=(
            "When the rep deleted the entry on the phone (ISO 8601 instant); default: when the "
            "server receives the request. A deletion that waited offline sends it: an edit made "
            "after it (on another phone) is newer and keeps the entry (409, code "
            "edited-after-deletion), one made before it is older and stays deleted. At most 10 "
            "minutes ahead of the server's clock, as edit times."
        ),
    )


class DateRangeSerializer(StrictSerializer):
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    cursor = serializers.CharField(required=False)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=500)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("date_from"), attrs.get("date_to")
        if start and end and start > end:
            raise serializers.ValidationError({"date_from": ["Must not be after date_to."]})
        return attrs


class DayViewQuerySerializer(StrictSerializer):
    """The day view's query; ``day_view_range`` fills in the defaults."""

    date_from = serializers.DateField(
        required=False,
        help_text=(
            f"Default: {DAY_VIEW_DEFAULT_DAYS} days up to date_to if it is given, else up to "
            "today in the rep's home zone."
        ),
    )
    date_to = serializers.DateField(
        required=False,
        help_text=(
            "Default: the date where it is furthest ahead (UTC+14), ten minutes from now (entry "
            "times may be that far ahead), so that entries logged while travelling east of the "
            "home zone are included."
        ),
    )


def day_view_range(query: Any, *, today: dt.date, latest: dt.date) -> tuple[dt.date, dt.date]:
    """The validated (date_from, date_to) of a day-view query. Without dates: the rep's last
    ``DAY_VIEW_DEFAULT_DAYS`` days (``today``: the rep's home calendar day) and any day after it
    an entry can have (``latest``: the latest date anywhere)."""
    attrs = validate_with(DayViewQuerySerializer, query)
    end: dt.date = attrs.get("date_to") or latest
    last = attrs.get("date_to") or today
    start: dt.date = attrs.get("date_from") or last - dt.timedelta(days=DAY_VIEW_DEFAULT_DAYS - 1)
    if start > end:
        raise serializers.ValidationError({"date_from": ["Must not be after date_to."]})
    if (end - start).days + 1 > DAY_VIEW_MAX_DAYS:
        raise serializers.ValidationError(
            {
                "date_from": [
                    f"A day view covers at most {DAY_VIEW_MAX_DAYS} days; page back with date_to."
                ]
            }
        )
    return start, end


class DaySerializer(serializers.Serializer):
    local_date = serializers.DateField()
    entries = serializers.DictField(child=serializers.ListField(child=serializers.DictField()))


class DayViewOutSerializer(serializers.Serializer):
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    days = DaySerializer(many=True)
    previous = serializers.CharField(
        allow_null=True, help_text="URL of the window before this one."
    )


class EntryPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = serializers.ListField(child=serializers.DictField())
