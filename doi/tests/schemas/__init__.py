"""XML schemas for the tests: DataCite kernel 4.5 (datacite-4.5/, from DataCite's schema
repository), DataCite's OAI wrapper (oai-datacite/), OAI-PMH 2.0 and oai_dc (oai-pmh/, written
from the published XSDs)."""

from functools import cache
from pathlib import Path

from lxml import etree

HERE = Path(__file__).parent


@cache
def _schema(relative: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(HERE / relative)))


def datacite_schema() -> etree.XMLSchema:
    return _schema("datacite-4.5/metadata.xsd")


def oai_datacite_schema() -> etree.XMLSchema:
    return _schema("oai-datacite/oai.xsd")


def oai_pmh_schema() -> etree.XMLSchema:
    return _schema("oai-pmh/OAI-PMH.xsd")


def oai_dc_schema() -> etree.XMLSchema:
    return _schema("oai-pmh/oai_dc.xsd")
