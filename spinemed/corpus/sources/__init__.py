"""Source adapters: raw spinal-medicine sources -> `SourceRecord`s (stage 1 of the build).

`iter_sources(root)` (driver.py) reads `root/catalog.yaml` and streams records from every catalogued file or
folder, dispatching on `source_type`:

| source_type              | files                                  | adapter                  | kinds            |
| ------------------------ | -------------------------------------- | ------------------------ | ---------------- |
| textbook, guideline      | OCR markdown (`*.md`)                  | `read_markdown_document` | passage, figure  |
| textbook, guideline      | PDF (`*.pdf`): text layer, else OCR    | `read_pdf`               | passage, figure  |
| question_bank            | `*.csv`, `*.json`, `*.jsonl`           | `read_question_bank`     | mcq              |
| case_report              | Europe PMC JATS XML (`*.xml`)          | `read_jats`              | case, figure     |
| inpatient                | one case per `*.json` (or `*.jsonl`)   | `read_inpatient`         | case             |
| open_dataset             | VerSe layout folder (NIfTI + centroids) | `read_verse`             | volume           |
| open_dataset             | RSNA 2024 lumbar layout (DICOM + CSVs)  | `read_rsna_lumbar`       | volume (a study) |

Provenance (source id, license, redistributable) comes from the catalog; JATS files override
the source id and license with their own `<article-id>` / `<license>`.  Every defect (broken or
missing image, malformed XML, empty chapter, uncatalogued file, caption/image mismatch, ...) is
yielded as a `SourceIssue` naming the file and the reason, and reading goes on.  Identifiers in
inpatient records are left in place, and records carry real relative file names, case ids and
imaging subjects: de-identification, including the opaque provenance ids
(`spinemed.deid.provenance.deidentify_provenance`), is the next stage's job.

Layout: `catalog` (catalog.yaml entries), `common` (helpers every reader shares), one module per
format (`markdown`, `pdf`, `question_bank`, `jats`, `inpatient`, `verse`, `dicom`) and `driver` (dispatch and
the shard filter; an open_dataset folder's catalog `layout`, or its files, picks VerSe or DICOM).  A new format is a new reader module plus one line in `driver._READERS`.
"""

from .catalog import CATALOG_FILE, CatalogEntry, load_catalog
from .common import DEFAULT_MAX_PARAGRAPH_CHARS, clean_ocr_text, detect_language, image_description
from .dicom import read_rsna_lumbar
from .driver import ReadSources, iter_sources
from .inpatient import read_inpatient
from .jats import read_jats
from .markdown import read_markdown_document
from .pdf import read_pdf
from .question_bank import read_question_bank
from .verse import VERSE_LABELS, read_verse

__all__ = [
    "CATALOG_FILE",
    "DEFAULT_MAX_PARAGRAPH_CHARS",
    "CatalogEntry",
    "load_catalog",
    "iter_sources",
    "ReadSources",
    "read_markdown_document",
    "read_pdf",
    "read_question_bank",
    "read_jats",
    "read_inpatient",
    "read_verse",
    "read_rsna_lumbar",
    "clean_ocr_text",
    "detect_language",
    "image_description",
    "VERSE_LABELS",
]
