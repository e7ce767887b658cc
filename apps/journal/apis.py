"""HTTP for the journal: parse, call one service or selector, shape the output."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any
from urllib.parse import urlencode

from django.http import HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import parse_etags
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.selectors import request_user as me
from apps.core.errors import ApplicationError, flatten_errors
from apps.core.idempotency import request_fingerprint
from apps.core.pagination import TimeCursorPagination
from apps.core.serializers import validate_with
from apps.core.throttles import write_window
from apps.core.time import calendar_date, latest_date
from apps.journal import selectors, services
from apps.journal.serializers import (
    INPUT_SERIALIZERS,
    OUTPUT_SERIALIZERS,
    BatchInSerializer,
    BatchItemSerializer,
    BatchOutSerializer,
    CheckinInSerializer,
    CheckinOutSerializer,
    DateRangeSerializer,
    DayViewOutSerializer,
    DayViewQuerySerializer,
    DeleteQuerySerializer,
    EntryPageSerializer,
    UpsertResultSerializer,
    day_view_range,
)

KIND_PARAM = OpenApiParameter(
    "kind", str, OpenApiParameter.PATH, enum=list(INPUT_SERIALIZERS), description="Entry kind"
)


CLIENT_TIME = OpenApiParameter(
    "X-Client-Time",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "The phone's clock when it sent the request (ISO 8601 instant). A clock more than 10 "
        "minutes off is refused with 400 (code clock-skew): the entry times it stamped cannot be "
        "trusted, and a clock behind would otherwise file entries on the wrong local day."
    ),
)


def _check_client_clock(request: Request) -> None:
    raw = request.headers.get("X-Client-Time")
    if raw is None:
        return
    try:
        sent = parse_datetime(raw)
    except ValueError:
        sent = None
    if sent is None or sent.tzinfo is None:
        raise ApplicationError(
            "The X-Client-Time header is not an instant.",
            errors={"X-Client-Time": ["Use an ISO 8601 date and time with a time zone."]},
        )
    skew = sent - timezone.now()
    if abs(skew) <= services.FUTURE_TOLERANCE:
        return
    minutes = round(abs(skew).total_seconds() / 60)
    off = f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
    direction = "ahead" if skew > dt.timedelta(0) else "behind"
    raise ApplicationError(
        f"The clock on your phone is {off} {direction}. Set it to the right time, then send "
        "again: nothing was saved.",
        code="clock-skew",
        errors={"X-Client-Time": [f"The phone's clock is {off} {direction} of the server's."]},
    )


def _kind_or_404(kind: str) -> str:
    if kind not in INPUT_SERIALIZERS:
        raise NotFound(f"Unknown entry kind '{kind}'.")
    return kind


def _outcome_body(outcome: services.UpsertOutcome) -> dict[str, Any]:
    body: dict[str, Any] = {"result": outcome.result}
    if outcome.detail:
        body["detail"] = outcome.detail
    if outcome.entry is not None and outcome.kind is not None:
        body["entry"] = selectors.entry_to_dict(outcome.kind, outcome.entry)
    return body


_ANY_ENTRY = PolymorphicProxySerializer(
    component_name="JournalEntry",
    serializers=list(OUTPUT_SERIALIZERS.values()),
    resource_type_field_name=None,
)


class EntryListApi(APIView):
    @extend_schema(
        parameters=[KIND_PARAM, DateRangeSerializer],
        responses=EntryPageSerializer,
        operation_id="journal_entry_list",
        summary="List my entries of one kind (cursor-paginated, newest first)",
    )
    def get(self, request: Request, kind: str) -> Response:
        kind = _kind_or_404(kind)
        query = DateRangeSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = {k: v for k, v in query.validated_data.items() if k.startswith("date_")}
        queryset = selectors.entry_list(user=me(request), kind=kind, **params)
        paginator = TimeCursorPagination()
        page = paginator.paginate_queryset(queryset, request, view=self) or []
        return paginator.get_paginated_response(
            [selectors.entry_to_dict(kind, entry) for entry in page]
        )


# The journal's writes are limited per rep like every other write, but counted by the write's
# own statement in PostgreSQL (services._lock_journal), not by a Redis round trip first.


class EntryDetailApi(APIView):
    @extend_schema(
        parameters=[KIND_PARAM],
        responses=_ANY_ENTRY,
        operation_id="journal_entry_retrieve",
        summary="One of my entries",
    )
    def get(self, request: Request, kind: str, entry_id: uuid.UUID) -> Response:
        kind = _kind_or_404(kind)
        entry = selectors.entry_get(user=me(request), kind=kind, entry_id=entry_id)
        return Response(selectors.entry_to_dict(kind, entry))

    @extend_schema(
        parameters=[KIND_PARAM, CLIENT_TIME],
        request=PolymorphicProxySerializer(
            component_name="JournalEntryInput",
            serializers=list(INPUT_SERIALIZERS.values()),
            resource_type_field_name=None,
        ),
        responses={200: UpsertResultSerializer, 201: UpsertResultSerializer},
        summary="Create or update an entry by its client UUID (idempotent)",
        description=(
            "Sending the same body twice stores one entry and gives the same answer. An edit "
            "whose client_updated_at is older than the stored one is not applied "
            "(result 'stale', the stored entry is returned): the latest edit wins. The same "
            "holds for a deletion: an edit made before the entry was deleted is 'stale' (no "
            "entry returned) and it stays deleted; one made after it creates it again. After "
            "a consent was withdrawn with deletion of its entries, an entry of that category "
            "made before the withdrawal (by client_updated_at) is 'stale' (no entry returned) "
            "and not stored, even once the consent is granted again. A change whose "
            "client_updated_at is older than the retention period (RETENTION_MONTHS) creates no "
            "entry ('stale', no entry returned): a deletion that overruled it may have been "
            "purged since. An entry whose occurred_at is older than the retention period is "
            "refused (400 naming occurred_at and the earliest minute allowed): it would not be "
            "kept."
        ),
    )
    def put(self, request: Request, kind: str, entry_id: uuid.UUID) -> Response:
        kind = _kind_or_404(kind)
        _check_client_clock(request)
        values = validate_with(INPUT_SERIALIZERS[kind], request.data)
        outcome = services.entry_upsert(
            user=me(request),
            item=services.EntryInput(
                kind=kind,
                id=entry_id,
                values=dict(values),
                request_hash=request_fingerprint(kind, entry_id, request.data),
            ),
            window=write_window(),
        )
        return Response(_outcome_body(outcome), status=outcome.status)

    @extend_schema(
        parameters=[KIND_PARAM, DeleteQuerySerializer, CLIENT_TIME],
        responses={204: None},
        summary="Delete an entry",
        description=(
            "Last write wins for deletions too, by the phone's clock: a deletion older than the "
            "entry's last edit (its client_updated_at) is refused with 409 and the entry kept; "
            "an edit older than the deletion that arrives later is answered 'stale'."
        ),
    )
    def delete(self, request: Request, kind: str, entry_id: uuid.UUID) -> Response:
        kind = _kind_or_404(kind)
        _check_client_clock(request)
        query = validate_with(DeleteQuerySerializer, request.query_params)
        services.entry_delete(
            user=me(request),
            kind=kind,
            entry_id=entry_id,
            window=write_window(),
            deleted_at=query.get("deleted_at"),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class BatchApi(APIView):
    @extend_schema(
        parameters=[CLIENT_TIME],
        request=BatchInSerializer,
        responses=BatchOutSerializer,
        summary="Sync up to 500 queued entries of mixed kinds; answers per item",
        description=(
            "Each item is {kind, id, ...fields of that kind}. Results come in the order of the "
            "items: created / updated / unchanged / stale / rejected (with status, detail and "
            "errors). A rejected item writes nothing and does not block the others. An item "
            "whose occurred_at is older than the retention period is rejected (400), as by PUT."
        ),
    )
    def post(self, request: Request) -> Response:
        _check_client_clock(request)
        envelope = BatchInSerializer(data=request.data)
        envelope.is_valid(raise_exception=True)
        raw_items: list[dict[str, Any]] = envelope.validated_data["items"]
        parsed: list[services.EntryInput] = []
        results: list[dict[str, Any] | None] = [None] * len(raw_items)
        positions: list[int] = []
        for index, raw in enumerate(raw_items):
            fields = {k: v for k, v in raw.items() if k not in ("kind", "id")}
            try:
                item_head = validate_with(
                    BatchItemSerializer, {k: raw[k] for k in ("kind", "id") if k in raw}
                )
                kind, entry_id = item_head["kind"], item_head["id"]
                values = validate_with(INPUT_SERIALIZERS[kind], fields)
            except ValidationError as exc:
                results[index] = _rejected(index, raw, exc.detail)
                continue
            positions.append(index)
            parsed.append(
                services.EntryInput(
                    kind=kind,
                    id=entry_id,
                    values=dict(values),
                    request_hash=request_fingerprint(kind, entry_id, fields),
                )
            )
        outcomes = services.entries_upsert(user=me(request), items=parsed, window=write_window())
        for index, outcome in zip(positions, outcomes, strict=True):
            item: dict[str, Any] = {
                **outcome.extra,
                "index": index,
                "id": str(outcome.id),
                "kind": outcome.kind,
                "status": outcome.status,
                **_outcome_body(outcome),
            }
            if outcome.result == "rejected":
                item["errors"] = outcome.errors
                item["code"] = outcome.code or services.CODE_FOR_STATUS.get(
                    outcome.status, "invalid"
                )
            results[index] = item
        counts: dict[str, int] = {}
        for row in results:
            assert row is not None
            counts[row["result"]] = counts.get(row["result"], 0) + 1
        return Response({"results": results, "counts": counts})


def _rejected(index: int, raw: dict[str, Any], errors: Any) -> dict[str, Any]:
    flat = flatten_errors(errors)
    first = next(iter(flat.items()))
    return {
        "index": index,
        "id": str(raw.get("id")) if raw.get("id") is not None else None,
        "kind": raw.get("kind") if isinstance(raw.get("kind"), str) else None,
        "result": "rejected",
        "status": 400,
        "code": "invalid",
        "detail": f"{first[0]}: {first[1][0]}",
        "errors": flat,
    }


class CheckinApi(APIView):
    @extend_schema(
        parameters=[CLIENT_TIME],
        request=CheckinInSerializer,
        responses={200: CheckinOutSerializer, 201: CheckinOutSerializer},
        summary="Quick check-in: energy now, plus last night's sleep and last evening's drinks",
    )
    def post(self, request: Request) -> Response:
        _check_client_clock(request)
        data = validate_with(CheckinInSerializer, request.data)
        outcomes = services.quick_checkin(
            user=me(request),
            data=dict(data),
            request_hash=request_fingerprint("checkin", "", request.data),
            window=write_window(),
        )
        created = any(o.result == "created" for o in outcomes.values())
        return Response(
            {name: _outcome_body(o) for name, o in outcomes.items()},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


def _day_view_etag(user: Any, version: int, date_from: dt.date, date_to: dt.date) -> str:
    state = f"{user.pk}:{version}:{date_from}:{date_to}"
    return f'"{version}-{hashlib.sha256(state.encode()).hexdigest()[:32]}"'


def _phone_version(request: Request, user: Any, date_from: dt.date, date_to: dt.date) -> int | None:
    """The journal version of the day view the phone holds, from its If-None-Match (only an
    ETag this rep got for this range counts; anything else is no version)."""
    for tag in parse_etags(request.headers.get("If-None-Match", ""))[:4]:
        # If-None-Match compares weakly (RFC 9110 13.1.2): a proxy that compressed the body
        # may have marked the ETag weak.
        etag = tag.removeprefix("W/")
        head = etag.strip('"').partition("-")[0]
        # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
        if not (head.isascii() and head.isdigit()) or len(head) > 18:
            continue
        version = int(head)
        if etag == _day_view_etag(user, version, date_from, date_to):
            return version
    return None


class DayViewApi(APIView):
    @extend_schema(
        parameters=[DayViewQuerySerializer],
        responses=DayViewOutSerializer,
        summary="All my entries grouped by local day (default: the last 90 days)",
        description=(
            "Without date_to the view ends on the latest date an entry can have: the date at "
            "UTC+14 ten minutes from now, as entry times may be up to 10 minutes ahead of the "
            "server's clock."
        ),
    )
    def get(self, request: Request) -> HttpResponse:
        # Home's calendar day, not the boundary-shifted local day: a night woken from at 03:30
        # already belongs to today. Up to the latest date anywhere, not home's: a rep who flew
        # east logs entries dated ahead of home (07:00 in Tokyo is still the day before in
        # Amsterdam), and no entry's local_date is later than that. Measured from the latest
        # time an entry may have (up to FUTURE_TOLERANCE ahead): a night woken from a few minutes
        # ahead, just past midnight at UTC+14, is dated the next day there.
        user = me(request)
        now = timezone.now()
        date_from, date_to = day_view_range(
            request.query_params,
            today=calendar_date(user, now),
            latest=latest_date(now + services.FUTURE_TOLERANCE),
        )
        # The journal version names everything the view shows: its ETag carries the version, so
        # a repeat read is one small query, then a 304 (the phone has it) or the cached JSON.
        version, days_json = selectors.day_view_state(
            user=user,
            date_from=date_from,
            date_to=date_to,
            phone_version=_phone_version(request, user, date_from, date_to),
        )
        headers = {
            "ETag": _day_view_etag(user, version, date_from, date_to),
            "Cache-Control": "private, no-cache",
            "Vary": "Cookie, Authorization",
        }
        if days_json is None:
            return HttpResponse(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
        span = (date_to - date_from).days + 1
        previous_to = date_from - dt.timedelta(days=1)
        previous = request.build_absolute_uri(
            request.path
            + "?"
            + urlencode(
                {
                    "date_from": (previous_to - dt.timedelta(days=span - 1)).isoformat(),
                    "date_to": previous_to.isoformat(),
                }
            )
        )
        head = {
            "date_from": date_from.isoformat(),
            "date_to": date_to.isoformat(),
            "previous": previous,
        }
        return HttpResponse(
            selectors.render_day_view(head, days_json),
            content_type="application/json",
            headers=headers,
        )
