"""A synthetic catalogue at facility scale, for the benchmarks (manage.py generate_catalogue).

Rows go in with PostgreSQL COPY. Ids are reserved on the tables' sequences before each COPY, so the
links (dataset -> investigation, processed -> raw, file -> dataset) are written without reading
anything back. Every value comes from one seeded random generator: the same seed and scale give the
same catalogue. Parameters come from the vocabulary: each dataset gets values for the numeric
parameters its definition names, drawn within the vocabulary's bounds.
"""

import json
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import connection, transaction

from catalogue.models import (
    Datafile,
    Dataset,
    DatasetTally,
    Instrument,
    InstrumentScientist,
    Investigation,
    InvestigationUser,
    ParameterValue,
    Sample,
)
from catalogue.policy.services import default_release_date
from catalogue.tallies import recount
from techniques.loading import sync_definitions

from .scales import TECHNIQUES, GeneratorError, Scale, definition_plans

BENCH_USER = "bench-user"  # a participant of many investigations (3,000 at the large scale)
BENCH_ADMIN = "bench-admin"  # a facility admin
BENCH_PROPOSAL = "MX-BENCH"  # the investigation of the page benchmark

FIRST_SESSION = datetime(2016, 1, 1, tzinfo=UTC)
LAST_SESSION = datetime(2026, 10, 1, tzinfo=UTC)
CREATED = datetime(2026, 11, 1, tzinfo=UTC)  # created/modified of every row: fixed, for determinism
CHAIN_CONTINUES = 0.7  # the chance that a raw (or processed) dataset is processed further
BATCH_DATASETS = 20_000  # datasets planned and copied together (with their parameters, links, files)
PROTEINS = ["lysozyme", "thaumatin", "insulin", "trypsin", "myoglobin", "ferritin", "apoferritin", "GFP", "PDZ"]


@dataclass
class Stats:
    """Rows and seconds of COPY per table."""

    tables: dict = field(default_factory=dict)

    def add(self, table: str, rows: int, seconds: float) -> None:
        total = self.tables.setdefault(table, [0, 0.0])
        total[0] += rows
        total[1] += seconds

    def lines(self) -> list[str]:
        """The generators' table: rows, seconds and rows/s per table (no rate for a step of no rows)."""
        lines = [f"{'table':<32}{'rows':>12}{'seconds':>10}{'rows/s':>12}"]
        for table, (rows, seconds) in self.tables.items():
            rate = f"{rows / max(seconds, 1e-9):>12,.0f}" if rows else ""
            lines.append(f"{table:<32}{rows:>12,}{seconds:>10.2f}{rate}")
        return lines


def generate(*, scale: Scale, seed: int) -> Stats:
    if connection.vendor != "postgresql":
        raise GeneratorError(f"the generator writes with PostgreSQL COPY; the database is {connection.vendor}")
    if Dataset.objects.exists():
        raise GeneratorError("the catalogue already holds datasets: generate into an empty database")
    sync_definitions()
    rng = random.Random(seed)
    stats = Stats()
    with transaction.atomic(), connection.cursor() as cursor:
        Writer(cursor, rng, scale, stats).run()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return stats


class CopyWriter:
    """Writes with COPY, the ids reserved on each table's sequence first so that no link has to be
    read back: the generators of the catalogue, the logbooks and the publications."""

    cursor: object
    stats: Stats

    def _reserve(self, model, count: int) -> int:
        """The first of count consecutive ids taken from the table's sequence."""
        if not count:
            return 0
        table = model._meta.db_table
        self.cursor.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), nextval(pg_get_serial_sequence(%s, 'id')) + %s - 1)",
            [table, table, count],
        )
        return self.cursor.fetchone()[0] - count + 1

    def _copy(self, model, columns: list[str], rows) -> None:
        table = model._meta.db_table
        started, count = time.perf_counter(), 0
        with self.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        self.stats.add(table, count, time.perf_counter() - started)


