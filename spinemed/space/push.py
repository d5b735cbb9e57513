"""Pushing the Space: `space_app/` plus the `spinemed` library it runs, in one commit.

The Space must score submissions with exactly the scorer of the kit release it belongs to,
so the push uploads the library's source next to ``app.py`` (Spaces run ``python app.py``
from the repo root, so ``import spinemed`` finds it) together with the judge prompt files
the report judge reads, the evaluation prompts (a submission's prompt hash is checked
against them) and the answer-extraction prompts.  ``space_app/requirements.txt`` lists the library's runtime
dependencies; Gradio itself comes from ``sdk_version`` in the Space card.  The library's
files are `spinemed.hub.library_files` (the same the metric Space's wheel is built from), and
creating the Space and committing go through `spinemed.hub.push`, like every other Hub flow.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from spinemed.hub.publish import PublishPlan, check_repo_id, hub_client, hub_endpoint, library_files, push
from spinemed.paths import CHECKOUT_ROOT, checkout_path

__all__ = ["REPO_ROOT", "SPACE_APP_DIR", "push_space", "space_files", "space_plan"]

REPO_ROOT = CHECKOUT_ROOT
SPACE_APP_DIR = checkout_path("space_app")


def space_files(app_dir: str | os.PathLike = SPACE_APP_DIR, repo_root: str | os.PathLike = REPO_ROOT) -> list[tuple[str, Path]]:
    """(path in the Space repo, local file) for everything the Space needs, sorted."""
    app_dir, root = Path(app_dir), Path(repo_root)
    for required in ("app.py", "README.md", "requirements.txt"):
        if not (app_dir / required).is_file():
            raise FileNotFoundError(f"{app_dir / required} is missing: the Space's app folder is incomplete")
    files = [(p.relative_to(app_dir).as_posix(), p) for p in app_dir.rglob("*")
             if p.is_file() and "__pycache__" not in p.parts and not any(part.startswith(".") for part in p.relative_to(app_dir).parts)]
    files += library_files(root)
    # The judge's prompts, the evaluation prompts whose hashes submissions are checked against, and the
    # LLM answer extractor's prompts (`spinemed.judge.extract`, which the library loads).  They
    # keep their checkout path in the Space (its spinemed runs as a checkout there); an installed kit has
    # them as package data.
    for folder in ("judge_prompts", "eval_prompts", "extract_prompts"):
        prompts = root / "builders" / "spinebench" / folder
        if not prompts.is_dir():
            prompts = checkout_path("builders", "spinebench", folder)
        if prompts.is_dir():
            files += [(f"builders/spinebench/{folder}/{p.relative_to(prompts).as_posix()}", p)
                      for p in prompts.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return sorted(files)


def space_plan(repo_id: str, files: list[tuple[str, Path]], *, endpoint: str | None = None, api: Any = None,
               private: bool = False, dry_run: bool = False) -> PublishPlan:
    """The Hub plan of an app Space push: a gradio Space, one commit of `files`, no tag."""
    return PublishPlan(
        repo_id=check_repo_id(repo_id),
        tag=None,
        endpoint=hub_endpoint(endpoint, api),
        private=private,
        files=[(name, path.stat().st_size) for name, path in files],
        commit_message="Update the SpineMed Space from the release kit",
        repo_type="space",
        space_sdk="gradio",
        dry_run=dry_run,
    )


def push_space(repo_id: str, *, api: Any = None, token: str | None = None, private: bool = False,
               variables: dict[str, str] | None = None, dry_run: bool = False, endpoint: str | None = None,
               app_dir: str | os.PathLike = SPACE_APP_DIR, repo_root: str | os.PathLike = REPO_ROOT) -> dict[str, Any]:
    """Create the Space (Gradio SDK) if needed and upload the app and library in one commit.

    `variables` become Space variables (e.g. ``{"SPINEMED_BENCH": "org/SpineBench@v1.0.0"}``);
    secrets such as ``HF_TOKEN`` belong in the Space settings, never in a commit.  The endpoint
    is `endpoint`, else `api`'s, else `HF_ENDPOINT` / huggingface_hub's.  Returns ``{"repo_id",
    "files", "url", "commit"}``; with `dry_run` nothing is sent.
    """
    files = space_files(app_dir, repo_root)
    plan = space_plan(repo_id, files, endpoint=endpoint, api=api, private=private, dry_run=dry_run)
    result = {"repo_id": repo_id, "files": [name for name, _ in files], "url": plan.url, "commit": None}
    if dry_run:
        return result
    api = hub_client(api, plan.endpoint, token)
    push(plan, api=api, files=files)
    for key, value in (variables or {}).items():
        api.add_space_variable(repo_id, key, value)
    result["commit"] = plan.commit
    return result
