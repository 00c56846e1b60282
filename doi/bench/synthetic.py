"""Synthetic publications for a generated catalogue (manage.py generate_publications, after
generate_catalogue: the catalogue never imports doi/, so its generator cannot make them).

Every released investigation (release date passed) gets its session DOI, published (findable) at
its release date, as the beat's `publications_release_sessions` would have made it: the
investigation's title, an abstract, the licence, creators from its participants (PI first, then
co-proposers and participants) and contributors (local contacts, the instrument's scientists),
under the synthetic prefix SYNTHETIC_PREFIX (10.80000/SYNTHETIC.<n>, n in the order of release).
One in WITHDRAWN_EVERY (the 2nd, the 52nd...) is then withdrawn a month later, so OAI-PMH has
deleted records. Nothing is sent to DataCite (datacite_state stays empty, nothing in the outbox).

The datestamps (`modified`) are the release (or withdrawal) dates, spread over the years as a
live server's would be. Rows go in with PostgreSQL COPY, ids reserved on the tables' sequences, as
the catalogue's and the logbook's generators do. Deterministic: the same catalogue gives the same
publications (no random draws).
"""

import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from catalogue.bench.scales import GeneratorError
from catalogue.bench.synthetic import CopyWriter, Stats
from catalogue.models import Dataset, Instrument, InstrumentScientist, Investigation, InvestigationUser, UserProfile

from ..models import Publication, PublicationPerson

SYNTHETIC_PREFIX = "10.80000"
WITHDRAWN_EVERY = 50  # one publication in 50 is withdrawn (an OAI-PMH deleted record)
WITHDRAWN_AFTER = timedelta(days=30)
WITHDRAWN_REASON = "Synthetic: withdrawn at the request of the principal investigator."
PUBLICATION_COLUMNS = [
    "id", "kind", "doi", "investigation_id", "collection_id", "owner_id", "title", "abstract", "licence",
    "related_identifiers", "funding", "state", "published", "withdrawn", "withdrawn_reason", "datacite_state",
    "sync_pending", "sync_sent", "sync_attempts", "sync_error", "created", "modified",
]  # fmt: skip
PERSON_COLUMNS = [
    "id", "publication_id", "role", "contributor_type", "position", "user_id", "given_name", "family_name",
    "orcid", "affiliation",
]  # fmt: skip
ROLE_ORDER = {InvestigationUser.Role.PRINCIPAL_INVESTIGATOR: 0, InvestigationUser.Role.CO_PROPOSER: 1}


def synthetic_doi(n: int) -> str:
    return f"{SYNTHETIC_PREFIX}/SYNTHETIC.{n}"


def generate() -> Stats:
    if connection.vendor != "postgresql":
        raise GeneratorError(f"the generator writes with PostgreSQL COPY; the database is {connection.vendor}")
    if not Dataset.objects.exists():
        raise GeneratorError("no generated catalogue here: run manage.py generate_catalogue first")
    if Publication.objects.exists():
        raise GeneratorError("there are publications already: generate into a catalogue without any")
    stats = Stats()
    with transaction.atomic(), connection.cursor() as cursor:
        Writer(cursor, stats).run()
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(f"ANALYZE {Publication._meta.db_table}, {PublicationPerson._meta.db_table}")
        stats.add("ANALYZE", 0, time.perf_counter() - started)
    return stats


class Writer(CopyWriter):
    def __init__(self, cursor, stats: Stats):
        self.cursor, self.stats = cursor, stats

    def run(self) -> None:
        now = timezone.now()
        investigations = list(
            Investigation.objects.filter(release_date__lte=now)
            .annotate(n=Count("datasets"))
            .order_by("release_date", "id")
            .values_list(
                "id", "title", "name", "visit_id", "instrument_id", "start_date", "end_date", "release_date", "n"
            )  # fmt: skip
        )
        instruments = dict(Instrument.objects.values_list("id", "name"))
        first = self._reserve(Publication, len(investigations))
        rows, ids = [], {}
        for k, (inv_id, title, name, visit, instrument_id, start, end, release, n) in enumerate(investigations):
            pk = first + k
            ids[inv_id] = (pk, instrument_id)
            withdrawn = min(release + WITHDRAWN_AFTER, now) if k % WITHDRAWN_EVERY == 1 else None
            abstract = (
                f"{title or name}: {n} datasets of proposal {name} (visit {visit}), collected on "
                f"{instruments[instrument_id]} from {start:%Y-%m-%d} to {end:%Y-%m-%d}, open since {release:%Y-%m-%d}."
            )
            rows.append(
                (
                    pk, Publication.Kind.SESSION, synthetic_doi(k + 1), inv_id, None, None,
                    (title or f"{name} {visit}")[:500], abstract, settings.DOI_LICENCE, "[]", "[]",
                    Publication.State.WITHDRAWN if withdrawn else Publication.State.FINDABLE, release, withdrawn,
                    WITHDRAWN_REASON if withdrawn else "", "", False, None, 0, "", release, withdrawn or release,
                )
            )  # fmt: skip
        self._copy(Publication, PUBLICATION_COLUMNS, rows)
        self._copy_people(ids)

    def _copy_people(self, publications: dict[int, tuple[int, int]]) -> None:
        """Creators and contributors as services._add_people makes them, read in three queries."""
        users = {
            pk: (first_name, last_name or username)
            for pk, first_name, last_name, username in get_user_model().objects.values_list(
                "pk", "first_name", "last_name", "username"
            )
        }
        orcids = dict(UserProfile.objects.exclude(orcid="").values_list("user_id", "orcid"))
        members: dict[int, list[tuple[str, int]]] = {}
        for inv_id, user_id, role in InvestigationUser.objects.filter(
            investigation_id__in=list(publications)
        ).values_list("investigation_id", "user_id", "role"):
            members.setdefault(inv_id, []).append((role, user_id))
        scientists: dict[int, list[int]] = {}
        for instrument_id, user_id in InstrumentScientist.objects.order_by("id").values_list(
            "instrument_id", "user_id"
        ):
            scientists.setdefault(instrument_id, []).append(user_id)
        rows = []
        for inv_id, (pk, instrument_id) in publications.items():
            creators, contacts = {}, {}
            ordered = sorted(members.get(inv_id, []), key=lambda m: (ROLE_ORDER.get(m[0], 2), users[m[1]][1], m[1]))
            for role, user_id in ordered:
                (contacts if role == InvestigationUser.Role.LOCAL_CONTACT else creators).setdefault(user_id, None)
            for position, user_id in enumerate(creators):
                rows.append((pk, "creator", "", position, user_id, ""))
            contributors = [(u, "ContactPerson") for u in contacts] + [
                (u, "DataCollector") for u in dict.fromkeys(scientists.get(instrument_id, [])) if u not in contacts
            ]
            for position, (user_id, kind) in enumerate(contributors):
                rows.append((pk, "contributor", kind, position, user_id, settings.FACILITY_NAME))
        first = self._reserve(PublicationPerson, len(rows))
        self._copy(
            PublicationPerson,
            PERSON_COLUMNS,
            (
                (first + i, pk, role, kind, position, user_id, *users[user_id], orcids.get(user_id, ""), affiliation)
                for i, (pk, role, kind, position, user_id, affiliation) in enumerate(rows)
            ),
        )
