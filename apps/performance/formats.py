"""The CSV formats we read (HubSpot, Salesforce, our own) and the webhook activity shape.

Turns one CSV row or one JSON activity into an :class:`Activity`, or raises
:class:`RowRejected` naming the column and a reason a person understands. Pure parsing: no ORM,
no HTTP, no settings; the columns are documented in docs/import-format.md.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from apps.performance.currencies import MINOR_UNIT_EXPONENT

MAX_DURATION_SECONDS = 24 * 60 * 60
# Meeting.deal_value_cents is a BigIntegerField (at most 2**63 - 1): far above this cap.
MAX_DEAL_VALUE_MINOR = 10**13
MAX_TEXT = 128
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_AMOUNT_RE = re.compile(r"(\d+)(?:[.,](\d+))?")
_SPACES = re.compile(r"[\s_\-]+")

CALL_FIELDS = ("duration", "disposition")
MEETING_FIELDS = (
    "status",
    "decision_maker_present",
    "budget",
    "authority",
    "need",
    "timeline",
    "deal_value",
    "currency",
)


class RowRejected(Exception):
    """One row cannot be imported; ``column`` is the canonical field it is about."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


class FileRejected(Exception):
    """The whole file cannot be read (encoding, header, CSV syntax)."""

    def __init__(self, reason: str, *, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.errors = errors or {"file": [reason]}


@dataclass
class Activity:
    """One call or meeting as read from the outside world, before the rep is resolved."""

    kind: str  # "call" | "meeting"
    external_id: str
    owner_email: str = ""
    # Aware, or naive when the file gave a local wall time (resolved in the rep's zone).
    occurred_at: dt.datetime | None = None
    # Set instead of occurred_at when the file gave only a date (Salesforce ActivityDate).
    on_date: dt.date | None = None
    tz: str = ""
    duration_seconds: int = 0
    disposition: str = ""
    connected: bool = False
    status: str = ""
    decision_maker_present: bool = False
    budget: bool = False
    authority: bool = False
    need: bool = False
    timeline: bool = False
    # Major-unit text from a CSV ("1234.50") or minor units from JSON; resolved with currency.
    deal_value_text: str = ""
    deal_value_cents: int | None = None
    currency: str = ""
    # For Salesforce Task reports: False when the row is not a call (an e-mail, a to-do).
    is_call_row: bool = True


@dataclass(frozen=True)
class FormatSpec:
    name: str
    kind: str | None  # None: the row's "kind" column says
    columns: Mapping[str, tuple[str, ...]]
    required: tuple[str, ...]
    duration_unit_ms: bool = False
    # How an empty/absent meeting status is read: "scheduled", or "by_time" (past = held).
    missing_status: str = "scheduled"
    strict_outcome: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)


_BANT_DEFAULTS: dict[str, tuple[str, ...]] = {
    "decision_maker_present": (
        "decision_maker_present",
        "Decision maker present",
        "Decision_Maker_Present__c",
    ),
    "budget": ("budget", "bant_budget", "Budget", "Budget__c"),
    "authority": ("authority", "bant_authority", "Authority", "Authority__c"),
    "need": ("need", "bant_need", "Need", "Need__c"),
    "timeline": ("timeline", "bant_timeline", "Timeline", "Timeline__c"),
    "deal_value": ("deal_value", "Deal value", "Deal_Value__c", "amount", "Amount"),
    "currency": ("currency", "Currency", "deal_currency_code", "CurrencyIsoCode"),
}
_HUBSPOT_OWNER = ("hubspot_owner_email", "owner_email", "Owner email", "Activity assigned to")
_SALESFORCE_OWNER = ("Owner.Email", "Owner Email", "Assigned To Email", "Assigned Email")

