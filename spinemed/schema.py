"""Record types shared by every stage: source records, published rows, datasets.Features per config,
benchmark item kinds and the judge's dimensions.

A *source record* is what an adapter reads from a raw source (one passage, one figure, one
question-bank MCQ, one case).  A *row* is a published instruction item; each config of the
Hub dataset (`mcq`, `open_qa`, `consultation`, `report`) has its own `datasets.Features`.
An *item kind* (:func:`item_kind`) is what the scorer, the judge and the eval runner score by.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datasets import Features

# 1.1.0: `level_source` column; `levels` hold the levels a finding is about (no dermatomes,
# constructs, negated levels ...), from a source's labels when it has them.
# 1.1.1: text-parsed levels read spelled-out ordinals, muscle/movement myotomes, surgical history
# and landmark cues (docs/levels.md, round 2).
# 1.1.2: round 3: fixation ranges to the pelvis / in operative notes, hardware complications kept,
# cervical ribs, conus lines, not-visualised verdicts, partial negation (docs/levels.md).
# 1.1.3: round 4: reflex/grade verdicts before a bracketed level, revision and extension history,
# fusion status, corrected intra-operative hardware events, maintain verdicts, numbering (docs/levels.md).
# 1.1.4: round 5: T2 cord signal as an MRI sequence, planned surgery, operative-note procedure lists,
# dated history, negative old biopsy, already decompressed, intact structures, sensory level (docs/levels.md).
PIPELINE_VERSION = "1.1.4"

TASKS = ("mcq", "open_qa", "consultation", "report")
LANGUAGES = ("en", "zh")
MODALITIES = ("text", "image")

# Source kinds the paper used; adapters set `SourceRecord.source_type` to one of these.
SOURCE_TYPES = ("textbook", "guideline", "question_bank", "case_report", "inpatient", "open_dataset")

# Taxonomy (design section 4): 7 non-spinal orthopedic + 14 spinal sub-fields.  The value
# stored in rows is the slug; the names are for cards and the Space.
ORTHOPEDIC_SUBFIELDS = {
    "trauma_fractures": ("Trauma & fractures", "创伤与骨折"),
    "joint_arthroplasty": ("Joint reconstruction & arthroplasty", "关节重建与置换"),
    "sports_medicine": ("Sports medicine", "运动医学"),
    "hand_upper_extremity": ("Hand & upper extremity", "手与上肢外科"),
    "foot_ankle": ("Foot & ankle", "足踝外科"),
    "pediatric_orthopedics": ("Pediatric orthopedics", "小儿骨科"),
    "bone_soft_tissue_tumors": ("Bone & soft-tissue tumors", "骨与软组织肿瘤"),
}
SPINAL_SUBFIELDS = {
    "degenerative_cervical": ("Degenerative cervical spine (radiculopathy/myelopathy)", "退行性颈椎病（神经根型/脊髓型）"),
    "lumbar_disc_herniation": ("Lumbar disc herniation", "腰椎间盘突出症"),
    "lumbar_stenosis": ("Lumbar spinal stenosis", "腰椎管狭窄症"),
    "spondylolisthesis": ("Spondylolisthesis", "腰椎滑脱症"),
    "adult_spinal_deformity": ("Adult spinal deformity", "成人脊柱畸形"),
    "adolescent_idiopathic_scoliosis": ("Adolescent idiopathic scoliosis", "青少年特发性脊柱侧凸"),
    "kyphosis": ("Kyphosis", "脊柱后凸"),
    "spinal_trauma": ("Spinal trauma", "脊柱创伤"),
    "osteoporotic_vertebral_fracture": ("Osteoporotic vertebral fracture", "骨质疏松性椎体骨折"),
    "spinal_infection": ("Spinal infection (pyogenic, tuberculous)", "脊柱感染（化脓性、结核性）"),
    "spinal_tumors": ("Spinal tumors (primary, metastatic)", "脊柱肿瘤（原发性、转移性）"),
    "inflammatory_spine": ("Inflammatory spine disease (ankylosing spondylitis)", "炎症性脊柱疾病（强直性脊柱炎）"),
    "opll_olf": ("OPLL/OLF (ligament ossification)", "后纵韧带/黄韧带骨化症"),
    "congenital_developmental": ("Congenital & developmental anomalies", "先天性与发育性畸形"),
}
SUBFIELDS = {**ORTHOPEDIC_SUBFIELDS, **SPINAL_SUBFIELDS}


def subfield_group(slug: str) -> str:
    """'spinal' or 'orthopedic' for a sub-field slug (raises KeyError for unknown slugs)."""
    if slug in SPINAL_SUBFIELDS:
        return "spinal"
    if slug in ORTHOPEDIC_SUBFIELDS:
        return "orthopedic"
    raise KeyError(f"unknown sub-field {slug!r}")


# The six parts of a diagnostic report (paper); treatment has a patient-friendly and an
# evidence-based half, stored as two fields so each can be checked and scored.
REPORT_PARTS = (
    "structured_findings",
    "diagnosis",
    "treatment_patient",
    "treatment_evidence",
    "risk_prognosis",
    "postop_management",
    "diagnostic_basis",
)
REPORT_SECTION_TITLES = {
    "structured_findings": ("Structured imaging findings", "影像学结构化所见"),
    "diagnosis": ("AI-assisted diagnosis", "AI辅助诊断"),
    "treatment_patient": ("Treatment suggestions (patient-friendly)", "治疗建议（患者版）"),
    "treatment_evidence": ("Treatment suggestions (evidence-based)", "治疗建议（循证版）"),
    "risk_prognosis": ("Risk and prognosis", "风险与预后"),
    "postop_management": ("Post-operative management", "术后管理"),
    "diagnostic_basis": ("Diagnostic basis", "诊断依据"),
}


# --------------------------------------------------------------------------------------
# Benchmark items: kinds and the judge's dimensions (what spinemed.scoring scores)
# --------------------------------------------------------------------------------------

# The kinds that enter the weighted total (the paper's three components).
KINDS = ("text_mcq", "image_mcq", "report")
MCQ_KINDS = ("text_mcq", "image_mcq")
# Kinds scored on their own (level-aware only), outside the total.
OPEN_KINDS = ("open_qa",)
ITEM_KINDS = KINDS + OPEN_KINDS

# The ten judge dimensions of a report, in the paper's order.
DIMENSIONS = (
    "imaging_report",
    "diagnosis",
    "patient_guidance",
    "evidence_based_treatment",
    "technical_feasibility",
    "risk_prognosis",
    "coverage",
    "relevance",
    "granularity",
    "interpretability",
)

_MCQ_KIND_BY_MODALITY = {("mcq", "text"): "text_mcq", ("mcq", "image"): "image_mcq"}


def item_kind(item: Mapping[str, Any], where: str = "item") -> str:
    """The item's kind: its ``kind`` key, or derived from a row's ``task`` (+ ``modality`` for MCQ)."""
    if "kind" in item:
        kind = item["kind"]
        if kind not in ITEM_KINDS:
            raise ValueError(f"{where}: unknown kind {kind!r}; valid kinds: {', '.join(ITEM_KINDS)}")
        return kind
    task, modality = item.get("task"), item.get("modality")
    if task in ("report", "open_qa"):
        return task
    if (task, modality) in _MCQ_KIND_BY_MODALITY:
        return _MCQ_KIND_BY_MODALITY[(task, modality)]
    raise ValueError(
        f"{where}: cannot tell the item kind (kind={item.get('kind')!r}, task={task!r}, modality={modality!r}); "
        f"give 'kind' as one of {', '.join(ITEM_KINDS)}, or a row with task 'mcq' (modality 'text'/'image'), "
        "'report' or 'open_qa'"
    )


def check_kinds(kinds: Sequence[str], valid: Sequence[str] = KINDS) -> list[str]:
    """`kinds` as a list when it is a non-empty selection of `valid` kinds; else ValueError
    naming the choices (the caller adds what was given)."""
    kinds = list(kinds)
    if not kinds or any(k not in valid for k in kinds):
        raise ValueError(f"choose from {', '.join(valid)}")
    return kinds


# --------------------------------------------------------------------------------------
# Source records (stage 1 output, input of every later stage)
# --------------------------------------------------------------------------------------


@dataclass
class ImageRef:
    """One image attached to a source record.

    `path` is relative to the sources root when the image is a file; `data` holds encoded
    bytes for images made by an adapter (e.g. a slice cut from a NIfTI volume).
    `label` is the figure label as printed ("Figure 3-2", "图3-2"), `caption` its caption,
    `description` a short text of what the image shows when the source provides one
    (alt text, PNG description metadata, dataset annotation).
    """

    path: str = ""
    data: bytes | None = None
    label: str = ""
    caption: str = ""
    description: str = ""


@dataclass
class SourceRecord:
    """A uniform record read from a raw source, with provenance.

    kind: "passage" (text), "figure" (image + caption + citing paragraphs), "mcq" (question
    bank item: fields question/options/answer/explanation), "case" (case report or inpatient
    record: structured fields + narrative), "volume" (key slices of a 3D dataset).
    """

    record_id: str
    source_type: str
    source_id: str  # DOI / PMCID / dataset id / case id / book id
    kind: str
    language: str
    text: str = ""
    title: str = ""
    locator: str = ""  # page / section / figure / slice
    license: str = ""
    redistributable: bool = False
    source_file: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    images: list[ImageRef] = field(default_factory=list)
    context: list[str] = field(default_factory=list)  # paragraphs citing a figure (PCM output)
    subfield_hint: str = ""  # catalog's sub-field for the whole source: last classification fallback
    ocr: str = ""  # OCR engine and version that read the text (a scanned PDF page); "" = not OCR'd here

    def provenance(self) -> dict[str, Any]:
        """The `provenance` struct of every row generated from this record.

        `record_id` ties sibling rows (the MCQ, open-QA, consultation and report items drawn
        from one passage or case) together, so SpineBench decontamination can drop every row
        that shares a source record with a bench item: siblings carry the bench answer even
        when their prompt looks nothing like the bench question.
        """
        return {
            "record_id": self.record_id,
            "source_type": self.source_type,
            "source_id": self.source_id,
            "locator": self.locator,
            "license": self.license,
            "redistributable": bool(self.redistributable),
            "source_file": self.source_file,
            "ocr": self.ocr,
        }

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for img in d["images"]:
            img["data"] = None if img["data"] is None else hashlib.sha256(img["data"]).hexdigest()
        return d


@dataclass
class SourceIssue:
    """A defect found while reading sources: reported by file and reason, never fatal."""

    source_file: str
    reason: str
    stage: str = "sources"
    record_id: str = ""


def stable_id(*parts: Any, prefix: str = "") -> str:
    """Content-derived id: the same inputs give the same id in every rebuild."""
    blob = json.dumps(parts, ensure_ascii=False, sort_keys=True, default=str)
    digest = hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]
    return f"{prefix}{digest}" if prefix else digest


# --------------------------------------------------------------------------------------
# Published rows: datasets.Features per config
# --------------------------------------------------------------------------------------


@functools.cache
def _columns() -> dict[str, Any]:
    """The column types, built on first use: the scorer reads this module's kinds and dimensions
    and should not pay for importing `datasets`."""
    from datasets import Image, List, Value

    message = {"role": Value("string"), "content": Value("string")}
    provenance = {
        "record_id": Value("string"),  # SourceRecord.record_id: rows from one record are siblings
        "source_type": Value("string"),
        "source_id": Value("string"),
        "locator": Value("string"),
        "license": Value("string"),
        "redistributable": Value("bool"),
        "source_file": Value("string"),
        "ocr": Value("string"),  # OCR engine + version that read the source text ("" = text layer)
    }
    generation = {
        "backend": Value("string"),
        "model": Value("string"),
        "prompt_id": Value("string"),
        "prompt_hash": Value("string"),
        "revision_prompt_id": Value("string"),
        "revision_prompt_hash": Value("string"),
        "criteria_version": Value("string"),
        "draft_hash": Value("string"),
        "revisions": List(Value("string")),  # criteria ids the revision changed something for
    }

    common = {
        "id": Value("string"),
        "task": Value("string"),
        "language": Value("string"),
        "modality": Value("string"),
        "images": List(Image()),
        "subfield": Value("string"),
        "subfield_group": Value("string"),
        "levels": List(Value("string")),
        "level_source": Value("string"),  # label | text | none: where `levels` came from
    }
    tail = {
        "messages": List(message),
        "provenance": provenance,
        "generation": generation,
        "pipeline_version": Value("string"),
        "deid_version": Value("string"),
    }

    payload = {
        "mcq": {
            "question": Value("string"),
            "options": List({"label": Value("string"), "text": Value("string")}),
            "answer": Value("string"),
            "explanation": Value("string"),
        },
        "open_qa": {"question": Value("string"), "answer": Value("string")},
        "consultation": {"case": Value("string")},
        "report": {"case": Value("string"), "report": {p: Value("string") for p in REPORT_PARTS}},
    }
    bench_extra = {
        "kind": Value("string"),  # one of BENCH_KINDS
        "bench_version": Value("string"),  # e.g. "v1.0.0"
        "verification": {
            "status": Value("string"),  # "accepted" | "fixed" (removed items are not published)
            "group": Value("string"),  # reviewer group the item was assigned to
            "reviewers": List(Value("string")),
            "decisions": Value("int32"),
        },
    }
    return {"common": common, "tail": tail, "payload": payload, "bench_extra": bench_extra}


def features_for(task: str) -> Features:
    """The datasets.Features of one config; column order is the published order."""
    from datasets import Features

    if task not in TASKS:
        raise KeyError(f"unknown task {task!r}; expected one of {TASKS}")
    cols = _columns()
    return Features({**cols["common"], **cols["payload"][task], **cols["tail"]})


# --------------------------------------------------------------------------------------
# SpineBench rows (split `test`): the corpus row plus what the benchmark adds
# --------------------------------------------------------------------------------------

# The SpineBench release holds the weighted kinds: text MCQ (P1), image MCQ (P2), report (P3).
BENCH_KINDS = KINDS
BENCH_CONFIGS = ("mcq", "report")


def bench_kind(row: dict) -> str:
    """The scoring kind of a corpus/bench row from its task: report, or text/image MCQ by
    modality (anything but "image" is text); a stored ``kind`` is not read."""
    task = row.get("task")
    if task not in BENCH_CONFIGS:
        raise ValueError(f"row {row.get('id')!r}: task {task!r} is not a SpineBench task (mcq, report)")
    return item_kind({"task": task, "modality": "image" if row.get("modality") == "image" else "text"})


def bench_features_for(config: str) -> Features:
    """datasets.Features of a SpineBench config (`mcq` holds text and image items, told apart by
    `modality` and `kind`; `report` holds the report tasks)."""
    if config not in BENCH_CONFIGS:
        raise KeyError(f"unknown SpineBench config {config!r}; expected one of {BENCH_CONFIGS}")
    from datasets import Features

    base, cols = features_for(config), _columns()
    tail = cols["tail"]
    return Features({**{k: base[k] for k in base if k not in tail}, **cols["bench_extra"], **{k: base[k] for k in tail}})
