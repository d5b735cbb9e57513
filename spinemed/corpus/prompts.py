"""Versioned prompt files (front matter + `## system` / `## user` sections, Jinja2 bodies).

Every generated item records the prompt id and the hash of the file it was rendered from,
so a change to a prompt is visible in the data and in the manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml

_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)
_SECTION_RE = re.compile(r"^## (system|user)\s*$", re.M)
LANGUAGE_NAMES = {"en": "English", "zh": "Simplified Chinese (简体中文)"}


@dataclass(frozen=True)
class PromptTemplate:
    id: str
    version: str
    path: str
    sha256: str
    system: str
    user: str

    @property
    def hash(self) -> str:
        return self.sha256[:16]

    def render(self, **ctx: Any) -> list[dict]:
        """Chat messages (system + user text) for this prompt."""
        return [
            {"role": "system", "content": _ENV.from_string(self.system).render(**ctx).strip()},
            {"role": "user", "content": _ENV.from_string(self.user).render(**ctx).strip()},
        ]


def load_prompt(path: str | Path) -> PromptTemplate:
    path = Path(path)
    raw = path.read_text("utf-8")
    if not raw.startswith("---\n"):
        raise ValueError(f"{path}: prompt file must start with a '---' front-matter block")
    _, front, body = raw.split("---\n", 2)
    meta = yaml.safe_load(front) or {}
    for key in ("id", "version"):
        if key not in meta:
            raise ValueError(f"{path}: front matter lacks {key!r}")
    parts = _SECTION_RE.split(body)
    sections = dict(zip(parts[1::2], parts[2::2]))
    if set(sections) != {"system", "user"}:
        raise ValueError(f"{path}: needs exactly one '## system' and one '## user' section")
    return PromptTemplate(
        id=str(meta["id"]), version=str(meta["version"]), path=str(path),
        sha256=hashlib.sha256(raw.encode("utf-8")).hexdigest(),
        system=sections["system"], user=sections["user"],
    )


def load_prompts(folder: str | Path) -> dict[str, PromptTemplate]:
    prompts = {}
    for path in sorted(Path(folder).glob("*.md")):
        p = load_prompt(path)
        if p.id in prompts:
            raise ValueError(f"{path}: duplicate prompt id {p.id!r}")
        prompts[p.id] = p
    return prompts


def resolve_prompt_root(explicit: str | Path | None, env_var: str, default: Path, *, what: str, layout: str) -> Path:
    """The folder holding versioned prompt files: an explicit path, else `$env_var`, else the
    checkout's default.  Prompts are files of the checkout, not package data, so a missing
    folder is an error that says where they live and how to point at them."""
    if explicit is not None:
        root, given = Path(explicit), "prompt_dir"
    elif os.environ.get(env_var):
        root, given = Path(os.environ[env_var]), f"${env_var}"
    else:
        root, given = default, "the default"
    if not root.is_dir():
        raise FileNotFoundError(
            f"{what} folder {root} ({given}) does not exist.  The {what}s are versioned files in the SpineMed "
            f"checkout ({layout}), not part of the installed package: pass prompt_dir / --prompt-dir, or set "
            f"{env_var} to that folder"
        )
    return root


def dumps_facts(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=True)


_FENCE_RE = re.compile(r"```(?:json)?\s*\n(.*?)\n```", re.S)


class OutputParseError(ValueError):
    """The model output is not the single JSON object the prompt asked for."""


def parse_json_object(text: str) -> dict:
    """The one JSON object in a model output: bare, fenced, or embedded in prose.

    Strict on purpose: several objects, arrays, or invalid JSON raise OutputParseError
    (the caller retries with the error, then quarantines) instead of guessing.
    """
    if text is None or not str(text).strip():
        raise OutputParseError("empty output")
    text = str(text).strip()
    candidates = [m.group(1) for m in _FENCE_RE.finditer(text)] or [text]
    if len(candidates) > 1:
        raise OutputParseError(f"{len(candidates)} fenced blocks; expected one JSON object")
    blob = candidates[0].strip()
    if not blob.startswith("{"):
        start, end = blob.find("{"), blob.rfind("}")
        if start < 0 or end <= start:
            raise OutputParseError("no JSON object in output")
        blob = blob[start : end + 1]
    try:
        value = json.loads(blob)
    except json.JSONDecodeError as exc:
        raise OutputParseError(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(value, dict):
        raise OutputParseError(f"expected a JSON object, got {type(value).__name__}")
    return value


def extract_fenced_json(text: str, label: str) -> Any:
    """The JSON block that follows `LABEL:` in a rendered prompt (used by the offline backend)."""
    m = re.search(re.escape(label) + r":\s*```json\s*\n(.*?)\n```", text, re.S)
    if not m:
        raise KeyError(f"prompt has no {label} block")
    return json.loads(m.group(1))


def prompt_key_of(messages) -> str:
    """`draft_mcq@1` from the first line of a rendered system message."""
    first = messages[0]["content"]
    first = first if isinstance(first, str) else first[0].get("text", "")
    m = re.match(r"prompt:\s*(\S+)", first)
    if not m:
        raise KeyError("system message does not start with 'prompt: <id>@<version>'")
    return m.group(1)
