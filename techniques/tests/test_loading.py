"""Definition files: errors that name the file, the place and the reason; an idempotent sync."""

import csv
import os
import re
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from techniques.loading import DefinitionFileError, read_definition_file, read_definitions, sync_definitions
from techniques.models import DatasetDefinition, ParameterType, Technique
from techniques.ontology import PANET_TERMS, panet_label, panet_terms

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


# --- Rules and views in the files ----------------------------------------------------------------

RULES = """
technique:
  code: TESTLOAD
  name: Loading test technique
  views:
    columns: [TESTLOAD_wavelength]
parameters:
  - {name: TESTLOAD_wavelength, label: Wavelength, unit: angstrom, type: numeric, minimum: 0.5, maximum: 3,
     nexus_path: /entry/instrument/monochromator/wavelength}
  - {name: TESTLOAD_mode, type: string, permitted_values: [a, b], searchable: false}
  - {name: TESTLOAD_overall_r, type: numeric}
  - {name: TESTLOAD_outer_r, type: numeric}
definitions:
  - code: TESTLOAD_raw
    label: Test raw
    kind: raw
    requires: [TESTLOAD_wavelength]
    expects: [TESTLOAD_mode]
    views:
      tabs: [{title: Beam, fields: [TESTLOAD_wavelength]}]
      gallery: ["*.png"]
  - code: TESTLOAD_processed
    label: Test processed
    kind: processed
    inputs: [TESTLOAD_raw]
    input_min: 1
    input_max: 2
    views:
      results:
        - title: Statistics
          cell: "TESTLOAD_{row}_{column}"
          rows: [{key: overall, label: Overall}, {key: outer, label: Outer}]
          columns: [{key: r, label: R}]
"""


@pytest.mark.django_db
def test_rules_and_views_are_loaded(tmp_path):
    write(tmp_path, "test.yaml", RULES)
    sync_definitions(tmp_path)
    wavelength = ParameterType.objects.get(name="TESTLOAD_wavelength")
    assert (wavelength.minimum, wavelength.maximum, wavelength.nexus_path, wavelength.searchable) == (
        0.5,
        3,
        "/entry/instrument/monochromator/wavelength",
        True,
    )
    mode = ParameterType.objects.get(name="TESTLOAD_mode")
    assert (mode.permitted_values, mode.searchable) == (["a", "b"], False)
    raw = DatasetDefinition.objects.get(code="TESTLOAD_raw")
    assert (raw.requires, raw.expects, raw.views["gallery"]) == (["TESTLOAD_wavelength"], ["TESTLOAD_mode"], ["*.png"])
    processed = DatasetDefinition.objects.get(code="TESTLOAD_processed")
    assert (processed.input_min, processed.input_max) == (1, 2)
    assert processed.views["results"][0]["cell"] == "TESTLOAD_{row}_{column}"
    # Table columns carry their label and unit: a dataset table needs no vocabulary query.
    assert Technique.objects.get(code="TESTLOAD").views == {
        "columns": [{"name": "TESTLOAD_wavelength", "label": "Wavelength", "unit": "angstrom"}]
    }


