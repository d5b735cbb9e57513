"""Pushing a stage to the Hub: one branch per stage, a tag on the pushed commit.

The trainer's own hub settings decide where things go (`push_to_hub`, `hub_model_id`,
`hub_revision` = the stage's branch, `hub_private_repo`, `hub_token`); the upload itself is
`Trainer.push_to_hub` (which also writes the model card).  What the Trainer does not do is
done here, with the same `HfApi` instance the Trainer uses (`transformers.utils.hub.hf_api`):

* before training (`preflight`): create the repo and the stage branch (uploading to a
  branch that does not exist fails, after days of training), and refuse if the stage's tag
  already exists, unless `overwrite_tag`;
* after the upload (`finish`): for the release stage (`hub_push_main`) upload the same folder
  to `main` too, so `from_pretrained(repo)` gets the release; then `HfApi.create_tag` on the
  branch commit (`push_to_hub` has no tag argument).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["PushError", "HubTarget", "hub_api", "IGNORE_PATTERNS"]

# What Trainer.push_to_hub leaves out (private files, checkpoints); the same for `main`.
IGNORE_PATTERNS = ["_*", "checkpoint-*"]


class PushError(RuntimeError):
    """The Hub target is misconfigured or the tag is taken."""


def hub_api():
    """The HfApi instance the Trainer pushes with (same endpoint, token and user agent)."""
    from transformers.utils.hub import hf_api

    return hf_api()


def _commit_id(info: Any) -> str | None:
    return getattr(info, "oid", None) or (info.get("oid") if isinstance(info, dict) else None)


@dataclass
class HubTarget:
    """Where a stage goes on the Hub, from the trainer arguments and the recipe."""

    repo_id: str
    branch: str | None
    tag: str | None = None
    push_main: bool = False
    private: bool | None = None
    token: str | None = None
    calls: list[str] = field(default_factory=list)  # what was done, for the run summary

    @classmethod
    def from_args(cls, args: Any, *, tag: str | None, push_main: bool) -> HubTarget:
        if not args.hub_model_id:
            raise PushError("push_to_hub is set but hub_model_id is not (the stage needs 'org/name')")
        if "/" not in args.hub_model_id:
            raise PushError(f"hub_model_id {args.hub_model_id!r} must be 'org/name'")
        branch = args.hub_revision or None
        return cls(repo_id=args.hub_model_id, branch=branch, tag=tag, push_main=push_main,
                   private=args.hub_private_repo, token=args.hub_token)

    def describe(self) -> dict[str, Any]:
        return {"repo_id": self.repo_id, "branch": self.branch or "main", "tag": self.tag,
                "push_main": self.push_main, "done": list(self.calls)}

    def preflight(self, api: Any = None, *, overwrite_tag: bool = False) -> None:
        """Create the repo and the branch; refuse early if the tag exists (before any training)."""
        api = api or hub_api()
        api.create_repo(self.repo_id, token=self.token, private=self.private, exist_ok=True)
        if self.branch and self.branch != "main":
            api.create_branch(self.repo_id, branch=self.branch, token=self.token, exist_ok=True)
        if self.tag:
            refs = api.list_repo_refs(self.repo_id, token=self.token)
            if self.tag in {t.name for t in refs.tags} and not overwrite_tag:
                raise PushError(f"{self.repo_id} already has tag {self.tag!r}; set another hub_tag or pass "
                                "--overwrite-tag")

    def finish(self, commit: str | None, folder: str | os.PathLike, *, api: Any = None,
               overwrite_tag: bool = False, message: str = "") -> dict[str, Any]:
        """After the branch upload at `commit`: update `main` (release stage) and tag `commit`."""
        api = api or hub_api()
        self.calls.append(f"uploaded to {self.branch or 'main'} at {commit}")
        if self.push_main and (self.branch or "main") != "main":
            info = api.upload_folder(repo_id=self.repo_id, folder_path=str(folder), revision="main",
                                     commit_message=message or f"Release {self.tag or ''}".strip(),
                                     ignore_patterns=IGNORE_PATTERNS, token=self.token)
            self.calls.append(f"uploaded to main at {_commit_id(info)}")
        if self.tag:
            if commit is None:
                raise PushError(f"cannot tag {self.tag!r}: the upload returned no commit id")
            if overwrite_tag and self.tag in {t.name for t in api.list_repo_refs(self.repo_id, token=self.token).tags}:
                api.delete_tag(self.repo_id, tag=self.tag, token=self.token)
            api.create_tag(self.repo_id, tag=self.tag, revision=commit, tag_message=message or self.tag,
                           token=self.token)
            self.calls.append(f"tagged {self.tag} -> {commit}")
        return self.describe()

    def push_folder(self, folder: str | os.PathLike, *, api: Any = None, overwrite_tag: bool = False,
                    message: str = "") -> dict[str, Any]:
        """Upload a finished stage folder to its branch and tag it (``--push-only``)."""
        api = api or hub_api()
        folder = Path(folder)
        if not (folder / "config.json").is_file():
            raise PushError(f"{str(folder)!r} holds no model (config.json missing)")
        self.preflight(api, overwrite_tag=overwrite_tag)
        info = api.upload_folder(repo_id=self.repo_id, folder_path=str(folder), revision=self.branch,
                                 commit_message=message or f"{folder.name}", ignore_patterns=IGNORE_PATTERNS,
                                 token=self.token)
        return self.finish(_commit_id(info), folder, api=api, overwrite_tag=overwrite_tag, message=message)
