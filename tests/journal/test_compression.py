"""The API's larger JSON answers go gzipped to a phone that accepts it; small ones and non-JSON
do not (apps.core.middleware.LargeJsonGZipMiddleware)."""

from __future__ import annotations

import datetime as dt
import gzip
import uuid

import pytest

from apps.core.middleware import COMPRESS_MIN_BYTES, gzip_fast
from tests.journal.helpers import NOW, batch, item

pytestmark = pytest.mark.django_db

DAYS_URL = "/api/v1/journal/days"
PHONE = {"HTTP_ACCEPT_ENCODING": "gzip, deflate, br"}


def _a_month_of_checkins(client) -> None:
    items = [
        item(
            "energy",
            uuid.uuid4(),
            {
                "occurred_at": (NOW - dt.timedelta(days=day, hours=2))
                .isoformat()
                .replace("+00:00", "Z"),
                "level": 1 + day % 9,
            },
        )
        for day in range(30)
    ]
    assert batch(client, items).json()["counts"] == {"created": 30}


def test_the_day_view_is_gzipped_for_a_phone_that_accepts_it(api, consenting_user) -> None:
    _a_month_of_checkins(api)
    plain = api.get(DAYS_URL)
    assert plain.status_code == 200
    assert len(plain.content) > COMPRESS_MIN_BYTES
    assert "Content-Encoding" not in plain

    packed = api.get(DAYS_URL, **PHONE)

    assert packed.status_code == 200
    assert packed["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed["Vary"]
    assert "Cookie" in packed["Vary"]
    assert gzip.decompress(packed.content) == plain.content
    assert len(packed.content) < len(plain.content) / 4
    assert packed["Content-Length"] == str(len(packed.content))
    # The same version: the compressed answer's ETag is the plain one, made weak, and the phone
    # that sends it back gets its 304.
    assert packed["ETag"] == "W/" + plain["ETag"]
    assert api.get(DAYS_URL, HTTP_IF_NONE_MATCH=packed["ETag"], **PHONE).status_code == 304


def test_small_answers_and_pages_go_as_they_are(api, consenting_user) -> None:
    checkin = api.post(
        "/api/v1/journal/checkin", {"id": str(uuid.uuid4()), "level": 6}, format="json", **PHONE
    )
    assert checkin.status_code == 201
    assert "Content-Encoding" not in checkin

    ping = api.get("/api/v1/ping", **PHONE)
    assert ping.status_code == 200
    assert "Content-Encoding" not in ping

    # HTML carries the CSRF token: never compressed (BREACH), whatever its size.
    page = api.get("/app/", **PHONE)
    assert page.status_code == 200
    assert page["Content-Type"].startswith("text/html")
    assert "Content-Encoding" not in page


def test_the_compressed_length_varies_from_one_answer_to_the_next() -> None:
    """Django's BREACH padding: the same body does not give the same length twice."""
    body = b'{"days": []}' * 200
    packed = [gzip_fast(body) for _ in range(20)]

    assert all(gzip.decompress(p) == body for p in packed)
    assert len({len(p) for p in packed}) > 1
