"""Synthetic logbooks for a generated catalogue (manage.py generate_logbook, after generate_catalogue).

Every investigation gets EVENTS_PER_DATASET events per dataset, spread over its session: the control
software's commands, messages, debug lines and errors (notifications, by the instrument, some about
one of its datasets), and its participants' comments (annotations, some in HTML). At the large scale
(1 million datasets) that is 10 million events, and the bench investigation (the one with the most
datasets, 10,000) holds 100,000. Each instrument's beamline logbook gets 1 % more, and the facility a
few broadcasts. A tenth of the events carry one of their logbook's tags.

Rows go in with PostgreSQL COPY, ids reserved on the table's sequence, in the order of their
creation date across every logbook (ids grow with time, as a live server's do). The full-text
search's GIN index is dropped before the COPY and built again after it, which is much faster than
updating it row by row. One seeded random generator: the same seed and catalogue give the same logbooks.
"""

import heapq
import random
import time
from datetime import timedelta

from django.db import connection, transaction

from catalogue.bench.scales import GeneratorError
from catalogue.bench.synthetic import FIRST_SESSION, LAST_SESSION, PROTEINS, CopyWriter, IndexRebuilt, Stats
from catalogue.models import Dataset, Instrument, Investigation, InvestigationUser

from ..models import Event, Tag
from ..services import TAG_COLORS

EVENTS_PER_DATASET = 10
BEAMLINE_SHARE = 0.01  # beamline events, as a share of the investigations'
BROADCASTS = 20
TAGGED = 0.1  # the share of events with a tag
TAGS = ("alignment", "sample", "beam", "data collection", "problem")  # each logbook's own
SEARCH_WORD = "timeout"  # in about 1 % of the events (errors), for the search benchmark
SOFTWARE = "bliss"
EVENT_COLUMNS = [
    "id", "investigation_id", "instrument_id", "type", "category", "title", "text", "html", "dataset_id",
    "author_id", "machine", "software", "creation_date", "created", "is_latest", "removed",
]  # fmt: skip
SEARCH_INDEX = "event_search"

NOTIFICATION, ANNOTATION, BROADCAST = Event.Type.NOTIFICATION, Event.Type.ANNOTATION, Event.Type.BROADCAST
ERRORS = (
    f"Detector {SEARCH_WORD} while arming, retrying",
    "Beam lost: refill in progress",
    "Cryostream temperature out of range: {x:.1f} K",
    "Motor phi did not reach its position ({x:.3f})",
    "Sample changer: gripper error, sample not mounted",
    f"Shutter {SEARCH_WORD}: no answer after 5 s",
)
COMMENTS = (
    "Crystal looks good, diffraction to about {r:.1f} A",
    "Ice rings visible, moved to another position",
    "Crystal cracked after annealing; next sample",
    "Twinned? Check the indexing of {d}",
    "Strong anisotropy, {r:.1f} A along c*",
    "Beam centred again, flux {x:.0f} % of nominal",
)


def generate(*, seed: int = 1, per_dataset: int = EVENTS_PER_DATASET) -> Stats:
    if connection.vendor != "postgresql":
        raise GeneratorError(f"the generator writes with PostgreSQL COPY; the database is {connection.vendor}")
    if not Dataset.objects.exists():
        raise GeneratorError("no generated catalogue here: run manage.py generate_catalogue first")
    if Event.objects.exists():
        raise GeneratorError("the logbook already holds events: generate into an empty logbook")
    stats = Stats()
    with transaction.atomic(), connection.cursor() as cursor:
        Writer(cursor, random.Random(seed), per_dataset, stats).run()
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(f"ANALYZE {Event._meta.db_table}, {Event.tags.through._meta.db_table}, {Tag._meta.db_table}")
        stats.add("ANALYZE", 0, time.perf_counter() - started)
    return stats


