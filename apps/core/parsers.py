"""The API's JSON parser: DRF's, plus a 400 for JSON nested too deeply to decode.

DRF's ``JSONParser`` turns a ``ValueError`` into a 400 but not the ``RecursionError`` that
``json.loads`` raises for a body of ten thousand nested brackets, which became a 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
