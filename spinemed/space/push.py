"""Pushing the Space: `space_app/` plus the `spinemed` library it runs, in one commit.

The Space must score submissions with exactly the scorer of the kit release it belongs to,
so the push uploads the library's source next to ``app.py`` (Spaces run ``python app.py``
from the repo root, so ``import spinemed`` finds it) together with the judge prompt files
the report judge reads.  ``space_app/requirements.txt`` lists the library's runtime
dependencies; Gradio itself comes from ``sdk_version`` in the Space card.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["REPO_ROOT", "SPACE_APP_DIR", "push_space", "space_files"]

REPO_ROOT = Path(__file__).resolve().parents[2]
SPACE_APP_DIR = REPO_ROOT / "space_app"
_LIBRARY_SUFFIXES = (".py", ".yaml", ".md", ".jinja", ".txt")


def space_files(app_dir: str | os.PathLike = SPACE_APP_DIR, repo_root: str | os.PathLike = REPO_ROOT) -> list[tuple[str, Path]]:
    """(path in the Space repo, local file) for everything the Space needs, sorted."""
    app_dir, root = Path(app_dir), Path(repo_root)
    for required in ("app.py", "README.md", "requirements.txt"):
        if not (app_dir / required).is_file():
            raise FileNotFoundError(f"{app_dir / required} is missing: push from a checkout of the kit (space_app/ is not installed with the package)")
    files = [(p.relative_to(app_dir).as_posix(), p) for p in app_dir.rglob("*")
             if p.is_file() and "__pycache__" not in p.parts and not any(part.startswith(".") for part in p.relative_to(app_dir).parts)]
    library = root / "spinemed"
    files += [(p.relative_to(root).as_posix(), p) for p in library.rglob("*")
              if p.is_file() and p.suffix in _LIBRARY_SUFFIXES and "__pycache__" not in p.parts]
    prompts = root / "builders" / "spinebench" / "judge_prompts"
    if prompts.is_dir():
        files += [(p.relative_to(root).as_posix(), p) for p in prompts.rglob("*") if p.is_file()]
    return sorted(files)


def push_space(repo_id: str, *, api: Any = None, token: str | None = None, private: bool = False,
               variables: dict[str, str] | None = None, dry_run: bool = False,
               app_dir: str | os.PathLike = SPACE_APP_DIR, repo_root: str | os.PathLike = REPO_ROOT) -> dict[str, Any]:
    """Create the Space (Gradio SDK) if needed and upload the app and library in one commit.

    `variables` become Space variables (e.g. ``{"SPINEMED_BENCH": "org/SpineBench@v1.0.0"}``);
    secrets such as ``HF_TOKEN`` belong in the Space settings, never in a commit.  Returns
    ``{"repo_id", "files", "url"}``; with `dry_run` nothing is sent.
    """
    from huggingface_hub import CommitOperationAdd

    files = space_files(app_dir, repo_root)
    plan = {"repo_id": repo_id, "files": [name for name, _ in files], "url": f"https://huggingface.co/spaces/{repo_id}"}
    if dry_run:
        return plan
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
    api.create_commit(
        repo_id,
        operations=[CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(path)) for name, path in files],
        repo_type="space",
        commit_message="Update the SpineMed Space from the release kit",
    )
    for key, value in (variables or {}).items():
        api.add_space_variable(repo_id, key, value)
    return plan
