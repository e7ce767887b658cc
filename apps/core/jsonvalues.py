"""JSON from outside that PostgreSQL can store.

``json.loads`` accepts what ``jsonb`` and ``text`` columns refuse: ``NaN`` and ``Infinity``
(also ``1e400``, which becomes infinity), a NUL character, and a lone surrogate (``"\\ud800"``
is valid JSON, not a character). Stored, each raised a database error, a 500 after the
request was accepted; nesting too deep for the decoder raised ``RecursionError``.
"""

from __future__ import annotations

import json
import math
from typing import Any


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"The number {text[:20]} is out of range.")
    return value


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number.")


def check_storable(value: Any) -> None:
    """ValueError if a string (key or value) anywhere in ``value`` holds a NUL character or a
    lone surrogate. Iterative: a document the decoder accepted may be nested near its limit."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict):
            for key, inner in item.items():
                _check_text(key)
                stack.append(inner)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValueError("A number is out of range.")


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise ValueError("Text may not contain the NUL character.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("Text holds an invalid character (a lone surrogate).") from None


def loads_storable(raw: str | bytes) -> Any:
    """``json.loads``, with ValueError for anything PostgreSQL would refuse to store."""
    try:
        value = json.loads(raw, parse_float=_finite, parse_constant=_no_constants)
    except RecursionError:
        raise ValueError("The JSON is nested too deeply.") from None
    check_storable(value)
    return value
