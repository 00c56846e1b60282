"""DataCite: the kernel 4.5 metadata of a publication, its validation against the JSON schema the
`datacite` package ships (before anything is sent), and the calls to DataCite's REST API through
that package's client.

Minting is on only when DATACITE_URL, DATACITE_PREFIX, DATACITE_USER and DATACITE_PASSWORD are all
set; otherwise DOIs are local, under DOI_LOCAL_PREFIX, and nothing is sent.
"""

import json
from dataclasses import dataclass

from datacite import DataCiteRESTClient, schema45
from datacite.errors import DataCiteError, DataCiteServerError, HttpError
from django.conf import settings

from .models import Publication

SCHEMA_VERSION = "http://datacite.org/schema/kernel-4"
ORCID_URI = "https://orcid.org"
PANET_URI = "http://purl.org/pan-science/PaNET/"
LICENCES = {
    "CC-BY-4.0": ("Creative Commons Attribution 4.0 International", "https://creativecommons.org/licenses/by/4.0/"),
    "CC0-1.0": ("Creative Commons Zero v1.0 Universal", "https://creativecommons.org/publicdomain/zero/1.0/"),
    "CC-BY-SA-4.0": (
        "Creative Commons Attribution Share Alike 4.0 International",
        "https://creativecommons.org/licenses/by-sa/4.0/",
    ),
}
# What DataCite must hold for each of our states (the event that gets it there, if any).
EVENTS = {
    Publication.State.RESERVED: ("draft", None),
    Publication.State.REVIEW: ("draft", None),
    Publication.State.FINDABLE: ("findable", "publish"),
    Publication.State.WITHDRAWN: ("registered", "hide"),
}


class MetadataInvalid(Exception):
    """The metadata fails the schema: nothing is sent. args[0]: the messages."""


class DataCiteUnavailable(Exception):
    """DataCite could not be reached or answered 5xx: try again later."""


class DataCiteRejected(Exception):
    """DataCite refused the request (4xx, e.g. 422 with its `errors`): retrying will not help."""


def minting_enabled() -> bool:
    return all((settings.DATACITE_URL, settings.DATACITE_PREFIX, settings.DATACITE_USER, settings.DATACITE_PASSWORD))


def doi_prefix() -> str:
    return settings.DATACITE_PREFIX if minting_enabled() else settings.DOI_LOCAL_PREFIX


def publisher_name() -> str:
    return settings.DOI_PUBLISHER or settings.FACILITY_NAME


def landing_url(publication: Publication) -> str:
    return settings.PORTAL_URL + publication.get_absolute_url()


def licence(identifier: str) -> dict:
    """DataCite's rights entry for an SPDX identifier."""
    name, uri = LICENCES.get(identifier, (identifier, ""))
    rights = {"rights": name, "rightsIdentifier": identifier.lower(), "rightsIdentifierScheme": "SPDX"}
    if uri:
        rights |= {"rightsUri": uri, "schemeUri": "https://spdx.org/licenses/"}
    return rights


@dataclass(frozen=True)
class Facts:
    """What the catalogue says about a publication's datasets (doi/selectors.publication_facts)."""

    datasets: int
    size: int
    techniques: tuple  # (name, PaNET id)
    instruments: tuple  # (name, full name)
    start: object  # datetime | None
    end: object
    release: object  # the latest release date of its investigations
    proposals: tuple


def _person(person) -> dict:
    entry = {"name": person.name, "nameType": "Personal", "familyName": person.family_name}
    if person.given_name:
        entry["givenName"] = person.given_name
    if person.orcid:
        entry["nameIdentifiers"] = [
            {"nameIdentifier": f"{ORCID_URI}/{person.orcid}", "nameIdentifierScheme": "ORCID", "schemeUri": ORCID_URI}
        ]
    if person.affiliation:
        entry["affiliation"] = [{"name": person.affiliation}]
    return entry


