"""Publishing to the Hub: one plan type and one create-repo / upload / tag helper for every flow.

Four things go to the Hub: a built dataset folder (`publish_folder`, ``spinemed publish``), the
metric Space (`spinemed.metric.space`), the app Space (`spinemed.space.push`) and a training
stage (`spinemed.training.push`).  Each flow runs its own checks (manifest and publish gate,
wheel, tag rules), describes what it sends as a `PublishPlan`, and sends it with the same
three steps: `open_repo` (create the repo and branch, refuse a taken tag), `upload` (one commit)
and `tag_commit`; `push` runs all three.  The training flow calls the steps one by one because
`Trainer.push_to_hub` makes the upload in between.

The endpoint is huggingface_hub's (`HF_ENDPOINT`, `constants.ENDPOINT`) unless one is named;
printed URLs are built from it (`repo_url`), so a mirror or a local Hub shows its own links.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from huggingface_hub import CommitOperationAdd, DatasetCard, HfApi, constants
from huggingface_hub.utils import HFValidationError, validate_repo_id

from spinemed import deid
from spinemed.deid import gate
from spinemed.fileio import atomic_write_json, atomic_write_text
from spinemed.paths import CHECKOUT_ROOT

from .card import source_licence_metadata
from .features import join_path
from .manifest import check_version, load_manifest, verify_folder
from .writer import CARD_NAME, DATA_DIR, MANIFEST_NAME

__all__ = [
    "PublishError",
    "TagExistsError",
    "ResidualRiskError",
    "PublishPlan",
    "is_repo_id",
    "check_repo_id",
    "hub_endpoint",
    "repo_url",
    "hub_client",
    "library_files",
    "commit_id",
    "repo_tags",
    "open_repo",
    "upload",
    "tag_commit",
    "push",
    "iter_string_cells",
    "scan_identifiers",
    "deid_preflight",
    "record_residual_risk",
    "ContaminationError",
    "RestrictedRowsError",
    "LicenceReport",
    "licence_report",
    "record_contamination",
    "publish_folder",
]


class PublishError(ValueError):
    """Publishing was refused (bad version, repo id or folder, identifiers found, tag already taken)."""


class TagExistsError(PublishError):
    """The repo already has the tag and the plan does not overwrite it."""

    def __init__(self, repo_id: str, tag: str):
        self.repo_id, self.tag = repo_id, tag
        super().__init__(f"{repo_id} already has tag {tag}; pick a new version or pass overwrite_tag=True")


# --------------------------------------------------------------------------------------
# Repo ids, endpoint, URLs
# --------------------------------------------------------------------------------------


def is_repo_id(text: Any) -> bool:
    """Whether `text` is a namespaced Hub repo id ``ORG/NAME`` (huggingface_hub's own rules)."""
    if not isinstance(text, str) or text.count("/") != 1:
        return False
    try:
        validate_repo_id(text)
    except HFValidationError:
        return False
    return True


def check_repo_id(repo_id: Any, error: type[Exception] = PublishError) -> str:
    """`repo_id` if it is ``ORG/NAME``, else raise `error` saying so."""
    if not is_repo_id(repo_id):
        raise error(f"repo_id {repo_id!r} must look like 'org/name'")
    return repo_id


def hub_endpoint(endpoint: str | None = None, api: Any = None) -> str:
    """The Hub endpoint: the one named, else the client's, else huggingface_hub's configuration.

    `HF_ENDPOINT` is read at call time as well: `constants.ENDPOINT` is fixed when
    huggingface_hub is imported, and the variable may be set after that (tests, notebooks).
    """
    chosen = endpoint or getattr(api, "endpoint", None) or os.environ.get("HF_ENDPOINT") or constants.ENDPOINT
    return chosen.rstrip("/")


def repo_url(repo_id: str, repo_type: str | None = "model", endpoint: str | None = None) -> str:
    """The repo's page, e.g. ``<endpoint>/spaces/ORG/NAME`` (models have no prefix)."""
    prefix = constants.REPO_TYPES_URL_PREFIXES.get(repo_type or "model", "")
    return f"{hub_endpoint(endpoint)}/{prefix}{repo_id}"


def hub_client(api: Any = None, endpoint: str | None = None, token: str | None = None) -> Any:
    """`api` when given (a test's fake, the Trainer's instance), else an ``HfApi`` for the endpoint and token."""
    return api if api is not None else HfApi(endpoint=hub_endpoint(endpoint), token=token)


# --------------------------------------------------------------------------------------
# The library a Space runs
# --------------------------------------------------------------------------------------

_SKIPPED_DIRS = ("__pycache__", ".pytest_cache")
_SKIPPED_SUFFIXES = (".pyc", ".pyo")


def library_files(root: str | os.PathLike = CHECKOUT_ROOT) -> list[tuple[str, Path]]:
    """(path in a repo, local file) for the `spinemed` package of the checkout at `root`, sorted.

    The one list of what ships the library to a Space: the app Space uploads these files
    next to ``app.py``, the metric Space builds its wheel from them.  Caches, compiled files,
    build metadata and hidden files are left out, and so is an installed wheel's ``spinemed/_kit``
    (the kit's versioned folders, shipped by each flow that needs them).
    """
    root = Path(root)
    out = []
    for path in (root / "spinemed").rglob("*"):
        rel = path.relative_to(root)
        if not path.is_file() or path.suffix in _SKIPPED_SUFFIXES:
            continue
        if any(part in _SKIPPED_DIRS or part.startswith(".") or part.endswith(".egg-info") for part in rel.parts):
            continue
        if rel.parts[:2] == ("spinemed", "_kit"):
            continue
        out.append((rel.as_posix(), path))
    return sorted(out)


# --------------------------------------------------------------------------------------
# The plan and the one create-repo / upload / tag helper
# --------------------------------------------------------------------------------------


@dataclass
class PublishPlan:
    """What a flow sends to the Hub (or, with dry_run, would send), and what came of it.

    `files` are (path in the repo, bytes), sorted.  `tag` is created on the uploaded commit
    (None: no tag).  `branch` is the revision uploaded to (created when missing; None: the
    repo's default).  `title`, `at`, `detail` and `notes` only shape `describe()`, the line
    each command prints.
    """

    repo_id: str
    tag: str | None
    endpoint: str
    private: bool | None
    files: list[tuple[str, int]]
    commit_message: str
    tag_message: str = ""
    content_hash: str = ""
    repo_type: str = "dataset"
    overwrite_tag: bool = False
    dry_run: bool = False
    commit: str | None = None  # commit id of the upload (the tag points at it), once published
    branch: str | None = None
    space_sdk: str | None = None
    allow_patterns: list[str] | None = None
    ignore_patterns: list[str] | None = None
    delete_patterns: list[str] | None = None
    folder: str | None = None  # the local folder the files come from, when it outlives the call
    gated: bool = False  # gate access (manual approval) before anything is uploaded
    title: str = ""  # how describe() names the target (default: "<repo_id> (<type>) tag <tag>")
    at: str = ""  # where describe() says it goes (default: the endpoint)
    detail: str = ""  # appended to describe()'s count line
    notes: list[str] = field(default_factory=list)  # extra lines at the end of describe()

    @property
    def version(self) -> str | None:
        """The tag, under the name a dataset release uses."""
        return self.tag

    @property
    def url(self) -> str:
        return repo_url(self.repo_id, self.repo_type, self.endpoint)

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size in self.files)

    def describe(self) -> str:
        head = "would publish" if self.dry_run else "published"
        title = self.title or f"{self.repo_id} ({self.repo_type})" + (f" tag {self.tag}" if self.tag else "")
        lines = [
            f"{head} {title} at {self.at or self.endpoint}" + (f" commit {self.commit}" if self.commit else ""),
            f"{len(self.files)} files, {self.total_bytes:,} bytes{self.detail}",
        ]
        lines += [f"  {path}  {size:,}" for path, size in self.files]
        return "\n".join(lines + self.notes)


