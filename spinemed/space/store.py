"""Where leaderboard results live: a local results folder, mirrored to a Hub dataset repo.

Layout (the same locally and in the Hub repo)::

    <root>/*.json, <root>/**/results.json        results files put there by the operator
    <root>/submissions/<id>/results.json         an accepted submission, rescored by the Space
    <root>/submissions/<id>/predictions.jsonl    the outputs it was scored from (normalised)

A submission folder appears atomically (written aside, then renamed), so a crash never
leaves half a submission, and the loader only ever sees complete ones.  With a Hub repo
configured, each submission is committed in one commit (both files), and at start-up the
store downloads the submissions it does not have: on a Space, whose disk is wiped on every
restart, that is what makes accepted submissions survive.  A commit that fails leaves a
``.pending-hub`` marker and is retried at the next start and after the next submission.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from spinemed.evaluation.predictions import PREDICTION_FIELDS
from spinemed.evaluation.results import RESULTS_KIND, ResultsError, load_results
from spinemed.fileio import atomic_write_lines, atomic_write_text

__all__ = ["ResultsStore", "SaveOutcome", "StoredSubmission"]

log = logging.getLogger(__name__)

SUBMISSIONS = "submissions"
RESULTS_NAME = "results.json"
PREDICTIONS_NAME = "predictions.jsonl"
PENDING = ".pending-hub"


@dataclass
class SaveOutcome:
    submission_id: str
    local_dir: Path
    hub: str  # "committed" | "not configured" | "failed: <reason>"

    def describe(self) -> str:
        where = f"Stored in the results folder as submission {self.submission_id}"
        if self.hub == "committed":
            return where + " and committed to the Hub results repo."
        if self.hub == "not configured":
            return where + "."
        return where + f"; the Hub commit {self.hub} (it is retried automatically)."


@dataclass(frozen=True)
class StoredSubmission:
    """What the duplicate and rate rules need of an accepted submission."""

    id: str
    name: str
    revision: str
    digest: str
    submitted_at: float | None  # epoch seconds, None when the file lacks a readable time

    def describe(self) -> str:
        return f"model {self.name!r}, revision {self.revision or 'none given'!r}"


def _epoch(stamp: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class ResultsStore:
    """The results folder plus its optional Hub mirror.

    api: a ``huggingface_hub.HfApi`` (or anything with ``create_repo``, ``create_commit``,
    ``list_repo_files``, ``hf_hub_download``); created from `token` when a repo is given.
    """

    def __init__(self, root: str | os.PathLike, *, hub_repo: str | None = None, api: Any = None, token: str | None = None,
                 private: bool = True):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / SUBMISSIONS).mkdir(exist_ok=True)
        self.hub_repo = hub_repo or None
        self.hub_status = "not configured"
        self._lock = threading.Lock()
        self._digests: dict[str, str] = {}
        self._entries: dict[str, StoredSubmission] = {}
        self.api = None
        if self.hub_repo:
            if api is None:
                from huggingface_hub import HfApi

                api = HfApi(token=token)
            self.api = api
            try:
                self.api.create_repo(self.hub_repo, repo_type="dataset", private=private, exist_ok=True)
                self.hub_status = "ok"
            except Exception as exc:  # auth, network: the Space still runs, locally only
                self.hub_status = f"unavailable ({type(exc).__name__}: {exc})"
                log.warning("results repo %s: %s", self.hub_repo, self.hub_status)

    # -- reading -------------------------------------------------------------------------

    def load(self) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
        """Every valid results file as (path relative to the root, results), plus problems.

        JSON files that are not results files (a run's ``predictions.meta.json``, a model
        index) are skipped quietly; results files that fail validation are listed in the
        problems and left out, never shown half-checked.
        """
        found, problems, digests, entries = [], [], {}, {}
        for path in sorted(self.root.rglob("*.json")):
            rel = path.relative_to(self.root)
            if any(part.startswith(".") for part in rel.parts):
                continue
            try:
                results = load_results(path)
            except ResultsError as exc:
                if self._looks_like_results(path):
                    problems.append(f"{rel}: {exc.problems[0]}" + (f" (+{len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""))
                continue
            found.append((rel.as_posix(), results))
            sub = results.get("submission")
            if isinstance(sub, Mapping) and isinstance(sub.get("predictions_sha256"), str):
                sid = str(sub.get("id") or rel.parent.name)
                digests[sub["predictions_sha256"]] = sid
                model = results.get("model") or {}
                entries[sid] = StoredSubmission(sid, str(model.get("name") or model.get("id") or "?"),
                                                str(model.get("revision") or ""), sub["predictions_sha256"],
                                                _epoch(sub.get("submitted_at")))
        with self._lock:
            self._digests, self._entries = digests, entries
        return found, problems

    def signature(self) -> tuple:
        """Cheap fingerprint of the folder's JSON files (path, size, mtime): unchanged means
        :meth:`load` would return the same thing, so a page load need not re-validate everything."""
        out = []
        for path in self.root.rglob("*.json"):
            rel = path.relative_to(self.root)
            if any(part.startswith(".") for part in rel.parts):
                continue
            try:
                st = path.stat()
            except OSError:
                continue
            out.append((rel.as_posix(), st.st_size, st.st_mtime_ns))
        return tuple(sorted(out))

    @staticmethod
    def _looks_like_results(path: Path) -> bool:
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return path.name == RESULTS_NAME
        return isinstance(obj, Mapping) and (obj.get("kind") == RESULTS_KIND or path.name == RESULTS_NAME)

    def find_digest(self, digest: str) -> str | None:
        """The submission id already holding predictions with this digest, if any."""
        with self._lock:
            return self._digests.get(digest)

    def find_duplicate(self, digest: str) -> StoredSubmission | None:
        """The stored submission with these predictions (any name or revision), if any."""
        with self._lock:
            sid = self._digests.get(digest)
            return self._entries.get(sid) if sid else None

    def submissions(self) -> list[StoredSubmission]:
        """The accepted submissions found by the last :meth:`load` (and saved since)."""
        with self._lock:
            return list(self._entries.values())

    # -- writing -------------------------------------------------------------------------

    def save(self, submission_id: str, results: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> SaveOutcome:
        """Store an accepted submission atomically, then commit it to the Hub repo if configured.

        Raises FileExistsError when the id or the same predictions are already stored.
        """
        if not submission_id or "/" in submission_id or submission_id.startswith("."):
            raise ValueError(f"invalid submission id {submission_id!r}")
        digest = (results.get("submission") or {}).get("predictions_sha256")
        final = self.root / SUBMISSIONS / submission_id
        with self._lock:
            if final.exists():
                raise FileExistsError(f"submission {submission_id} is already stored")
            if digest and digest in self._digests:
                prior = self._entries.get(self._digests[digest])
                raise FileExistsError(f"identical predictions were already submitted as {self._digests[digest]}"
                                      + (f" ({prior.describe()})" if prior else ""))
            staging = self.root / SUBMISSIONS / f".tmp-{uuid.uuid4().hex[:12]}"
            staging.mkdir()
            try:
                atomic_write_lines(staging / PREDICTIONS_NAME,
                                   (json.dumps({k: r.get(k) for k in PREDICTION_FIELDS}, ensure_ascii=False) + "\n"
                                    for r in rows))
                atomic_write_text(staging / RESULTS_NAME, json.dumps(results, ensure_ascii=False, indent=2, allow_nan=False) + "\n")
                os.replace(staging, final)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            if digest:
                self._digests[digest] = submission_id
                model = results.get("model") or {}
                self._entries[submission_id] = StoredSubmission(
                    submission_id, str(model.get("name") or "?"), str(model.get("revision") or ""), digest,
                    _epoch((results.get("submission") or {}).get("submitted_at")))
        hub = "not configured"
        if self.api is not None:
            (final / PENDING).touch()
            hub = self._commit(submission_id)
            if hub == "committed":  # the Hub answers again: retry earlier failures too
                self.push_pending()
        return SaveOutcome(submission_id, final, hub)

    def _commit(self, submission_id: str) -> str:
        from huggingface_hub import CommitOperationAdd

        folder = self.root / SUBMISSIONS / submission_id
        ops = [CommitOperationAdd(path_in_repo=f"{SUBMISSIONS}/{submission_id}/{name}", path_or_fileobj=str(folder / name))
               for name in (PREDICTIONS_NAME, RESULTS_NAME)]
        try:
            self.api.create_commit(self.hub_repo, operations=ops, repo_type="dataset",
                                   commit_message=f"Add leaderboard submission {submission_id}")
        except Exception as exc:
            log.warning("commit of submission %s to %s failed: %s", submission_id, self.hub_repo, exc)
            return f"failed: {type(exc).__name__}: {str(exc)[:200]}"
        (folder / PENDING).unlink(missing_ok=True)
        return "committed"

    def push_pending(self) -> list[str]:
        """Commit submissions whose earlier commit failed; returns the ids committed now."""
        if self.api is None:
            return []
        done = []
        for marker in sorted((self.root / SUBMISSIONS).glob(f"*/{PENDING}")):
            if self._commit(marker.parent.name) == "committed":
                done.append(marker.parent.name)
        return done

    def sync_from_hub(self) -> list[str]:
        """Download the submissions the Hub repo has and the folder lacks; returns their ids."""
        if self.api is None:
            return []
        try:
            files = self.api.list_repo_files(self.hub_repo, repo_type="dataset")
        except Exception as exc:
            self.hub_status = f"unavailable ({type(exc).__name__}: {exc})"
            log.warning("cannot list %s: %s", self.hub_repo, exc)
            return []
        wanted: dict[str, set[str]] = {}
        for f in files:
            parts = f.split("/")
            if len(parts) == 3 and parts[0] == SUBMISSIONS and parts[2] in (RESULTS_NAME, PREDICTIONS_NAME) and not parts[1].startswith("."):
                wanted.setdefault(parts[1], set()).add(parts[2])
        restored = []
        for sid, names in sorted(wanted.items()):
            final = self.root / SUBMISSIONS / sid
            if final.exists() or RESULTS_NAME not in names:
                continue
            staging = self.root / SUBMISSIONS / f".tmp-{uuid.uuid4().hex[:12]}"
            try:
                for name in sorted(names):
                    got = self.api.hf_hub_download(self.hub_repo, f"{SUBMISSIONS}/{sid}/{name}", repo_type="dataset",
                                                   local_dir=str(staging / ".download"))
                    (staging / name).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(got, staging / name)
                shutil.rmtree(staging / ".download", ignore_errors=True)
                os.replace(staging, final)
                restored.append(sid)
            except Exception as exc:
                log.warning("cannot restore submission %s from %s: %s", sid, self.hub_repo, exc)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        self.push_pending()
        return restored
