"""DICOM headers: the PS3.15 Basic Application Level Confidentiality Profile, applied by removal.

A DICOM file carries the patient's name, id, birth date, the institution, the referring
physician, accession numbers, dates and UIDs in its header.  The kit publishes only pixels
(windowed, re-encoded as PNG without metadata) and labels from the dataset's own CSVs, never a
header value; this module is the second line: every dataset the DICOM reader opens is passed
through :func:`deidentify_dataset` before anything else looks at it, so no later code can pick
an identifier up by accident.

What it removes (at every nesting level, sequences included):

* every attribute listed in PS3.15 Annex E Table E.1-1 (``data/dicom_basic_profile.tsv``, with
  the profile's action code and the source of the list), whatever the code (D, Z, X, U or a
  choice): the kit never writes DICOM back, so removal is the strictest option and always
  conforms; wildcard entries (curve groups ``50xx``, overlay data and comments ``60xx``) too;
* all private attributes (the profile's default without the Retain Safe Private option);
* from the file meta: the media storage SOP instance UID and the source / sending / receiving
  AE titles (a station name).

It then sets Patient Identity Removed = YES and De-identification Method, as the profile asks.
:func:`burned_in_annotation` reads the one retained attribute that says whether the pixels
themselves carry text (Burned In Annotation = YES).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

__all__ = [
    "BASIC_PROFILE_FILE",
    "METHOD",
    "ProfileEntry",
    "basic_profile",
    "burned_in_annotation",
    "deidentify_dataset",
    "listed_tags_present",
]

BASIC_PROFILE_FILE = "dicom_basic_profile.tsv"
METHOD = "PS3.15 Basic Profile: attributes removed (spinemed)"  # LO: at most 64 characters
# File-meta (group 0002) elements that name an instance or a station.
_FILE_META_REMOVE = (0x00020003, 0x00020016, 0x00020017, 0x00020018)


@dataclass(frozen=True)
class ProfileEntry:
    """One row of Table E.1-1: `tag` as written there (``0010,0010``; ``x`` is a wildcard nibble)."""

    tag: str
    action: str
    name: str

    @property
    def value_mask(self) -> tuple[int, int]:
        """(value, mask) over the 32-bit tag: a tag matches when tag & mask == value."""
        text = self.tag.replace(",", "")
        value = int(text.replace("x", "0").replace("X", "0"), 16)
        mask = int("".join("0" if c in "xX" else "F" for c in text), 16)
        return value, mask


@functools.cache
def basic_profile() -> tuple[ProfileEntry, ...]:
    """The attributes of the Basic Profile, read from the shipped list."""
    text = resources.files("spinemed.deid").joinpath("data", BASIC_PROFILE_FILE).read_text(encoding="utf-8")
    entries = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        tag, action, name = line.split("\t")
        entries.append(ProfileEntry(tag, action, name))
    return tuple(entries)


@functools.cache
def _matchers() -> tuple[frozenset[int], tuple[tuple[int, int], ...]]:
    exact, masked = set(), []
    for e in basic_profile():
        value, mask = e.value_mask
        if mask == 0xFFFFFFFF:
            exact.add(value)
        else:
            masked.append((value, mask))
    return frozenset(exact), tuple(masked)


def _listed(tag: int) -> bool:
    exact, masked = _matchers()
    return tag in exact or any(tag & mask == value for value, mask in masked)


def deidentify_dataset(ds: Any) -> list[str]:
    """Remove the profile's attributes and every private attribute from a pydicom Dataset, in
    place, at every nesting level; returns the keywords (or tags) removed, never their values."""
    removed: list[str] = []

    def strip(d: Any) -> None:
        for elem in list(d):
            tag = int(elem.tag)
            if elem.tag.is_private or _listed(tag):
                removed.append(elem.keyword or f"({elem.tag.group:04X},{elem.tag.element:04X})")
                del d[elem.tag]
            elif elem.VR == "SQ":
                for item in elem.value:
                    strip(item)

    strip(ds)
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        for tag in _FILE_META_REMOVE:
            if tag in meta:
                removed.append(meta[tag].keyword)
                del meta[tag]
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = METHOD
    return removed


def listed_tags_present(ds: Any) -> list[str]:
    """Keywords of profile-listed or private attributes still in `ds` (empty after
    :func:`deidentify_dataset`): the check the tests and the reader's own assertion use."""
    found: list[str] = []

    def walk(d: Any) -> None:
        for elem in d:
            if elem.tag.is_private or _listed(int(elem.tag)):
                found.append(elem.keyword or str(elem.tag))
            elif elem.VR == "SQ":
                for item in elem.value:
                    walk(item)

    walk(ds)
    return found


def burned_in_annotation(ds: Any) -> bool:
    """Whether the header says the pixels carry burned-in text (Burned In Annotation = YES)."""
    return str(ds.get("BurnedInAnnotation", "") or "").strip().upper() == "YES"
