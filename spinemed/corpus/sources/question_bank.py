"""Question banks (`*.csv`, `*.json`, `*.jsonl`) -> mcq records."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from spinemed.schema import ImageRef, SourceIssue, SourceRecord

from .catalog import CatalogEntry, _as_entry, _rel
from .common import DEFAULT_MAX_PARAGRAPH_CHARS, _check_image, _read_text, _record, _resolve_asset

_LETTERS = "ABCDEFGH"


def read_question_bank(path: str | Path, entry: CatalogEntry | dict[str, Any], *,
                       max_chars: int = DEFAULT_MAX_PARAGRAPH_CHARS) -> Iterator[SourceRecord | SourceIssue]:
    """`mcq` records from a question bank.

    CSV columns: id, question, A..E (options; empty cells are absent options), answer,
    explanation, image.  JSON / JSONL objects: id, question, options ({letter: text} or a list),
    answer ("B", "AC", "A,C" or a list), explanation, image (path or list of paths).
    The answer is normalised to sorted letters ("AC").  Bad items are reported and skipped, and so
    is an item with a question, option or explanation longer than `max_chars` (no real item is).
    """
    path = Path(path)
    entry = _as_entry(entry, path)
    rel = _rel(path, entry.root)
    raw, read_issues = _read_text(path, entry)
    yield from read_issues
    if raw is None:
        return
    try:
        if path.suffix == ".csv":
            items = list(csv.DictReader(io.StringIO(raw)))
        elif path.suffix == ".jsonl":
            items = [json.loads(ln) for ln in raw.splitlines() if ln.strip()]
        else:
            items = json.loads(raw)
            items = items.get("items", items) if isinstance(items, dict) else items
    except (json.JSONDecodeError, csv.Error, RecursionError) as exc:  # RecursionError: nesting too deep
        yield SourceIssue(rel, f"cannot parse question bank ({exc})")
        return
    if not isinstance(items, list) or not items:
        yield SourceIssue(rel, "question bank holds no items")
        return
    for n, item in enumerate(items, 1):
        item_id = str((item or {}).get("id") or f"#{n}") if isinstance(item, dict) else f"#{n}"
        try:
            rec = _mcq_record(item, item_id, path, entry, max_chars)
        except ValueError as exc:
            yield SourceIssue(rel, f"item {item_id}: {exc}")
            continue
        yield rec


def _mcq_record(item: Any, item_id: str, path: Path, entry: CatalogEntry,
                max_chars: int = DEFAULT_MAX_PARAGRAPH_CHARS) -> SourceRecord:
    if not isinstance(item, dict):
        raise ValueError("not an object")
    question = str(item.get("question") or "").strip()
    if not question:
        raise ValueError("empty question")
    opts = item.get("options")
    if opts is None:  # CSV layout: one column per letter
        opts = {L: item.get(L) for L in _LETTERS if item.get(L) not in (None, "")}
    elif isinstance(opts, list):
        if len(opts) > len(_LETTERS):
            raise ValueError(f"at most {len(_LETTERS)} options, has {len(opts)}")
        opts = dict(zip(_LETTERS, opts, strict=False))
    if not isinstance(opts, dict):
        raise ValueError("options must be a mapping or a list")
    options = {str(k).strip().upper(): str(v).strip() for k, v in opts.items() if str(v or "").strip()}
    if len(options) < 2:
        raise ValueError(f"needs at least 2 options, has {len(options)}")
    ans = item.get("answer")
    letters = "".join(map(str, ans)) if isinstance(ans, list) else re.sub(r"[\s,，、;/]+", "", str(ans or ""))
    answer = "".join(sorted(set(letters.upper())))
    if not answer:
        raise ValueError("no answer")
    if not set(answer) <= set(options):
        raise ValueError(f"answer {answer!r} is not among options {''.join(sorted(options))}")
    images = []
    refs = item.get("image") or item.get("images") or []
    refs = [refs] if isinstance(refs, str) else refs
    if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
        raise ValueError("image must be a path or a list of paths")
    for ref in refs:
        img_path = _resolve_asset(ref, path.parent, entry.root)
        description, error = _check_image(img_path, entry.root)
        if error:
            raise ValueError(f"image {_rel(img_path, entry.root)}: {error}")
        images.append(ImageRef(path=_rel(img_path, entry.root), description=description))
    explanation = str(item.get("explanation") or "").strip()
    longest = max([question, explanation, *options.values()], key=len)
    if len(longest) > max_chars:
        raise ValueError(f"a field of {len(longest)} characters, over max_paragraph_chars {max_chars}")
    text = question + "\n" + "\n".join(f"{k}. {v}" for k, v in sorted(options.items()))
    return _record(
        entry, path, kind="mcq", text=text, locator=f"item {item_id}", id_parts=(question, answer),
        fields={"question": question, "options": dict(sorted(options.items())), "answer": answer,
                "explanation": explanation, "item_id": item_id,
                **({"topic": str(item["topic"])} if item.get("topic") else {})},
        images=images,
    )