def _token(token: str | None) -> dict[str, str]:
    # Only a token that was named goes into the call; otherwise the client's own (or the login) is used.
    return {"token": token} if token is not None else {}


def commit_id(info: Any) -> str | None:
    """The commit id of an upload's result (a CommitInfo, or a dict from older clients)."""
    return getattr(info, "oid", None) or (info.get("oid") if isinstance(info, dict) else None)


def repo_tags(api: Any, plan: PublishPlan, *, token: str | None = None) -> set[str]:
    refs = api.list_repo_refs(plan.repo_id, repo_type=plan.repo_type, **_token(token))
    return {ref.name for ref in refs.tags}


def open_repo(api: Any, plan: PublishPlan, *, token: str | None = None) -> set[str]:
    """Create the repo (and the plan's branch) if missing; return its tags.

    Raises TagExistsError when the plan's tag is taken and not to be overwritten, before
    anything is uploaded.  Without a tag in the plan no refs are listed (and an empty set returned).
    """
    create: dict[str, Any] = {"repo_type": plan.repo_type, "private": plan.private, "exist_ok": True}
    if plan.space_sdk:
        create["space_sdk"] = plan.space_sdk
    api.create_repo(plan.repo_id, **create, **_token(token))
    if plan.branch and plan.branch != "main":  # uploading to a branch that does not exist fails
        api.create_branch(plan.repo_id, branch=plan.branch, repo_type=plan.repo_type, exist_ok=True, **_token(token))
    if not plan.tag:
        return set()
    tags = repo_tags(api, plan, token=token)
    if plan.tag in tags and not plan.overwrite_tag:
        raise TagExistsError(plan.repo_id, plan.tag)
    return tags


