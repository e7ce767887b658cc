"""The API's JSON in and out: orjson's speed, DRF's results."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.utils.translation import gettext_lazy
from rest_framework import parsers, renderers
from rest_framework.exceptions import ParseError

from apps.core.parsers import JSONParser
from apps.core.renderers import JSONRenderer

AMSTERDAM = dt.timezone(dt.timedelta(hours=1))
DATA: dict[str, Any] = {
    "at": dt.datetime(2026, 12, 7, 8, 30, 15, 123456, tzinfo=dt.UTC),
    "whole_second": dt.datetime(2026, 12, 7, 8, 30, tzinfo=dt.UTC),
    "local": dt.datetime(2026, 12, 7, 9, 30, tzinfo=AMSTERDAM),
    "day": dt.date(2026, 12, 7),
    "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "drinks": Decimal("1.50"),
    "title": gettext_lazy("Energy"),
    "text": 'slaap\u2028goed\u2029, café ☕ "quoted" \\ back',
    "numbers": [0, -1, 2**63 - 1, 0.1, 123.456, True, False, None],
    "nested": {"a": [{"b": []}, {}], "tuple": (1, 2)},
}


def test_the_renderer_writes_what_drfs_renderer_writes() -> None:
    ours = JSONRenderer().render(DATA)
    assert ours == renderers.JSONRenderer().render(DATA)
    # JSON that is also JavaScript: the two line separators are escaped, as DRF does.
    assert b"\\u2028" in ours and "\u2028".encode() not in ours


def test_floats_are_read_back_as_the_same_numbers() -> None:
    # The one spelling that differs: orjson writes 1e-7 where json writes 1e-07.
    floats = [1e-07, 1e22, 5e-324, 1.7976931348623157e308, 2 / 3]
    assert json.loads(JSONRenderer().render(floats)) == floats


@pytest.mark.parametrize(
    "data",
    [{"big": 2**70}, {"text": "\ud800"}, {1: "not a text key"}],
    ids=["integer beyond 64 bits", "lone surrogate", "number key"],
)
def test_what_orjson_refuses_is_rendered_by_drfs_code(data: dict[Any, Any]) -> None:
    rendered = JSONRenderer().render(data)
    assert json.loads(rendered) == json.loads(json.dumps(data))


def test_an_indent_asked_for_is_drfs() -> None:
    media = "application/json; indent=2"
    assert JSONRenderer().render(DATA, media) == renderers.JSONRenderer().render(DATA, media)
    assert JSONRenderer().render(None) == b""


def _both(raw: bytes, media_type: str = "application/json") -> tuple[Any, Any]:
    context = {"encoding": "utf-8"}
    ours = JSONParser().parse(io.BytesIO(raw), media_type, context)
    drfs = parsers.JSONParser().parse(io.BytesIO(raw), media_type, context)
    return ours, drfs


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps({"items": [{"kind": "energy", "level": 5, "tags": ["a", "é"]}]}).encode(),
        b'{"note": "\\ud800 half an emoji"}',
        b'{"a": 1, "a": 2}',
        b'  [1, 2.5, -0, "x"]  ',
    ],
    ids=["sync", "lone surrogate", "repeated key", "spaces"],
)
def test_the_parser_reads_what_drfs_parser_reads(raw: bytes) -> None:
    ours, drfs = _both(raw)
    assert ours == drfs


def test_a_number_too_large_for_a_double_is_what_json_makes_of_it() -> None:
    ours, drfs = _both(b'{"level": 1e400}')
    assert math.isinf(ours["level"]) and ours == drfs


@pytest.mark.parametrize(
    "raw", [b"", b"{", b'{"a": NaN}', b'{"a": Infinity}', b"[" * 5000 + b"]" * 5000]
)
def test_what_is_not_json_is_a_parse_error(raw: bytes) -> None:
    with pytest.raises(ParseError):
        JSONParser().parse(io.BytesIO(raw), "application/json", {"encoding": "utf-8"})


def test_a_body_in_another_declared_charset_is_read_in_it() -> None:
    raw = '{"note": "café"}'.encode("latin-1")
    media = "application/json; charset=latin-1"
    parsed = JSONParser().parse(io.BytesIO(raw), media, {"encoding": "latin-1"})
    assert parsed == {"note": "café"}