class Writer(CopyWriter):
    def __init__(self, cursor, rng: random.Random, scale: Scale, stats: Stats):
        self.cursor, self.rng, self.scale, self.stats = cursor, rng, scale, stats
        self.raw_definitions = definition_plans()

    def run(self) -> None:
        instruments = self.instruments()
        users, bench_user = self.users()
        self.instrument_scientists(instruments, users)
        investigations = self.investigations(instruments)
        self.participants(investigations, users, bench_user)
        samples = self.samples(investigations)
        # The text search's trigram indexes (migration 0011) are built once after the COPY, not
        # updated row by row.
        with (
            IndexRebuilt(self.cursor, "dataset_name_trigram", self.stats),
            IndexRebuilt(self.cursor, "dataset_description_trigram", self.stats),
        ):
            self.datasets(investigations, samples)
        self.tallies()

    # --- People, instruments, investigations ---------------------------------------------------

    def instruments(self) -> list[tuple[int, str]]:
        """(id, technique code) per instrument."""
        codes = self.rng.choices(
            list(TECHNIQUES), [share for share, _ in TECHNIQUES.values()], k=self.scale.instruments
        )
        codes[0] = "MX"  # the bench investigation's
        first = self._reserve(Instrument, len(codes))
        rows = [
            (first + i, f"{TECHNIQUES[code][1]}{i + 1:02d}", f"{code} beamline {i + 1}", "", "")
            for i, code in enumerate(codes)
        ]
        self._copy(Instrument, ["id", "name", "full_name", "description", "validation"], rows)
        return [(first + i, code) for i, code in enumerate(codes)]

    def users(self) -> tuple[list[int], int]:
        """The ids of the ordinary users, and of the bench user."""
        User = get_user_model()
        names = [f"user{i:05d}" for i in range(self.scale.users)] + [BENCH_USER, BENCH_ADMIN]
        first = self._reserve(User, len(names))
        rows = [
            (
                first + i,
                "!",
                name == BENCH_ADMIN,
                name,
                "",
                name,
                f"{name}@example.org",
                name == BENCH_ADMIN,
                True,
                CREATED,
            )
            for i, name in enumerate(names)
        ]
        columns = ["id", "password", "is_superuser", "username", "first_name", "last_name", "email", "is_staff"]
        self._copy(User, [*columns, "is_active", "date_joined"], rows)
        return [first + i for i in range(self.scale.users)], first + self.scale.users

    def instrument_scientists(self, instruments, users) -> None:
        pairs = [(instrument_id, users[i % len(users)]) for i, (instrument_id, _) in enumerate(instruments)]
        pairs += [(instrument_id, users[-1 - i]) for i, (instrument_id, _) in enumerate(instruments) if i % 2]
        first = self._reserve(InstrumentScientist, len(pairs))
        rows = [(first + i, user_id, instrument_id) for i, (instrument_id, user_id) in enumerate(pairs)]
        self._copy(InstrumentScientist, ["id", "user_id", "instrument_id"], rows)

    def investigations(self, instruments) -> list[dict]:
        """The first is the bench investigation: MX, recent, still under embargo."""
        first = self._reserve(Investigation, self.scale.investigations)
        span = (LAST_SESSION - FIRST_SESSION).total_seconds()
        investigations = []
        for i in range(self.scale.investigations):
            instrument_id, code = instruments[0] if i == 0 else self.rng.choice(instruments)
            start = (
                LAST_SESSION - timedelta(days=30)
                if i == 0
                else FIRST_SESSION + timedelta(seconds=int(self.rng.random() * span))
            )
            end = start + timedelta(days=self.rng.randint(1, 3))
            name = BENCH_PROPOSAL if i == 0 else f"{code}-{1000 + i // 2}"
            investigations.append(
                {
                    "id": first + i,
                    "name": name,
                    "code": code,
                    "instrument_id": instrument_id,
                    "start": start,
                    "end": end,
                }
            )
        rows = [
            (
                inv["id"],
                inv["name"],
                f"{inv['start']:%Y%m%d}-{i}",
                f"{inv['code']} study of {self.rng.choice(PROTEINS)}",
                "",
                inv["instrument_id"],
                inv["start"],
                inv["end"],
                default_release_date(inv["end"]),
                "",
                "",
                CREATED,
                CREATED,
            )
            for i, inv in enumerate(investigations)
        ]
        columns = ["id", "name", "visit_id", "title", "summary", "instrument_id", "start_date", "end_date"]
        self._copy(Investigation, [*columns, "release_date", "doi", "data_folder", "created", "modified"], rows)
        return investigations

    def participants(self, investigations, users, bench_user) -> None:
        bench = {inv["id"] for inv in investigations[:1]}
        others = [inv["id"] for inv in investigations[1:]]
        bench |= set(self.rng.sample(others, min(len(others), self.scale.bench_user_investigations - 1)))
        rows = []
        for inv in investigations:
            members = self.rng.sample(users, min(len(users), self.rng.randint(2, 6)))
            roles = [InvestigationUser.Role.PRINCIPAL_INVESTIGATOR] + [InvestigationUser.Role.PARTICIPANT] * 5
            rows += [(user_id, inv["id"], role) for user_id, role in zip(members, roles, strict=False)]
            if inv["id"] in bench:
                rows.append((bench_user, inv["id"], InvestigationUser.Role.CO_PROPOSER))
        first = self._reserve(InvestigationUser, len(rows))
        rows = [(first + i, *row) for i, row in enumerate(rows)]
        self._copy(InvestigationUser, ["id", "user_id", "investigation_id", "role"], rows)

    def samples(self, investigations) -> dict[int, list[tuple[int, str]]]:
        """(id, name) of the samples per investigation."""
        planned = []
        for inv in investigations:
            for k in range(self.rng.randint(1, 20)):
                name = f"{self.rng.choice(PROTEINS)}-{k + 1:02d}"
                planned.append((inv["id"], name, json.dumps({"Sample_protein": name.split("-")[0]})))
        first = self._reserve(Sample, len(planned))
        rows = [(first + i, inv_id, name, "", parameters) for i, (inv_id, name, parameters) in enumerate(planned)]
        self._copy(Sample, ["id", "investigation_id", "name", "description", "parameters"], rows)
        samples: dict[int, list[tuple[int, str]]] = {}
        for sample_id, inv_id, name, _, _ in rows:
            samples.setdefault(inv_id, []).append((sample_id, name))
        return samples

    # --- Datasets, their parameters, links and files ------------------------------------------

    def datasets(self, investigations, samples) -> None:
        counts = self._dataset_counts(len(investigations))
        huge = set(self.rng.sample(range(self.scale.datasets), self.scale.huge_datasets))
        batch, position = [], 0
        for inv, count in zip(investigations, counts, strict=True):
            planned = self._plan_investigation(inv, count, samples[inv["id"]])
            for dataset in planned:
                dataset["files"] = self.scale.huge_files if position in huge else self._file_count()
                position += 1
            batch.append(planned)
            if sum(len(p) for p in batch) >= BATCH_DATASETS:
                self._write_batch(batch)
                batch = []
        self._write_batch(batch)

    def _dataset_counts(self, investigations: int) -> list[int]:
        """The bench investigation's count first; the rest shared out unevenly (log-normal weights)."""
        rest = self.scale.datasets - self.scale.bench_investigation_datasets
        weights = [self.rng.lognormvariate(0, 1) for _ in range(investigations - 1)]
        counts = [int(rest * w / sum(weights)) for w in weights]
        counts[0] += rest - sum(counts)
        return [self.scale.bench_investigation_datasets, *counts]

    def _file_count(self) -> int:
        return 10 + min(190, int(self.rng.expovariate(0.1)))

    def _plan_investigation(self, inv: dict, count: int, samples: list[tuple[int, str]]) -> list[dict]:
        """Chains raw -> processed -> ... of the investigation's technique; input is the chain's previous."""
        planned: list[dict] = []
        step = (inv["end"] - inv["start"]) / max(count, 1)
        raw_plans = self.raw_definitions[inv["code"]]
        while len(planned) < count:
            plan, previous = self.rng.choice(raw_plans), None
            sample_id, sample_name = self.rng.choice(samples)
            while plan is not None and len(planned) < count:
                start = inv["start"] + step * len(planned)
                parameters = {name: _draw(self.rng, low, high) for name, _, low, high, _ in plan.parameters}
                planned.append(
                    {
                        "index": len(planned),
                        "input": previous,
                        "inv": inv,
                        "sample": (sample_id, sample_name),
                        "definition": plan.definition,
                        "start": start,
                        "parameters": parameters,
                        "searchable": [(type_id, parameters[name]) for name, type_id, _, _, s in plan.parameters if s],
                    }
                )
                previous = planned[-1]
                go_on = plan.followers and self.rng.random() < CHAIN_CONTINUES
                plan = self.rng.choice(plan.followers) if go_on else None
        return planned

    def _write_batch(self, batch: list[list[dict]]) -> None:
        datasets = [dataset for planned in batch for dataset in planned]
        if not datasets:
            return
        first = self._reserve(Dataset, len(datasets))
        for i, dataset in enumerate(datasets):
            dataset["id"] = first + i
        self._copy(Dataset, DATASET_COLUMNS, (_dataset_row(d) for d in datasets))

        values = [(d["id"], type_id, value) for d in datasets for type_id, value in d["searchable"]]
        first = self._reserve(ParameterValue, len(values))
        rows = ((first + i, *value, "") for i, value in enumerate(values))
        self._copy(ParameterValue, ["id", "dataset_id", "parameter_type_id", "numeric_value", "text_value"], rows)

        links = [(d["id"], d["input"]["id"]) for d in datasets if d["input"] is not None]
        first = self._reserve(Dataset.inputs.through, len(links))
        rows = ((first + i, *link) for i, link in enumerate(links))
        self._copy(Dataset.inputs.through, ["id", "from_dataset_id", "to_dataset_id"], rows)

        first = self._reserve(Datafile, sum(d["files"] for d in datasets))
        self._copy(
            Datafile, ["id", "dataset_id", "path", "size", "checksum", "modified"], _datafile_rows(datasets, first)
        )

    def tallies(self) -> None:
        """COPY bypasses the tallies' signals: count them, then their rollups, once every dataset is in,
        each in one INSERT ... SELECT (the seconds are both's, the rows the tallies')."""
        started = time.perf_counter()
        self.stats.add(DatasetTally._meta.db_table, recount().tallies, time.perf_counter() - started)


