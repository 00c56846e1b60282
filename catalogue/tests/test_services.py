"""Ingestion (dataset_store), file registration (datafiles_register) and API keys, on the database."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from catalogue.access import Actor
from catalogue.ingestion import registration
from catalogue.ingestion.registration import datafiles_register
from catalogue.ingestion.services import IngestionError, dataset_store
from catalogue.models import Datafile, Dataset, InstrumentApiKey, Investigation, ParameterValue, Sample
from catalogue.people.services import LAST_USED_PRECISION, api_key_authenticate, api_key_create, api_key_revoke
from catalogue.tallies import recount

from .conftest import counts, key_actor, make_dataset, make_investigation, store_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def actor(api_key) -> Actor:
    return key_actor(api_key)


@pytest.fixture
def world(investigation, vocabulary, raw_definition, processed_definition):
    """Everything a valid request for MX-1/v1 refers to."""
    return investigation


# --- Validation: every problem at once, nothing written --------------------------------------


def test_every_problem_is_reported_by_field_and_nothing_is_written(world, actor, data_root, tmp_path):
    before = counts()
    request = store_request(
        data_root,
        location=str(tmp_path / "outside" / "scan"),
        proposal="MX-404",
        sample="lysozyme",
        definition="TEST_nope",
        parameters={"MX_x": 1, "TEST_energy": {"value": 1, "unit": "mm"}, "TEST_count": 3},
        inputs=[str(data_root / "missing"), 999999],
    )
    with pytest.raises(IngestionError) as excinfo:
        dataset_store(actor=actor, request=request)
    errors = excinfo.value.errors
    assert set(errors) == {"location", "investigation", "definition", "parameters", "inputs"}
    assert "is not inside a data root" in errors["location"]
    assert str(data_root.parent) in errors["location"]
    assert errors["investigation"] == "no investigation MX-404 / v1"
    assert errors["definition"] == "unknown definition 'TEST_nope'"
    assert errors["parameters"] == {
        "MX_x": "not in the vocabulary",
        "TEST_energy": "unit 'mm' cannot be converted to 'keV'",
    }
    assert errors["inputs"] == f"no dataset at 999999, {data_root / 'missing'}"
    assert counts() == before


def test_bad_parameters_alone_write_nothing(world, actor, data_root):
    """Valid investigation, sample and location: a single bad parameter still writes nothing."""
    before = counts()
    request = store_request(data_root, sample="lysozyme", parameters={"TEST_energy": 12, "TEST_count": "many"})
    with pytest.raises(IngestionError) as excinfo:
        dataset_store(actor=actor, request=request)
    assert excinfo.value.errors == {"parameters": {"TEST_count": "expected a number, got 'many'"}}
    assert counts() == before
    assert not Sample.objects.filter(name="lysozyme").exists()


@pytest.mark.parametrize(
    "location",
    ["relative/path", "{root}/../escape", "/etc/passwd", "{root}x/scan", ""],
    ids=["relative", "dotdot", "elsewhere", "sibling-prefix", "empty"],
)
def test_locations_outside_the_data_roots_are_refused(world, actor, data_root, location):
    request = store_request(data_root)
    request.location = location.format(root=data_root)  # as sent: store_request would make it absolute
    with pytest.raises(IngestionError) as excinfo:
        dataset_store(actor=actor, request=request)
    assert set(excinfo.value.errors) == {"location"}
    assert Dataset.objects.count() == 0


def test_location_is_normalised(world, actor, data_root):
    dataset, _ = dataset_store(actor=actor, request=store_request(data_root, location=f"{data_root}/./a//scan1/"))
    assert dataset.location == str(data_root / "a" / "scan1")


def test_a_definition_of_the_other_kind_is_refused(world, actor, data_root):
    with pytest.raises(IngestionError) as excinfo:
        dataset_store(actor=actor, request=store_request(data_root, definition="TEST_processed", kind="raw"))
    assert excinfo.value.errors == {"kind": "definition TEST_processed is for processed datasets"}


def test_end_before_start_is_refused(world, actor, data_root):
    now = timezone.now()
    request = store_request(data_root, start_date=now, end_date=now - timedelta(minutes=1))
    with pytest.raises(IngestionError) as excinfo:
        dataset_store(actor=actor, request=request)
    assert excinfo.value.errors == {"end_date": "is before start_date"}


def test_a_dataset_cannot_be_its_own_input(world, actor, data_root):
    dataset_store(actor=actor, request=store_request(data_root))
    request = store_request(data_root, inputs=[str(data_root / "scan1")])
    with pytest.raises(IngestionError) as excinfo:
        dataset_store(actor=actor, request=request)
    assert excinfo.value.errors == {"inputs": "a dataset cannot be its own input"}


def test_a_location_of_another_investigation_is_refused(world, actor, data_root, instrument):
    """MX-1's folder is not MX-2's: storing MX-1's data into MX-2 is refused before anything is written."""
    dataset_store(actor=actor, request=store_request(data_root))
    make_investigation(instrument, "MX-2", "v1")
    before = counts()
    request = store_request(data_root, location=str(data_root / "scan1"), proposal="MX-2", sample="new sample")
    with pytest.raises(IngestionError) as excinfo:
        dataset_store(actor=actor, request=request)
    assert excinfo.value.errors == {
        "location": f"'{data_root / 'scan1'}' is not a folder inside the data folder of MX-2 v1 "
        f"({data_root.parent / 'mx2'})"
    }
    assert counts() == before


