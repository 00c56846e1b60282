"""The GIN index of the logbook's full-text search (logbook.search), on PostgreSQL only: SQLite searches
with icontains and gets no index. The expression must stay the one logbook.search.EventDocument writes,
or PostgreSQL will not use the index."""

from django.db import migrations

INDEX = "event_search"
CREATE = (
    f"CREATE INDEX IF NOT EXISTS {INDEX} ON logbook_event USING gin "
    "(to_tsvector('english'::regconfig, title || ' ' || text || ' ' || html))"
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("logbook", "0001_initial")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
