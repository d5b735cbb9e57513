"""Versioned prompt files, their folders, and the JSON that comes back from a model.

One file format for every prompt the kit sends (corpus generation, evaluation, the report
judge): UTF-8 Markdown that opens with a YAML front-matter block and holds one ``## <role>``
section per chat turn, each a Jinja2 template::

    ---
    id: classify
    version: "1"
    description: what the prompt is for (optional)
    ---
    ## system
    ...
    ## user
    ...

Front matter rather than a sidecar file: the version travels with the text it versions (a
copied or reviewed file cannot lose it), and the corpus prompts, whose file hash every
generated row records, already had it.  A section's text is everything between its header
line and the next header (or the end of the file), byte for byte, so a hash over sections is
a hash over exactly what is rendered.

Every section is rendered by one Jinja2 environment: undefined variables are errors and
nothing is escaped (prompts are text, not HTML).  Errors in a file name the file and line.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml

from .paths import checkout_path

__all__ = [
    "ROLES",
    "EVAL_PROMPT_DIR",
    "EVAL_PROMPT_ENV",
    "EXTRACT_PROMPT_DIR",
    "EXTRACT_PROMPT_ENV",
    "JUDGE_PROMPT_DIR",
    "JUDGE_PROMPT_ENV",
    "OutputParseError",
    "Prompt",
    "PromptFileError",
    "compile_template",
    "extract_fenced_json",
    "json_objects",
    "load_prompt",
    "load_prompt_folder",
    "load_prompt_version",
    "parse_json_object",
    "prompt_set_digest",
    "resolve_prompt_root",
]

ROLES = ("system", "user")

# Prompt roots: versioned files under builders/ (the checkout's, or the wheel's copy found by
# `checkout_path`); the environment variable or an explicit folder points elsewhere.
# (The corpus prompts sit next to their builder: builders/spinemed_450k/builder.yaml names them.)
EVAL_PROMPT_DIR = checkout_path("builders", "spinebench", "eval_prompts")
EVAL_PROMPT_ENV = "SPINEMED_EVAL_PROMPTS"
JUDGE_PROMPT_DIR = checkout_path("builders", "spinebench", "judge_prompts")
JUDGE_PROMPT_ENV = "SPINEMED_JUDGE_PROMPTS"
EXTRACT_PROMPT_DIR = checkout_path("builders", "spinebench", "extract_prompts")
EXTRACT_PROMPT_ENV = "SPINEMED_EXTRACT_PROMPTS"

# keep_trailing_newline: a template's last newline is part of what it says (the judge's user
# turn ends with one); callers that want stripped text strip the rendered output.
_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
_FRONT_END_RE = re.compile(r"^---[ \t]*$", re.M)
_SECTION_RE = re.compile(r"^## (" + "|".join(ROLES) + r")[ \t]*(?:\n|\Z)", re.M)


class PromptFileError(ValueError):
    """A prompt file that does not follow the format; the message starts with ``path:line:``."""

    def __init__(self, path: str | Path, line: int, message: str):
        super().__init__(f"{path}:{line}: {message}")
        self.path, self.line = str(path), line


@functools.lru_cache(maxsize=256)
def compile_template(source: str) -> jinja2.Template:
    """The compiled template of `source` in the kit's one Jinja2 environment (cached)."""
    return _ENV.from_string(source)