def test_a_location_owned_elsewhere_answers_like_any_refused_location(world, actor, data_root, instrument):
    """Two sessions sharing a folder (set by staff): a location already stored for one is refused for
    the other in the same words as a location outside its folder, so nobody learns that data lie there."""
    dataset_store(actor=actor, request=store_request(data_root))
    make_investigation(instrument, "MX-2", "v1")
    Investigation.objects.filter(name="MX-2").update(data_folder=str(data_root))
    before = counts()
    answers = []
    for location in (data_root / "scan1", data_root.parent / "elsewhere"):
        request = store_request(data_root, location=str(location), proposal="MX-2", sample="new sample")
        with pytest.raises(IngestionError) as excinfo:
            dataset_store(actor=actor, request=request)
        answers.append(excinfo.value.errors["location"].replace(str(location), "<location>"))
    assert answers[0] == answers[1] == f"'<location>' is not a folder inside the data folder of MX-2 v1 ({data_root})"
    assert counts() == before  # the sample made before the check was rolled back


# --- Finding the investigation -------------------------------------------------------------


def test_the_investigation_is_found_by_instrument_and_time(world, actor, data_root, investigation):
    request = store_request(
        data_root, proposal="", visit_id="", instrument="ID30", time=investigation.start_date + timedelta(hours=1)
    )
    dataset, created = dataset_store(actor=actor, request=request)
    assert created and dataset.investigation == investigation


def test_a_proposal_with_several_visits_needs_the_visit(world, actor, data_root, instrument):
    make_investigation(instrument, "MX-1", "v2")
    with pytest.raises(IngestionError) as excinfo:
        dataset_store(actor=actor, request=store_request(data_root, visit_id=""))
    assert excinfo.value.errors == {"investigation": "several investigations match MX-1; give the visit id"}


def test_no_way_to_find_the_investigation(world, actor, data_root):
    with pytest.raises(IngestionError) as excinfo:
        dataset_store(actor=actor, request=store_request(data_root, proposal="", visit_id=""))
    assert excinfo.value.errors == {"investigation": "give the proposal (and visit id), or the instrument and the time"}


# --- Who may write -------------------------------------------------------------------------


def test_a_key_of_another_instrument_cannot_write(world, other_api_key, data_root):
    """It gets the answer of a missing investigation: it must not learn what ID30 holds."""
    with pytest.raises(IngestionError) as hidden:
        dataset_store(actor=key_actor(other_api_key), request=store_request(data_root))
    with pytest.raises(IngestionError) as missing:
        dataset_store(actor=key_actor(other_api_key), request=store_request(data_root, proposal="MX-404"))
    assert hidden.value.errors == {"investigation": "no investigation MX-1 / v1"}
    assert missing.value.errors == {"investigation": "no investigation MX-404 / v1"}
    assert Dataset.objects.count() == 0