@pytest.mark.parametrize(
    ("old", "new", "place", "reason"),
    [
        ("fields: [TESTLOAD_wavelength]", "fields: [TESTLOAD_wavelenght]", "definitions/0/views/tabs/0/fields/0",
         "unknown parameter 'TESTLOAD_wavelenght'"),
        ("columns: [TESTLOAD_wavelength]", "columns: [TESTLOAD_x]", "technique/views/columns/0",
         "unknown parameter 'TESTLOAD_x'"),
        ("requires: [TESTLOAD_wavelength]", "requires: [TESTLOAD_y]", "definitions/0/requires/0",
         "unknown parameter 'TESTLOAD_y'"),
        ("inputs: [TESTLOAD_raw]", "inputs: [TESTLOAD_cooked]", "definitions/1/inputs/0",
         "unknown definition 'TESTLOAD_cooked'"),
        ("input_max: 2", "input_max: 0", "definitions/1/input_max", "0 is less than the minimum of 1"),
        ("{key: outer, label: Outer}", "{key: middle, label: Middle}", "definitions/1/views/results/0/rows/1",
         "no parameter matches TESTLOAD_middle_r"),
        ('cell: "TESTLOAD_{row}_{column}"', 'cell: "TESTLOAD_r"', "definitions/1/views/results/0/cell",
         "does not match"),
        ("maximum: 3", "maximum: 0.1", "parameters/0", "minimum is above maximum"),
        ("permitted_values: [a, b]", "permitted_values: []", "parameters/1/permitted_values", "should be non-empty"),
    ],
)  # fmt: skip
def test_a_bad_rule_or_view_names_the_place(tmp_path, old, new, place, reason):
    assert old in RULES
    write(tmp_path, "rules.yaml", RULES.replace(old, new))
    with pytest.raises(DefinitionFileError) as excinfo:
        read_definitions(tmp_path)
    message = str(excinfo.value)
    assert message.startswith(f"rules.yaml: at {place}: "), message
    assert reason in message


def test_the_shipped_files_are_valid():
    documents = read_definitions()
    codes = {d["code"] for document in documents for d in document.get("definitions", [])}
    assert {"MX_OSCILLATION", "MX_INTEGRATION", "SAXS_SUBTRACTION", "EM_CTF", "ET_CTF", "TOMO_RECONSTRUCTION"} <= codes
    techniques = [document["technique"] for document in documents if "technique" in document]
    assert all(t.get("views", {}).get("columns") for t in techniques)


# --- What data uses cannot be taken away -----------------------------------------------------------


def _store(parameters: dict, definition=None):
    """A dataset holding these values (the catalogue's models: test code only)."""
    from django.utils import timezone

    from catalogue.models import Dataset, Instrument, Investigation

    now = timezone.now()
    investigation = Investigation.objects.create(
        name="P", visit_id="v", instrument=Instrument.objects.create(name="I"), start_date=now, end_date=now,
        release_date=now,
    )  # fmt: skip
    return Dataset.objects.create(
        investigation=investigation, location="/d", parameters=parameters, definition=definition
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("unit: angstrom", "unit: nm"), "parameter TESTLOAD_wavelength: refusing to change unit 'angstrom' -> 'nm'"),
        (("type: numeric", "type: string"), "parameter TESTLOAD_wavelength: refusing to change value_type"),
        (("  - name: TESTLOAD_wavelength\n", "  - name: TESTLOAD_renamed\n"),
         "parameter TESTLOAD_wavelength is in no file but datasets hold values of it"),
    ],
)  # fmt: skip
def test_a_parameter_in_use_cannot_be_removed_or_retyped(tmp_path, edit, message):
    path = write(tmp_path, "test.yaml", GOOD)
    sync_definitions(tmp_path)
    _store({"TESTLOAD_wavelength": 1.0})
    path.write_text(textwrap.dedent(GOOD).replace(*edit, 1).replace("summary: [TESTLOAD_wavelength]", "summary: []"))
    with pytest.raises(DefinitionFileError, match=message):
        sync_definitions(tmp_path)
    assert ParameterType.objects.get(name="TESTLOAD_wavelength").unit == "angstrom"  # nothing written
    with pytest.raises(CommandError, match=message):
        call_command("sync_techniques", "--directory", str(tmp_path))


@pytest.mark.django_db
def test_a_definition_in_use_cannot_be_removed(tmp_path):
    path = write(tmp_path, "test.yaml", GOOD)
    sync_definitions(tmp_path)
    _store({}, DatasetDefinition.objects.get(code="TESTLOAD_raw"))
    path.write_text(textwrap.dedent(GOOD).split("definitions:")[0])
    with pytest.raises(DefinitionFileError, match="definition TESTLOAD_raw is in no file but datasets use it"):
        sync_definitions(tmp_path)


