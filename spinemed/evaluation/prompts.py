"""Versioned evaluation prompts: one Jinja2 template per task kind and language.

Templates live in ``builders/spinebench/eval_prompts/<version>/{mcq,report}.{en,zh}.md``
(their README documents the variables).  A version is loaded as a whole and hashed, and the
version name plus the hash go into every results file, so two results are comparable only
when both match.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from spinemed.corpus.prompts import resolve_prompt_root
from spinemed.schema import LANGUAGES, REPORT_SECTION_TITLES

__all__ = ["DEFAULT_PROMPT_DIR", "DEFAULT_PROMPT_VERSION", "PROMPT_DIR_ENV", "PROMPT_FILES", "EvalPrompts", "load_eval_prompts"]

DEFAULT_PROMPT_DIR = Path(__file__).resolve().parents[2] / "builders" / "spinebench" / "eval_prompts"
# The prompts are versioned files in the checkout, not package data: an installed kit (a wheel,
# no checkout) finds them through $SPINEMED_EVAL_PROMPTS or an explicit `prompt_dir`.
PROMPT_DIR_ENV = "SPINEMED_EVAL_PROMPTS"
DEFAULT_PROMPT_VERSION = "v1"
# (template name, language) -> file name; template "mcq" serves both MCQ kinds.
PROMPT_FILES = {(task, lang): f"{task}.{lang}.md" for task in ("mcq", "report") for lang in LANGUAGES}


@functools.lru_cache(maxsize=64)
def _compile(source: str) -> jinja2.Template:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)
    return env.from_string(source)


@dataclass(frozen=True)
class EvalPrompts:
    """The templates of one prompt version; ``sha256`` covers every file, so any edit changes it."""

    version: str
    sha256: str
    folder: Path
    templates: Mapping[tuple[str, str], str] = field(repr=False)

    def _template(self, task: str, language: str) -> jinja2.Template:
        lang = language if language in LANGUAGES else "en"  # an unknown language gets the English prompt
        return _compile(self.templates[(task, lang)])

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
    folder = root / version
    if not folder.is_dir():
        available = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        raise FileNotFoundError(f"evaluation prompt version {version!r} not found in {root} (available: {available or 'none'})")
    templates: dict[tuple[str, str], str] = {}
    digest = hashlib.sha256()
    env = jinja2.Environment()
    for key, name in sorted(PROMPT_FILES.items(), key=lambda kv: kv[1]):
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(f"evaluation prompt {path} is missing (a version needs {', '.join(sorted(PROMPT_FILES.values()))})")
        text = path.read_text(encoding="utf-8")
        try:
            env.parse(text)
        except jinja2.TemplateSyntaxError as exc:
            raise ValueError(f"evaluation prompt {path}, line {exc.lineno}: {exc.message}") from None
        templates[key] = text
        digest.update(name.encode() + b"\0" + text.encode("utf-8") + b"\0")
    return EvalPrompts(version, digest.hexdigest(), folder, templates)
