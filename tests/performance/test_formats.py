"""The CSV/JSON parsing rules, through the public functions of apps.performance.formats."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from apps.performance.formats import (
    FORMATS,
    FileRejected,
    RowRejected,
    call_outcome,
    extract_email,
    meeting_status,
    open_text,
    parse_amount_minor,
    parse_bool,
    parse_duration,
    parse_instant,
    parse_row,
    parse_webhook_activity,
    read_header,
    sniff_text_start,
)


def _header(spec_name: str, line: str, column_map: dict[str, str] | None = None) -> object:
    text = open_text(io.BytesIO(line.encode()))
    try:
        return read_header(text, FORMATS[spec_name], column_map or {}, owner_required=True)
    finally:
        text.detach()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-20T09:30:00+01:00", dt.datetime(2026, 11, 20, 8, 30, tzinfo=dt.UTC)),
        ("2026-11-20T09:30:00.000+0000", dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)),
        ("2026-11-20T09:30:00Z", dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)),
        ("1794909600000", dt.datetime(2026, 11, 17, 10, 0, tzinfo=dt.UTC)),
        ("1794909600", dt.datetime(2026, 11, 17, 10, 0, tzinfo=dt.UTC)),
    ],
)
def test_instants_with_an_offset_or_epoch_are_aware(raw: str, expected: dt.datetime) -> None:
    instant, day = parse_instant("occurred_at", raw)
    assert day is None
    assert instant == expected


def test_local_wall_times_stay_naive_and_bare_dates_are_days() -> None:
    instant, day = parse_instant("occurred_at", "2026-11-17 14:00")
    assert instant == dt.datetime(2026, 11, 17, 14, 0) and instant.tzinfo is None
    assert day is None
    assert parse_instant("occurred_at", "2026-11-18") == (None, dt.date(2026, 11, 18))


@pytest.mark.parametrize("raw", ["20/11/2026 09:00", "yesterday", "", "1899-01-01T00:00:00Z"])
def test_unreadable_dates_are_rejected_with_the_column(raw: str) -> None:
    with pytest.raises(RowRejected) as caught:
        parse_instant("occurred_at", raw)
    assert caught.value.column == "occurred_at"
    assert caught.value.reason


def test_durations() -> None:
    assert parse_duration("d", "360000", unit_ms=True) == 360
    assert parse_duration("d", "185", unit_ms=False) == 185
    assert parse_duration("d", "0:03:05", unit_ms=False) == 185
    assert parse_duration("d", "", unit_ms=False) == 0
    for bad, reason in (("-5", "negative"), ("-0:01:00", "negative"), ("90000", "24 hours")):
        with pytest.raises(RowRejected, match=reason):
            parse_duration("d", bad, unit_ms=False)
    with pytest.raises(RowRejected, match="number"):
        parse_duration("d", "five", unit_ms=False)


def test_amounts_in_minor_units_follow_the_currency() -> None:
    assert parse_amount_minor("v", "12500.00", "EUR") == 1_250_000
    assert parse_amount_minor("v", "3000,5", "EUR") == 300_050
    assert parse_amount_minor("v", "1500", "JPY") == 1500
    assert parse_amount_minor("v", "1.250", "KWD") == 1250
    assert parse_amount_minor("v", "", "EUR") == 0
    with pytest.raises(RowRejected, match="decimals"):
        parse_amount_minor("v", "1,234", "EUR")
    with pytest.raises(RowRejected, match="thousands"):
        parse_amount_minor("v", "1,234,567.00", "EUR")
    with pytest.raises(RowRejected, match="negative"):
        parse_amount_minor("v", "-10", "EUR")


def test_call_outcomes() -> None:
    assert call_outcome("o", "f240bbac-87c9-4f6e-bf70-924b57d47db7", 0, strict=False) == (
        "connected",
        True,
    )
    assert call_outcome("o", "73a0d17f-1163-4015-bdd5-ec830791da20", 0, strict=False) == (
        "no answer",
        False,
    )
    assert call_outcome("o", "Left Voicemail", 30, strict=False) == ("left voicemail", False)
    assert call_outcome("o", "Meeting booked", 300, strict=False) == ("meeting booked", True)
    # No outcome at all: a call with talk time counts as connected.
    assert call_outcome("o", "", 40, strict=False) == ("", True)
    assert call_outcome("o", "", 0, strict=False) == ("", False)
    assert call_outcome("o", "no_answer", 0, strict=True) == ("no_answer", False)
    with pytest.raises(RowRejected):
        call_outcome("o", "Connected!", 0, strict=True)


def test_meeting_status_words_and_booleans() -> None:
    assert meeting_status("s", "COMPLETED") == "held"
    assert meeting_status("s", "No Show") == "no_show"
    assert meeting_status("s", "CANCELED") == "cancelled"
    with pytest.raises(RowRejected):
        meeting_status("s", "maybe")
    assert parse_bool("b", "Ja") is True
    assert parse_bool("b", "") is False
    with pytest.raises(RowRejected):
        parse_bool("b", "perhaps")


def test_owner_email_is_found_inside_a_name() -> None:
    assert extract_email("owner_email", "Bram Berg (Bram@Acme.test)") == "bram@acme.test"
    with pytest.raises(RowRejected):
        extract_email("owner_email", "Bram Berg")


def test_header_finds_aliases_mapped_columns_and_semicolons() -> None:
    header = _header(
        "hubspot_meetings",
        "Record ID;Meeting start time;Outcome;Owner email;Budget OK\n",
        {"budget": "Budget OK"},
    )
    assert header.delimiter == ";"  # type: ignore[attr-defined]
    assert header.positions["budget"] == 4  # type: ignore[attr-defined]


def test_header_names_every_missing_column() -> None:
    with pytest.raises(FileRejected) as caught:
        _header("hubspot_calls", "hs_object_id,hs_call_duration\n")
    message = caught.value.reason
    assert "occurred_at" in message and "disposition" in message and "owner_email" in message


def test_a_mapped_column_that_is_not_in_the_file_is_named() -> None:
    with pytest.raises(FileRejected) as caught:
        _header(
            "energytrack",
            "kind,external_id,occurred_at,owner_email\n",
            {"budget": "BANT B"},
        )
    assert "BANT B" in caught.value.errors["column_map"][0]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"\xff\xfek\x00i\x00n\x00d\x00", "UTF-16"),
        (b"kind,owner\ncall,jos\xe9@x.test\n", "not UTF-8"),
    ],
)
def test_files_that_are_not_utf8_text_are_refused_up_front(raw: bytes, reason: str) -> None:
    with pytest.raises(FileRejected, match=reason):
        sniff_text_start(raw)


def test_rows_with_too_many_cells_or_stray_bytes_are_rejected() -> None:
    spec = FORMATS["energytrack"]
    raw = b"kind,external_id,occurred_at,owner_email\n"
    text = open_text(io.BytesIO(raw))
    header = read_header(text, spec, {}, owner_required=False)
    text.detach()
    with pytest.raises(RowRejected, match="unquoted"):
        parse_row(spec, header, ["call", "x", "2026-11-20T09:00:00Z", "a@b.test", "extra"])
    with pytest.raises(RowRejected, match="not UTF-8") as caught:
        parse_row(spec, header, ["call", "x", "2026-11-20T09:00:00Z", "jos\udce9@b.test"])
    assert caught.value.column == "owner_email"


def test_webhook_activities_are_typed_strictly() -> None:
    call = parse_webhook_activity(
        {
            "kind": "call",
            "external_id": 42,
            "owner_email": "anna@acme.test",
            "occurred_at": "2026-11-20T09:00:00+01:00",
            "duration_seconds": 300,
            "outcome": "connected",
        }
    )
    assert (call.external_id, call.connected, call.duration_seconds) == ("42", True, 300)
    with pytest.raises(RowRejected, match="offset"):
        parse_webhook_activity(
            {
                "kind": "call",
                "external_id": "x",
                "owner_email": "a@b.test",
                "occurred_at": "2026-11-20T09:00:00",
                "outcome": "connected",
            }
        )
    with pytest.raises(RowRejected) as caught:
        parse_webhook_activity(
            {
                "kind": "meeting",
                "external_id": "x",
                "owner_email": "a@b.test",
                "occurred_at": "2026-11-20T09:00:00Z",
                "status": "held",
                "budget": "yes",
            }
        )
    assert caught.value.column == "budget"
    with pytest.raises(RowRejected, match="negative"):
        parse_webhook_activity(
            {
                "kind": "meeting",
                "external_id": "x",
                "owner_email": "a@b.test",
                "occurred_at": "2026-11-20T09:00:00Z",
                "status": "held",
                "deal_value_cents": -1,
            }
        )
