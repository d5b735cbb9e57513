"""The review workspace: the files that hold one SpineBench build's review state.

    WORK/sample.json                 candidates drawn by `spinemed bench sample`
    WORK/review/exports.json         every packet exported: round, group, config, item ids
    WORK/review/audit.jsonl          every decision ever imported (append-only: the source of truth)
    WORK/packets/round-N/            what reviewers receive: {group}-{config}.csv, images/, README.txt
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from spinemed.fileio import atomic_append_text, atomic_write_json

from ..folders import folder_manifest, read_folder_rows

DECISIONS = ("accept", "fix", "remove")
MODES = ("clinician", "simulated")
EXPORTS_FORMAT = "spinebench-exports/1"
_REVIEWER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


class Workspace:
    """The review state of one SpineBench build (see the module docstring for the layout)."""

    def __init__(self, path: str | os.PathLike, *, corpus: str | os.PathLike | None = None):
        self.path = Path(path)
        self._corpus_override = Path(corpus) if corpus else None
        self._rows: dict[str, dict[str, Any]] = {}

    # -- files ----------------------------------------------------------------------

    @property
    def sample_file(self) -> Path:
        return self.path / "sample.json"

    @property
    def exports_file(self) -> Path:
        return self.path / "review" / "exports.json"

    @property
    def audit_file(self) -> Path:
        return self.path / "review" / "audit.jsonl"

    @property
    def packets_dir(self) -> Path:
        return self.path / "packets"

    def write_sample(self, sample: Mapping[str, Any]) -> Path:
        if self.exports_file.is_file():
            raise ValueError(f"{self.path}: packets were already exported from its sample; "
                             "use a new --work folder for a new sample (the audit log refers to these items)")
        atomic_write_json(self.sample_file, sample)
        return self.sample_file

    def sample(self) -> dict[str, Any]:
        if not self.sample_file.is_file():
            raise FileNotFoundError(f"{self.sample_file} not found: run `spinemed bench sample --work {self.path}` first")
        return json.loads(self.sample_file.read_text(encoding="utf-8"))

    def exports(self) -> dict[str, Any]:
        if not self.exports_file.is_file():
            return {"format": EXPORTS_FORMAT, "rounds": []}
        return json.loads(self.exports_file.read_text(encoding="utf-8"))

    def packets(self) -> dict[str, dict[str, Any]]:
        return {p["packet_id"]: p for r in self.exports()["rounds"] for p in r["packets"]}

    def audit_entries(self) -> list[dict[str, Any]]:
        if not self.audit_file.is_file():
            return []
        entries = []
        for lineno, line in enumerate(self.audit_file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{self.audit_file}:{lineno}: corrupt audit entry ({exc}); "
                                 "restore it from backup") from None
        return entries

    def _append_audit(self, entries: Sequence[Mapping[str, Any]]) -> None:
        """Append entries atomically, so a crash leaves either all of this import's decisions or none."""
        atomic_append_text(self.audit_file, "".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in entries))

    # -- candidates -----------------------------------------------------------------

    @property
    def corpus_dir(self) -> Path:
        if self._corpus_override:
            return self._corpus_override
        sample = self.sample()
        path = sample.get("corpus_path") or sample["corpus"].get("path")  # "path": workspaces before 1.0.1
        if not path:
            raise ValueError(f"{self.sample_file} does not say where the corpus is; pass --corpus")
        return Path(path)

    def candidate_ids(self) -> dict[str, str]:
        """item id -> config, in sample order."""
        return {i: config for config, ids in self.sample()["candidates"].items() for i in ids}

    def candidate_rows(self, ids: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """Full corpus rows (images as bytes) of candidates; the corpus must be the one sampled."""
        wanted = list(self.candidate_ids() if ids is None else ids)
        missing = [i for i in wanted if i not in self._rows]
        if missing:
            sample = self.sample()
            manifest = folder_manifest(self.corpus_dir)
            if manifest["content_hash"] != sample["corpus"]["content_hash"]:
                raise ValueError(
                    f"corpus {str(self.corpus_dir)!r} has content {manifest['content_hash'][:16]}, but the candidates were "
                    f"sampled from content {sample['corpus']['content_hash'][:16]}; point --corpus at that build")
            config_of = self.candidate_ids()
            for config in sorted({config_of[i] for i in missing if i in config_of}):
                for row in read_folder_rows(self.corpus_dir, config, manifest=manifest,
                                            ids=[i for i in missing if config_of.get(i) == config]):
                    self._rows[row["id"]] = row
            lost = [i for i in missing if i not in self._rows]
            if lost:
                raise ValueError(f"candidate(s) {lost[:5]} are not in the corpus {str(self.corpus_dir)!r}")
        return {i: self._rows[i] for i in wanted}