def metadata(publication: Publication, facts: Facts, people) -> dict:
    """The kernel 4.5 JSON attributes of the publication (without event and url)."""
    creators = [_person(p) for p in people if p.role == p.Role.CREATOR]
    contributors = [
        _person(p) | {"contributorType": p.contributor_type or "Other"} for p in people if p.role == p.Role.CONTRIBUTOR
    ]
    contributors.append(
        {"name": publisher_name(), "nameType": "Organizational", "contributorType": "HostingInstitution"}
    )
    year = (publication.published or publication.created).year
    dates = [{"date": str(year), "dateType": "Issued"}]
    if facts.start and facts.end:
        dates.append({"date": f"{facts.start.date()}/{facts.end.date()}", "dateType": "Collected"})
    if facts.release:
        dates.append({"date": str(facts.release.date()), "dateType": "Available"})
    if publication.withdrawn:
        dates.append({"date": str(publication.withdrawn.date()), "dateType": "Withdrawn"})
    data = {
        "doi": publication.doi,
        "types": {
            "resourceTypeGeneral": "Dataset",
            "resourceType": "Experimental session" if publication.kind == Publication.Kind.SESSION else "Datasets",
        },
        "creators": creators or [{"name": publisher_name(), "nameType": "Organizational"}],
        "titles": [{"title": publication.title}],
        "publisher": {"name": publisher_name()},
        "publicationYear": str(year),
        "subjects": [
            {"subject": name, "subjectScheme": "PaNET", "schemeUri": PANET_URI, "valueUri": PANET_URI + panet}
            if panet
            else {"subject": name}
            for name, panet in facts.techniques
        ]
        + [
            {"subject": f"{name}{f' ({full})' if full else ''}", "subjectScheme": "Instrument"}
            for name, full in facts.instruments
        ],
        "contributors": contributors,
        "dates": dates,
        "language": "en",
        "alternateIdentifiers": [
            {"alternateIdentifier": p, "alternateIdentifierType": "Proposal"} for p in facts.proposals
        ],
        "relatedIdentifiers": list(publication.related_identifiers),
        "sizes": [f"{facts.datasets} datasets", f"{facts.size} bytes"],
        "formats": ["application/x-hdf5"],
        "rightsList": [licence(publication.licence)],
        "descriptions": [{"description": publication.abstract, "descriptionType": "Abstract"}]
        if publication.abstract
        else [],
        "fundingReferences": list(publication.funding),
        "schemaVersion": SCHEMA_VERSION,
    }
    return {key: value for key, value in data.items() if value != []}


def validate(data: dict) -> list[str]:
    """The schema's complaints, each naming where ('creators/0/name: ...'); [] when valid."""
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in sorted(schema45.validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    ]


def to_xml(data: dict) -> str:
    """The DataCite XML of valid kernel 4.5 JSON."""
    return schema45.tostring(data)


def _client() -> DataCiteRESTClient:
    return DataCiteRESTClient(
        username=settings.DATACITE_USER,
        password=settings.DATACITE_PASSWORD,
        prefix=settings.DATACITE_PREFIX,
        url=settings.DATACITE_URL,
        timeout=settings.DATACITE_TIMEOUT,
    )


def _rejected(exc: DataCiteError) -> bool:
    """The client raises DataCiteServerError for 422 as for 5xx: DataCite's 422 names a `source`."""
    if not isinstance(exc, DataCiteServerError):
        return True
    try:
        errors = json.loads(exc.args[0] if exc.args else "").get("errors") or []
    except (ValueError, AttributeError):
        return False
    return any("source" in error for error in errors)


def send(*, doi: str, attributes: dict, exists: bool) -> None:
    """Create (POST /dois) or update (PUT /dois/<doi>) the DOI with these attributes, event and url
    included. Raises MetadataInvalid before sending invalid metadata, DataCiteUnavailable on an
    outage, DataCiteRejected on a refusal."""
    errors = validate(attributes)
    if errors:
        raise MetadataInvalid(errors)
    client = _client()
    body = {"type": "dois", "attributes": attributes}
    try:
        if exists:
            client.put_doi(doi, body)
        else:
            client.post_doi(body)
    except HttpError as exc:
        raise DataCiteUnavailable(str(exc)) from exc
    except DataCiteError as exc:
        message = f"{type(exc).__name__}: {exc.args[0] if exc.args else ''}"[:2000]
        raise (DataCiteRejected if _rejected(exc) else DataCiteUnavailable)(message) from exc
