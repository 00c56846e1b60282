"""The PaNET ontology's technique terms, which a technique's `panet_id` must name.

The list is data: panet/panet_terms.csv (identifier, label), taken from PaNET (ExPaNDS, CC BY 4.0;
source, attribution and how to update it in panet/README.md).
"""

import csv
from functools import cache
from pathlib import Path

PANET_TERMS = Path(__file__).resolve().parent / "panet" / "panet_terms.csv"


@cache
def panet_terms() -> dict[str, str]:
    """PaNET identifier ('PaNET01177') -> label ('x-ray fluorescence')."""
    with PANET_TERMS.open(encoding="utf-8", newline="") as file:
        return {row["id"]: row["label"] for row in csv.DictReader(file)}


def panet_label(panet_id: str) -> str:
    """The term's label; '' for no identifier or one PaNET does not have."""
    return panet_terms().get(panet_id, "")
