"""The logbook's full-text search: on PostgreSQL, an event's title, text and HTML as one English
tsvector matched by websearch_to_tsquery, served by the GIN index of migration 0002 (the expression
below is the index's, word for word); elsewhere (SQLite), a case-insensitive substring of any of them."""

from django.db import connections
from django.db.models import BooleanField, F, Func, Q, QuerySet

CONFIG = "english"


class EventDocument(Func):
    """to_tsvector('english', title || ' ' || text || ' ' || html): the GIN index's expression."""

    template = f"to_tsvector('{CONFIG}'::regconfig, %(expressions)s)"
    arg_joiner = " || ' ' || "

    def __init__(self):
        super().__init__(F("title"), F("text"), F("html"))


class Matches(Func):
    template = f"%(expressions)s @@ websearch_to_tsquery('{CONFIG}'::regconfig, %(query)s)"
    output_field = BooleanField()

    def __init__(self, query: str):
        super().__init__(EventDocument())
        self.query = query

    def as_sql(self, compiler, connection, **extra):
        sql, params = super().as_sql(compiler, connection, query="%s", **extra)
        return sql, (*params, self.query)


def text_search(events: QuerySet, q: str) -> QuerySet:
    """The events whose words match q (PostgreSQL), or that contain it (other databases)."""
    if connections[events.db].vendor == "postgresql":
        return events.filter(Matches(q))
    return events.filter(Q(text__icontains=q) | Q(html__icontains=q) | Q(title__icontains=q))
