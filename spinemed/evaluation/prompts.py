"""Versioned evaluation prompts: one prompt file per task kind and language.

Templates live in ``builders/spinebench/eval_prompts/<version>/{mcq,report}.{en,zh}.md``
(`spinemed.prompts` format, one ``## user`` section each; their README documents the
variables).  A version is loaded as a whole and hashed, and the version name plus the hash
go into every results file, so two results are comparable only when both match.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from spinemed.prompts import (
    EVAL_PROMPT_DIR,
    EVAL_PROMPT_ENV,
    compile_template,
    load_prompt_version,
    prompt_set_digest,
    resolve_prompt_root,
)
from spinemed.schema import LANGUAGES, REPORT_SECTION_TITLES

__all__ = ["DEFAULT_PROMPT_DIR", "DEFAULT_PROMPT_VERSION", "PROMPT_DIR_ENV", "PROMPT_FILES", "EvalPrompts", "load_eval_prompts"]

DEFAULT_PROMPT_DIR = EVAL_PROMPT_DIR
# Versioned files under builders/ (the checkout's or the wheel's copy); $SPINEMED_EVAL_PROMPTS or an
# explicit `prompt_dir` points elsewhere.
PROMPT_DIR_ENV = EVAL_PROMPT_ENV
DEFAULT_PROMPT_VERSION = "v1"
# (template name, language) -> file name; template "mcq" serves both MCQ kinds.
PROMPT_FILES = {(task, lang): f"{task}.{lang}.md" for task in ("mcq", "report") for lang in LANGUAGES}


@dataclass(frozen=True)
class EvalPrompts:
    """The templates of one prompt version; ``sha256`` covers every file, so any edit changes it."""

    version: str
    sha256: str
    folder: Path
    templates: Mapping[tuple[str, str], str] = field(repr=False)

    def _template(self, task: str, language: str) -> jinja2.Template:
        lang = language if language in LANGUAGES else "en"  # an unknown language gets the English prompt
        return compile_template(self.templates[(task, lang)])

    def render(self, item: Mapping[str, Any], n_images: int) -> str:
        """The user turn for one SpineBench item (a row of config ``mcq`` or ``report``)."""
        language = str(item.get("language") or "en")
        if item.get("task") == "report" or item.get("kind") == "report":
            lang = language if language in LANGUAGES else "en"
            titles = [REPORT_SECTION_TITLES[p][LANGUAGES.index(lang)] for p in REPORT_SECTION_TITLES]
            text = self._template("report", language).render(case=str(item.get("case") or ""), sections=titles, n_images=n_images)
        else:
            options = [{"label": str(o["label"]), "text": str(o["text"])} for o in item.get("options") or []]
            if not options:
                raise ValueError(f"item {item.get('id')!r}: MCQ item has no options")
            text = self._template("mcq", language).render(
                question=str(item.get("question") or ""), options=options, n_images=n_images
            )
        return text.strip() + "\n"


def load_eval_prompts(version: str = DEFAULT_PROMPT_VERSION, prompt_dir: str | Path | None = None) -> EvalPrompts:
    """Load and hash a prompt version; a missing file or a template that does not parse is an error.

    `prompt_dir` defaults to ``$SPINEMED_EVAL_PROMPTS``, else the checkout's
    ``builders/spinebench/eval_prompts``.
    """
    root = resolve_prompt_root(prompt_dir, PROMPT_DIR_ENV, DEFAULT_PROMPT_DIR, what="evaluation prompt",
                               layout="builders/spinebench/eval_prompts/<version>/")
    files = load_prompt_version(root, version, PROMPT_FILES.values(), what="evaluation prompt", sections=("user",))
    templates = {key: files[name].user for key, name in PROMPT_FILES.items()}
    # The hash covers the template text of every file (front matter aside), by file name.
    sha256 = prompt_set_digest((name, files[name].user) for name in sorted(files))
    return EvalPrompts(version, sha256, root / version, templates)
