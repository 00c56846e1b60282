"""Definition files: errors that name the file, the place and the reason; an idempotent sync."""

import textwrap

import pytest
from django.core.management import CommandError, call_command

from techniques.loading import DefinitionFileError, read_definition_file, read_definitions, sync_definitions
from techniques.models import DatasetDefinition, ParameterType, Technique

GOOD = """
technique:
  code: TESTLOAD
  name: Loading test technique
parameters:
  - name: TESTLOAD_wavelength
    label: Wavelength
    unit: angstrom
    type: numeric
  - name: TESTLOAD_mode
    type: string
definitions:
  - code: TESTLOAD_raw
    label: Test raw
    kind: raw
    summary: [TESTLOAD_wavelength]
  - code: TESTLOAD_processed
    label: Test processed
    kind: processed
    inputs: [TESTLOAD_raw]
"""


def write(directory, name, text):
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


# --- Errors name the file, the place and the reason ----------------------------------------


def test_a_good_file_reads(tmp_path):
    document = read_definition_file(write(tmp_path, "good.yaml", GOOD))
    assert document["technique"]["code"] == "TESTLOAD"
    assert [p["name"] for p in document["parameters"]] == ["TESTLOAD_wavelength", "TESTLOAD_mode"]


def test_invalid_yaml_names_the_file_and_the_line(tmp_path):
    path = write(tmp_path, "broken.yaml", "parameters:\n  - name: [unclosed\n    type: numeric\n")
    with pytest.raises(DefinitionFileError) as excinfo:
        read_definition_file(path)
    message = str(excinfo.value)
    assert message.startswith("broken.yaml: not valid YAML")
    assert "line" in message


@pytest.mark.parametrize(
    ("text", "place", "reason"),
    [
        (
            "parameters:\n  - name: TESTLOAD_x\n    type: complex\n",
            "parameters/0/type",
            "'complex' is not one of ['numeric', 'string', 'datetime', 'boolean']",
        ),
        ("parameters:\n  - name: TESTLOAD_x\n", "parameters/0", "'type' is a required property"),
        ("parameters:\n  - name: 2theta\n    type: numeric\n", "parameters/0/name", "'2theta' does not match"),
        (
            "parameters:\n  - name: TESTLOAD_x\n    type: numeric\n    units: mm\n",
            "parameters/0",
            "Additional properties are not allowed ('units' was unexpected)",
        ),
        (
            "technique: {code: T, name: T}\ndefinitions:\n  - {code: TESTLOAD_d, label: D, kind: cooked}\n",
            "definitions/0/kind",
            "'cooked' is not one of ['raw', 'processed']",
        ),
        ("colour: blue\n", "(top level)", "Additional properties are not allowed ('colour' was unexpected)"),
        (
            "parameters:\n"
            "  - {name: TESTLOAD_a, type: numeric}\n"
            "  - {name: TESTLOAD_b, type: numeric, unit: furlongz}\n",
            "parameters/1/unit",
            "unknown unit 'furlongz'",
        ),
    ],
)
def test_a_bad_file_names_the_file_the_place_and_the_reason(tmp_path, text, place, reason):
    path = write(tmp_path, "bad.yaml", text)
    with pytest.raises(DefinitionFileError) as excinfo:
        read_definition_file(path)
    message = str(excinfo.value)
    assert message.startswith(f"bad.yaml: at {place}: "), message
    assert reason in message


def test_definitions_need_a_technique(tmp_path):
    path = write(tmp_path, "orphan.yaml", "definitions:\n  - {code: TESTLOAD_d, label: D, kind: raw}\n")
    with pytest.raises(DefinitionFileError, match="^orphan.yaml: definitions need a technique section$"):
        read_definition_file(path)


def test_read_definitions_reads_every_yaml_file_in_order(tmp_path):
    write(tmp_path, "b.yaml", "parameters:\n  - {name: TESTLOAD_b, type: string}\n")
    write(tmp_path, "a.yaml", "parameters:\n  - {name: TESTLOAD_a, type: string}\n")
    write(tmp_path, "notes.txt", "not a definition file")
    documents = read_definitions(tmp_path)
    assert [d["parameters"][0]["name"] for d in documents] == ["TESTLOAD_a", "TESTLOAD_b"]