FORMATS: dict[str, FormatSpec] = {
    "hubspot_calls": FormatSpec(
        name="hubspot_calls",
        kind="call",
        columns={
            "external_id": ("hs_object_id", "Record ID", "Call ID"),
            "occurred_at": ("hs_timestamp", "Activity date", "Call date"),
            "duration": ("hs_call_duration", "Call duration"),
            "disposition": ("hs_call_disposition", "Call outcome"),
            "owner_email": _HUBSPOT_OWNER,
        },
        required=("external_id", "occurred_at", "disposition"),
        duration_unit_ms=True,
    ),
    "hubspot_meetings": FormatSpec(
        name="hubspot_meetings",
        kind="meeting",
        columns={
            "external_id": ("hs_object_id", "Record ID", "Meeting ID"),
            "occurred_at": ("hs_meeting_start_time", "hs_timestamp", "Meeting start time"),
            "status": ("hs_meeting_outcome", "Meeting outcome", "Outcome"),
            "owner_email": _HUBSPOT_OWNER,
            **_BANT_DEFAULTS,
        },
        required=("external_id", "occurred_at", "status"),
    ),
    "salesforce_tasks": FormatSpec(
        name="salesforce_tasks",
        kind="call",
        columns={
            "external_id": ("Id", "Activity ID", "Task ID"),
            "occurred_at": ("ActivityDateTime", "CompletedDateTime", "ActivityDate", "Date"),
            "duration": ("CallDurationInSeconds", "Call Duration", "Call Duration (seconds)"),
            "disposition": ("CallDisposition", "Call Result", "Call Disposition"),
            "task_type": ("TaskSubtype", "Task Subtype", "Type"),
            "owner_email": _SALESFORCE_OWNER,
        },
        required=("external_id", "occurred_at", "duration"),
    ),
    "salesforce_events": FormatSpec(
        name="salesforce_events",
        kind="meeting",
        columns={
            "external_id": ("Id", "Activity ID", "Event ID"),
            "occurred_at": ("ActivityDateTime", "StartDateTime", "Start", "Start Date Time"),
            "status": ("Outcome__c", "Meeting_Outcome__c", "Outcome"),
            "owner_email": _SALESFORCE_OWNER,
            **_BANT_DEFAULTS,
        },
        required=("external_id", "occurred_at"),
        missing_status="by_time",
    ),
    "energytrack": FormatSpec(
        name="energytrack",
        kind=None,
        columns={
            "kind": ("kind",),
            "external_id": ("external_id",),
            "owner_email": ("owner_email",),
            "occurred_at": ("occurred_at",),
            "tz": ("tz",),
            "duration": ("duration_seconds",),
            "disposition": ("outcome",),
            "status": ("status",),
            "decision_maker_present": ("decision_maker_present",),
            "budget": ("budget",),
            "authority": ("authority",),
            "need": ("need",),
            "timeline": ("timeline",),
            "deal_value": ("deal_value",),
            "currency": ("currency",),
        },
        required=("kind", "external_id", "occurred_at"),
        strict_outcome=True,
    ),
}

# HubSpot stores call outcomes as GUIDs; these are its default outcomes.
HUBSPOT_DISPOSITIONS = {
    "f240bbac-87c9-4f6e-bf70-924b57d47db7": "connected",
    "73a0d17f-1163-4015-bdd5-ec830791da20": "no answer",
    "9d9162e7-6cf3-4944-bf63-4dff82258764": "busy",
    "b2cf5968-551e-4856-9783-52b3da59a7d0": "left voicemail",
    "a4c4c377-d246-4b32-a13b-75a56a4cd0ff": "left live message",
    "17b47fee-58de-441e-a44c-c6300d46f273": "wrong number",
}
NOT_CONNECTED = frozenset(
    {
        "no answer",
        "noanswer",
        "busy",
        "voicemail",
        "left voicemail",
        "left message",
        "left live message",
        "wrong number",
        "bad number",
        "invalid number",
        "failed",
        "not connected",
        "unreachable",
        "disconnected",
        "canceled",
        "cancelled",
        "no contact",
    }
)
ENERGYTRACK_OUTCOMES = {
    "connected": True,
    "no_answer": False,
    "busy": False,
    "voicemail": False,
    "wrong_number": False,
    "not_connected": False,
}
MEETING_STATUS_WORDS = {
    "held": "held",
    "completed": "held",
    "complete": "held",
    "done": "held",
    "occurred": "held",
    "no show": "no_show",
    "noshow": "no_show",
    "no_show": "no_show",
    "canceled": "cancelled",
    "cancelled": "cancelled",
    "rescheduled": "rescheduled",
    "scheduled": "scheduled",
    "planned": "scheduled",
    "booked": "scheduled",
}
_TRUE = frozenset({"true", "yes", "y", "1", "x", "ja", "j", "waar", "✓", "checked"})
_FALSE = frozenset({"false", "no", "n", "0", "nee", "onwaar", ""})


# --- value parsers ---------------------------------------------------------------------------