def test_a_key_of_another_instrument_finding_by_time_gets_the_missing_answer(
    world, other_api_key, data_root, investigation
):
    """The instrument-and-time lookup must not tell a session on ID30 from no session."""
    actor = key_actor(other_api_key)
    during = investigation.start_date + timedelta(hours=1)
    before = investigation.start_date - timedelta(days=30)
    answers = []
    for time in (during, before):
        request = store_request(data_root, proposal="", visit_id="", instrument="ID30", time=time)
        with pytest.raises(IngestionError) as excinfo:
            dataset_store(actor=actor, request=request)
        answers.append(excinfo.value.errors["investigation"].replace(time.isoformat(), "<time>"))
    assert answers[0] == answers[1] == "no investigation on ID30 at <time>"


def test_a_scientist_writes_on_their_instrument_only(world, scientist, other_scientist, data_root):
    dataset, created = dataset_store(actor=Actor(user=scientist), request=store_request(data_root))
    assert created
    with pytest.raises(IngestionError) as excinfo:
        dataset_store(actor=Actor(user=other_scientist), request=store_request(data_root, location="scan2"))
    assert excinfo.value.errors == {"investigation": "no investigation MX-1 / v1"}


def test_staff_writes_anywhere(world, staff, data_root):
    _, created = dataset_store(actor=Actor(user=staff), request=store_request(data_root))
    assert created


# --- Upsert by location -----------------------------------------------------------------------


def test_a_new_dataset_is_written_with_its_sample_and_parameters(world, actor, data_root, investigation):
    request = store_request(
        data_root,
        sample="lysozyme",
        definition="TEST_raw",
        description="first scan",
        parameters={"TEST_energy": {"value": 12848, "unit": "eV"}, "TEST_detector": "EIGER2", "TEST_flag": True},
    )
    dataset, created = dataset_store(actor=actor, request=request)
    assert created
    dataset.refresh_from_db()
    assert dataset.investigation == investigation
    assert dataset.sample.name == "lysozyme" and dataset.sample.investigation == investigation
    assert dataset.definition.code == "TEST_raw"
    assert (dataset.name, dataset.kind, dataset.description) == ("scan 1", "raw", "first scan")
    assert dataset.parameters == {"TEST_energy": pytest.approx(12.848), "TEST_detector": "EIGER2", "TEST_flag": True}
    assert dataset.complete is False


def test_searchable_copies_are_written_typed(world, actor, data_root):
    request = store_request(
        data_root,
        parameters={
            "TEST_energy": {"value": 12848, "unit": "eV"},
            "TEST_detector": "EIGER2",
            "TEST_flag": False,
            "TEST_time": "2024-03-01T10:00:00+00:00",
        },
    )
    dataset, _ = dataset_store(actor=actor, request=request)
    rows = {
        v.parameter_type.name: (v.numeric_value, v.text_value)
        for v in ParameterValue.objects.filter(dataset=dataset).select_related("parameter_type")
    }
    assert rows == {
        "TEST_energy": (pytest.approx(12.848), ""),
        "TEST_detector": (None, "EIGER2"),
        "TEST_flag": (None, "False"),
        "TEST_time": (None, "2024-03-01T10:00:00+00:00"),
    }


def test_the_same_location_twice_gives_one_dataset_with_the_new_fields(world, actor, data_root):
    first, created = dataset_store(
        actor=actor,
        request=store_request(data_root, sample="lysozyme", parameters={"TEST_energy": 12, "TEST_count": 1}),
    )
    assert created
    second, created_again = dataset_store(
        actor=actor,
        request=store_request(data_root, name="scan 1 (again)", sample="thaumatin", parameters={"TEST_energy": 13}),
    )
    assert created_again is False
    assert second.pk == first.pk
    assert Dataset.objects.count() == 1
    second.refresh_from_db()
    assert (second.name, second.sample.name, second.parameters) == (
        "scan 1 (again)",
        "thaumatin",
        {"TEST_energy": 13.0},
    )
    values = ParameterValue.objects.filter(dataset=second)
    assert [(v.parameter_type.name, v.numeric_value) for v in values] == [("TEST_energy", 13.0)]
    assert Sample.objects.count() == 2  # both samples exist; the dataset points at the last


