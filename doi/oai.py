"""The OAI-PMH 2.0 provider of published DOIs: the six verbs, `oai_dc` and `oai_datacite` (kernel
4.5 in DataCite's OAI wrapper), sets per instrument (`instrument:<name>`) and per technique
(`technique:<code>`), `from`/`until` at seconds granularity, deleted records for withdrawn
publications, and the protocol's errors.

Lists are ordered by (datestamp, id); a resumption token is signed and carries the request, the
last (datestamp, id) given and an `until` frozen at the first page, so a harvest is stable under
inserts and updates made while it runs (they come in the next incremental harvest).
"""

from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from lxml import etree

from catalogue.models import Dataset, Instrument
from techniques.models import Technique

from . import datacite
from .models import Publication
from .selectors import PageFacts, harvestable, publication_people, publications_facts

PAGE_SIZE = 100
OAI_NS = "http://www.openarchives.org/OAI/2.0/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC_NS = "http://purl.org/dc/elements/1.1/"
OAI_DATACITE_NS = "http://schema.datacite.org/oai/oai-1.0/"
FORMATS = {
    "oai_dc": (OAI_DC_NS, "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"),
    "oai_datacite": (OAI_DATACITE_NS, "http://schema.datacite.org/oai/oai-1.0/oai.xsd"),
}
VERBS = {
    "Identify": (set(), set()),
    "ListMetadataFormats": (set(), {"identifier"}),
    "ListSets": (set(), {"resumptionToken"}),
    "ListIdentifiers": ({"metadataPrefix"}, {"from", "until", "set", "resumptionToken"}),
    "ListRecords": ({"metadataPrefix"}, {"from", "until", "set", "resumptionToken"}),
    "GetRecord": ({"identifier", "metadataPrefix"}, set()),
}
SALT = "doi.oai.resumption"


class OAIError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _namespace() -> str:
    return urlsplit(settings.PORTAL_URL).hostname or "localhost"


def identifier(publication: Publication) -> str:
    return f"oai:{_namespace()}:{publication.doi}"


def _doi_of(oai_identifier: str) -> str:
    prefix = f"oai:{_namespace()}:"
    if not oai_identifier.startswith(prefix):
        raise OAIError("idDoesNotExist", f"No item {oai_identifier[:200]!r} in this repository.")
    return oai_identifier[len(prefix) :].upper()


