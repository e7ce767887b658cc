"""Path converters."""

from __future__ import annotations

import uuid


class AnyCaseUUIDConverter:
    """A UUID in a path, in either case.

    Django's ``uuid`` converter matches lower case only, so a client whose UUIDs are upper case
    (Apple's ``UUID().uuidString``, .NET's ``ToString("D").ToUpper()``) got 404 for an entry it
    had just created by batch, where the body's UUID is read in any case. RFC 9562 says UUIDs
    are read case-insensitively; the view receives the same ``uuid.UUID`` either way.
    """

    regex = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

    def to_python(self, value: str) -> uuid.UUID:
        return uuid.UUID(value)

    def to_url(self, value: uuid.UUID | str) -> str:
        return str(value).lower()
