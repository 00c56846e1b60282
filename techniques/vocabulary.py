"""The vocabulary (parameter types and dataset definitions) cached per process.

Validating a dataset reads the whole vocabulary; reading it from the database for every request
cost a third of an ingestion. Each process keeps it in memory and asks the database only for
VocabularyVersion's token, one row, re-reading the vocabulary when the token has changed. Every
save and delete of a parameter type or definition (sync_definitions in any process, the admin)
writes a new random token in the transaction of the change: other processes see the new token
when they see the new vocabulary, and a rolled-back change leaves behind a token that no cache
holds (a counter would come back to a value cached before the rollback).
"""

import uuid
from dataclasses import dataclass

from django.db import connection

from .models import DatasetDefinition, ParameterType, VocabularyVersion

VERSION_ROW = 1


@dataclass(frozen=True)
class Vocabulary:
    """Shared by the threads of a process: read it, never change its entries."""

    version: object  # VocabularyVersion.token as the database driver gives it; None: no row yet
    parameter_types: dict[str, ParameterType]
    definitions: dict[str, DatasetDefinition]


_cached: Vocabulary | None = None


def current_vocabulary() -> Vocabulary:
    """The committed vocabulary (or this transaction's): one query while it is unchanged."""
    global _cached
    # The token first: a vocabulary read after it is at least as new, so a change committed in
    # between is read again on the next call, never kept under the newer token. Plain SQL: this
    # runs on every ingestion, and the ORM took twice as long to build the query as to run it.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT token FROM {VocabularyVersion._meta.db_table} WHERE id = %s", [VERSION_ROW])
        row = cursor.fetchone()
    version = row[0] if row else None
    vocabulary = _cached
    if vocabulary is None or vocabulary.version != version:
        vocabulary = _cached = Vocabulary(
            version=version,
            parameter_types={p.name: p for p in ParameterType.objects.all()},
            definitions={d.code: d for d in DatasetDefinition.objects.all()},
        )
    return vocabulary


def vocabulary_changed(**kwargs) -> None:
    """Receiver of post_save and post_delete of ParameterType and DatasetDefinition: a new token,
    in one statement (an upsert: the row may be missing, e.g. after a flush)."""
    VocabularyVersion.objects.bulk_create(
        [VocabularyVersion(pk=VERSION_ROW, token=uuid.uuid4())],
        update_conflicts=True,
        unique_fields=["id"],
        update_fields=["token"],
    )