@pytest.mark.postgresql  # reads PostgreSQL's ctid
@pytest.mark.parametrize("statement", ["arrays", "values"])
def test_storing_again_rewrites_only_the_values_that_changed(world, actor, data_root, statement, monkeypatch):
    """PostgreSQL's statements with arrays, and the portable ones with a VALUES list (SQLite)."""
    if statement == "values":
        monkeypatch.setattr(connection, "vendor", "sqlite")

    def rows():
        with connection.cursor() as cursor:  # ctid: where the row version lies; an UPDATE moves it
            cursor.execute(
                "SELECT t.name, v.id, v.ctid::text, v.numeric_value, v.text_value FROM catalogue_parametervalue v"
                " JOIN techniques_parametertype t ON t.id = v.parameter_type_id WHERE v.dataset_id = %s",
                [dataset.pk],
            )
            return {name: rest for name, *rest in cursor.fetchall()}

    sent = {"TEST_energy": 12, "TEST_count": 1, "TEST_detector": "EIGER2"}
    dataset, _ = dataset_store(actor=actor, request=store_request(data_root, parameters=sent))
    before = rows()
    dataset_store(
        actor=actor, request=store_request(data_root, parameters={"TEST_energy": 13, "TEST_detector": "EIGER2"})
    )
    after = rows()
    assert set(after) == {"TEST_energy", "TEST_detector"}
    assert after["TEST_detector"] == before["TEST_detector"]  # not written again
    assert after["TEST_energy"][0] == before["TEST_energy"][0]  # the same row, updated in place
    assert after["TEST_energy"][1:] != before["TEST_energy"][1:] and after["TEST_energy"][2] == 13.0
    dataset_store(actor=actor, request=store_request(data_root))
    assert rows() == {}  # none sent: none kept


def test_storing_again_marks_the_dataset_incomplete_until_files_are_registered(world, actor, data_root):
    dataset, _ = dataset_store(actor=actor, request=store_request(data_root, files=[]))
    datafiles_register(dataset_id=dataset.pk, files=[])
    dataset.refresh_from_db()
    assert dataset.complete
    dataset, _ = dataset_store(actor=actor, request=store_request(data_root))
    dataset.refresh_from_db()
    assert not dataset.complete


def test_an_existing_sample_is_reused(world, actor, data_root, investigation):
    sample = Sample.objects.create(investigation=investigation, name="lysozyme")
    dataset, _ = dataset_store(actor=actor, request=store_request(data_root, sample="lysozyme"))
    assert dataset.sample == sample
    assert Sample.objects.count() == 1


def test_inputs_by_location_and_by_id(world, actor, data_root):
    first, _ = dataset_store(actor=actor, request=store_request(data_root, location="raw/1", definition="TEST_raw"))
    second, _ = dataset_store(actor=actor, request=store_request(data_root, location="raw/2", definition="TEST_raw"))
    processed, _ = dataset_store(
        actor=actor,
        request=store_request(
            data_root,
            location="processed/1",
            kind="processed",
            definition="TEST_processed",
            inputs=[f"{data_root}/raw/./1", second.pk],
        ),
    )
    assert set(processed.inputs.all()) == {first, second}
    assert list(first.outputs.all()) == [processed]
    # Storing again replaces the inputs.
    dataset_store(
        actor=actor,
        request=store_request(data_root, location="processed/1", kind="processed", inputs=[second.pk]),
    )
    assert list(processed.inputs.all()) == [second]


def test_an_embargoed_dataset_of_another_instrument_is_not_a_valid_input(world, actor, data_root, other_investigation):
    """A key reads like a scientist of its instrument: another beamline's embargoed data is missing to it."""
    hidden = make_dataset(other_investigation, str(data_root / "saxs" / "1"))
    before = counts()
    request = store_request(data_root, location="processed/1", kind="processed", inputs=[hidden.location])
    with pytest.raises(IngestionError) as excinfo:
        dataset_store(actor=actor, request=request)
    assert excinfo.value.errors == {"inputs": f"no dataset at {hidden.location}"}
    assert counts() == before


