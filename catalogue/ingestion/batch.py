"""The batch store (POST /api/v1/datasets/batch/): many datasets, each validated on its own and
answered at its index, in one transaction. The new ones are written together: one INSERT of their
rows, one upsert of their tallies and one of their rollups, one COPY of their parameter values and
one of their files (PostgreSQL), where storing them one by one cost ten statements each. What
depends on an earlier item of the batch (the same
location again: an update of it; inputs among the batch's own locations), the updates of stored
locations, and a set that a concurrent writer got in the way of, go through dataset_store one at a
time afterwards, each in its own savepoint: a refused dataset writes nothing, the others stay."""

import os
from collections import defaultdict

from django.db import IntegrityError, transaction
from django.db.models import Q

from catalogue import tallies
from catalogue.access import Actor
from catalogue.models import Dataset, Sample

from .registration import datafiles_insert_new, registration_queue
from .services import (
    DatasetRequest,
    IngestionError,
    dataset_fields,
    dataset_store,
    dataset_validate,
    inline_files,
    parameter_value_rows,
    parameter_values_write,
)

Outcome = tuple[Dataset, bool] | IngestionError


@transaction.atomic
def dataset_store_batch(*, actor: Actor, requests: list[tuple[DatasetRequest | None, dict]]) -> list[Outcome]:
    """dataset_store for each (request, shape_errors), as if in turn, in one transaction; returns,
    for each, (dataset, created) or the IngestionError that refused it. A request of None was
    refused by its shape alone (not an object): its shape_errors are its answer. The same location
    twice updates the dataset the first one stored. Files queued for the worker are sent when the
    whole batch commits."""
    outcomes: list[Outcome | None] = [None] * len(requests)
    memo: dict = {}  # the investigations looked up, once for the batch
    own_locations = {
        os.path.normpath(request.location) for request, _ in requests if request is not None and request.location
    }
    new: dict[str, tuple[int, DatasetRequest, dict]] = {}  # by location: the first valid store of it
    in_turn: list[int] = []
    for index, (request, shape_errors) in enumerate(requests):
        if request is None:
            outcomes[index] = IngestionError(shape_errors)
        elif _names_own_location(request, own_locations):
            in_turn.append(index)  # its inputs are found once the batch's new datasets are stored
        else:
            try:
                resolved = dataset_validate(actor=actor, request=request, shape_errors=shape_errors, memo=memo)
            except IngestionError as exc:
                outcomes[index] = exc
                continue
            if resolved["location"] in new:
                in_turn.append(index)
            else:
                new[resolved["location"]] = (index, request, resolved)
    for location in Dataset.objects.filter(location__in=list(new)).values_list("location", flat=True):
        in_turn.append(new.pop(location)[0])  # an update: on its own
    if new:
        try:
            with transaction.atomic():
                for (index, _, _), dataset in zip(new.values(), _insert(list(new.values())), strict=True):
                    outcomes[index] = (dataset, True)
        except IntegrityError:
            # A concurrent request stored one of these locations meanwhile: each on its own then.
            in_turn.extend(index for index, _, _ in new.values())
    for index in sorted(in_turn):
        request, shape_errors = requests[index]
        try:
            outcomes[index] = dataset_store(actor=actor, request=request, shape_errors=shape_errors, memo=memo)
        except IngestionError as exc:
            outcomes[index] = exc
    return outcomes


def _names_own_location(request: DatasetRequest, own_locations: set[str]) -> bool:
    return any(isinstance(ref, str) and os.path.normpath(ref) in own_locations for ref in request.inputs or [])


def _insert(plans: list[tuple[int, DatasetRequest, dict]]) -> list[Dataset]:
    """New datasets (validated, locations not stored) with their samples, tallies, parameter values,
    inputs and files, in a few statements whatever their number."""
    samples = _samples(
        {(resolved["investigation"], request.sample) for _, request, resolved in plans if request.sample}
    )
    datasets, files = [], []
    for _, request, resolved in plans:
        sample = samples[resolved["investigation"].pk, request.sample] if request.sample else None
        inline = inline_files(request.files)
        fields = dataset_fields(request, resolved, sample) | (inline[1] if inline else {})
        datasets.append(Dataset(location=resolved["location"], **fields))
        files.append(inline[0] if inline else None)
    Dataset.objects.bulk_create(datasets)  # sets their ids (PostgreSQL and SQLite: RETURNING)
    tallies.count_new(datasets)
    parameter_values_write(
        [
            row
            for dataset, (_, _, resolved) in zip(datasets, plans, strict=True)
            for row in parameter_value_rows(dataset.pk, resolved)
        ]
    )
    links = Dataset.inputs.through
    links.objects.bulk_create(
        links(from_dataset_id=dataset.pk, to_dataset_id=source.pk)
        for dataset, (_, _, resolved) in zip(datasets, plans, strict=True)
        for source in resolved["inputs"]
    )
    datafiles_insert_new(
        [(dataset.pk, *row) for dataset, rows in zip(datasets, files, strict=True) if rows for row in rows]
    )
    registration_queue(
        [
            (dataset, request.files)
            for dataset, rows, (_, request, _) in zip(datasets, files, plans, strict=True)
            if rows is None
        ]
    )
    return datasets


def _samples(wanted: set[tuple]) -> dict[tuple[int, str], Sample]:
    """The samples named by (investigation, name), by (investigation id, name); those missing are
    created (ignoring one a concurrent writer created meanwhile)."""
    if not wanted:
        return {}
    names = defaultdict(set)
    for investigation, name in wanted:
        names[investigation.pk].add(name)
    named = Q(pk__in=[])
    for investigation_id, sample_names in names.items():
        named |= Q(investigation_id=investigation_id, name__in=sample_names)
    found = {(sample.investigation_id, sample.name): sample for sample in Sample.objects.filter(named)}
    missing = [Sample(investigation=inv, name=name) for inv, name in wanted if (inv.pk, name) not in found]
    if missing:
        Sample.objects.bulk_create(missing, ignore_conflicts=True)  # ids not returned then: read again
        found = {(sample.investigation_id, sample.name): sample for sample in Sample.objects.filter(named)}
    return found
