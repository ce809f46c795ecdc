"""Facts read once from the QuickFIX data dictionary (fix_specs/FIX44.xml): field names by tag.

Rejects name the tag they refuse ("tag 44 (Price): ..."), with the names the counterparty's
own dictionary uses."""
from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from functools import lru_cache
from pathlib import Path

DATA_DICTIONARY = Path(__file__).resolve().parents[2] / "fix_specs" / "FIX44.xml"
DEFAULT_DICTIONARY = DATA_DICTIONARY  # every session of the project validates against this file


@lru_cache(maxsize=4)
def field_names(data_dictionary: Path = DEFAULT_DICTIONARY) -> dict[int, str]:
    root = ElementTree.parse(data_dictionary).getroot()
    fields = root.find("fields")
    assert fields is not None, f"{data_dictionary} has no <fields>"
    return {int(field.get("number", "0")): field.get("name", "?") for field in fields}


def describe_tag(tag: int) -> str:
    """'44 (Price)', or just '9999' for a tag the dictionary does not define."""
    name = field_names().get(tag)
    return f"{tag} ({name})" if name else str(tag)
