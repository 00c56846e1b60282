"""Read and check the demo's data files (people.yaml, sessions/*.yaml) into plain records, before
anything is written; every error names the file and the field. The format is in README.md."""

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from catalogue.models import InvestigationUser
from catalogue.policy.services import default_release_date

from .files import FileMakerError, check_maker

PARIS = ZoneInfo("Europe/Paris")

SESSION_FIELDS = {"proposal", "visit_id", "instrument", "title", "summary", "start", "end"}
SESSION_OPTIONAL = {"release", "members", "samples", "datasets", "archived", "shared"}  # shared: YAML anchors only
DATASET_FIELDS = {"name", "folder", "definition", "start", "end"}
DATASET_OPTIONAL = {"sample", "kind", "description", "inputs", "parameters", "files"}
_VARIABLE = re.compile(r"\$\{(\w+)(?::([^}]*))?\}")


class DemoError(Exception):
    pass


@dataclass
class DemoFile:
    path: str  # relative to the dataset's folder
    maker: str
    params: dict


@dataclass
class DemoDataset:
    name: str
    folder: str  # relative to the session's data folder
    fields: dict  # the other DatasetRequest fields: sample, kind, definition, dates, parameters, inputs
    files: list[DemoFile]


@dataclass
class DemoSession:
    file: str
    proposal: str
    visit_id: str
    instrument: str
    title: str
    summary: str
    start: datetime
    end: datetime
    release: datetime | None  # None: the facility's default embargo after the end
    members: list[tuple[str, str]] = field(default_factory=list)  # (username, InvestigationUser.Role)
    samples: list[tuple[str, str, dict]] = field(default_factory=list)  # (name, description, parameters)
    datasets: list[DemoDataset] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)  # names of datasets moved to the archive ("tape")

    def release_date(self) -> datetime:
        return self.release or default_release_date(self.end)