def test_inputs_must_be_of_an_allowed_definition(world, actor, data_root, technique):
    """TEST_processed takes TEST_raw datasets as inputs (DatasetDefinition.input_definitions)."""
    from techniques.models import DatasetDefinition

    DatasetDefinition.objects.get_or_create(
        code="TEST_other", defaults={"label": "Other", "kind": "raw", "technique": technique}
    )
    wrong, _ = dataset_store(actor=actor, request=store_request(data_root, location="raw/1", definition="TEST_other"))
    request = store_request(
        data_root, location="processed/1", kind="processed", definition="TEST_processed", inputs=[wrong.pk]
    )
    with pytest.raises(IngestionError) as excinfo:
        dataset_store(actor=actor, request=request)
    assert excinfo.value.errors == {
        "inputs": f"input {wrong.location} breaks rule: TEST_processed takes inputs of TEST_raw only"
    }


def test_inputs_without_a_definition_are_refused_when_the_definition_lists_inputs(world, actor, data_root):
    bare, _ = dataset_store(actor=actor, request=store_request(data_root, location="raw/1"))
    request = store_request(
        data_root, location="processed/1", kind="processed", definition="TEST_processed", inputs=[bare.location]
    )
    with pytest.raises(IngestionError) as excinfo:
        dataset_store(actor=actor, request=request)
    assert excinfo.value.errors == {
        "inputs": f"input {bare.location} breaks rule: TEST_processed takes inputs of TEST_raw only"
    }


def test_a_lenient_instrument_stores_inputs_of_another_definition_with_a_warning(world, actor, data_root):
    """The dataset is stored: its warning says which rule the inputs break, not that they were refused."""
    instrument = world.instrument
    instrument.validation = "lenient"
    instrument.save()
    first, _ = dataset_store(actor=actor, request=store_request(data_root, location="raw/1"))
    second, _ = dataset_store(actor=actor, request=store_request(data_root, location="raw/2"))
    request = store_request(
        data_root,
        location="processed/1",
        kind="processed",
        definition="TEST_processed",
        inputs=[first.location, second.location],
    )

    processed, _ = dataset_store(actor=actor, request=request)

    assert set(processed.inputs.all()) == {first, second}
    (warning,) = processed.warnings
    assert warning["field"] == "inputs" and sorted(warning["value"]) == [first.location, second.location]
    listed = ", ".join(warning["value"])
    assert warning["rule"] == f"inputs {listed} break rule: TEST_processed takes inputs of TEST_raw only"
    assert "refused" not in str(processed.warnings)


def test_a_processed_dataset_without_definition_takes_any_input(world, actor, data_root):
    bare, _ = dataset_store(actor=actor, request=store_request(data_root, location="raw/1"))
    processed, _ = dataset_store(
        actor=actor, request=store_request(data_root, location="processed/1", kind="processed", inputs=[bare.pk])
    )
    assert list(processed.inputs.all()) == [bare]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sample", ["", "lysozyme"], ids=["no-sample", "new-sample"])
