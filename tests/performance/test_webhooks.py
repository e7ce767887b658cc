"""CRM connections (org admin) and the HMAC-signed webhook: verify, record, enqueue, process."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.db import connection as db_connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.accounts.models import Membership, Role
from apps.insights.models import StaleDay
from apps.performance import services, tasks
from apps.performance.models import Call, CrmConnection, DailyCallStats, Meeting, WebhookEvent
from tests.core.problems import assert_problem
from tests.factories import UserFactory
from tests.performance.conftest import Org, client_for, signature, table_counts, webhook_post

pytestmark = pytest.mark.usefixtures("frozen")

CALL = {
    "kind": "call",
    "external_id": "call-1",
    "owner_email": "anna@acme.test",
    "occurred_at": "2026-11-20T09:00:00+01:00",
    "duration_seconds": 300,
    "outcome": "connected",
}
MEETING = {
    "kind": "meeting",
    "external_id": "meeting-1",
    "owner_email": "bram@acme.test",
    "occurred_at": "2026-11-20T14:00:00+01:00",
    "status": "held",
    "decision_maker_present": True,
    "budget": True,
    "authority": True,
    "need": True,
    "timeline": True,
    "deal_value_cents": 990_000,
    "currency": "EUR",
}


@pytest.fixture
def sent_tasks(monkeypatch: Any) -> list[tuple[str, tuple[Any, ...]]]:
    sent: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(
        "apps.core.tasks.app.send_task", lambda name, args, **kw: sent.append((name, args))
    )
    return sent


@pytest.fixture
def crm(org: Org) -> tuple[CrmConnection, str]:
    response = client_for(org.admin).post(
        f"/api/v1/performance/teams/{org.team.pk}/crm-connections", {"name": "HubSpot"}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    return CrmConnection.objects.get(pk=body["id"]), body["secret"]


def _event(event_id: str = "evt-1", *activities: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": event_id, "activities": list(activities or (CALL, MEETING))}


# --- connections -----------------------------------------------------------------------------


def test_org_admin_creates_a_connection_and_sees_the_secret_once(
    org: Org, crm: tuple[CrmConnection, str]
) -> None:
    connection, secret = crm
    assert secret.startswith("whsec_") and len(secret) > 40
    with db_connection.cursor() as cursor:
        cursor.execute(
            "SELECT secret FROM performance_crmconnection WHERE id = %s",
            [CrmConnection._meta.pk.get_db_prep_value(connection.pk, db_connection)],
        )
        stored = cursor.fetchone()[0]
    assert secret not in stored  # encrypted at rest, not in clear
    assert CrmConnection.objects.get(pk=connection.pk).secret == secret
    admin = client_for(org.admin)
    listed = admin.get(f"/api/v1/performance/teams/{org.team.pk}/crm-connections")
    assert [c["id"] for c in listed.json()] == [str(connection.pk)]
    assert secret not in listed.content.decode()
    detail = admin.get(f"/api/v1/performance/crm-connections/{connection.pk}").json()
    assert detail["webhook_path"] == f"/api/v1/performance/webhooks/{connection.pk}"
    assert "secret" not in detail


@pytest.mark.parametrize("who", ["anna", "coach", "outsider"])
def test_only_the_teams_org_admin_manages_connections(
    org: Org, crm: tuple[CrmConnection, str], who: str
) -> None:
    user = UserFactory() if who == "outsider" else getattr(org, who)
    client = client_for(user)
    connection, _secret = crm
    team_url = f"/api/v1/performance/teams/{org.team.pk}/crm-connections"
    one = f"/api/v1/performance/crm-connections/{connection.pk}"
    assert_problem(client.get(team_url), 404)
    assert_problem(client.post(team_url, {"name": "mine"}), 404)
    assert_problem(client.get(one), 404)
    assert_problem(client.post(f"{one}/rotate", {}), 404)
    assert_problem(client.delete(one), 404)
    assert CrmConnection.objects.count() == 1


def test_bad_connection_input(org: Org) -> None:
    admin = client_for(org.admin)
    url = f"/api/v1/performance/teams/{org.team.pk}/crm-connections"
    assert_problem(admin.post(url, {"name": ""}), 400, fields=["name"])
    assert_problem(admin.post(url, {"name": "x" * 81}), 400, fields=["name"])
    assert not CrmConnection.objects.exists()


# --- receiving -------------------------------------------------------------------------------


def test_a_signed_delivery_is_accepted_fast_and_processed_by_the_task(
    org: Org,
    crm: tuple[CrmConnection, str],
    sent_tasks: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    connection, secret = crm
    with django_capture_on_commit_callbacks(execute=True):
        response = webhook_post(connection.pk, secret, _event())
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["event_id"], body["status"]) == ("evt-1", "pending")
    event = WebhookEvent.objects.get()
    assert sent_tasks == [("apps.performance.tasks.webhook_events_drain", (str(connection.pk),))]
    assert not Call.objects.exists()  # nothing is processed in the request

    assert tasks.webhook_events_drain(str(connection.pk)) == 1

    event.refresh_from_db()
    assert event.status == "processed" and event.payload == []
    assert event.result["counts"] == {"created": 2}
    call = Call.objects.get()
    assert (call.user_id, call.source, call.connected) == (org.anna.pk, "webhook", True)
    meeting = Meeting.objects.get()
    assert (meeting.user_id, meeting.bant_score, meeting.qualified) == (org.bram.pk, 4, True)
    # Attributed to the connection's team (the team view counts them for it).
    assert call.team_id == meeting.team_id == org.team.pk
    connection.refresh_from_db()
    assert connection.last_event_at is not None
    # Processing again is harmless.
    assert tasks.webhook_events_drain(str(connection.pk)) == 0
    assert Call.objects.count() == 1


def test_a_burst_of_deliveries_queues_one_drain(
    org: Org,
    crm: tuple[CrmConnection, str],
    sent_tasks: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    connection, secret = crm
    with django_capture_on_commit_callbacks(execute=True):
        for index in range(5):
            activity = {**CALL, "external_id": f"burst-{index}"}
            assert (
                webhook_post(connection.pk, secret, _event(f"b{index}", activity)).status_code
                == 202
            )
    assert len(sent_tasks) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.webhook_events_drain(str(connection.pk)) == 5
    # The rep's day is marked for its features, in the drain's transaction; no broker message.
    assert sent_tasks[1:] == []
    assert list(StaleDay.objects.values_list("user_id", "local_date")) == [
        (org.anna.pk, dt.date(2026, 11, 20))
    ]
    assert Call.objects.count() == 5
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}
    # The drain cleared its flag: the next delivery queues a new drain.
    with django_capture_on_commit_callbacks(execute=True):
        webhook_post(connection.pk, secret, _event("after", {**CALL, "external_id": "after"}))
    assert len(sent_tasks) == 2


def test_a_burst_of_deliveries_queues_one_delayed_drain(
    org: Org,
    crm: tuple[CrmConnection, str],
    monkeypatch: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """The first delivery queues a drain that starts a few seconds later; the rest of the burst
    rides along, so the per-batch work is paid once for all of them."""
    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(
        "apps.core.tasks.app.send_task", lambda name, args, **kw: sent.append((name, kw))
    )
    connection, secret = crm
    with django_capture_on_commit_callbacks(execute=True):
        for index in range(5):
            response = webhook_post(
                connection.pk, secret, _event(f"b{index}", {**CALL, "external_id": f"b{index}"})
            )
            assert response.status_code == 202, response.content
    assert [(name, kw.get("countdown")) for name, kw in sent] == [
        ("apps.performance.tasks.webhook_events_drain", settings.WEBHOOK_DRAIN_DELAY_SECONDS)
    ]
    assert settings.WEBHOOK_DRAIN_DELAY_SECONDS > 0
    assert tasks.webhook_events_drain(str(connection.pk)) == 5


def test_a_long_backlog_continues_in_a_fresh_task(
    org: Org, crm: tuple[CrmConnection, str], sent_tasks: list[Any], monkeypatch: Any
) -> None:
    monkeypatch.setattr(services, "WEBHOOK_DRAIN_MAX_EVENTS", 2)
    monkeypatch.setattr(services, "WEBHOOK_DRAIN_BATCH", 1)
    connection, secret = crm
    for index in range(3):
        webhook_post(
            connection.pk, secret, _event(f"l{index}", {**CALL, "external_id": f"l{index}"})
        )
    sent_tasks.clear()
    assert tasks.webhook_events_drain(str(connection.pk)) == 2
    assert sent_tasks == [("apps.performance.tasks.webhook_events_drain", (str(connection.pk),))]
    assert tasks.webhook_events_drain(str(connection.pk)) == 1
    assert Call.objects.count() == 3


def test_later_events_upsert_by_external_id(org: Org, crm: tuple[CrmConnection, str]) -> None:
    connection, secret = crm
    for event_id, activities in (
        ("e1", [CALL, MEETING]),
        ("e2", [CALL, {**MEETING, "status": "no_show"}]),
    ):
        webhook_post(connection.pk, secret, _event(event_id, *activities))
        tasks.webhook_events_drain(str(connection.pk))
    assert Call.objects.count() == 1 and Meeting.objects.count() == 1
    assert Meeting.objects.get().status == "no_show"
    assert WebhookEvent.objects.get(event_id="e2").result["counts"] == {
        "unchanged": 1,
        "updated": 1,
    }


def test_events_drained_together_upsert_in_delivery_order(
    org: Org, crm: tuple[CrmConnection, str]
) -> None:
    """One batch answers each delivery as if they had been processed one after another."""
    connection, secret = crm
    longer = {**CALL, "duration_seconds": 1200}
    for event_id, activities in (
        ("e1", [CALL, MEETING]),
        ("e2", [longer, {**MEETING, "status": "no_show"}]),
        ("e3", [longer]),
    ):
        assert webhook_post(connection.pk, secret, _event(event_id, *activities)).status_code == 202

    assert tasks.webhook_events_drain(str(connection.pk)) == 3

    counts = dict(WebhookEvent.objects.values_list("event_id", "result__counts"))
    assert counts == {"e1": {"created": 2}, "e2": {"updated": 2}, "e3": {"unchanged": 1}}
    assert Call.objects.get().duration_seconds == 1200
    assert Meeting.objects.get().status == "no_show"
    assert DailyCallStats.objects.get(user=org.anna).talk_minutes == 20


def test_a_drain_batch_costs_the_same_queries_for_3_or_30_events(
    org: Org, crm: tuple[CrmConnection, str]
) -> None:
    connection, secret = crm
    queries = []
    for size in (3, 30):
        for index in range(size):
            activities = [
                {**CALL, "external_id": f"{size}-{index}"},
                {**MEETING, "external_id": f"{size}-{index}"},
            ]
            webhook_post(connection.pk, secret, _event(f"{size}-{index}", *activities))
        with CaptureQueriesContext(db_connection) as captured:
            assert tasks.webhook_events_drain(str(connection.pk)) == size
        queries.append(len(captured))
    assert queries[0] == queries[1]
    assert Call.objects.count() == Meeting.objects.count() == 33


def test_a_drain_costs_the_same_queries_for_1_or_12_reps_and_marks_each_reps_days(
    org: Org, crm: tuple[CrmConnection, str]
) -> None:
    connection, secret = crm
    extra = [UserFactory(email=f"rep{i}@acme.test") for i in range(10)]
    for user in extra:
        Membership.objects.create(team=org.team, user=user, role=Role.REP)
    # Outsiders of the team with the same e-mail domain are never matched.
    UserFactory(email="outsider@acme.test")
    queries = []
    for label, emails in (("one", ["anna@acme.test"]), ("many", [u.email for u in extra])):
        activities = [
            {**CALL, "external_id": f"{label}-{i}", "owner_email": email}
            for i, email in enumerate([*emails, "bram@acme.test", "outsider@acme.test"])
        ]
        webhook_post(connection.pk, secret, _event(label, *activities))
        with CaptureQueriesContext(db_connection) as captured:
            assert tasks.webhook_events_drain(str(connection.pk)) == 1
        queries.append(len(captured))

    assert queries[0] == queries[1]
    marked = set(StaleDay.objects.values_list("user_id", flat=True))
    assert marked == {org.anna.pk, org.bram.pk, *(u.pk for u in extra)}
    result = WebhookEvent.objects.get(event_id="many").result
    assert result["unknown_reps"] == ["outsider@acme.test"]
    assert result["counts"] == {"created": 11, "rejected": 1}


def test_bad_activities_are_reported_on_the_event(org: Org, crm: tuple[CrmConnection, str]) -> None:
    connection, secret = crm
    activities = [
        CALL,
        {**CALL, "external_id": "x", "owner_email": "ghost@acme.test"},
        {**CALL, "external_id": "y", "duration_seconds": -3},
        "not an object",
    ]
    webhook_post(connection.pk, secret, _event("e1", *activities))
    tasks.webhook_events_drain(str(connection.pk))
    event = WebhookEvent.objects.get()
    assert event.result["counts"] == {"created": 1, "rejected": 3}
    assert event.result["unknown_reps"] == ["ghost@acme.test"]
    assert [e["row"] for e in event.result["errors"]] == [1, 2, 3]


@pytest.mark.parametrize(
    "tamper",
    ["wrong_secret", "tampered_body", "no_signature", "no_timestamp", "old", "future", "junk"],
)
def test_bad_signatures_and_timestamps_are_401_and_write_nothing(
    org: Org, crm: tuple[CrmConnection, str], tamper: str
) -> None:
    connection, secret = crm
    raw = b'{"event_id": "evt-1", "activities": []}'
    now = int(time.time())
    headers = {
        "HTTP_X_ENERGYTRACK_TIMESTAMP": str(now),
        "HTTP_X_ENERGYTRACK_SIGNATURE": signature(secret, now, raw),
    }
    if tamper == "wrong_secret":
        headers["HTTP_X_ENERGYTRACK_SIGNATURE"] = signature("whsec_other", now, raw)
    elif tamper == "tampered_body":
        raw = b'{"event_id": "evt-1", "activities": [1]}'
    elif tamper == "no_signature":
        del headers["HTTP_X_ENERGYTRACK_SIGNATURE"]
    elif tamper == "no_timestamp":
        del headers["HTTP_X_ENERGYTRACK_TIMESTAMP"]
    elif tamper in ("old", "future"):
        moved = now - 301 if tamper == "old" else now + 301
        headers["HTTP_X_ENERGYTRACK_TIMESTAMP"] = str(moved)
        headers["HTTP_X_ENERGYTRACK_SIGNATURE"] = signature(secret, moved, raw)
    else:
        headers["HTTP_X_ENERGYTRACK_TIMESTAMP"] = "soon"
    before = table_counts()
    # Stopped on the whole second ``now``: the server reads exactly ``now``, so "old" and
    # "future" are both 301 s off. (Ticking, "future" was back inside the 300 s window whenever
    # the request reached the server in the second after ``now``.)
    with time_machine.travel(dt.datetime.fromtimestamp(now, tz=dt.UTC), tick=False):
        response = webhook_post(connection.pk, secret, raw, headers=headers)
    assert_problem(response, 401)
    assert table_counts() == before


def test_a_timestamp_inside_the_window_is_accepted(
    org: Org, crm: tuple[CrmConnection, str]
) -> None:
    connection, secret = crm
    response = webhook_post(connection.pk, secret, _event(), timestamp=int(time.time()) - 290)
    assert response.status_code == 202


def test_a_replayed_event_id_is_409_and_writes_nothing(
    org: Org, crm: tuple[CrmConnection, str]
) -> None:
    connection, secret = crm
    assert webhook_post(connection.pk, secret, _event()).status_code == 202
    before = table_counts()
    replay = webhook_post(connection.pk, secret, _event("evt-1", CALL))
    assert_problem(replay, 409, fields=["event_id"], code="webhook-replay")
    assert table_counts() == before
    assert WebhookEvent.objects.get().payload == [CALL, MEETING]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"not json", "body"),
        (b'["a list"]', "event_id"),
        (b'{"activities": []}', "event_id"),
        (b'{"event_id": "", "activities": []}', "event_id"),
        (b'{"event_id": "e", "activities": {}}', "activities"),
        (b'{"event_id": "e", "activities": [' + b",".join([b"{}"] * 501) + b"]}", "activities"),
    ],
)
def test_signed_but_malformed_bodies_are_400(
    org: Org, crm: tuple[CrmConnection, str], raw: bytes, field: str
) -> None:
    connection, secret = crm
    before = table_counts()
    assert_problem(webhook_post(connection.pk, secret, raw), 400, fields=[field])
    assert table_counts() == before


def test_an_unknown_connection_is_404(db: None) -> None:
    assert_problem(webhook_post(uuid.uuid4(), "whsec_x", _event()), 404)


def test_the_webhook_needs_no_session_or_csrf(org: Org, crm: tuple[CrmConnection, str]) -> None:
    connection, secret = crm
    raw = b'{"event_id": "csrf", "activities": []}'
    now = int(time.time())
    client = Client(enforce_csrf_checks=True)
    client.force_login(org.anna)  # a session cookie must not change anything
    response = client.post(
        f"/api/v1/performance/webhooks/{connection.pk}",
        raw,
        content_type="application/json",
        HTTP_X_ENERGYTRACK_TIMESTAMP=str(now),
        HTTP_X_ENERGYTRACK_SIGNATURE=signature(secret, now, raw),
    )
    assert response.status_code == 202, response.content


def test_a_dead_broker_never_fails_the_delivery_and_the_sweeper_repairs_it(
    org: Org,
    crm: tuple[CrmConnection, str],
    monkeypatch: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    connection, secret = crm

    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr("apps.core.tasks.app.send_task", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        response = webhook_post(connection.pk, secret, _event())
    assert response.status_code == 202
    event = WebhookEvent.objects.get()
    assert event.status == "pending"

    sent: list[tuple[str, Any]] = []
    monkeypatch.setattr(
        "apps.core.tasks.app.send_task", lambda name, args, **kw: sent.append((name, args))
    )
    assert services.performance_sweep()["webhook_connections"] == 0  # younger than a minute
    with time_machine.travel(dt.datetime.now(tz=dt.UTC) + dt.timedelta(minutes=2)):
        assert tasks.performance_sweep() == {"webhook_connections": 1, "import_jobs": 0}
    assert sent == [("apps.performance.tasks.webhook_events_drain", (str(connection.pk),))]
    tasks.webhook_events_drain(str(connection.pk))
    event.refresh_from_db()
    assert event.status == "processed"


def test_rotation_replaces_the_secret_with_an_optional_grace_period(
    org: Org, crm: tuple[CrmConnection, str]
) -> None:
    connection, old = crm
    admin = client_for(org.admin)
    rotate = f"/api/v1/performance/crm-connections/{connection.pk}/rotate"
    graced = admin.post(rotate, {"keep_previous_minutes": 10}).json()
    new = graced["secret"]
    assert new != old and graced["previous_secret_expires_at"]
    assert webhook_post(connection.pk, old, _event("a")).status_code == 202
    assert webhook_post(connection.pk, new, _event("b")).status_code == 202
    with time_machine.travel(dt.datetime.now(tz=dt.UTC) + dt.timedelta(minutes=11)):
        assert_problem(webhook_post(connection.pk, old, _event("c")), 401)
    newest = admin.post(rotate, {}).json()["secret"]
    assert_problem(webhook_post(connection.pk, new, _event("d")), 401)
    assert webhook_post(connection.pk, newest, _event("e")).status_code == 202
    assert_problem(admin.post(rotate, {"keep_previous_minutes": 5000}), 400)


def test_a_deleted_connection_stops_accepting(org: Org, crm: tuple[CrmConnection, str]) -> None:
    connection, secret = crm
    webhook_post(connection.pk, secret, _event())
    admin = client_for(org.admin)
    assert admin.delete(f"/api/v1/performance/crm-connections/{connection.pk}").status_code == 204
    assert not WebhookEvent.objects.exists()
    assert_problem(webhook_post(connection.pk, secret, _event("later")), 404)


def test_a_stale_secrets_cache_in_another_process_cannot_outlive_a_rotation(
    org: Org, crm: tuple[CrmConnection, str]
) -> None:
    """Each process caches the secrets for a minute; the insert re-checks the secret version,
    so a rotation or a deletion still takes effect at once everywhere."""
    connection, old = crm
    assert webhook_post(connection.pk, old, _event("warm")).status_code == 202
    stale = services._SECRETS_CACHE[connection.pk]
    _rotated, new = services.crm_connection_rotate(connection=connection)
    services._SECRETS_CACHE[connection.pk] = stale  # as another worker still holds it
    assert_problem(webhook_post(connection.pk, old, _event("old-secret")), 401)
    assert not WebhookEvent.objects.filter(event_id="old-secret").exists()
    services._SECRETS_CACHE[connection.pk] = stale
    assert webhook_post(connection.pk, new, _event("new-secret")).status_code == 202

    stale = services._SECRETS_CACHE[connection.pk]
    CrmConnection.objects.filter(pk=connection.pk).delete()
    services._SECRETS_CACHE[connection.pk] = stale
    assert_problem(webhook_post(connection.pk, new, _event("gone")), 404)


def test_the_sweeper_forgets_deliveries_after_a_week(
    org: Org, crm: tuple[CrmConnection, str]
) -> None:
    connection, secret = crm
    webhook_post(connection.pk, secret, _event("old"))
    webhook_post(connection.pk, secret, _event("pending-one"))
    tasks.webhook_events_drain(str(connection.pk))
    webhook_post(connection.pk, secret, _event("still-pending"))
    WebhookEvent.objects.filter(event_id="old").update(
        processed_at=dt.datetime.now(tz=dt.UTC) - dt.timedelta(days=8)
    )
    services.performance_sweep()
    assert set(WebhookEvent.objects.values_list("event_id", flat=True)) == {
        "pending-one",
        "still-pending",
    }


@pytest.mark.parametrize(
    ("timestamp", "signature_header"),
    [("²", None), ("9" * 400, None), ("9" * 5000, None), (None, "sha256=é")],
    ids=["superscript digit", "400 nines", "5000 nines", "non-ASCII signature"],
)
def test_hostile_headers_are_401_not_500(
    crm: tuple[CrmConnection, str], timestamp: str | None, signature_header: str | None
) -> None:
    """Anyone who knows a connection's address can send these: each was a 500."""
    connection, secret = crm
    raw = json.dumps(_event("evt-hostile")).encode()
    now = str(int(time.time()))
    headers = {
        "HTTP_X_ENERGYTRACK_TIMESTAMP": timestamp if timestamp is not None else now,
        "HTTP_X_ENERGYTRACK_SIGNATURE": signature_header or signature(secret, now, raw),
    }
    before = table_counts()
    response = webhook_post(connection.pk, secret, raw, headers=headers)
    assert_problem(response, 401)
    assert table_counts() == before