def upload(api: Any, plan: PublishPlan, *, folder: str | os.PathLike | None = None,
           files: Sequence[tuple[str, str | os.PathLike]] | None = None, token: str | None = None) -> str | None:
    """One commit: `folder` with `upload_folder` (the plan's allow/ignore/delete patterns), or
    `files` ((path in the repo, local file) from anywhere) with `create_commit`.  Records and
    returns the commit id."""
    revision = {"revision": plan.branch} if plan.branch else {}
    if files is not None:
        operations = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(path)) for name, path in files]
        info = api.create_commit(plan.repo_id, operations=operations, repo_type=plan.repo_type,
                                 commit_message=plan.commit_message, **revision, **_token(token))
    else:
        if folder is None:
            raise ValueError("upload needs a folder or a list of files")
        patterns = {name: value for name, value in (("allow_patterns", plan.allow_patterns),
                                                   ("ignore_patterns", plan.ignore_patterns),
                                                   ("delete_patterns", plan.delete_patterns)) if value is not None}
        info = api.upload_folder(folder_path=str(folder), repo_id=plan.repo_id, repo_type=plan.repo_type,
                                 commit_message=plan.commit_message, **patterns, **revision, **_token(token))
    plan.commit = commit_id(info)
    return plan.commit


def tag_commit(api: Any, plan: PublishPlan, commit: str | None, *, known_tags: set[str] | None = None,
               token: str | None = None) -> None:
    """Create the plan's tag on `commit`, first deleting the old one when overwriting.

    `known_tags` are the tags `open_repo` saw; without them (the training flow tags after a run
    of hours) the refs are listed again when overwriting.
    """
    if not plan.tag:
        return
    if commit is None:
        raise PublishError(f"cannot tag {plan.tag!r}: the upload returned no commit id")
    if plan.overwrite_tag:
        tags = known_tags if known_tags is not None else repo_tags(api, plan, token=token)
        if plan.tag in tags:
            api.delete_tag(plan.repo_id, tag=plan.tag, repo_type=plan.repo_type, **_token(token))
    api.create_tag(plan.repo_id, tag=plan.tag, repo_type=plan.repo_type, tag_message=plan.tag_message or plan.tag,
                   revision=commit, **_token(token))