@pytest.mark.django_db
def test_what_no_file_declares_and_no_data_uses_is_deleted_and_reported(tmp_path):
    path = write(tmp_path, "test.yaml", GOOD)
    sync_definitions(tmp_path)
    path.write_text(
        textwrap.dedent(GOOD)
        .replace("  - name: TESTLOAD_mode\n    type: string\n", "")
        .split("  - code: TESTLOAD_processed")[0]
    )
    report = sync_definitions(tmp_path)
    assert report.deleted == ["definition TESTLOAD_processed", "parameter TESTLOAD_mode"]
    assert "deleted parameter TESTLOAD_mode" in str(report)
    assert not ParameterType.objects.filter(name="TESTLOAD_mode").exists()


# --- Codes, PaNET ids, and every problem of a file at once ------------------------------------------


def test_every_bad_code_of_a_file_is_reported_at_once(tmp_path):
    """A technique code may have a '-' (a URL slug); parameter names and definition codes may not."""
    path = write(
        tmp_path,
        "dashes.yaml",
        """
        technique: {code: TEST-LOAD, name: Dashes}
        parameters:
          - {name: TESTLOAD_ok, type: numeric}
          - {name: TESTLOAD-bad, type: numeric}
        definitions:
          - {code: TESTLOAD-RAW, label: Raw, kind: raw}
          - {code: TESTLOAD_FINE, label: Fine, kind: raw}
          - {code: TESTLOAD-PROC, label: Processed, kind: processed}
        """,
    )
    with pytest.raises(DefinitionFileError) as excinfo:
        read_definition_file(path)
    message = str(excinfo.value)
    places = ["parameters/1/name", "definitions/0/code", "definitions/2/code"]  # in the file's order
    assert message == "dashes.yaml: " + "; ".join(
        f"at {place}: '{name}' does not match '^[A-Za-z][A-Za-z0-9_]*$' "
        "(a name or definition code is a letter, then letters, digits and _ (no -))"
        for place, name in zip(places, ["TESTLOAD-bad", "TESTLOAD-RAW", "TESTLOAD-PROC"], strict=True)
    )
    assert "\n" not in message


def test_a_technique_code_may_have_a_dash(tmp_path):
    path = write(tmp_path, "dash.yaml", "technique: {code: TEST-LOAD, name: Dash}\n")
    assert read_definition_file(path)["technique"]["code"] == "TEST-LOAD"


def test_every_unknown_name_of_a_file_is_reported_at_once(tmp_path):
    write(tmp_path, "rules.yaml", RULES.replace("[TESTLOAD_wavelength]", "[TESTLOAD_wavelenght]"))
    with pytest.raises(DefinitionFileError) as excinfo:
        read_definitions(tmp_path)
    assert str(excinfo.value) == (
        "rules.yaml: at technique/views/columns/0: unknown parameter 'TESTLOAD_wavelenght'; "
        "at definitions/0/requires/0: unknown parameter 'TESTLOAD_wavelenght'; "
        "at definitions/0/views/tabs/0/fields/0: unknown parameter 'TESTLOAD_wavelenght'"
    )


@pytest.mark.parametrize(
    "panet_id",
    [
        "PaNET09999",  # no such term
        "PaNET2020074",  # "x-ray fluorescence" as a specifier of PaNET, not a technique
        "panet01177",
        "http://purl.org/pan-science/PaNET/PaNET01177",
    ],
)
def test_an_unknown_panet_id_is_refused(tmp_path, panet_id):
    path = write(tmp_path, "xrf.yaml", f"technique: {{code: TESTXRF, name: XRF, panet_id: '{panet_id}'}}\n")
    with pytest.raises(DefinitionFileError) as excinfo:
        read_definition_file(path)
    assert str(excinfo.value) == (
        f"xrf.yaml: at technique/panet_id: unknown PaNET id '{panet_id}': "
        "not a technique in techniques/panet/panet_terms.csv"
    )


