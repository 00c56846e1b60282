"""Store a dataset through a catalogue's API, as a beamline script would (see catalogue.ingestion.client).

    manage.py store_dataset --url https://data.example.org --key "$CATALOGUE_API_KEY" \\
        --proposal MX-2485 --visit 1 --sample lysozyme --name "scan 1" \\
        --location /data/visitor/mx2485/scan1 --definition MX_OSCILLATION \\
        --param "InstrumentMonochromator_energy=12848[eV]" --param InstrumentDetector_name=EIGER2 \\
        --input /data/visitor/mx2485/other --file img_0001.cbf:6224001
"""

import json
import os
import re

from django.core.management.base import BaseCommand, CommandError

from catalogue.ingestion.client import CatalogueError, store_dataset

# NAME=VALUE or NAME=VALUE[UNIT]; the catalogue checks the value against the vocabulary.
PARAM = re.compile(r"^(?P<name>[A-Za-z][A-Za-z0-9_]*)=(?P<value>.*?)(?:\[(?P<unit>[^\[\]]*)\])?$", re.S)


def parse_param(text: str) -> tuple[str, object]:
    """'E=12848[eV]' -> ('E', {'value': '12848', 'unit': 'eV'}); 'D=EIGER2' -> ('D', 'EIGER2')."""
    match = PARAM.match(text)
    if match is None:
        raise CommandError(f"--param {text!r}: expected NAME=VALUE or NAME=VALUE[UNIT]")
    value, unit = match["value"].strip(), match["unit"]
    if unit is None:
        return match["name"], value
    return match["name"], {"value": value, "unit": unit.strip()}


def parse_file(text: str) -> dict:
    """'sub/img_0001.cbf:6224001' -> {'path': 'sub/img_0001.cbf', 'size': 6224001}."""
    path, _, size = text.rpartition(":")
    if not path or not size.isdigit():
        raise CommandError(f"--file {text!r}: expected PATH:SIZE (size in bytes)")
    return {"path": path, "size": int(size)}


def parse_input(text: str) -> str | int:
    """A location (absolute path), or the id of a dataset."""
    return int(text) if text.isdigit() else text


class Command(BaseCommand):
    help = "Store (create or update) a dataset in a catalogue through its API, with an instrument's API key."

    def add_arguments(self, parser):
        parser.add_argument("--url", required=True, help="Base URL of the catalogue, e.g. https://data.example.org")
        parser.add_argument(
            "--key",
            default=os.environ.get("CATALOGUE_API_KEY", ""),
            help="The instrument's API key (default: $CATALOGUE_API_KEY, which keeps it out of the process list)",
        )
        parser.add_argument("--proposal", default="", help="Proposal name, e.g. MX-2485")
        parser.add_argument("--visit", default="", dest="visit_id", help="Visit (session) id within the proposal")
        parser.add_argument("--instrument", default="", help="With --time, finds the session instead of --proposal")
        parser.add_argument("--time", default=None, help="ISO 8601 time of the measurement (with --instrument)")
        parser.add_argument("--sample", default="")
        parser.add_argument("--name", required=True)
        parser.add_argument("--location", required=True, help="Absolute path of the dataset's folder")
        parser.add_argument("--kind", choices=["raw", "processed"], default=None)
        parser.add_argument("--definition", default="", help="Dataset definition code, e.g. MX_OSCILLATION")
        parser.add_argument("--description", default="")
        parser.add_argument("--start", dest="start_date", default=None, help="ISO 8601 start time")
        parser.add_argument("--end", dest="end_date", default=None, help="ISO 8601 end time")
        parser.add_argument(
            "--param",
            action="append",
            default=[],
            metavar="NAME=VALUE[UNIT]",
            help="A parameter; the unit in brackets is optional, e.g. InstrumentMonochromator_energy=12848[eV]",
        )
        parser.add_argument(
            "--input", action="append", default=[], metavar="LOCATION", help="Location (or id) of an input dataset"
        )
        parser.add_argument(
            "--file",
            action="append",
            default=[],
            metavar="PATH:SIZE",
            help="A file, relative to the location; without any --file the catalogue scans the folder",
        )
        parser.add_argument("--timeout", type=float, default=30, help="Seconds to wait for the catalogue")
        parser.add_argument("--retries", type=int, default=3, help="Retries on connection errors and 502/503/504")

    def handle(self, *args, **options):
        if not options["key"]:
            raise CommandError("give the API key with --key or $CATALOGUE_API_KEY")
        fields = {
            name: options[name]
            for name in (
                "proposal",
                "visit_id",
                "instrument",
                "sample",
                "name",
                "location",
                "definition",
                "description",
            )
            if options[name]
        }
        fields["name"], fields["location"] = options["name"], options["location"]
        for name in ("time", "start_date", "end_date", "kind"):
            if options[name]:
                fields[name] = options[name]
        parameters = dict(parse_param(text) for text in options["param"])
        if parameters:
            fields["parameters"] = parameters
        if options["input"]:
            fields["inputs"] = [parse_input(text) for text in options["input"]]
        if options["file"]:
            fields["files"] = [parse_file(text) for text in options["file"]]
        try:
            dataset = store_dataset(
                options["url"], options["key"], timeout=options["timeout"], retries=options["retries"], **fields
            )
        except CatalogueError as exc:
            raise CommandError(str(exc)) from exc
        verb = "created" if dataset.created else "updated"
        self.stdout.write(f"{verb} dataset {dataset['id']} at {dataset['location']}")
        if options["verbosity"] > 1:
            self.stdout.write(json.dumps(dataset, indent=2))