def push(plan: PublishPlan, *, api: Any = None, token: str | None = None, folder: str | os.PathLike | None = None,
         files: Sequence[tuple[str, str | os.PathLike]] | None = None) -> PublishPlan:
    """Send a plan: `open_repo` -> `upload` (folder or files) -> `tag_commit`.  A dry-run plan
    is returned as is.  `api` defaults to an ``HfApi`` for the plan's endpoint and `token`."""
    if plan.dry_run:
        return plan
    api = hub_client(api, plan.endpoint, token)
    tags = open_repo(api, plan)
    if plan.gated:  # before the upload: the rows are never public, not even for a moment
        api.update_repo_settings(plan.repo_id, gated="manual", repo_type=plan.repo_type)
    commit = upload(api, plan, folder=folder, files=files)
    tag_commit(api, plan, commit, known_tags=tags)
    return plan


# --------------------------------------------------------------------------------------
# Dataset folders: the pre-publish check and publish_folder
# --------------------------------------------------------------------------------------


def iter_string_cells(folder: str | os.PathLike, *, batch_size: int = 64) -> Iterator[tuple[str, str, str, str]]:
    """Yield (config, row id, field path, text) for every non-empty string in every shard.

    Image bytes are skipped but image file names are included: they can carry names too.
    Small batches keep memory low for image configs.
    """
    folder = Path(folder)
    for path in sorted((folder / DATA_DIR).rglob("*.parquet")):
        config = path.parent.name
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size):
            for row in batch.to_pylist():
                row_id = str(row.get("id", ""))
                yield from ((config, row_id, where, text) for where, text in _walk_strings(row, ""))


