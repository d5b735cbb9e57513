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

from spinemed.extras import needs_extra
from spinemed.hub.publish import (
    PublishError,
    PublishPlan,
    TagExistsError,
    hub_endpoint,
    is_repo_id,
    open_repo,
    tag_commit,
    upload,
)

__all__ = ["PushError", "HubTarget", "hub_api", "IGNORE_PATTERNS"]

# What Trainer.push_to_hub leaves out (private files, checkpoints); the same for `main`.
IGNORE_PATTERNS = ["_*", "checkpoint-*"]


class PushError(RuntimeError):
    """The Hub target is misconfigured or the tag is taken."""


def hub_api():
    """The HfApi instance the Trainer pushes with (same endpoint, token and user agent)."""
    with needs_extra("train", "pushing a trained model"):
        from transformers.utils.hub import hf_api

    return hf_api()


@dataclass
class HubTarget:
    """Where a stage goes on the Hub, from the trainer arguments and the recipe.

    The Hub calls are `spinemed.hub`'s create-repo / upload / tag steps on a `PublishPlan`
    (`plan()`), the same every other Hub flow of the kit uses.
    """

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
        if not is_repo_id(args.hub_model_id):
            raise PushError(f"hub_model_id {args.hub_model_id!r} must be 'org/name'")
        branch = args.hub_revision or None
        return cls(repo_id=args.hub_model_id, branch=branch, tag=tag, push_main=push_main,
                   private=args.hub_private_repo, token=args.hub_token)

    def describe(self) -> dict[str, Any]:
        return {"repo_id": self.repo_id, "branch": self.branch or "main", "tag": self.tag,
                "push_main": self.push_main, "done": list(self.calls)}

    def plan(self, *, api: Any = None, branch: str | None = None, message: str = "",
             overwrite_tag: bool = False) -> PublishPlan:
        """The stage as a Hub plan: a model repo, the stage's branch (or `branch`), its tag."""
        return PublishPlan(repo_id=self.repo_id, tag=self.tag, endpoint=hub_endpoint(None, api), private=self.private,
                           files=[], commit_message=message, tag_message=message or (self.tag or ""),
                           repo_type="model", overwrite_tag=overwrite_tag, branch=branch or self.branch,
                           ignore_patterns=IGNORE_PATTERNS)

    def preflight(self, api: Any = None, *, overwrite_tag: bool = False) -> None:
        """Create the repo and the branch; refuse early if the tag exists (before any training)."""
        api = api or hub_api()
        try:
            open_repo(api, self.plan(api=api, overwrite_tag=overwrite_tag), token=self.token)
        except TagExistsError:
            raise PushError(f"{self.repo_id} already has tag {self.tag!r}; set another hub_tag or pass "
                            "--overwrite-tag") from None

    def finish(self, commit: str | None, folder: str | os.PathLike, *, api: Any = None,
               overwrite_tag: bool = False, message: str = "") -> dict[str, Any]:
        """After the branch upload at `commit`: update `main` (release stage) and tag `commit`."""
        api = api or hub_api()
        self.calls.append(f"uploaded to {self.branch or 'main'} at {commit}")
        if self.push_main and (self.branch or "main") != "main":
            main = self.plan(api=api, branch="main", message=message or f"Release {self.tag or ''}".strip())
            self.calls.append(f"uploaded to main at {upload(api, main, folder=folder, token=self.token)}")
        if self.tag:
            try:
                tag_commit(api, self.plan(api=api, message=message, overwrite_tag=overwrite_tag), commit,
                           token=self.token)
            except PublishError as exc:  # no commit id to tag
                raise PushError(str(exc)) from None
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
        commit = upload(api, self.plan(api=api, message=message or f"{folder.name}"), folder=folder, token=self.token)
        return self.finish(commit, folder, api=api, overwrite_tag=overwrite_tag, message=message)
