"""Each entry keeps its day-view JSON, rendered by PostgreSQL whenever the row is written.

The uncached day view built ~470 JSON objects per 90 days on every read; with each row's
object stored, the read only concatenates text. A trigger (not the application) fills the
column, so every way a row is written (the ORM, bulk writes, ``update()``, raw SQL, a future
re-encryption of notes) keeps it true. The column is not on the Django models: nothing but
the day-view query reads it, and the export and the API never see it. PostgreSQL only (the
embedded SQLite build renders the day view in Python).

The field lists are frozen here, as a migration must be; a test compares every kind's stored
JSON with the entry as the API renders it, so a field added to a kind without a new version
of this trigger fails the suite.
"""

from django.db import migrations

COMMON = ("id", "occurred_at", "tz", "note")
KINDS = {
    "journal_sleepentry": ("sleep", ("bedtime", "duration_minutes", "quality")),
    "journal_mealentry": ("meal", ("meal_type", "heaviness", "tags")),
    "journal_exerciseentry": ("exercise", ("exercise_type", "duration_minutes", "intensity")),
    "journal_alcoholentry": ("alcohol", ("standard_drinks", "context")),
    "journal_energycheckin": ("energy", ("level", "focus", "mood")),
    "journal_activityentry": ("activity", ("what", "duration_minutes", "effect")),
}
INSTANTS = {"occurred_at", "bedtime"}
DECIMALS = {"standard_drinks"}


def _value(name):
    column = f"NEW.{name}"
    if name in INSTANTS:
        # ISO 8601 in UTC with a Z, as the API writes instants, whatever the session's time
        # zone (a timestamp without zone has one JSON form; NULL stays null).
        return f"(to_json({column} AT TIME ZONE 'UTC') #>> '{{}}') || 'Z'"
    if name in DECIMALS:
        return f"{column}::text"
    return column


def _forward_sql(table, kind, fields):
    pairs = ", ".join(f"'{name}', {_value(name)}" for name in (*COMMON, *fields))
    return [
        f"ALTER TABLE {table} ADD COLUMN day_view_json text",
        f"""CREATE FUNCTION {table}_day_view_json() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.day_view_json := json_build_object({pairs}, 'kind', '{kind}')::text;
    RETURN NEW;
END
$$""",
        f"CREATE TRIGGER {table}_day_view_json BEFORE INSERT OR UPDATE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_day_view_json()",
        # Existing rows: an update that changes nothing runs the trigger.
        f"UPDATE {table} SET id = id",
        f"ALTER TABLE {table} ALTER COLUMN day_view_json SET NOT NULL",
    ]


def _backward_sql(table):
    return [
        f"DROP TRIGGER {table}_day_view_json ON {table}",
        f"DROP FUNCTION {table}_day_view_json()",
        f"ALTER TABLE {table} DROP COLUMN day_view_json",
    ]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, (kind, fields) in KINDS.items():
        for statement in _forward_sql(table, kind, fields):
            schema_editor.execute(statement)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in KINDS:
        for statement in _backward_sql(table):
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("journal", "0002_journalstate"),
    ]

    operations = [migrations.RunPython(forward, backward)]