class Writer(CopyWriter):
    def __init__(self, cursor, rng: random.Random, per_dataset: int, stats: Stats):
        self.cursor, self.rng, self.per_dataset, self.stats = cursor, rng, per_dataset, stats

    def run(self) -> None:
        instruments = dict(Instrument.objects.values_list("id", "name"))
        investigations = list(
            Investigation.objects.order_by("id").values_list("id", "instrument_id", "start_date", "end_date")
        )
        members: dict[int, list[int]] = {}
        for investigation_id, user_id in InvestigationUser.objects.values_list("investigation_id", "user_id"):
            members.setdefault(investigation_id, []).append(user_id)
        datasets: dict[int, list[tuple[int, str]]] = {}
        for row in Dataset.objects.order_by("investigation_id", "start_date", "id").values_list(
            "investigation_id", "id", "name"
        ):
            datasets.setdefault(row[0], []).append(row[1:])
        tags = self.tags(investigations)

        streams = [
            self.investigation_events(inv_id, instruments[instrument_id], start, end, datasets.get(inv_id, []),
                                      members.get(inv_id, []))
            for inv_id, instrument_id, start, end in investigations
        ]  # fmt: skip
        total = self.per_dataset * sum(len(d) for d in datasets.values())
        beamline = max(1, int(total * BEAMLINE_SHARE / max(len(instruments), 1)))
        streams += [self.beamline_events(pk, name, beamline) for pk, name in instruments.items()]
        streams.append(self.broadcasts())
        count = total + beamline * len(instruments) + BROADCASTS
        first = self._reserve(Event, count)
        tagged: list[tuple[int, int]] = []

        def rows():
            for k, event in enumerate(heapq.merge(*streams, key=lambda row: row[11])):
                event_id = first + k
                if event[0] is not None and self.rng.random() < TAGGED:
                    tagged.append((event_id, self.rng.choice(tags[event[0]])))
                yield (event_id, *event, event[11] + timedelta(seconds=1), True, False)

        with self._without_search_index():
            self._copy(Event, EVENT_COLUMNS, rows())
        link = Event.tags.through
        first = self._reserve(link, len(tagged))
        self._copy(link, ["id", "event_id", "tag_id"], ((first + i, *pair) for i, pair in enumerate(tagged)))

    def tags(self, investigations) -> dict[int, list[int]]:
        """Each investigation's tags (their ids) by investigation id; the beamline logbooks have none."""
        first = self._reserve(Tag, len(TAGS) * len(investigations))
        rows, tags = [], {}
        for i, (inv_id, *_) in enumerate(investigations):
            ids = [first + i * len(TAGS) + k for k in range(len(TAGS))]
            tags[inv_id] = ids
            rows += [(pk, name, TAG_COLORS[k], inv_id) for k, (pk, name) in enumerate(zip(ids, TAGS, strict=True))]
        self._copy(Tag, ["id", "name", "color", "investigation_id"], rows)
        return tags

    # --- The events of each logbook, in time order: (investigation, instrument, type, category, title,
    # text, html, dataset, author, machine, software, creation date) ------------------------------

    def investigation_events(self, inv_id, machine, start, end, datasets, members):
        count = self.per_dataset * len(datasets)
        step = (end - start) / max(count, 1)
        rng = self.rng
        for k in range(count):
            when = start + step * k
            dataset_id, name = datasets[k // self.per_dataset]
            draw = rng.random()
            if draw < 0.12 and members:  # a participant's comment, a third of them in HTML
                text = rng.choice(COMMENTS).format(r=rng.uniform(0.9, 4.0), d=name, x=rng.uniform(50, 100))
                html = f"<p>{text}</p>" if draw < 0.04 else ""
                yield (inv_id, None, ANNOTATION, "comment", "", "" if html else text, html,
                       dataset_id if draw < 0.06 else None, rng.choice(members), "", "", when)  # fmt: skip
                continue
            if draw < 0.15:
                category, text = "error", rng.choice(ERRORS).format(x=rng.uniform(-180, 180))
            elif draw < 0.25:
                motor = rng.choice(("phi", "kappa", "sampx", "sampy"))
                category, text = "debug", f"motor {motor} at {rng.uniform(-5, 5):.4f}"
            elif draw < 0.55:
                category = "commandLine"
                text = rng.choice(
                    (f"dscan sampy -0.1 0.1 {rng.randint(10, 100)} 0.05", f"mv phi {rng.uniform(0, 360):.2f}",
                     f"ct {rng.choice((0.1, 0.5, 1))}", f"collect('{name}')")
                )  # fmt: skip
            else:
                category = "info"
                text = rng.choice(
                    (f"Data collection of {name} started: {rng.randint(100, 3600)} images",
                     f"Data collection of {name} finished", f"Sample {rng.choice(PROTEINS)} mounted",
                     f"Beam current {rng.uniform(150, 200):.1f} mA")
                )  # fmt: skip
            yield (inv_id, None, NOTIFICATION, category, "", text, "", dataset_id if category != "debug" else None,
                   None, machine, SOFTWARE, when)  # fmt: skip

    def beamline_events(self, instrument_id, machine, count):
        step = (LAST_SESSION - FIRST_SESSION) / count
        for k in range(count):
            text = self.rng.choice(
                ("Machine refill", "Vacuum OK", f"Detector {SEARCH_WORD} during calibration", "Alignment done")
            )
            yield (None, instrument_id, NOTIFICATION, "info", "", text, "", None, None, machine, SOFTWARE,
                   FIRST_SESSION + step * k)  # fmt: skip

    def broadcasts(self):
        step = (LAST_SESSION - FIRST_SESSION) / BROADCASTS
        for k in range(BROADCASTS):
            yield (None, None, BROADCAST, "info", "Facility", f"Machine shutdown {k + 1}: restart on Monday 8:00",
                   "", None, None, "", "", FIRST_SESSION + step * k)  # fmt: skip

    def _without_search_index(self):
        return IndexRebuilt(self.cursor, SEARCH_INDEX, self.stats)
