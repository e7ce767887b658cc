"""The API's JSON renderer: DRF's output, written by orjson.

orjson writes the same compact JSON as DRF's renderer (COMPACT_JSON) several times faster,
which a 100-item sync's answer notices. Whatever it will not write as DRF would is rendered by
DRF's own code: a requested indent, a value only DRF's encoder knows is handed to that encoder,
and text orjson refuses (a lone surrogate) or an integer beyond 64 bits go to DRF's renderer.

DRF renders ``ensure_ascii=False`` and then encodes to UTF-8; a lone surrogate (``"\\ud800"``
is valid JSON, not a valid character) that a client sent and an error message repeats made that
encoding fail with a 500. Such a body is rendered again with every non-ASCII character escaped,
which JSON allows and every client reads.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson
from rest_framework import renderers
from rest_framework.utils import encoders

from apps.core.time import iso_instant


def jsonable(value: Any) -> Any:
    """A stored value as the API writes it: instants in UTC with a Z, dates and times in ISO
    8601, decimals and UUIDs as text; anything else as it is."""
    if isinstance(value, dt.datetime):
        return iso_instant(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    return value


_DRF_DEFAULT = encoders.JSONEncoder().default
# DRF escapes these two so that its JSON is also valid JavaScript; so does this renderer.
_LINE_SEPARATOR, _PARAGRAPH_SEPARATOR = "\u2028".encode(), "\u2029".encode()


class JSONRenderer(renderers.JSONRenderer):
    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if data is None:
            return b""
        if self.get_indent(accepted_media_type or "", renderer_context or {}) is None:
            try:
                body = orjson.dumps(data, default=_DRF_DEFAULT, option=orjson.OPT_UTC_Z)
            except orjson.JSONEncodeError:
                pass
            else:
                if _LINE_SEPARATOR in body or _PARAGRAPH_SEPARATOR in body:
                    body = body.replace(_LINE_SEPARATOR, b"\\u2028")
                    body = body.replace(_PARAGRAPH_SEPARATOR, b"\\u2029")
                return body
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            return _EscapingJSONRenderer().render(data, accepted_media_type, renderer_context)


class _EscapingJSONRenderer(renderers.JSONRenderer):
    ensure_ascii = True
