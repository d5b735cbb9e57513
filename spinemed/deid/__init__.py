"""De-identification of English and Chinese clinical text, records, images and provenance.

Public API (stable): ``deidentify(text) -> str``, ``find_identifiers(text)``,
``deidentify_fields(record)``, ``Deidentifier``, ``Finding``, ``KINDS``, ``PLACEHOLDERS``,
``DEID_VERSION``.  See ``docs/deid.md`` for the method, the layers and the measured figures.
"""

from .cues import (
    AGE_BUCKET,
    DEFAULT_ALLOWED_URL_HOSTS,
    DEID_VERSION,
    KINDS,
    PLACEHOLDERS,
    Finding,
    _key_kind,  # noqa: F401  (used by bench.review to find identifier keys)
)
from .scrubber import MODES, Deidentifier, deidentify, deidentify_fields, find_identifiers

__all__ = [
    "AGE_BUCKET",
    "DEFAULT_ALLOWED_URL_HOSTS",
    "DEID_VERSION",
    "KINDS",
    "MODES",
    "PLACEHOLDERS",
    "Deidentifier",
    "Finding",
    "deidentify",
    "deidentify_fields",
    "find_identifiers",
]

from .records import MODE_BY_SOURCE_TYPE, RecordReport, deidentify_record, mode_for  # noqa: E402

__all__ += ["MODE_BY_SOURCE_TYPE", "RecordReport", "deidentify_record", "mode_for"]