def parse_bool(column: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if value is not None else ""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise RowRejected(column, "Use true/false (or yes/no, 1/0).")


def parse_instant(column: str, value: Any) -> tuple[dt.datetime | None, dt.date | None]:
    """An instant (aware or naive) or a bare date; epoch numbers are seconds or milliseconds."""
    text = str(value).strip() if value is not None else ""
    if not text:
        raise RowRejected(column, "The date/time is missing.")
    # ASCII only: str.isdigit() also takes "²", which int() refuses (ValueError).
    if text.isascii() and text.isdigit():
        # Seconds or milliseconds until 2100 have at most 13 digits; int() refuses more than
        # 4,300 (ValueError).
        if len(text) > 13:
            raise RowRejected(column, "The epoch timestamp is out of range.")
        number = int(text)
        seconds = number / 1000 if len(text) >= 12 else number
        try:
            instant = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
        except (OverflowError, OSError, ValueError):
            raise RowRejected(column, "The epoch timestamp is out of range.") from None
        _check_year(column, instant.year)
        return instant, None
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            _check_year(column, day.year)
            return None, day
        instant = dt.datetime.fromisoformat(text)
    except ValueError:
        raise RowRejected(
            column,
            "Not a date/time we can read; use ISO 8601, e.g. 2026-11-20T09:30:00+01:00.",
        ) from None
    _check_year(column, instant.year)
    return instant, None


def _check_year(column: str, year: int) -> None:
    if year < 2000 or year > 2100:
        raise RowRejected(column, "The year must be between 2000 and 2100.")


def parse_duration(column: str, value: Any, *, unit_ms: bool) -> int:
    """Seconds from milliseconds/seconds, or from H:MM:SS / M:SS."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise RowRejected(column, "The duration must be a number.")
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond any float: far more than 24 hours
            raise RowRejected(column, "The duration is longer than 24 hours.") from None
    else:
        text = str(value).strip()
        if not text:
            return 0
        if ":" in text:
            return _clock_duration(column, text)
        try:
            number = float(text.replace(",", "."))
        except ValueError:
            raise RowRejected(column, "The duration must be a number.") from None
    if number != number:  # NaN
        raise RowRejected(column, "The duration must be a number.")
    if number < 0:
        raise RowRejected(column, "The duration is negative.")
    seconds = number / 1000 if unit_ms else number
    if seconds > MAX_DURATION_SECONDS:
        raise RowRejected(column, "The duration is longer than 24 hours.")
    return round(seconds)


def _clock_duration(column: str, text: str) -> int:
    if text.startswith("-"):
        raise RowRejected(column, "The duration is negative.")
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(p.isascii() and p.isdigit() for p in parts):
        raise RowRejected(column, "Use a number of seconds or H:MM:SS for the duration.")
    # int() refuses more than 4,300 digits (ValueError); 24 hours never needs more than 5.
    if any(len(p) > 6 for p in parts):
        raise RowRejected(column, "The duration is longer than 24 hours.")
    numbers = [int(p) for p in parts]
    while len(numbers) < 3:
        numbers.insert(0, 0)
    seconds = numbers[0] * 3600 + numbers[1] * 60 + numbers[2]
    if seconds > MAX_DURATION_SECONDS:
        raise RowRejected(column, "The duration is longer than 24 hours.")
    return seconds


def parse_currency(column: str, value: Any) -> str:
    text = str(value).strip().upper() if value is not None else ""
    if text and text not in MINOR_UNIT_EXPONENT:
        raise RowRejected(column, "Not an ISO 4217 currency code (e.g. EUR, USD, GBP).")
    return text


def parse_amount_minor(column: str, text: str, currency: str) -> int:
    """Major units ("1234.50" or "1234,50") to minor units of ``currency``."""
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "").replace("_", "")
    if not cleaned:
        return 0
    if cleaned.startswith("-"):
        raise RowRejected(column, "The deal value is negative.")
    match = _AMOUNT_RE.fullmatch(cleaned)
    if match is None:
        raise RowRejected(
            column, "Not an amount; write e.g. 12500.00 without thousands separators."
        )
    exponent = MINOR_UNIT_EXPONENT.get(currency, 2)
    fraction = match.group(2) or ""
    if len(fraction) > exponent:
        raise RowRejected(
            column,
            f"More than {exponent} decimals for {currency or 'this currency'}; "
            "remove thousands separators.",
        )
    whole = match.group(1).lstrip("0")
    # More whole digits than the cap has is over the cap in any currency; checked before int(),
    # which refuses more than 4,300 digits (ValueError).
    if len(whole) > len(str(MAX_DEAL_VALUE_MINOR)):
        raise RowRejected(column, "The deal value is implausibly large.")
    minor = int(whole or "0") * 10**exponent + int(fraction.ljust(exponent, "0") or "0")
    if minor > MAX_DEAL_VALUE_MINOR:
        raise RowRejected(column, "The deal value is implausibly large.")
    return minor


def normalise_label(value: str) -> str:
    return _SPACES.sub(" ", value.strip().lower())


def call_outcome(column: str, raw: str, duration_seconds: int, *, strict: bool) -> tuple[str, bool]:
    """(label, connected) for a CRM call outcome."""
    text = raw.strip()
    if strict:
        key = text.lower()
        if key not in ENERGYTRACK_OUTCOMES:
            raise RowRejected(column, f"Use one of: {', '.join(ENERGYTRACK_OUTCOMES)}.")
        return key, ENERGYTRACK_OUTCOMES[key]
    label = HUBSPOT_DISPOSITIONS.get(text.lower(), normalise_label(text))[:64]
    if not label or re.fullmatch(r"[0-9a-f]{8}-[0-9a-f-]{27}", label):
        # No outcome, or a custom CRM outcome id we cannot read: a call with talk time connected.
        return label, duration_seconds > 0
    return label, label not in NOT_CONNECTED


def meeting_status(column: str, raw: str) -> str:
    key = normalise_label(raw)
    status = MEETING_STATUS_WORDS.get(key) or MEETING_STATUS_WORDS.get(key.replace(" ", ""))
    if status is None:
        raise RowRejected(
            column,
            "Unknown meeting outcome; use held, no_show, cancelled, rescheduled or scheduled.",
        )
    return status


def extract_email(column: str, value: Any) -> str:
    text = str(value).strip() if value is not None else ""
    if not text:
        return ""
    match = EMAIL_RE.search(text)
    if match is None:
        raise RowRejected(column, "No e-mail address in this cell.")
    return match.group(0).lower()


# --- CSV files -------------------------------------------------------------------------------


@dataclass
class Header:
    """Where each canonical field is in the file."""

    names: list[str]
    positions: dict[str, int]
    delimiter: str


def sniff_text_start(raw: bytes) -> None:
    """Refuse what is clearly not a UTF-8 text file, from its first bytes."""
    if not raw.strip():
        raise FileRejected("The file is empty.")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileRejected(
            "The file is UTF-16 encoded; save it as 'CSV UTF-8 (comma delimited)' and try again."
        )
    if b"\x00" in raw:
        raise FileRejected("The file contains NUL bytes; it does not look like a CSV text file.")
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        decoder.decode(raw, final=False)
    except UnicodeDecodeError as exc:
        raise FileRejected(
            "The file is not UTF-8 encoded (it looks like Windows-1252/Latin-1, as older Excel "
            f"versions save it; first bad byte at position {exc.start}). Save it as "
            "'CSV UTF-8 (comma delimited)' and try again."
        ) from None


def open_text(binary: IO[bytes]) -> io.TextIOWrapper:
    # surrogateescape keeps reading past a stray non-UTF-8 byte; the row is then rejected.
    return io.TextIOWrapper(binary, encoding="utf-8-sig", errors="surrogateescape", newline="")


def read_header(
    text: IO[str], spec: FormatSpec, column_map: Mapping[str, str], *, owner_required: bool
) -> Header:
    first_line = text.readline()
    if not first_line.strip():
        raise FileRejected("The file has no header row.")
    delimiter = _delimiter(first_line)
    try:
        names = [name.strip() for name in next(csv.reader([first_line], delimiter=delimiter))]
    except csv.Error as exc:  # e.g. a field over the csv module's 128 KiB limit
        raise FileRejected(f"The header row is not valid CSV: {exc}.") from None
    if _has_surrogates("".join(names)):
        raise FileRejected("The header row is not UTF-8 text; save the file as 'CSV UTF-8'.")
    if "\x00" in first_line:
        raise FileRejected("The header row contains NUL bytes; it is not CSV text.")
    lookup: dict[str, int] = {}
    for index, name in enumerate(names):
        lookup.setdefault(name.lower(), index)
    positions: dict[str, int] = {}
    errors: dict[str, list[str]] = {}
    for canonical, header in column_map.items():
        if canonical not in spec.columns:
            errors.setdefault("column_map", []).append(
                f"'{canonical}' is not a field of the {spec.name} format."
            )
        elif header.strip().lower() not in lookup:
            errors.setdefault("column_map", []).append(
                f"The column '{header}' mapped to '{canonical}' is not in the file."
            )
        else:
            positions[canonical] = lookup[header.strip().lower()]
    for canonical, aliases in spec.columns.items():
        if canonical in positions or canonical in column_map:
            continue
        for alias in aliases:
            if alias.lower() in lookup:
                positions[canonical] = lookup[alias.lower()]
                break
    required = [*spec.required, *(["owner_email"] if owner_required else [])]
    missing = [name for name in required if name not in positions]
    if missing:
        errors["file"] = [
            "Missing column(s): "
            + "; ".join(f"{name} (e.g. '{spec.columns[name][0]}')" for name in missing)
            + ". Name them as documented or map them with column_map."
        ]
    if errors:
        raise FileRejected(
            errors.get("file", errors.get("column_map", ["Invalid columns."]))[0], errors=errors
        )
    return Header(names=names, positions=positions, delimiter=delimiter)


def _delimiter(line: str) -> str:
    # Dutch Excel writes ";" separated files; pick the separator that splits the header most.
    counts = {sep: line.count(sep) for sep in (",", ";", "\t")}
    return max(counts, key=lambda sep: counts[sep]) if any(counts.values()) else ","


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def iter_rows(text: IO[str], header: Header) -> Iterator[tuple[int, list[str]]]:
    """(row number as a spreadsheet shows it, cells); the header is row 1. Blank lines skip."""
    reader = csv.reader(text, delimiter=header.delimiter)
    row_number = 1
    try:
        for cells in reader:
            row_number += 1
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            yield row_number, cells
    except csv.Error as exc:
        raise FileRejected(f"The file is not valid CSV near row {row_number + 1}: {exc}.") from None


def count_rows(text: IO[str], header: Header) -> int:
    return sum(1 for _ in iter_rows(text, header))


def parse_row(spec: FormatSpec, header: Header, cells: list[str]) -> Activity | None:
    """One CSV row to an Activity; None for a row that is not an activity we track."""
    if len(cells) > len(header.names):
        raise RowRejected(
            "",
            f"The row has {len(cells)} values but the header has {len(header.names)}; "
            "a value probably contains an unquoted separator.",
        )
    if _has_surrogates("".join(cells)):
        bad = next((i for i, cell in enumerate(cells) if _has_surrogates(cell)), 0)
        raise RowRejected(
            _canonical_for(header, bad),
            "The row contains bytes that are not UTF-8; save the file as 'CSV UTF-8'.",
        )
    # The file's start was checked for NUL bytes (sniff_text_start); a later row is checked
    # here, as PostgreSQL cannot store one in text.
    if any("\x00" in c for c in cells):
        bad = next(i for i, c in enumerate(cells) if "\x00" in c)
        raise RowRejected(_canonical_for(header, bad), "The row contains a NUL byte.")
    positions = header.positions
    if len(cells) < len(header.names):
        cells = cells + [""] * (len(header.names) - len(cells))
    cell = {name: cells[index] for name, index in positions.items()}.get

    kind = spec.kind
    if kind is None:
        kind = cell("kind", "").strip().lower()
        if kind not in ("call", "meeting"):
            raise RowRejected("kind", "Use 'call' or 'meeting'.")
    external_id = cell("external_id", "").strip()
    if not external_id:
        raise RowRejected("external_id", "The id of the activity in the CRM is missing.")
    if len(external_id) > MAX_TEXT:
        raise RowRejected("external_id", f"The id is longer than {MAX_TEXT} characters.")
    activity = Activity(kind=kind, external_id=external_id)
    activity.owner_email = extract_email("owner_email", cell("owner_email", ""))
    activity.occurred_at, activity.on_date = parse_instant("occurred_at", cell("occurred_at", ""))
    activity.tz = cell("tz", "").strip()
    if kind == "call":
        if "task_type" in positions:
            task_type = normalise_label(cell("task_type", ""))
            if task_type and task_type != "call":
                activity.is_call_row = False
                return activity
        activity.duration_seconds = parse_duration(
            "duration", cell("duration", ""), unit_ms=spec.duration_unit_ms
        )
        if spec.strict_outcome and not cell("disposition", "").strip():
            raise RowRejected("disposition", "The call outcome is missing.")
        activity.disposition, activity.connected = call_outcome(
            "disposition",
            cell("disposition", ""),
            activity.duration_seconds,
            strict=spec.strict_outcome,
        )
        return activity
    raw_status = cell("status", "").strip()
    if raw_status:
        activity.status = meeting_status("status", raw_status)
    elif spec.strict_outcome:
        raise RowRejected("status", "The meeting status is missing.")
    elif spec.missing_status == "by_time" and "status" not in positions:
        activity.status = "by_time"
    else:
        activity.status = "scheduled"
    for flag in ("decision_maker_present", "budget", "authority", "need", "timeline"):
        setattr(activity, flag, parse_bool(flag, cell(flag, "")))
    activity.currency = parse_currency("currency", cell("currency", ""))
    activity.deal_value_text = cell("deal_value", "")
    return activity


def _canonical_for(header: Header, index: int) -> str:
    for name, position in header.positions.items():
        if position == index:
            return name
    return header.names[index] if index < len(header.names) else ""


def column_label(header: Header, canonical: str) -> str:
    """The file's own header text for a canonical field (what the person sees)."""
    index = header.positions.get(canonical)
    if index is None:
        return canonical
    return header.names[index]


# --- webhook JSON ----------------------------------------------------------------------------


def parse_webhook_activity(item: Any) -> Activity:
    """One activity of a webhook payload (see docs/import-format.md, "CRM webhook")."""
    if not isinstance(item, dict):
        raise RowRejected("", "Each activity must be a JSON object.")
    kind = item.get("kind")
    if kind not in ("call", "meeting"):
        raise RowRejected("kind", "Use 'call' or 'meeting'.")
    external_id = item.get("external_id")
    if not isinstance(external_id, str | int) or isinstance(external_id, bool):
        raise RowRejected("external_id", "The id of the activity in the CRM is missing.")
    external_id = str(external_id).strip()
    if not external_id or len(external_id) > MAX_TEXT:
        raise RowRejected("external_id", f"Give an id of 1 to {MAX_TEXT} characters.")
    activity = Activity(kind=kind, external_id=external_id)
    activity.owner_email = extract_email("owner_email", item.get("owner_email"))
    if not activity.owner_email:
        raise RowRejected("owner_email", "The rep's e-mail address is missing.")
    occurred_at = item.get("occurred_at")
    if not isinstance(occurred_at, str):
        raise RowRejected("occurred_at", "Give the time as an ISO 8601 string with an offset.")
    activity.occurred_at, activity.on_date = parse_instant("occurred_at", occurred_at)
    if activity.occurred_at is None or activity.occurred_at.tzinfo is None:
        raise RowRejected("occurred_at", "Give the time with a UTC offset, e.g. ...T09:30:00Z.")
    tz = item.get("tz") or ""
    if not isinstance(tz, str):
        raise RowRejected("tz", "Use an IANA time zone name.")
    activity.tz = tz
    if kind == "call":
        activity.duration_seconds = parse_duration(
            "duration_seconds", item.get("duration_seconds"), unit_ms=False
        )
        outcome = item.get("outcome")
        if not isinstance(outcome, str):
            raise RowRejected("outcome", f"Use one of: {', '.join(ENERGYTRACK_OUTCOMES)}.")
        activity.disposition, activity.connected = call_outcome(
            "outcome", outcome, activity.duration_seconds, strict=True
        )
        return activity
    status = item.get("status")
    if not isinstance(status, str) or not status.strip():
        raise RowRejected("status", "The meeting status is missing.")
    activity.status = meeting_status("status", status)
    for flag in ("decision_maker_present", "budget", "authority", "need", "timeline"):
        value = item.get(flag, False)
        if not isinstance(value, bool):
            raise RowRejected(flag, "Use true or false.")
        setattr(activity, flag, value)
    cents = item.get("deal_value_cents", 0)
    if not isinstance(cents, int) or isinstance(cents, bool):
        raise RowRejected("deal_value_cents", "Give the deal value as whole minor units.")
    if cents < 0:
        raise RowRejected("deal_value_cents", "The deal value is negative.")
    if cents > MAX_DEAL_VALUE_MINOR:
        raise RowRejected("deal_value_cents", "The deal value is implausibly large.")
    activity.deal_value_cents = cents
    currency = item.get("currency") or ""
    if not isinstance(currency, str):
        raise RowRejected("currency", "Not an ISO 4217 currency code.")
    activity.currency = parse_currency("currency", currency)
    return activity
