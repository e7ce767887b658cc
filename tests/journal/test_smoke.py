import uuid


def test_upsert_roundtrip(api, consenting_user):
    entry_id = uuid.uuid4()
    body = {"occurred_at": "2026-11-20T08:00:00+01:00", "level": 7, "note": "fine"}
    first = api.put(f"/api/v1/journal/energy/{entry_id}", body, format="json")
    assert first.status_code == 201, first.content
    second = api.put(f"/api/v1/journal/energy/{entry_id}", body, format="json")
    assert second.status_code == 201
    assert first.json() == second.json()