@pytest.mark.django_db
def test_a_known_panet_id_loads_with_its_label(tmp_path):
    write(tmp_path, "xrf.yaml", "technique: {code: TESTXRF, name: XRF, panet_id: PaNET01177}\n")
    sync_definitions(tmp_path)
    technique = Technique.objects.get(code="TESTXRF")
    assert (technique.panet_id, technique.panet_label) == ("PaNET01177", "x-ray fluorescence")


def test_the_panet_terms_are_shipped_with_their_licence():
    terms = panet_terms()
    assert len(terms) > 300 and all(re.fullmatch(r"PaNET0\d{4}", panet_id) for panet_id in terms)
    assert terms["PaNET01177"] == "x-ray fluorescence"
    assert terms["PaNET01138"] == "linear dichroism"  # what the README's XRF example named by mistake
    with PANET_TERMS.open(encoding="utf-8", newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["id", "label"] and len(rows) == len(terms) + 1  # no identifier twice
    folder = PANET_TERMS.parent
    assert "Attribution 4.0 International" in (folder / "LICENSE").read_text()
    assert "ExPaNDS" in (folder / "README.md").read_text()


def test_the_shipped_techniques_name_their_panet_terms():
    """Checked by label against the PaNET list: each technique its own, most specific term."""
    labels = {
        document["technique"]["code"]: panet_label(document["technique"]["panet_id"])
        for document in read_definitions()
        if "technique" in document
    }
    assert labels == {
        "EM": "electron microscopy",  # single particle cryo-EM: PaNET has nothing narrower
        "ET": "tomography",  # cryo-electron tomography: no electron tomography term in PaNET
        "MX": "macromolecular crystallography",
        "SAXS": "small angle x-ray scattering",
        "SSX": "serial synchrotron crystallography",
        "TOMO": "x-ray tomography",
    }


def test_the_readme_example_names_x_ray_fluorescence():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    example = yaml.safe_load(textwrap.dedent(re.search(r"```yaml\n(.*?)```", readme, re.S).group(1)))
    assert example["technique"]["code"] == "XRF"
    assert panet_label(example["technique"]["panet_id"]) == "x-ray fluorescence"


# --- migrate with a broken file ------------------------------------------------------------------


def test_migrate_with_a_broken_file_prints_the_error_and_keeps_the_migrations(tmp_path):
    """A process of its own, as an operator runs it: one line, exit status 1, no traceback."""
    definitions = tmp_path / "definitions"
    definitions.mkdir()
    write(definitions, "bad.yaml", "parameters:\n  - {name: TESTLOAD_x, type: complex}\n")
    (tmp_path / "broken_definitions_settings.py").write_text(
        f"from config.settings import *  # noqa: F403\nTECHNIQUES_DEFINITIONS_DIR = {str(definitions)!r}\n"
    )
    base_dir = Path(__file__).resolve().parents[2]
    database = tmp_path / "db.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "broken_definitions_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(base_dir)]),
        "DATABASE_URL": f"sqlite:///{database}",
        "CELERY_BROKER_URL": "",
    }

    def manage(*args):
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=base_dir, env=env, capture_output=True, text=True, timeout=300
        )

    expected = (
        "CommandError: bad.yaml: at parameters/0/type: "
        "'complex' is not one of ['numeric', 'string', 'datetime', 'boolean']\n"
    )
    migrate = manage("migrate", "--noinput")
    assert (migrate.returncode, migrate.stderr) == (1, expected)
    assert "Traceback" not in migrate.stdout + migrate.stderr
    sync = manage("sync_techniques")
    assert (sync.returncode, sync.stderr) == (1, expected)  # the same words
    with sqlite3.connect(database) as connection:  # the migrations stayed, the vocabulary is empty
        applied = {app for (app,) in connection.execute("SELECT DISTINCT app FROM django_migrations")}
        (techniques,) = connection.execute("SELECT count(*) FROM techniques_technique").fetchone()
    assert {"techniques", "catalogue", "auth"} <= applied and techniques == 0
    assert "No migrations to apply." in manage("migrate", "--noinput").stdout