# --- Sync ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_sync_creates_the_vocabulary(tmp_path):
    write(tmp_path, "test.yaml", GOOD)
    report = sync_definitions(tmp_path)
    assert report.created == [
        "technique TESTLOAD",
        "parameter TESTLOAD_wavelength",
        "parameter TESTLOAD_mode",
        "definition TESTLOAD_raw",
        "definition TESTLOAD_processed",
    ]
    assert report.updated == []
    wavelength = ParameterType.objects.get(name="TESTLOAD_wavelength")
    assert (wavelength.label, wavelength.unit, wavelength.value_type) == ("Wavelength", "angstrom", "numeric")
    assert wavelength.technique.code == "TESTLOAD"
    assert ParameterType.objects.get(name="TESTLOAD_mode").label == "TESTLOAD_mode"  # label defaults to the name
    processed = DatasetDefinition.objects.get(code="TESTLOAD_processed")
    assert (processed.kind, processed.input_definitions, processed.technique.code) == (
        "processed",
        ["TESTLOAD_raw"],
        "TESTLOAD",
    )
    assert DatasetDefinition.objects.get(code="TESTLOAD_raw").summary == ["TESTLOAD_wavelength"]


@pytest.mark.django_db
def test_sync_is_idempotent(tmp_path, django_assert_num_queries):
    write(tmp_path, "test.yaml", GOOD)
    sync_definitions(tmp_path)
    rows = (Technique.objects.count(), ParameterType.objects.count(), DatasetDefinition.objects.count())
    report = sync_definitions(tmp_path)
    assert (report.created, report.updated) == ([], [])
    assert str(report) == "Vocabulary up to date."
    assert (Technique.objects.count(), ParameterType.objects.count(), DatasetDefinition.objects.count()) == rows


@pytest.mark.django_db
def test_sync_reports_what_changed(tmp_path):
    path = write(tmp_path, "test.yaml", GOOD)
    sync_definitions(tmp_path)
    path.write_text(
        textwrap.dedent(GOOD)
        .replace("unit: angstrom", "unit: nm")
        .replace("    type: string\n", "    type: string\n  - name: TESTLOAD_new\n    type: boolean\n")
    )
    report = sync_definitions(tmp_path)
    assert report.created == ["parameter TESTLOAD_new"]
    assert report.updated == ["parameter TESTLOAD_wavelength"]
    assert str(report) == "created parameter TESTLOAD_new\nupdated parameter TESTLOAD_wavelength"
    assert ParameterType.objects.get(name="TESTLOAD_wavelength").unit == "nm"


@pytest.mark.django_db
def test_a_bad_file_syncs_nothing(tmp_path):
    write(tmp_path, "a_good.yaml", GOOD)
    write(tmp_path, "z_bad.yaml", "parameters:\n  - {name: TESTLOAD_z, type: numeric, unit: furlongz}\n")
    with pytest.raises(DefinitionFileError, match="z_bad.yaml"):
        sync_definitions(tmp_path)
    assert not Technique.objects.filter(code="TESTLOAD").exists()
    assert not ParameterType.objects.filter(name__startswith="TESTLOAD_").exists()


@pytest.mark.django_db
def test_a_parameter_defined_in_two_files_is_an_error(tmp_path):
    """Otherwise the last file silently wins, and every sync reports it as updated."""
    write(tmp_path, "a.yaml", "parameters:\n  - {name: TESTLOAD_twice, type: numeric, unit: mm}\n")
    write(tmp_path, "b.yaml", "parameters:\n  - {name: TESTLOAD_twice, type: numeric, unit: nm}\n")
    with pytest.raises(DefinitionFileError) as excinfo:
        sync_definitions(tmp_path)
    assert str(excinfo.value) == "b.yaml: parameter TESTLOAD_twice is already declared in a.yaml"
    assert not ParameterType.objects.filter(name="TESTLOAD_twice").exists()


@pytest.mark.django_db
def test_a_definition_declared_in_two_files_is_an_error(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    write(
        tmp_path,
        "b.yaml",
        "technique: {code: OTHER, name: O}\ndefinitions:\n  - {code: TESTLOAD_raw, label: R, kind: raw}\n",
    )
    with pytest.raises(DefinitionFileError, match="^b.yaml: definition TESTLOAD_raw is already declared in a.yaml$"):
        sync_definitions(tmp_path)


# --- The management command ------------------------------------------------------------------


@pytest.mark.django_db
def test_sync_techniques_command_prints_the_report(tmp_path, capsys):
    write(tmp_path, "test.yaml", GOOD)
    call_command("sync_techniques", "--directory", str(tmp_path))
    assert "created parameter TESTLOAD_wavelength" in capsys.readouterr().out
    call_command("sync_techniques", "--directory", str(tmp_path))
    assert capsys.readouterr().out.strip() == "Vocabulary up to date."


@pytest.mark.django_db
def test_sync_techniques_command_fails_with_the_file_error(tmp_path):
    write(tmp_path, "bad.yaml", "parameters:\n  - {name: TESTLOAD_x, type: complex}\n")
    with pytest.raises(CommandError, match="^bad.yaml: at parameters/0/type: "):
        call_command("sync_techniques", "--directory", str(tmp_path))