def _parse_date(value: str, field: str, *, end: bool) -> tuple[datetime, str]:
    for pattern, granularity in (("%Y-%m-%dT%H:%M:%SZ", "seconds"), ("%Y-%m-%d", "day")):
        try:
            moment = datetime.strptime(value, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
        if granularity == "day" and end:
            moment = datetime.combine(moment.date(), time.max, tzinfo=UTC)
        elif granularity == "seconds" and end:
            moment += timedelta(microseconds=999_999)
        return moment, granularity
    raise OAIError("badArgument", f"{field} is not a UTC date (YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ): {value[:40]!r}")


def _set_q(spec: str) -> Q:
    """Publications of a set: their session's instrument or technique, or their datasets'."""
    kind, _, name = spec.partition(":")
    if kind == "instrument" and name:
        datasets = Dataset.objects.filter(collections=OuterRef("collection_id"), investigation__instrument__name=name)
        return Q(investigation__instrument__name=name) | Q(Exists(datasets))
    if kind == "technique" and name:
        session = Dataset.objects.filter(
            investigation_id=OuterRef("investigation_id"), definition__technique__code=name
        )
        selection = Dataset.objects.filter(collections=OuterRef("collection_id"), definition__technique__code=name)
        return Q(Exists(session)) | Q(Exists(selection))
    raise OAIError("badArgument", f"No set {spec[:100]!r}: sets are instrument:<name> and technique:<code>.")


def _sets() -> list[tuple[str, str]]:
    instruments = [(f"instrument:{i.name}", f"Instrument {i.name}") for i in Instrument.objects.order_by("name")]
    techniques = [(f"technique:{t.code}", t.name) for t in Technique.objects.order_by("code")]
    return instruments + techniques


def _memberships(facts: PageFacts) -> list[str]:
    return sorted({f"instrument:{name}" for name in facts.instruments} | {f"technique:{c}" for c in facts.techniques})


def _harvested(qs: QuerySet[Publication]) -> QuerySet[Publication]:
    """What a record is rendered from besides its facts (selectors.publications_facts, per page)."""
    return qs.select_related("investigation__instrument").prefetch_related("people")


# --- XML ---------------------------------------------------------------------------------------


def _el(parent, tag: str, text: str | None = None, **attrs):
    element = etree.SubElement(parent, tag, {k: v for k, v in attrs.items() if v is not None})
    if text is not None:
        element.text = text
    return element


def _envelope(params: dict, verb_ok: bool) -> tuple:
    root = etree.Element(f"{{{OAI_NS}}}OAI-PMH", nsmap={None: OAI_NS, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", f"{OAI_NS} http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd")
    _el(root, f"{{{OAI_NS}}}responseDate", _stamp(timezone.now()))
    request = _el(root, f"{{{OAI_NS}}}request", settings.PORTAL_URL + "/oai")
    if verb_ok:
        for key, value in params.items():
            request.set(key, value)
    return root, request


def _header(parent, publication: Publication, facts: PageFacts):
    header = _el(parent, f"{{{OAI_NS}}}header")
    if publication.state == Publication.State.WITHDRAWN:
        header.set("status", "deleted")
    _el(header, f"{{{OAI_NS}}}identifier", identifier(publication))
    _el(header, f"{{{OAI_NS}}}datestamp", _stamp(publication.modified))
    for spec in _memberships(facts):
        _el(header, f"{{{OAI_NS}}}setSpec", spec)
    return header


def _datacite_record(publication: Publication, facts: PageFacts) -> dict:
    return datacite.metadata(publication, facts.facts, publication_people(publication))


def _oai_dc(parent, data: dict):
    root = _el(parent, f"{{{OAI_DC_NS}}}dc")
    root.set(f"{{{XSI}}}schemaLocation", f"{OAI_DC_NS} {FORMATS['oai_dc'][1]}")
    dc = f"{{{DC_NS}}}"
    for title in data["titles"]:
        _el(root, dc + "title", title["title"])
    for creator in data["creators"]:
        _el(root, dc + "creator", creator["name"])
    for subject in data.get("subjects", []):
        _el(root, dc + "subject", subject["subject"])
    for description in data.get("descriptions", []):
        _el(root, dc + "description", description["description"])
    _el(root, dc + "publisher", data["publisher"]["name"])
    for contributor in data.get("contributors", []):
        _el(root, dc + "contributor", contributor["name"])
    _el(root, dc + "date", data["publicationYear"])
    _el(root, dc + "type", "Dataset")
    _el(root, dc + "identifier", f"https://doi.org/{data['doi']}")
    for related in data.get("relatedIdentifiers", []):
        _el(root, dc + "relation", f"{related['relatedIdentifierType']}:{related['relatedIdentifier']}")
    _el(root, dc + "language", data.get("language", "en"))
    for rights in data.get("rightsList", []):
        _el(root, dc + "rights", rights.get("rightsUri") or rights["rights"])


def _oai_datacite(parent, data: dict):
    root = _el(parent, f"{{{OAI_DATACITE_NS}}}oai_datacite")
    root.set(f"{{{XSI}}}schemaLocation", f"{OAI_DATACITE_NS} {FORMATS['oai_datacite'][1]}")
    _el(root, f"{{{OAI_DATACITE_NS}}}schemaVersion", "4.5")
    _el(root, f"{{{OAI_DATACITE_NS}}}datacentreSymbol", settings.DATACITE_USER or "LOCAL")
    _el(root, f"{{{OAI_DATACITE_NS}}}isReferenceQuality", "true")
    payload = _el(root, f"{{{OAI_DATACITE_NS}}}payload")
    payload.append(etree.fromstring(datacite.to_xml(data).encode()))


def _record(parent, publication: Publication, prefix: str, facts: PageFacts):
    record = _el(parent, f"{{{OAI_NS}}}record")
    _header(record, publication, facts)
    if publication.state != Publication.State.WITHDRAWN:
        metadata = _el(record, f"{{{OAI_NS}}}metadata")
        (_oai_dc if prefix == "oai_dc" else _oai_datacite)(metadata, _datacite_record(publication, facts))


# --- Verbs -------------------------------------------------------------------------------------


def _identify(root):
    node = _el(root, f"{{{OAI_NS}}}Identify")
    earliest = harvestable().order_by("modified").values_list("modified", flat=True).first()
    _el(node, f"{{{OAI_NS}}}repositoryName", f"{settings.FACILITY_NAME} data publications")
    _el(node, f"{{{OAI_NS}}}baseURL", settings.PORTAL_URL + "/oai")
    _el(node, f"{{{OAI_NS}}}protocolVersion", "2.0")
    _el(node, f"{{{OAI_NS}}}adminEmail", settings.DEFAULT_FROM_EMAIL)
    _el(node, f"{{{OAI_NS}}}earliestDatestamp", _stamp(earliest or datetime(2000, 1, 1, tzinfo=UTC)))
    _el(node, f"{{{OAI_NS}}}deletedRecord", "persistent")
    _el(node, f"{{{OAI_NS}}}granularity", "YYYY-MM-DDThh:mm:ssZ")


def _list_metadata_formats(root, params: dict):
    if "identifier" in params:
        _get(params["identifier"])
    node = _el(root, f"{{{OAI_NS}}}ListMetadataFormats")
    for prefix, (namespace, schema) in FORMATS.items():
        entry = _el(node, f"{{{OAI_NS}}}metadataFormat")
        _el(entry, f"{{{OAI_NS}}}metadataPrefix", prefix)
        _el(entry, f"{{{OAI_NS}}}schema", schema)
        _el(entry, f"{{{OAI_NS}}}metadataNamespace", namespace)


def _list_sets(root, params: dict):
    if "resumptionToken" in params:
        raise OAIError("badResumptionToken", "ListSets answers in one page: no resumption token is valid.")
    node = _el(root, f"{{{OAI_NS}}}ListSets")
    for spec, name in _sets():
        entry = _el(node, f"{{{OAI_NS}}}set")
        _el(entry, f"{{{OAI_NS}}}setSpec", spec)
        _el(entry, f"{{{OAI_NS}}}setName", name)


def _get(oai_identifier: str) -> Publication:
    publication = _harvested(harvestable().filter(doi=_doi_of(oai_identifier))).first()
    if publication is None:
        raise OAIError("idDoesNotExist", f"No item {oai_identifier[:200]!r} in this repository.")
    return publication


def _get_record(root, params: dict):
    if params["metadataPrefix"] not in FORMATS:
        raise OAIError("cannotDisseminateFormat", f"No metadata format {params['metadataPrefix'][:40]!r}.")
    publication = _get(params["identifier"])
    node = _el(root, f"{{{OAI_NS}}}GetRecord")
    _record(node, publication, params["metadataPrefix"], publications_facts([publication])[publication.pk])


def _query(state: dict) -> QuerySet[Publication]:
    qs = harvestable().filter(modified__lte=datetime.fromisoformat(state["until"]))
    if state.get("from"):
        qs = qs.filter(modified__gte=datetime.fromisoformat(state["from"]))
    if state.get("set"):
        qs = qs.filter(_set_q(state["set"]))
    if state.get("after"):
        stamp, pk = datetime.fromisoformat(state["after"][0]), state["after"][1]
        # The keyset (modified, id) > (stamp, pk); modified >= stamp bounds the index scan.
        qs = qs.filter(Q(modified__gt=stamp) | Q(modified=stamp, pk__gt=pk), modified__gte=stamp)
    return _harvested(qs.order_by("modified", "pk"))


def _list_state(params: dict) -> dict:
    if "resumptionToken" in params:
        if set(params) != {"verb", "resumptionToken"}:
            raise OAIError("badArgument", "resumptionToken is an exclusive argument.")
        try:
            return signing.loads(params["resumptionToken"], salt=SALT)
        except signing.BadSignature as exc:
            raise OAIError("badResumptionToken", "The resumption token is invalid or has expired.") from exc
    if "metadataPrefix" not in params:
        raise OAIError("badArgument", "metadataPrefix is required.")
    if params["metadataPrefix"] not in FORMATS:
        raise OAIError("cannotDisseminateFormat", f"No metadata format {params['metadataPrefix'][:40]!r}.")
    state = {"prefix": params["metadataPrefix"], "set": params.get("set", ""), "cursor": 0}
    until = timezone.now()
    granularities = set()
    if "until" in params:
        moment, granularity = _parse_date(params["until"], "until", end=True)
        granularities.add(granularity)
        until = min(until, moment)
    state["until"] = until.isoformat()
    if "from" in params:
        moment, granularity = _parse_date(params["from"], "from", end=False)
        granularities.add(granularity)
        state["from"] = moment.isoformat()
        if moment > until and "until" in params:
            raise OAIError("badArgument", "from is after until.")
    if len(granularities) > 1:
        raise OAIError("badArgument", "from and until must have the same granularity.")
    if state["set"]:
        _set_q(state["set"])
    return state


def _list(root, params: dict, verb: str):
    state = _list_state(params)
    qs = _query(state)
    page = list(qs[: PAGE_SIZE + 1])
    if not page:
        if "resumptionToken" in params:
            raise OAIError("badResumptionToken", "The resumption token points past the end of the list.")
        raise OAIError("noRecordsMatch", "No records match the request.")
    more = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    facts = publications_facts(page)
    node = _el(root, f"{{{OAI_NS}}}{verb}")
    for publication in page:
        if verb == "ListRecords":
            _record(node, publication, state["prefix"], facts[publication.pk])
        else:
            _header(node, publication, facts[publication.pk])
    if more or "resumptionToken" in params:
        last = page[-1]
        following = state | {"after": [last.modified.isoformat(), last.pk], "cursor": state["cursor"] + len(page)}
        token = signing.dumps(following, salt=SALT, compress=True) if more else ""
        _el(node, f"{{{OAI_NS}}}resumptionToken", token, cursor=str(state["cursor"]))


def respond(params: dict[str, list[str]]) -> bytes:
    """The OAI-PMH answer to a request's arguments (each name with all its values)."""
    repeated = [name for name, values in params.items() if len(values) > 1]
    single = {name: values[0] for name, values in params.items()}
    verb = single.get("verb", "")
    valid = verb in VERBS and not repeated
    if valid:
        required, optional = VERBS[verb]
        extra = set(single) - {"verb"} - required - optional
        missing = required - set(single) if "resumptionToken" not in single else set()
        valid = not extra and not missing
    root, request = _envelope(single, verb_ok=valid)
    try:
        if verb not in VERBS:
            raise OAIError("badVerb", f"Illegal OAI verb {verb[:40]!r}." if verb else "No verb.")
        if repeated:
            raise OAIError("badArgument", f"Repeated argument: {', '.join(sorted(repeated))}.")
        if not valid:
            raise OAIError("badArgument", f"Illegal or missing arguments for {verb}.")
        if verb == "Identify":
            _identify(root)
        elif verb == "ListMetadataFormats":
            _list_metadata_formats(root, single)
        elif verb == "ListSets":
            _list_sets(root, single)
        elif verb == "GetRecord":
            _get_record(root, single)
        else:
            _list(root, single, verb)
    except OAIError as error:
        for child in root[2:]:  # what came before the error, after responseDate and request
            root.remove(child)
        if error.code in ("badVerb", "badArgument"):
            request.attrib.clear()  # the protocol: no arguments echoed for these
        _el(root, f"{{{OAI_NS}}}error", error.message, code=error.code)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