def test_concurrent_stores_of_one_location_give_one_dataset(investigation, vocabulary, api_key, data_root, sample):
    """Without a sample the racing INSERTs of the dataset collide; with one, those of the sample."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises writers")
    actor = key_actor(api_key)
    callers = 8
    barrier = threading.Barrier(callers)
    results, failures = [], []

    def store(i):
        try:
            barrier.wait()
            results.append(
                dataset_store(
                    actor=actor,
                    request=store_request(
                        data_root, name=f"call {i}", sample=sample, parameters={"TEST_energy": i + 1}
                    ),
                )
            )
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=store, args=(i,)) for i in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert Dataset.objects.count() == 1
    assert Sample.objects.count() == (1 if sample else 0)
    assert sum(created for _dataset, created in results) == 1
    assert {dataset.pk for dataset, _ in results} == {Dataset.objects.get().pk}
    assert ParameterValue.objects.count() == 1


# --- File registration -------------------------------------------------------------------------


@pytest.fixture
def stored(world, actor, data_root) -> Dataset:
    dataset, _ = dataset_store(actor=actor, request=store_request(data_root, location="scan1"))
    return dataset


def test_register_a_given_file_list(stored):
    files = [
        {"path": "img_0001.cbf", "size": 100, "checksum": "adler32:1", "modified": "2024-03-01T10:00:00+00:00"},
        {"path": "sub/./img_0002.cbf", "size": 250},
    ]
    dataset = datafiles_register(dataset_id=stored.pk, files=files)
    assert (dataset.file_count, dataset.size, dataset.complete) == (2, 350, True)
    dataset.refresh_from_db()
    assert (dataset.file_count, dataset.size, dataset.complete) == (2, 350, True)
    rows = {f.path: (f.size, f.checksum) for f in Datafile.objects.filter(dataset=stored)}
    assert rows == {"img_0001.cbf": (100, "adler32:1"), "sub/img_0002.cbf": (250, "")}
    assert Datafile.objects.get(path="img_0001.cbf").modified.isoformat() == "2024-03-01T10:00:00+00:00"


def test_register_by_scanning_the_folder(stored, data_root):
    folder = data_root / "scan1"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.h5").write_bytes(b"x" * 10)
    (folder / "sub" / "b.h5").write_bytes(b"y" * 32)
    dataset = datafiles_register(dataset_id=stored.pk)
    assert (dataset.file_count, dataset.size, dataset.complete) == (2, 42, True)
    assert sorted(Datafile.objects.filter(dataset=stored).values_list("path", "size")) == [
        ("a.h5", 10),
        ("sub/b.h5", 32),
    ]
    assert all(f.modified is not None for f in Datafile.objects.filter(dataset=stored))


def test_registering_again_adds_no_duplicates_and_updates_sizes(stored, data_root):
    folder = data_root / "scan1"
    folder.mkdir(parents=True)
    (folder / "a.h5").write_bytes(b"x" * 10)
    datafiles_register(dataset_id=stored.pk)
    (folder / "a.h5").write_bytes(b"x" * 15)
    (folder / "b.h5").write_bytes(b"y" * 5)
    dataset = datafiles_register(dataset_id=stored.pk)
    dataset = datafiles_register(dataset_id=stored.pk)
    assert (dataset.file_count, dataset.size) == (2, 20)
    assert Datafile.objects.filter(dataset=stored).count() == 2
    assert Datafile.objects.get(dataset=stored, path="a.h5").size == 15


@pytest.fixture(params=["copy", "bulk_create"])
def register_path(request, monkeypatch):
    """PostgreSQL's COPY path, and the portable bulk_create one (SQLite) on the same database."""
    if request.param == "bulk_create":
        monkeypatch.setattr(connection, "vendor", "sqlite")
    return request.param


def test_register_in_batches(stored, monkeypatch, register_path):
    monkeypatch.setattr(registration, "FILE_BATCH", 3)
    files = [{"path": f"img_{i:04}.cbf", "size": i} for i in range(10)]
    dataset = datafiles_register(dataset_id=stored.pk, files=files)
    assert (dataset.file_count, dataset.size) == (10, sum(range(10)))
    files[4] = {"path": "img_0004.cbf", "size": 40, "checksum": "md5:4", "modified": "2024-03-01T10:00:00+00:00"}
    dataset = datafiles_register(dataset_id=stored.pk, files=files)
    assert (dataset.file_count, dataset.size) == (10, sum(range(10)) + 36)
    changed = Datafile.objects.get(dataset=stored, path="img_0004.cbf")
    assert (changed.checksum, changed.modified.isoformat()) == ("md5:4", "2024-03-01T10:00:00+00:00")


def test_a_file_listed_twice_is_stored_once_as_last_listed(stored, register_path):
    files = [{"path": "a.cbf", "size": 1}, {"path": "./a.cbf", "size": 2}]
    dataset = datafiles_register(dataset_id=stored.pk, files=files)
    assert (dataset.file_count, dataset.size) == (1, 2)


def test_several_registrations_in_one_transaction(world, actor, data_root, stored):
    other, _ = dataset_store(actor=actor, request=store_request(data_root, location="scan2"))
    with transaction.atomic():
        datafiles_register(dataset_id=stored.pk, files=[{"path": "a.cbf", "size": 1}])
        datafiles_register(dataset_id=other.pk, files=[{"path": "a.cbf", "size": 2}])
    assert sorted(Datafile.objects.values_list("dataset_id", "size")) == [(stored.pk, 1), (other.pk, 2)]


