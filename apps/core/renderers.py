"""The API's JSON renderer: DRF's, plus a fallback for text that UTF-8 cannot carry.

DRF renders ``ensure_ascii=False`` and then encodes to UTF-8; a lone surrogate (``"\\ud800"``
is valid JSON, not a valid character) that a client sent and an error message repeats made that
encoding fail with a 500. Such a body is rendered again with every non-ASCII character escaped,
which JSON allows and every client reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import renderers


class JSONRenderer(renderers.JSONRenderer):
    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            return _EscapingJSONRenderer().render(data, accepted_media_type, renderer_context)


class _EscapingJSONRenderer(renderers.JSONRenderer):
    ensure_ascii = True
