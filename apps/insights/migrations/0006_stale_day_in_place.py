from django.db import migrations


def _fillfactor(value: int):
    def run(apps, schema_editor):
        # PostgreSQL only: SQLite has no fillfactor and updates rows in place anyway.
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE insights_staleday SET (fillfactor = {value})")

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("insights", "0005_dayfeature_deal_value_currency"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="staleday",
            name="stale_day_marked",
        ),
        # Room on each page for the re-marked row's new version: the update stays on the page
        # (HOT) instead of moving and adding index entries.
        migrations.RunPython(_fillfactor(50), _fillfactor(100)),
    ]