@dataclass(frozen=True)
class Prompt:
    """One prompt file: its identity, the hash of the file, and one Jinja2 source per role."""

    id: str
    version: str
    path: str
    sha256: str  # of the whole file (front matter included), as read
    sections: tuple[tuple[str, str], ...]  # (role, template source) in file order
    description: str = ""

    @property
    def hash(self) -> str:
        """The short hash the corpus records with every generated item."""
        return self.sha256[:16]

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"

    def section(self, role: str) -> str:
        for name, text in self.sections:
            if name == role:
                return text
        raise KeyError(f"{self.path}: no '## {role}' section")

    @property
    def system(self) -> str:
        return self.section("system")

    @property
    def user(self) -> str:
        return self.section("user")

    def render_section(self, role: str, **ctx: Any) -> str:
        """One section rendered as is (not stripped)."""
        return compile_template(self.section(role)).render(**ctx)

    def render(self, **ctx: Any) -> list[dict]:
        """Chat messages, one per section in role order (system first), text stripped."""
        roles = [r for r in ROLES if any(name == r for name, _ in self.sections)]
        return [{"role": r, "content": self.render_section(r, **ctx).strip()} for r in roles]


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def load_prompt(path: str | Path, *, sections: Sequence[str] = ROLES) -> Prompt:
    """Read and check one prompt file; `sections` are the roles it must hold, each exactly once.

    Raises :class:`PromptFileError` (a ValueError naming file and line) for a missing or bad
    front matter, a missing ``id``/``version``, missing, repeated or unexpected sections, text
    outside a section, and Jinja2 syntax errors.
    """
    path = Path(path)
    raw = path.read_text("utf-8")
    if not raw.startswith("---\n"):
        raise PromptFileError(path, 1, "a prompt file must start with a '---' front-matter block")
    end = _FRONT_END_RE.search(raw, 4)
    if end is None:
        raise PromptFileError(path, 1, "the front-matter block is not closed by a '---' line")
    front = raw[4 : end.start()]
    try:
        meta = yaml.safe_load(front) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = 2 + mark.line if mark is not None else 1
        raise PromptFileError(path, line, f"front matter is not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(meta, dict):
        raise PromptFileError(path, 2, f"front matter must be a mapping, got {type(meta).__name__}")
    for key in ("id", "version"):
        if meta.get(key) in (None, ""):
            raise PromptFileError(path, 1, f"front matter lacks {key!r}")

    body_start = end.end() + 1 if raw[end.end() : end.end() + 1] == "\n" else end.end()
    headers = list(_SECTION_RE.finditer(raw, body_start))
    lead = raw[body_start : headers[0].start() if headers else len(raw)]
    if lead.strip():
        line = _line_of(raw, body_start + len(lead) - len(lead.lstrip()))
        raise PromptFileError(path, line, f"text outside a section; sections start with {', '.join(f'## {r}' for r in sections)}")
    found: list[tuple[str, str]] = []
    for n, m in enumerate(headers):
        role, line = m.group(1), _line_of(raw, m.start())
        if role not in sections:
            raise PromptFileError(path, line, f"unexpected '## {role}' section (this prompt has {', '.join(sections)})")
        if any(role == r for r, _ in found):
            raise PromptFileError(path, line, f"a second '## {role}' section")
        text = raw[m.end() : headers[n + 1].start() if n + 1 < len(headers) else len(raw)]
        try:
            _ENV.parse(text)
        except jinja2.TemplateSyntaxError as exc:
            raise PromptFileError(path, line + (exc.lineno or 1), f"template error: {exc.message}") from None
        found.append((role, text))
    missing = [r for r in sections if not any(r == name for name, _ in found)]
    if missing:
        raise PromptFileError(path, _line_of(raw, body_start),
                              f"needs the sections {', '.join(f'## {r}' for r in sections)}; missing {', '.join(f'## {r}' for r in missing)}")
    return Prompt(
        id=str(meta["id"]), version=str(meta["version"]), path=str(path),
        sha256=hashlib.sha256(raw.encode("utf-8")).hexdigest(),
        sections=tuple(found), description=str(meta.get("description") or ""),
    )


def load_prompt_folder(folder: str | Path, *, sections: Sequence[str] = ROLES) -> dict[str, Prompt]:
    """Every ``*.md`` prompt of a folder, by id (a repeated id is an error)."""
    prompts: dict[str, Prompt] = {}
    for path in sorted(Path(folder).glob("*.md")):
        p = load_prompt(path, sections=sections)
        if p.id in prompts:
            raise PromptFileError(path, 1, f"duplicate prompt id {p.id!r} (also in {prompts[p.id].path})")
        prompts[p.id] = p
    return prompts


def load_prompt_version(root: Path, version: str, names: Iterable[str], *, what: str,
                        sections: Sequence[str] = ROLES) -> dict[str, Prompt]:
    """The prompt files `names` of version folder ``root/<version>``, by file name.

    Each file's front-matter version must be the folder's name, so a copied folder that was
    not re-versioned is caught."""
    folder = root / version
    if not folder.is_dir():
        available = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        raise FileNotFoundError(f"{what} version {version!r} not found: {folder} does not exist "
                                f"(prompt versions in {root}, available: {available or 'none'})")
    names = sorted(names)
    prompts = {}
    for name in names:
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(f"{what} {path} is missing (a version needs {', '.join(names)})")
        p = load_prompt(path, sections=sections)
        if p.version != version:
            raise PromptFileError(path, 1, f"front matter says version {p.version!r} but the file is in folder {version!r}")
        prompts[name] = p
    return prompts


def prompt_set_digest(parts: Iterable[tuple[str, str]]) -> str:
    """SHA-256 over ``name NUL text NUL`` of each part, in the order given: the hash the
    evaluation and judge runs record for a prompt version (any edit to a text changes it)."""
    digest = hashlib.sha256()
    for name, text in parts:
        digest.update(name.encode() + b"\0" + text.encode("utf-8") + b"\0")
    return digest.hexdigest()


def resolve_prompt_root(explicit: str | Path | None, env_var: str, default: Path, *, what: str, layout: str) -> Path:
    """The folder holding versioned prompt files: an explicit path, else `$env_var`, else the
    kit's default (`checkout_path`: the checkout or the wheel's copy).  A missing folder is an
    error that says where they were looked for and how to point at them."""
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


# --------------------------------------------------------------------------------------
# JSON in model output
# --------------------------------------------------------------------------------------
# Two reading policies, both deliberate: generation wants exactly one object and retries with
# a precise error (`parse_json_object`); the judge scans for every object so it can tell "none"
# from "several" in its re-ask (`json_objects`).

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


def json_objects(text: str) -> list[Any]:
    """Every top-level JSON object embedded in `text` (fenced or inside prose)."""
    decoder = json.JSONDecoder()
    found, i = [], text.find("{")
    while i != -1:
        try:
            obj, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            i = text.find("{", i + 1)
            continue
        if isinstance(obj, dict):
            found.append(obj)
        i = text.find("{", end)
    return found


def extract_fenced_json(text: str, label: str) -> Any:
    """The JSON block that follows `LABEL:` in a rendered prompt (the offline backend reads its
    facts this way)."""
    m = re.search(re.escape(label) + r":\s*```json\s*\n(.*?)\n```", text, re.S)
    if not m:
        raise KeyError(f"prompt has no {label} block")
    return json.loads(m.group(1))