def at(value) -> datetime:
    """A local time at the facility, e.g. at("2016-04-04 19:27:05")."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=PARIS)


def read_yaml(path: Path):
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DemoError(f"{path.name}: cannot be read: {' '.join(str(exc).split())}") from exc


class _Checker:
    """Field checks for one file: each error is '<file>: <place>: <reason>'."""

    def __init__(self, path: Path):
        self.name = path.name

    def fail(self, place: str, reason: str):
        raise DemoError(f"{self.name}: {place}: {reason}")

    def mapping(self, value, place: str, required: set, optional: set) -> dict:
        if not isinstance(value, dict):
            self.fail(place or "(top level)", "expected a mapping")
        prefix = f"{place}." if place else ""
        for key in sorted(required - set(value), key=sorted(required).index):
            self.fail(f"{prefix}{key}", "missing")
        for key in value:
            if key not in required | optional:
                self.fail(f"{prefix}{key}", "unknown field")
        return value

    def items(self, value, place: str) -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(place, "expected a list")
        return value

    def time(self, value, place: str) -> datetime:
        try:
            return at(value)
        except (TypeError, ValueError):
            self.fail(place, f"not a local time like '2016-04-04 19:27:05': {value!r}")


def _substitute(value, variables: dict):
    """${name} and ${name:format} in strings; a string that is only ${name} takes the value itself."""
    if isinstance(value, str):
        whole = _VARIABLE.fullmatch(value)
        if whole and whole[1] in variables and not whole[2]:
            return variables[whole[1]]
        return _VARIABLE.sub(lambda m: format(variables[m[1]], m[2] or "") if m[1] in variables else m[0], value)
    if isinstance(value, dict):
        return {key: _substitute(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, variables) for item in value]
    return value


def _unresolved(value) -> str | None:
    if isinstance(value, str):
        return value if _VARIABLE.search(value) else None
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return next((found for item in items if (found := _unresolved(item))), None)


def _rows(checker: _Checker, each, place: str) -> list[dict]:
    """`each` as a list of rows of variables, or {name: values} for one variable (values: a list, or
    {start, step, count}); one-variable rows also get `number`, counting from 1."""
    if isinstance(each, list) and all(isinstance(row, dict) for row in each):
        return each
    if not (isinstance(each, dict) and len(each) == 1):
        checker.fail(place, "expected a list of rows, or {name: values}")
    (name, values), rows = next(iter(each.items())), []
    if isinstance(values, dict):
        checker.mapping(values, f"{place}.{name}", {"start", "step", "count"}, set())
        values = [values["start"] + index * values["step"] for index in range(values["count"])]
    for number, value in enumerate(checker.items(values, f"{place}.{name}"), start=1):
        rows.append({name: value, "number": number})
    return rows


def _files(checker: _Checker, entries, place: str) -> list[DemoFile]:
    files, paths = [], set()
    for index, entry in enumerate(checker.items(entries, place)):
        where = f"{place}[{index}]"
        checker.mapping(entry, where, {"path", "make"}, set(entry) if isinstance(entry, dict) else set())
        params = {key: value for key, value in entry.items() if key not in ("path", "make", "each")}
        rows = _rows(checker, entry["each"], f"{where}.each") if "each" in entry else [{}]
        for row in rows:
            path, row_params = _substitute(entry["path"], row), _substitute(params, row)
            if found := _unresolved([path, row_params]):
                checker.fail(where, f"unknown variable in {found!r}")
            if path in paths:
                checker.fail(f"{where}.path", f"{path!r} twice in the dataset")
            try:
                check_maker(entry["make"], row_params)
            except FileMakerError as exc:
                checker.fail(f"{where}.{exc.args[0]}", exc.args[1])
            paths.add(path)
            files.append(DemoFile(path, entry["make"], row_params))
    return files


def _dataset(checker: _Checker, entry: dict, place: str) -> DemoDataset:
    checker.mapping(entry, place, DATASET_FIELDS, DATASET_OPTIONAL)
    files = _files(checker, entry.get("files"), f"{place}.files")
    entry = {key: value for key, value in entry.items() if key != "files"}
    if found := _unresolved(entry):
        checker.fail(place, f"unknown variable in {found!r}")
    if entry.get("kind", "raw") not in ("raw", "processed"):
        checker.fail(f"{place}.kind", f"expected raw or processed, not {entry['kind']!r}")
    if not isinstance(entry.get("parameters", {}), dict):
        checker.fail(f"{place}.parameters", "expected a mapping")
    fields = {
        "definition": entry["definition"],
        "start_date": checker.time(entry["start"], f"{place}.start"),
        "end_date": checker.time(entry["end"], f"{place}.end"),
    }
    for key in ("sample", "kind", "description", "parameters"):
        if key in entry:
            fields[key] = entry[key]
    if "inputs" in entry:
        fields["inputs"] = checker.items(entry["inputs"], f"{place}.inputs")  # folders, resolved by the loader
    return DemoDataset(str(entry["name"]), str(entry["folder"]), fields, files)


def _datasets(checker: _Checker, entries, place: str) -> list[DemoDataset]:
    """Datasets in order; a group {each: rows, datasets: [...]} repeats its datasets for each row."""
    datasets = []
    for index, entry in enumerate(checker.items(entries, place)):
        where = f"{place}[{index}]"
        if isinstance(entry, dict) and "each" in entry:
            checker.mapping(entry, where, {"each", "datasets"}, set())
            for number, row in enumerate(_rows(checker, entry["each"], f"{where}.each")):
                group = _substitute(checker.items(entry["datasets"], f"{where}.datasets"), row)
                for position, item in enumerate(group):
                    datasets.append(_dataset(checker, item, f"{where}.each[{number}].datasets[{position}]"))
        else:
            datasets.append(_dataset(checker, entry, where))
    return datasets


def read_session(path: Path) -> DemoSession:
    checker = _Checker(path)
    document = checker.mapping(read_yaml(path), "", SESSION_FIELDS, SESSION_OPTIONAL)
    members = []
    for index, member in enumerate(checker.items(document.get("members"), "members")):
        checker.mapping(member, f"members[{index}]", {"user", "role"}, set())
        if member["role"] not in InvestigationUser.Role.values:
            checker.fail(f"members[{index}].role", f"not one of {', '.join(InvestigationUser.Role.values)}")
        members.append((member["user"], member["role"]))
    samples = []
    for index, sample in enumerate(checker.items(document.get("samples"), "samples")):
        checker.mapping(sample, f"samples[{index}]", {"name", "description"}, {"parameters"})
        samples.append((sample["name"], sample["description"], sample.get("parameters") or {}))
    release = document.get("release")
    datasets = _datasets(checker, document.get("datasets"), "datasets")
    archived = [str(name) for name in checker.items(document.get("archived"), "archived")]
    known = {dataset.name for dataset in datasets}
    for index, name in enumerate(archived):
        if name not in known:
            checker.fail(f"archived[{index}]", f"no dataset {name!r} in this session")
    return DemoSession(
        file=path.name,
        proposal=str(document["proposal"]),
        visit_id=str(document["visit_id"]),
        instrument=document["instrument"],
        title=document["title"],
        summary=document["summary"],
        start=checker.time(document["start"], "start"),
        end=checker.time(document["end"], "end"),
        release=None if release is None else checker.time(release, "release"),
        members=members,
        samples=samples,
        datasets=datasets,
        archived=archived,
    )


def read_sessions(folder: Path) -> list[DemoSession]:
    """Every session file of the folder (*.yaml), in the order of their names."""
    if not Path(folder).is_dir():
        raise DemoError(f"{folder}: no such folder of session files (settings.DEMO_SESSIONS_DIR)")
    return [read_session(path) for path in sorted(Path(folder).glob("*.yaml"))]


def read_people(path: Path) -> dict:
    """{"users": [...], "instruments": [...], "scientists": [(username, instrument)]}."""
    checker = _Checker(path)
    document = checker.mapping(read_yaml(path), "", {"users", "instruments"}, {"scientists"})
    users, instruments, scientists = [], [], []
    for index, user in enumerate(checker.items(document["users"], "users")):
        required = {"username", "first_name", "last_name", "email"}
        users.append(checker.mapping(user, f"users[{index}]", required, {"is_staff", "is_superuser"}))
    for index, instrument in enumerate(checker.items(document["instruments"], "instruments")):
        instruments.append(
            checker.mapping(instrument, f"instruments[{index}]", {"name", "full_name", "description"}, set())
        )
    for index, scientist in enumerate(checker.items(document.get("scientists"), "scientists")):
        checker.mapping(scientist, f"scientists[{index}]", {"user", "instrument"}, set())
        scientists.append((scientist["user"], scientist["instrument"]))
    return {"users": users, "instruments": instruments, "scientists": scientists}
