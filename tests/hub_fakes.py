"""A fake `huggingface_hub.HfApi` for the Hub flows' tests: records every call, sends nothing.

It stands in for `HfApi` itself (`monkeypatch.setattr(spinemed.hub.publish, "HfApi", FakeHub)`),
so a test sees the endpoint and token the flow built its client with, or is passed as `api=`.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace


class FakeHub:
    """The HfApi methods the four Hub flows call (dataset, metric Space, app Space, training)."""

    made: list[FakeHub] = []  # instances built by the code under test, newest last

    def __init__(self, endpoint: str | None = None, token: str | None = None, tags=()):
        self.endpoint, self.token = endpoint, token
        self.tags = set(tags)
        self.calls: list[tuple[str, str, dict]] = []
        self.commits = 0
        FakeHub.made.append(self)

    def names(self) -> list[str]:
        return [name for name, _, _ in self.calls]

    def _commit(self) -> SimpleNamespace:
        self.commits += 1
        return SimpleNamespace(oid=f"{self.commits:040x}")

    def create_repo(self, repo_id, **kw):
        self.calls.append(("create_repo", repo_id, kw))

    def update_repo_settings(self, repo_id, **kw):
        self.calls.append(("update_repo_settings", repo_id, kw))

    def create_branch(self, repo_id, **kw):
        self.calls.append(("create_branch", repo_id, kw))

    def list_repo_refs(self, repo_id, **kw):
        self.calls.append(("list_repo_refs", repo_id, kw))
        return SimpleNamespace(tags=[SimpleNamespace(name=t) for t in sorted(self.tags)], branches=[])

    def upload_folder(self, **kw):
        folder = Path(kw["folder_path"])
        kw = {**kw, "files": sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())}
        self.calls.append(("upload_folder", kw["repo_id"], kw))
        return self._commit()

    def create_commit(self, repo_id, **kw):
        kw = {**kw, "paths": sorted(op.path_in_repo for op in kw["operations"])}
        self.calls.append(("create_commit", repo_id, kw))
        return self._commit()

    def delete_tag(self, repo_id, **kw):
        self.tags.discard(kw["tag"])
        self.calls.append(("delete_tag", repo_id, kw))

    def create_tag(self, repo_id, **kw):
        self.tags.add(kw["tag"])
        self.calls.append(("create_tag", repo_id, kw))

    def add_space_variable(self, repo_id, key, value, **kw):
        self.calls.append(("add_space_variable", repo_id, {"key": key, "value": value, **kw}))
