"""Stage 7: validation of generated rows.  A row that fails is quarantined with every reason."""

from __future__ import annotations

import io
from dataclasses import replace

from PIL import Image

from .. import deid
from ..schema import LANGUAGES, MODALITIES, REPORT_PARTS, SUBFIELDS, TASKS
from ..text import language_mix
from .step import PipelineStep, Window

# 'zh' / 'en' / 'mixed' / None: the validator's strict reading (an 'en' row has almost no Han)
detect_language = language_mix


def row_text(row: dict) -> str:
    """All human-readable text of a row (for language checks, level parsing, identifier scans)."""
    parts: list[str] = []
    task = row.get("task")
    if task == "mcq":
        parts += [row.get("question", ""), row.get("explanation", "")]
        parts += [o.get("text", "") for o in row.get("options") or []]
    elif task == "open_qa":
        parts += [row.get("question", ""), row.get("answer", "")]
    elif task == "consultation":
        parts += [row.get("case", "")] + [m.get("content", "") for m in row.get("messages") or []]
    elif task == "report":
        parts += [row.get("case", "")] + list((row.get("report") or {}).values())
    return "\n".join(p for p in parts if p)


def validate_row(row: dict) -> list[str]:
    problems: list[str] = []
    task = row.get("task")
    if task not in TASKS:
        return [f"unknown task {task!r}"]
    if row.get("language") not in LANGUAGES:
        problems.append(f"unknown language {row.get('language')!r}")
    if row.get("modality") not in MODALITIES:
        problems.append(f"unknown modality {row.get('modality')!r}")
    if row.get("subfield") not in SUBFIELDS:
        problems.append(f"unknown sub-field {row.get('subfield')!r}")

    images = row.get("images") or []
    if row.get("modality") == "image" and not images:
        problems.append("modality is image but the row has no image")
    if row.get("modality") == "text" and images:
        problems.append("modality is text but the row has images")
    for i, img in enumerate(images):
        try:
            with Image.open(io.BytesIO(img["bytes"])) as im:
                im.load()
        except Exception as exc:  # any decoder failure means the image is unusable
            problems.append(f"image {i} does not decode: {type(exc).__name__}: {exc}")

    if task == "mcq":
        problems += _validate_mcq(row)
    elif task == "open_qa":
        if not str(row.get("question", "")).strip():
            problems.append("open QA has an empty question")
        if not str(row.get("answer", "")).strip():
            problems.append("open QA has an empty answer")
    elif task == "consultation":
        msgs = row.get("messages") or []
        roles = [m.get("role") for m in msgs]
        if len(msgs) < 4:
            problems.append(f"consultation has {len(msgs)} turns; needs at least 4 (2 exchanges)")
        if roles and (roles[0] != "user" or roles[-1] != "assistant"):
            problems.append("consultation must start with the patient (user) and end with the specialist (assistant)")
        if any(a == b for a, b in zip(roles, roles[1:])):
            problems.append("consultation turns must alternate user/assistant")
        if any(not str(m.get("content", "")).strip() for m in msgs):
            problems.append("consultation has an empty turn")
    elif task == "report":
        rep = row.get("report") or {}
        missing = [p for p in REPORT_PARTS if not str(rep.get(p, "")).strip()]
        if missing:
            problems.append(f"report is missing part(s): {', '.join(missing)}")
        if not str(row.get("case", "")).strip():
            problems.append("report task has no case input")

    text = row_text(row)
    lang = detect_language(text)
    if lang is None:
        problems.append("row has no text")
    elif lang != row.get("language"):
        problems.append(f"language mismatch: declared {row.get('language')}, text reads as {lang}")
    return problems


def _validate_mcq(row: dict) -> list[str]:
    problems = []
    options = row.get("options") or []
    labels = [o.get("label") for o in options]
    texts = [str(o.get("text", "")).strip() for o in options]
    if not str(row.get("question", "")).strip():
        problems.append("MCQ has an empty question")
    if not 4 <= len(options) <= 5:
        problems.append(f"MCQ has {len(options)} options; needs 4-5")
    if labels != list("ABCDE"[: len(options)]):
        problems.append(f"MCQ option labels {labels} are not consecutive letters from A")
    if any(not t for t in texts):
        problems.append("MCQ has an empty option")
    if len({t.casefold() for t in texts}) != len(texts):
        problems.append("MCQ options are not distinct")
    answer = str(row.get("answer", ""))
    if not answer:
        problems.append("MCQ has no answer")
    elif any(a not in labels for a in answer) or len(set(answer)) != len(answer) or answer != "".join(sorted(answer)):
        problems.append(f"MCQ answer {answer!r} is not a sorted set of option letters {labels}")
    return problems


def identifier_findings(row: dict) -> set[str]:
    """The de-identification detector run again on generated text before anything is written."""
    return {f.kind for f in deid.find_identifiers(row_text(row))}


class Validate(PipelineStep):
    """The last check before a row is written (rows are validated against the schema as they
    are generated): the de-identification detector again on the generated text.  Each dropped
    item goes to the quarantine; a record none of whose items is left is dropped."""

    name = "validate"

    async def process(self, window: Window) -> Window:
        kept = []
        for doc in window:
            checked = []
            for outcome in doc.outcomes:
                if outcome.row is not None:
                    outcome.row["deid_version"] = deid.DEID_VERSION
                    leftovers = identifier_findings(outcome.row)
                    if leftovers:
                        outcome = replace(outcome, row=None, stage="validate", detail={},
                                          reason="validation: identifier found in generated output: "
                                          + ", ".join(sorted(leftovers)))
                if outcome.row is None:
                    self.quarantine.item(doc.record, outcome)
                checked.append(outcome)
            doc.outcomes = checked
            if any(o.row is not None for o in checked):
                kept.append(doc)
            else:
                self.quarantine.no_item_published(doc.record)
        return kept
