"""Work-log reason texts (corpus/worklog.py): fixed reason text keeps its format names, while
identifiers in reasons are still scrubbed."""

from __future__ import annotations

from spinemed.corpus.worklog import reason_key, scrub_text
from spinemed.deid.provenance import ProvenanceIds


def test_format_names_in_reasons_are_not_scrubbed_as_names():
    ids = ProvenanceIds()
    reason = scrub_text("malformed JATS XML, file truncated or corrupt", ids, [])
    assert reason == "malformed JATS XML, file truncated or corrupt"
    assert reason_key(reason) == "malformed JATS XML, file truncated or corrupt"
    assert scrub_text("DICOM header unreadable; NIfTI volume empty; bad CSV/JSON row", ids, []) == \
        "DICOM header unreadable; NIfTI volume empty; bad CSV/JSON row"


def test_identifiers_in_reasons_are_still_scrubbed():
    ids = ProvenanceIds()
    out = scrub_text("Patient John Smith sent a malformed JATS XML", ids, [])
    assert "John" not in out and "Smith" not in out and "[NAME]" in out and out.endswith("JATS XML")
    out = scrub_text("DICOM header of Mr. Wang Wei broken", ids, [])
    assert "Wang" not in out and out.startswith("DICOM header")
    out = scrub_text("cannot read PDF/books/ch1.pdf", ids, [])  # a path next to a format name is still a path
    assert "books/ch1.pdf" not in out


def test_one_han_joiner_for_pdf_text_and_ocr():
    """spinemed.text.is_han is the one rule (the PDF reader and the OCR wrapper both use it)."""
    from spinemed import ocr
    from spinemed.corpus.sources import pdf
    from spinemed.text import is_han

    assert all(is_han(c) for c in "中文㐀，。、（）《》“”：？！\u3001\uff0c")
    assert not any(is_han(c) for c in "aZ4-. ,")
    assert not hasattr(ocr, "_is_han") and not hasattr(pdf, "_is_han")