def test_an_empty_or_missing_folder_registers_nothing_but_completes(stored):
    dataset = datafiles_register(dataset_id=stored.pk)
    assert (dataset.file_count, dataset.size, dataset.complete) == (0, 0, True)


def test_registering_a_deleted_dataset_does_nothing():
    assert datafiles_register(dataset_id=987654, files=[{"path": "a", "size": 1}]) is None
    assert Datafile.objects.count() == 0


def test_the_task_registers_a_file_list_longer_than_the_inline_limit(
    world, actor, data_root, settings, django_capture_on_commit_callbacks
):
    settings.INGESTION_INLINE_FILES = 1
    files = [{"path": "a.cbf", "size": 7, "modified": None}, {"path": "b.cbf", "size": 3, "modified": None}]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        dataset, _ = dataset_store(actor=actor, request=store_request(data_root, files=files))
    assert len(callbacks) == 1
    dataset.refresh_from_db()
    assert (dataset.file_count, dataset.size, dataset.complete) == (2, 10, True)


def test_a_short_file_list_is_registered_in_the_store_transaction(
    world, actor, data_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        dataset, _ = dataset_store(
            actor=actor, request=store_request(data_root, files=[{"path": "a.cbf", "size": 7, "modified": None}])
        )
    assert callbacks == []
    dataset.refresh_from_db()
    assert (dataset.file_count, dataset.size, dataset.complete) == (1, 7, True)
    assert recount().wrong == 0


def test_nothing_is_queued_when_the_request_is_refused(world, actor, data_root, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(IngestionError):
        dataset_store(actor=actor, request=store_request(data_root, proposal="MX-404"))
    assert callbacks == []


# --- API keys ---------------------------------------------------------------------------------


def test_a_key_is_stored_hashed_and_authenticates(instrument):
    key, secret = api_key_create(instrument=instrument, name="pipeline")
    assert secret.startswith(key.prefix + ".")
    stored = InstrumentApiKey.objects.get(pk=key.pk)
    assert secret not in (stored.digest, stored.prefix) and len(stored.digest) == 64
    assert stored.last_used is None
    assert api_key_authenticate(secret=secret) == key
    assert InstrumentApiKey.objects.get(pk=key.pk).last_used is not None


def test_last_used_is_written_once_a_minute(api_key, django_assert_num_queries):
    key, secret = api_key
    api_key_authenticate(secret=secret)
    first = InstrumentApiKey.objects.get(pk=key.pk).last_used
    with django_assert_num_queries(1):  # the key's lookup only
        assert api_key_authenticate(secret=secret) == key
    assert InstrumentApiKey.objects.get(pk=key.pk).last_used == first
    InstrumentApiKey.objects.filter(pk=key.pk).update(last_used=first - LAST_USED_PRECISION)
    api_key_authenticate(secret=secret)
    assert InstrumentApiKey.objects.get(pk=key.pk).last_used > first


@pytest.mark.parametrize("mangle", [lambda s: s + "x", lambda s: s[:-1], lambda s: "nope", lambda s: ""])
def test_a_wrong_secret_does_not_authenticate(api_key, mangle):
    _key, secret = api_key
    assert api_key_authenticate(secret=mangle(secret)) is None


def test_a_revoked_key_does_not_authenticate(api_key):
    key, secret = api_key
    api_key_revoke(key=key)
    assert api_key_authenticate(secret=secret) is None
    revoked = InstrumentApiKey.objects.get(pk=key.pk).revoked
    api_key_revoke(key=key)  # revoking again keeps the first date
    assert InstrumentApiKey.objects.get(pk=key.pk).revoked == revoked


def test_an_expired_key_does_not_authenticate(instrument):
    _key, secret = api_key_create(instrument=instrument, name="old", expires=timezone.now())
    assert api_key_authenticate(secret=secret) is None
    _key, secret = api_key_create(instrument=instrument, name="new", expires=timezone.now() + timedelta(days=1))
    assert api_key_authenticate(secret=secret) is not None