def _walk_strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        if value:
            yield where, value
    elif isinstance(value, dict):
        for key, sub in value.items():
            yield from _walk_strings(sub, join_path(where, key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from _walk_strings(sub, f"{where}[{i}]")


def scan_identifiers(
    folder: str | os.PathLike,
    *,
    find: Callable[[str], list[Any]] | None = None,
    limit: int = 5,
) -> list[dict[str, str]]:
    """The first `limit` identifier findings in a folder's string cells (default detector:
    `spinemed.deid.find_identifiers`, whose findings have `.kind` and `.text`)."""
    find = deid.find_identifiers if find is None else find
    findings: list[dict[str, str]] = []
    for config, row_id, where, text in iter_string_cells(folder):
        for hit in find(text):
            findings.append({"config": config, "row_id": row_id, "field": where, "kind": hit.kind, "text": hit.text})
            if len(findings) >= limit:
                return findings
    return findings


class ResidualRiskError(PublishError):
    """The publish gate found possible identifiers; carries the gate's report."""

    def __init__(self, report: Any):
        self.report = report
        super().__init__(report.summary())


def deid_preflight(folder: str | os.PathLike) -> None:
    """Default pre-publish check: the independent publish gate (`spinemed.deid.gate`) over every
    row, the card, the manifest, image metadata and provenance; refuses on any finding."""
    report = gate.scan_folder(folder)
    if not report.ok:
        raise ResidualRiskError(report)


def record_residual_risk(folder: str | os.PathLike, reason: str, report: Any) -> dict[str, Any]:
    """Write an accepted residual risk into the manifest (who decided why, and what the gate saw)."""
    folder = Path(folder)
    manifest = load_manifest(folder)
    entry = {
        "reason": reason,
        "accepted_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **report.to_json(),
    }
    manifest["residual_risk_accepted"] = entry
    atomic_write_json(folder / MANIFEST_NAME, manifest, indent=2)
    return entry


class ContaminationError(PublishError):
    """The folder overlaps a benchmark; carries the overlap report."""

    def __init__(self, report: Any):
        self.report = report
        super().__init__(
            f"publishing refused: the folder overlaps the benchmark\n{report.describe()}\n"
            "Publish the decontaminated release folder (`spinemed bench decontaminate`), or, if the overlap is "
            "intended, publish with --allow-contaminated REASON (recorded in manifest.json)."
        )


class RestrictedRowsError(PublishError):
    """Rows from sources that do not allow redistribution would enter a public repo."""


@dataclass
class LicenceReport:
    """The source licences of a folder's rows (`provenance.license` / `provenance.redistributable`)."""

    rows: int = 0
    restricted: int = 0  # rows whose source is not redistributable (or does not say)
    by_licence: dict[str, int] = field(default_factory=dict)
    restricted_by_licence: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        per = ", ".join(f"{lic} {n}" for lic, n in sorted(self.restricted_by_licence.items()))
        return f"{self.restricted} of {self.rows} rows come from sources that are not redistributable ({per})"


def licence_report(folder: str | os.PathLike) -> LicenceReport:
    """Count every row of every shard by its source licence; a row without provenance counts as
    restricted (nobody said it may be redistributed)."""
    report = LicenceReport()
    by, restricted = Counter(), Counter()
    for path in sorted((Path(folder) / DATA_DIR).rglob("*.parquet")):
        shard = pq.ParquetFile(path)
        has_provenance = "provenance" in shard.schema_arrow.names
        for batch in shard.iter_batches(batch_size=1024, columns=["provenance"] if has_provenance else []):
            rows = batch.to_pylist() if has_provenance else [{}] * batch.num_rows
            for row in rows:
                prov = row.get("provenance") or {}
                licence = str(prov.get("license") or "(unspecified)")
                by[licence] += 1
                if prov.get("redistributable") is not True:
                    restricted[licence] += 1
    report.rows, report.restricted = sum(by.values()), sum(restricted.values())
    report.by_licence, report.restricted_by_licence = dict(by), dict(restricted)
    return report


def record_contamination(folder: str | os.PathLike, reason: str, report: Any) -> dict[str, Any]:
    """Write an accepted benchmark overlap into the manifest (why, and what the check saw)."""
    folder = Path(folder)
    manifest = load_manifest(folder)
    entry = {"reason": reason, "accepted_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
             **report.to_json()}
    manifest["contamination_accepted"] = entry
    atomic_write_json(folder / MANIFEST_NAME, manifest, indent=2)
    return entry


def _govern_card(folder: Path, licences: LicenceReport, *, gated: bool, write: bool) -> list[str]:
    """Make the card's licence follow the rows' source licences, and add the access fields of a
    gated repo; returns describe() notes.  The card is not hashed by the manifest."""
    card = DatasetCard.load(folder / CARD_NAME)
    meta = card.data.to_dict()
    update = source_licence_metadata(meta.get("license"), licences.by_licence)
    notes = []
    if update.get("license") != meta.get("license"):
        notes.append(f"card licence: {meta.get('license')} -> {update['license']} (the rows' source licences differ: "
                     + ", ".join(f"{lic} {n}" for lic, n in sorted(licences.by_licence.items())) + ")")
    if gated:
        update.update(GATED_CARD_FIELDS)
        notes.append(f"gated repo (manual approval): {licences.describe()}")
    if write and update:
        for key, value in update.items():
            setattr(card.data, key, value)
        atomic_write_text(folder / CARD_NAME, str(card))
    return notes


# The access form of a gated release: who asks, for what, and that they accept the source licences.
GATED_CARD_FIELDS: dict[str, Any] = {
    "extra_gated_prompt": "Part of this dataset comes from sources that do not allow redistribution. Access is "
                          "granted for research use under each row's source licence (provenance.license).",
    "extra_gated_fields": {
        "Name": "text",
        "Affiliation": "text",
        "Intended use": "text",
        "I agree to use the rows only under their source licences and not to redistribute them": "checkbox",
    },
}


def publish_folder(
    folder: str | os.PathLike,
    repo_id: str,
    version: str,
    *,
    endpoint: str | None = None,
    token: str | None = None,
    private: bool = False,
    api: Any = None,
    preflight: Callable[[Path], None] | None = None,
    dry_run: bool = False,
    overwrite_tag: bool = False,
    accept_residual_risk: str | None = None,
    overlap_check: Callable[[Path], Any] | None = None,
    allow_contaminated: str | None = None,
    check_licences: bool = False,
    gated: bool = False,
) -> PublishPlan:
    """Verify a built folder, run the pre-publish check, upload it and tag the commit `version`.

    Order: validate version and folder -> preflight (any exception refuses publishing) ->
    [dry_run stops here] -> create_repo(exist_ok) -> refuse if the tag exists (unless
    overwrite_tag) -> upload_folder (manifest-listed files only; stale `data/` files on the
    Hub are deleted so old shards cannot leak into `data/<config>/<split>-*`) -> create_tag
    on the uploaded commit.  The endpoint: `endpoint`, else `api`'s, else `HF_ENDPOINT` /
    huggingface_hub's default (`hub_endpoint`).

    Release governance (``spinemed publish`` turns it on): `overlap_check(folder)` returns an
    overlap report (`.clean`, `.describe()`, `.to_json()`; the command passes one built on
    `spinemed.bench.decontam.check_overlap`, which this layer may not import); an overlap refuses
    publishing unless `allow_contaminated` gives a reason (recorded in manifest.json).  With
    `check_licences`, rows whose source is not redistributable refuse a public repo; `gated`
    publishes them to a gated repo (access fields in the card, manual approval set before the
    upload); and the card's licence follows the sources (`license: other` when they differ).
    """
    try:
        check_version(version)
    except ValueError as exc:
        raise PublishError(str(exc)) from None
    check_repo_id(repo_id)
    folder = Path(folder)
    try:
        manifest = verify_folder(folder)
    except ValueError as exc:
        raise PublishError(f"cannot publish: {exc}") from None
    if manifest.get("version") != version:
        raise PublishError(
            f"cannot publish {str(folder)!r} as {version}: it was built as {manifest.get('version')!r} "
            "(rebuild or write the manifest with the release version)"
        )

    check = deid_preflight if preflight is None else preflight
    try:
        check(folder)
    except ResidualRiskError as exc:
        if not (accept_residual_risk and accept_residual_risk.strip()):
            raise PublishError(
                f"publishing refused by the publish gate:\n{exc}\n"
                "Remove the identifiers and rebuild, or, after a person has reviewed every finding, "
                "publish with --accept-residual-risk REASON (recorded in manifest.json)."
            ) from exc
        if not dry_run:
            record_residual_risk(folder, accept_residual_risk.strip(), exc.report)
    except Exception as exc:
        raise PublishError(f"publishing refused by the pre-publish check: {exc}") from exc

    notes: list[str] = []
    if overlap_check is not None:
        overlap = overlap_check(folder)
        if not overlap.clean:
            if not (allow_contaminated and allow_contaminated.strip()):
                raise ContaminationError(overlap)
            if not dry_run:
                record_contamination(folder, allow_contaminated.strip(), overlap)
            notes.append(f"contamination accepted ({allow_contaminated.strip()}):")
        notes.append(overlap.describe())
    if check_licences:
        licences = licence_report(folder)
        if licences.restricted and not gated:
            raise RestrictedRowsError(
                f"publishing refused: {licences.describe()}; they may not enter a public repo. Publish to a "
                "gated repo with --gated (access fields in the card, manual approval), or remove those sources "
                "from the catalog and rebuild."
            )
        notes += _govern_card(folder, licences, gated=gated, write=not dry_run)

    files = [(name, (folder / name).stat().st_size) for name in (CARD_NAME, MANIFEST_NAME)]
    files += [(s["path"], s["num_bytes"]) for s in manifest["shards"]]
    files += [(a["path"], a["num_bytes"]) for a in manifest.get("attachments") or []]
    plan = PublishPlan(
        repo_id=repo_id,
        tag=version,
        endpoint=hub_endpoint(endpoint, api),
        private=private,
        files=sorted(files),
        commit_message=f"Release {version}",
        tag_message=f"{manifest.get('name', repo_id)} {version} (content {manifest['content_hash'][:16]})",
        content_hash=manifest["content_hash"],
        overwrite_tag=overwrite_tag,
        dry_run=dry_run,
        allow_patterns=[path for path, _ in sorted(files)],
        delete_patterns=[f"{DATA_DIR}/*"],
        folder=str(folder),
        detail=f", content {manifest['content_hash'][:16]}",
        gated=gated,
        notes=notes,
    )
    return push(plan, api=api, token=token, folder=folder)