DATASET_COLUMNS = [
    "id",
    "investigation_id",
    "sample_id",
    "name",
    "location",
    "kind",
    "definition_id",
    "start_date",
    "end_date",
    "description",
    "parameters",
    "file_count",
    "size",
    "storage_status",
    "complete",
    "warnings",
    "created",
    "modified",
]
FILE_SIZE = 4_000_000  # bytes; each file's size varies around it by its number


def _file_size(k: int) -> int:
    return FILE_SIZE + (k * 7919) % 1_000_000


def _dataset_row(d: dict) -> tuple:
    inv, definition = d["inv"], d["definition"]
    name = f"{definition.code.lower()}_{d['index'] + 1:05d}"
    location = f"/data/visitor/{inv['name'].lower()}/{inv['start']:%Y%m%d}/{d['sample'][1]}/{d['id']}_{name}"
    d["name"] = name
    archived = inv["start"].year < 2020
    return (
        d["id"],
        inv["id"],
        d["sample"][0],
        name,
        location,
        definition.kind,
        definition.pk,
        d["start"],
        d["start"] + timedelta(minutes=2),
        "",
        json.dumps(d["parameters"]),
        d["files"],
        sum(_file_size(k) for k in range(d["files"])),
        Dataset.StorageStatus.ARCHIVED if archived else Dataset.StorageStatus.ONLINE,
        True,
        "[]",
        CREATED,
        CREATED,
    )


def _datafile_rows(datasets: list[dict], first: int):
    file_id = first
    for d in datasets:
        for k in range(d["files"]):
            yield (
                file_id,
                d["id"],
                f"{d['name']}_{k:06d}.h5",
                _file_size(k),
                f"{file_id * 2654435761 & 0xFFFFFFFF:08x}",
                d["start"],
            )
            file_id += 1


def _draw(rng: random.Random, low: float, high: float) -> float:
    return round(rng.uniform(low, high), 4)


class IndexRebuilt:
    """Drops an index (if it exists) and builds it again, from its own definition, on the way out."""

    def __init__(self, cursor, name: str, stats: Stats):
        self.cursor, self.name, self.stats, self.definition = cursor, name, stats, None

    def __enter__(self):
        self.cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [self.name])
        row = self.cursor.fetchone()
        if row:
            self.definition = row[0]
            self.cursor.execute(f"DROP INDEX {self.name}")

    def __exit__(self, kind, value, traceback):
        if self.definition and kind is None:
            started = time.perf_counter()
            # The COPY's deferred foreign-key checks must run first: no index is built over pending ones.
            self.cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            self.cursor.execute(self.definition)
            self.stats.add(f"{self.name} (index)", 0, time.perf_counter() - started)
