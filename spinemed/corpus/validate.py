"""Stage 7: validation of generated rows.  A row that fails is quarantined with every reason."""

from __future__ import annotations

import io
import re

from PIL import Image

from ..schema import LANGUAGES, MODALITIES, REPORT_PARTS, SUBFIELDS, TASKS

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
_PLACEHOLDER = re.compile(r"\[[A-Z>0-9]+\]")


def detect_language(text: str) -> str | None:
    """'zh' when CJK characters make up a real share of the letters, else 'en'; None if no letters.

    Latin inside Chinese text (L4-L5, MRI, HLA-B27) is normal, so the bar for zh is low and
    the bar for en is "almost no CJK at all"."""
    text = _PLACEHOLDER.sub("", text)
    cjk, latin = len(_CJK.findall(text)), len(_LATIN.findall(text))
    if cjk + latin == 0:
        return None
    share = cjk / (cjk + latin)
    if share >= 0.2:
        return "zh"
    if share <= 0.02:
        return "en"
    return "mixed"


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
