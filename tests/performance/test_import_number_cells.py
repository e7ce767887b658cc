"""Number cells of a CSV import (epoch timestamps, deal values): a cell int() cannot read or
a date outside 2000-2100 is a row refusal naming the column, never a 500 or a stored row."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from apps.performance.models import Meeting
from tests.core.problems import assert_problem
from tests.performance.conftest import Org, client_for, post_import, table_counts

pytestmark = pytest.mark.usefixtures("frozen", "media_root")

_HEAD = (
    "kind,external_id,owner_email,occurred_at,duration_seconds,outcome,status,deal_value,currency\n"
)
_WHEN = "2026-11-20T14:00:00+01:00"
_YEAR_REASON = "The year must be between 2000 and 2100."


def _import(org: Org, rows: str, **fields: Any) -> Any:
    return post_import(
        client_for(org.admin),
        (_HEAD + rows).encode(),
        format="energytrack",
        team_id=str(org.team.pk),
        **fields,
    )


@pytest.mark.parametrize(
    ("row", "column", "words"),
    [
        # str.isdigit() is True for a superscript two; int() refuses it.
        ("call,c-1,anna@acme.test,²,300,connected,,,\n", "occurred_at", "ISO 8601"),
        # int() refuses more than 4,300 digits.
        ("call,c-1,anna@acme.test," + "9" * 5000 + ",300,connected,,,\n", "occurred_at", "range"),
        # One digit more than milliseconds until 2100 have.
        ("call,c-1,anna@acme.test,41339808000000,300,connected,,,\n", "occurred_at", "range"),
        (f"meeting,m-1,anna@acme.test,{_WHEN},,,held,{'1' * 5000},EUR\n", "deal_value", "large"),
    ],
    ids=["superscript epoch", "5000-digit epoch", "14-digit epoch", "5000-digit deal value"],
)
def test_a_number_cell_int_cannot_read_is_a_row_refusal_not_a_500(
    org: Org, row: str, column: str, words: str
) -> None:
    before = table_counts()
    response = _import(org, row)
    body = assert_problem(response, 400, fields=["file"], code="import-rejected")
    assert [(item["row"], item["column"]) for item in body["report"]] == [(2, column)]
    assert words in body["report"][0]["reason"]
    assert body["counts"]["rejected"] == 1
    assert table_counts() == before


def test_deal_values_up_to_the_cap_are_stored_and_one_cent_more_is_refused(org: Org) -> None:
    rows = (
        f"meeting,m-cap,anna@acme.test,{_WHEN},,,held,100000000000.00,EUR\n"
        f"meeting,m-over,anna@acme.test,{_WHEN},,,held,100000000000.01,EUR\n"
        f"meeting,m-zeros,anna@acme.test,{_WHEN},,,held,{'0' * 5000}1500.00,EUR\n"
    )
    response = _import(org, rows, mode="valid_rows_only")
    assert response.status_code == 201, response.content
    job = response.json()
    assert [(r["row"], r["column"], r["reason"]) for r in job["report"]] == [
        (3, "deal_value", "The deal value is implausibly large.")
    ]
    stored = dict(Meeting.objects.values_list("external_id", "deal_value_cents"))
    assert stored == {"m-cap": 10**13, "m-zeros": 150_000}


@pytest.mark.parametrize(
    "when",
    ["5000000000", "4133980800000", "946684799", "946684799999"],
    ids=["seconds in 2128", "milliseconds in 2101", "seconds in 1999", "milliseconds in 1999"],
)
def test_an_epoch_outside_2000_to_2100_is_refused_like_the_iso_form(org: Org, when: str) -> None:
    before = table_counts()
    refusals = []
    for cell in (when, "2101-01-01T10:00:00Z"):
        response = _import(org, f"meeting,m-1,anna@acme.test,{cell},,,scheduled,,\n")
        body = assert_problem(response, 400, fields=["file"], code="import-rejected")
        refusals.append([(r["row"], r["column"], r["reason"]) for r in body["report"]])
    assert refusals[0] == refusals[1] == [(2, "occurred_at", _YEAR_REASON)]
    assert table_counts() == before


def test_epochs_up_to_the_end_of_2100_are_read(org: Org) -> None:
    rows = (
        "meeting,m-s,anna@acme.test,4133980799,,,scheduled,,\n"
        "meeting,m-ms,anna@acme.test,4133980799999,,,scheduled,,\n"
    )
    response = _import(org, rows)
    assert response.status_code == 201, response.content
    last = dt.datetime(2100, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    stored = dict(Meeting.objects.values_list("external_id", "occurred_at"))
    assert stored == {"m-s": last, "m-ms": last + dt.timedelta(microseconds=999_000)}