@pytest.mark.parametrize(
    "raw",
    [
        b'{"event_id": "evt-\\u0000", "activities": []}',
        b'{"event_id": "evt-\\ud800", "activities": []}',
        b'{"event_id": "evt-2", "activities": [{"kind": "call", "note": "\\u0000"}]}',
        b'{"event_id": "evt-3", "activities": [{"kind": "call", "duration_seconds": NaN}]}',
        b'{"event_id": "evt-4", "activities": [{"kind": "call", "duration_seconds": 1e400}]}',
        b'{"event_id": "evt-5", "activities": [{"kind": "\\udc00"}]}',
        b"[" * 50_000 + b"]" * 50_000,
    ],
    ids=["NUL id", "surrogate id", "NUL value", "NaN", "1e400", "surrogate value", "nested"],
)
def test_signed_json_the_database_cannot_store_is_a_400(
    crm: tuple[CrmConnection, str], raw: bytes
) -> None:
    connection, secret = crm
    before = table_counts()
    response = webhook_post(connection.pk, secret, raw)
    assert_problem(response, 400)
    assert table_counts() == before


@pytest.mark.parametrize(
    "duration",
    [10**400, "1:" + "9" * 5000, "0" * 5000 + "1:00"],
    ids=["integer beyond a float", "5000-digit hours", "5000 leading zeros"],
)
def test_a_hostile_activity_is_refused_alone_and_blocks_no_later_delivery(
    crm: tuple[CrmConnection, str], sent_tasks: list[Any], duration: Any
) -> None:
    """A signed delivery with an absurd duration is refused for that activity only; the
    connection's later deliveries are processed in the same drain (before, the drain raised
    every time and the delivery stayed at the head of the queue for good)."""
    connection, secret = crm
    hostile = {**CALL, "external_id": "hostile", "duration_seconds": duration}
    assert webhook_post(connection.pk, secret, _event("evt-hostile", hostile)).status_code == 202
    for n in range(3):
        later = {**CALL, "external_id": f"later-{n}"}
        assert webhook_post(connection.pk, secret, _event(f"evt-{n}", later)).status_code == 202

    tasks.webhook_events_drain(str(connection.pk))

    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}
    refused = WebhookEvent.objects.get(event_id="evt-hostile").result
    assert refused["counts"] == {"rejected": 1}
    assert sorted(Call.objects.values_list("external_id", flat=True)) == [
        "later-0",
        "later-1",
        "later-2",
    ]
