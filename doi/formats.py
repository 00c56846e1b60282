"""The exports of a publication, each from its DataCite kernel 4.5 JSON: DataCite JSON and XML,
schema.org JSON-LD (a Dataset, for search engines' dataset results), BibTeX, RIS, CSL-JSON and a
formatted citation (DataCite's recommended form). FORMATS maps each to its media type, as DOI
resolvers negotiate them."""

import json
import re
from dataclasses import dataclass

from django.conf import settings

from . import datacite

DOI_URL = "https://doi.org/"


@dataclass(frozen=True)
class Export:
    media_type: str
    extension: str
    label: str


FORMATS = {
    "datacite-json": Export("application/vnd.datacite.datacite+json", "json", "DataCite JSON"),
    "datacite-xml": Export("application/vnd.datacite.datacite+xml", "xml", "DataCite XML"),
    "jsonld": Export("application/ld+json", "jsonld", "schema.org JSON-LD"),
    "bibtex": Export("application/x-bibtex", "bib", "BibTeX"),
    "ris": Export("application/x-research-info-systems", "ris", "RIS"),
    "csl": Export("application/vnd.citationstyles.csl+json", "json", "CSL-JSON"),
    "citation": Export("text/x-bibliography", "txt", "Citation (text)"),
}
BY_MEDIA_TYPE = {export.media_type: name for name, export in FORMATS.items()}


def _creators(data: dict) -> list[dict]:
    return data.get("creators", [])


def _orcid(person: dict) -> str:
    for identifier in person.get("nameIdentifiers", []):
        if identifier.get("nameIdentifierScheme") == "ORCID":
            return identifier["nameIdentifier"]
    return ""


def _abstract(data: dict) -> str:
    return next((d["description"] for d in data.get("descriptions", []) if d["descriptionType"] == "Abstract"), "")


def _keywords(data: dict) -> list[str]:
    return [s["subject"] for s in data.get("subjects", []) if s.get("subjectScheme") != "Instrument"]


def datacite_json(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


def datacite_xml(data: dict) -> str:
    return datacite.to_xml(data)


def jsonld(data: dict, *, url: str, downloads: list[dict]) -> dict:
    """schema.org Dataset: name, description, identifier, creator (ORCID in sameAs), license,
    datePublished, publisher, keywords, measurementTechnique, includedInDataCatalog, and the
    open data as DataDownload distributions."""
    doi_url = DOI_URL + data["doi"]

    def person(p: dict) -> dict:
        if p.get("nameType") == "Organizational":
            return {"@type": "Organization", "name": p["name"]}
        entry = {"@type": "Person", "name": " ".join(filter(None, (p.get("givenName"), p.get("familyName"))))}
        entry |= {k: p[f] for k, f in (("givenName", "givenName"), ("familyName", "familyName")) if p.get(f)}
        if _orcid(p):
            entry["sameAs"] = _orcid(p)
        if p.get("affiliation"):
            entry["affiliation"] = {"@type": "Organization", "name": p["affiliation"][0]["name"]}
        return entry

    rights = data.get("rightsList", [{}])[0]
    techniques = [s for s in data.get("subjects", []) if s.get("subjectScheme") == "PaNET"]
    document = {
        "@context": "https://schema.org",
        "@type": "Dataset",
        "@id": doi_url,
        "url": url,
        "name": data["titles"][0]["title"],
        "description": _abstract(data) or data["titles"][0]["title"],
        "identifier": {"@type": "PropertyValue", "propertyID": "DOI", "value": data["doi"], "url": doi_url},
        "creator": [person(p) for p in _creators(data)],
        "license": rights.get("rightsUri") or rights.get("rights", ""),
        "datePublished": data["publicationYear"],
        "publisher": {"@type": "Organization", "name": data["publisher"]["name"]},
        "keywords": _keywords(data),
        "measurementTechnique": [
            {"@type": "DefinedTerm", "name": s["subject"], "url": s.get("valueUri", "")} for s in techniques
        ],
        "includedInDataCatalog": {
            "@type": "DataCatalog",
            "name": f"{settings.FACILITY_NAME} data portal",
            "url": settings.PORTAL_URL + "/",
        },
        "isAccessibleForFree": True,
    }
    if downloads:
        document["distribution"] = [
            {"@type": "DataDownload", "name": d["name"], "encodingFormat": "application/zip", "contentUrl": d["url"]}
            | ({"contentSize": f"{d['size']} B"} if d.get("size") else {})
            for d in downloads
        ]
    return document


def csl(data: dict) -> dict:
    return {
        "id": data["doi"],
        "type": "dataset",
        "DOI": data["doi"],
        "URL": DOI_URL + data["doi"],
        "title": data["titles"][0]["title"],
        "author": [
            {"family": p["familyName"], **({"given": p["givenName"]} if p.get("givenName") else {})}
            if p.get("familyName")
            else {"literal": p["name"]}
            for p in _creators(data)
        ],
        "publisher": data["publisher"]["name"],
        "issued": {"date-parts": [[int(data["publicationYear"])]]},
        "abstract": _abstract(data),
        "keyword": ", ".join(_keywords(data)),
    }


def _bibtex_escape(text: str) -> str:
    return re.sub(r"([{}&%$#_\\])", r"\\\1", text)


def bibtex(data: dict) -> str:
    key = re.sub(r"[^A-Za-z0-9]", "_", data["doi"])
    authors = " and ".join(p["name"] for p in _creators(data))
    fields = {
        "author": authors,
        "title": data["titles"][0]["title"],
        "publisher": data["publisher"]["name"],
        "year": data["publicationYear"],
        "doi": data["doi"],
        "url": DOI_URL + data["doi"],
        "keywords": ", ".join(_keywords(data)),
        "copyright": data.get("rightsList", [{}])[0].get("rights", ""),
    }
    body = ",\n".join(f"  {name} = {{{_bibtex_escape(value)}}}" for name, value in fields.items() if value)
    return f"@misc{{{key},\n{body}\n}}\n"


def ris(data: dict) -> str:
    lines = ["TY  - DATA", f"T1  - {data['titles'][0]['title']}"]
    lines += [f"AU  - {p['name']}" for p in _creators(data)]
    lines += [
        f"DO  - {data['doi']}",
        f"UR  - {DOI_URL}{data['doi']}",
        f"PY  - {data['publicationYear']}",
        f"PB  - {data['publisher']['name']}",
    ]
    if _abstract(data):
        lines.append(f"AB  - {' '.join(_abstract(data).split())}")
    lines += [f"KW  - {keyword}" for keyword in _keywords(data)]
    lines.append("ER  - ")
    return "\r\n".join(lines) + "\r\n"


def citation(data: dict) -> str:
    """Creator (PublicationYear). Title. Publisher. https://doi.org/DOI (DataCite's form)."""
    names = [p["name"] for p in _creators(data)]
    authors = "; ".join(names[:20]) + ("; et al." if len(names) > 20 else "")
    title = data["titles"][0]["title"].rstrip(".")
    publisher = data["publisher"]["name"]
    return f"{authors} ({data['publicationYear']}). {title} [Data set]. {publisher}. {DOI_URL}{data['doi']}"
