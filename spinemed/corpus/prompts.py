"""The corpus generation prompts: versioned prompt files (`spinemed.prompts` format, a
``## system`` and a ``## user`` section each) under ``builders/spinemed_450k/prompts/``.

Every generated item records the prompt id and the hash of the file it was rendered from,
so a change to a prompt is visible in the data and in the manifest.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..prompts import (
    OutputParseError,
    Prompt,
    extract_fenced_json,
    load_prompt_folder,
    parse_json_object,
    resolve_prompt_root,
)
from ..prompts import load_prompt as _load_prompt

__all__ = [
    "LANGUAGE_NAMES",
    "OutputParseError",
    "PromptTemplate",
    "dumps_facts",
    "extract_fenced_json",
    "load_prompt",
    "load_prompts",
    "parse_json_object",
    "prompt_key_of",
    "resolve_prompt_root",
]

LANGUAGE_NAMES = {"en": "English", "zh": "Simplified Chinese (简体中文)"}
PromptTemplate = Prompt  # the corpus's name for a prompt file with a system and a user section


def load_prompt(path: str | Path) -> Prompt:
    return _load_prompt(path, sections=("system", "user"))


def load_prompts(folder: str | Path) -> dict[str, Prompt]:
    """Every prompt of the builder's prompt folder, by id."""
    return load_prompt_folder(folder, sections=("system", "user"))


def dumps_facts(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=True)


def prompt_key_of(messages) -> str:
    """`draft_mcq@1` from the first line of a rendered system message."""
    first = messages[0]["content"]
    first = first if isinstance(first, str) else first[0].get("text", "")
    m = re.match(r"prompt:\s*(\S+)", first)
    if not m:
        raise KeyError("system message does not start with 'prompt: <id>@<version>'")
    return m.group(1)
