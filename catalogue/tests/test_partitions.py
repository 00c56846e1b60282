"""Datafile partitioned by hash of its dataset on PostgreSQL (migration 0012): the table Django
reads and writes is the partitioned parent, a dataset's files live in one partition, ids keep
coming from the identity, and the constraints Django relies on hold."""

import pytest
from django.db import IntegrityError, connection, transaction

from catalogue.models import Datafile, Dataset

pytestmark = pytest.mark.postgresql


def _partitions_of(table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = %s::regclass ORDER BY c.relname",
            [table],
        )
        return [name for (name,) in cursor.fetchall()]


def _partition_of_each_file(dataset: Dataset) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT tableoid::regclass::text FROM catalogue_datafile WHERE dataset_id = %s", [dataset.pk]
        )
        return {name for (name,) in cursor.fetchall()}


@pytest.mark.django_db
def test_files_live_in_the_partition_of_their_dataset(investigation):
    assert len(_partitions_of("catalogue_datafile")) == 16
    first = Dataset.objects.create(investigation=investigation, name="a", location="/data/a")
    second = Dataset.objects.create(investigation=investigation, name="b", location="/data/b")
    files = Datafile.objects.bulk_create(
        [Datafile(dataset=d, path=f"f{i:03d}.h5", size=i) for d in (first, second) for i in range(50)]
    )
    assert all(f.pk for f in files) and len({f.pk for f in files}) == 100  # the identity numbers them
    assert len(_partition_of_each_file(first)) == 1 and len(_partition_of_each_file(second)) == 1
    # Django's key is still the id alone: lookups, updates and deletes by it.
    one = Datafile.objects.get(pk=files[7].pk)
    assert (one.dataset_id, one.path) == (first.pk, "f007.h5")
    Datafile.objects.filter(pk=one.pk).update(size=12345)
    assert Datafile.objects.get(pk=one.pk).size == 12345
    second.delete()  # the files go with their dataset
    assert Datafile.objects.count() == 50


@pytest.mark.django_db
def test_constraints_still_hold(investigation):
    dataset = Dataset.objects.create(investigation=investigation, name="a", location="/data/a")
    Datafile.objects.create(dataset=dataset, path="x.h5", size=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Datafile.objects.create(dataset=dataset, path="x.h5", size=2)  # datafile_unique_path
    with pytest.raises(IntegrityError), transaction.atomic():
        Datafile.objects.create(dataset=dataset, path="y.h5", size=-1)  # the size's check
    # The deferred foreign key, checked at commit (or here, made immediate).
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("INSERT INTO catalogue_datafile (dataset_id, path, size, checksum) VALUES (-5, 'z', 0, '')")
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
