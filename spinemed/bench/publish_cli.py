"""`spinemed publish`: push a built dataset folder to the Hub and tag the version.

The command lives in the bench part (not in hub/, which is listed before bench) because a
corpus release is checked against SpineBench: `spinemed.hub.publish.publish_folder` takes the
overlap check as a callable, built here on `spinemed.bench.decontam.check_overlap`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spinemed.hub import load_manifest
from spinemed.hub.publish import PublishError, publish_folder
from spinemed.progress import add_quiet_argument

from .decontam import OverlapReport, check_overlap
from .release import DEFAULT_REPO_ID

# The registered SpineBench release every corpus publish is checked against (plus any --bench).
REGISTERED_BENCH = DEFAULT_REPO_ID


def register(subparsers) -> None:
    p = subparsers.add_parser("publish", help="push a built dataset folder to the Hub and tag the version",
                              description="Verify the folder (manifest hashes, card), run the independent publish gate "
                                          "(spinemed.deid.gate: the scrubber's detector plus name-dictionary, format, "
                                          "image-metadata and provenance checks over every row, the card and the "
                                          "manifest; refuses on any finding unless --accept-residual-risk), check a "
                                          "corpus folder for SpineBench overlap (refused unless --allow-contaminated) "
                                          "and its rows' source licences (rows that may not be redistributed are "
                                          "refused unless --gated; the card's licence follows the sources), then "
                                          "create the repo, upload and create the version tag with "
                                          "huggingface_hub.HfApi.")
    p.add_argument("folder", type=Path)
    p.add_argument("--repo", required=True, help="ORG/NAME of the dataset repo")
    p.add_argument("--version", required=True, help="tag to create, vX.Y.Z (must match the built manifest)")
    p.add_argument("--endpoint", help="Hub endpoint (default: $HF_ENDPOINT or huggingface.co)")
    p.add_argument("--token", help="Hub token (default: the logged-in token / $HF_TOKEN)")
    p.add_argument("--private", action="store_true")
    p.add_argument("--overwrite-tag", action="store_true", help="move an existing tag (otherwise refused)")
    p.add_argument("--dry-run", action="store_true", help="print what would be sent and stop")
    p.add_argument("--accept-residual-risk", metavar="REASON",
                   help="publish although the publish gate reported findings, after a person reviewed each one; "
                        "REASON is recorded in manifest.json (residual_risk_accepted)")
    p.add_argument("--bench", action="append", default=[], metavar="FOLDER_OR_REPO",
                   help=f"SpineBench folder, saved bench index or Hub repo to check a corpus folder against "
                        f"(repeatable); the registered release {REGISTERED_BENCH} is checked too, and when it cannot "
                        "be fetched publishing is refused unless a --bench was checked")
    p.add_argument("--allow-contaminated", metavar="REASON",
                   help="publish a corpus folder although it overlaps SpineBench; REASON is recorded in "
                        "manifest.json (contamination_accepted)")
    p.add_argument("--gated", action="store_true",
                   help="publish to a gated repo (manual approval, access fields in the card): needed when rows "
                        "come from sources that are not redistributable")
    add_quiet_argument(p)
    p.set_defaults(func=_cmd_publish)


@dataclass
class CombinedOverlap:
    """The overlap reports of several benches, read as one by `publish_folder`."""

    reports: list[OverlapReport]
    skipped: list[str] = field(default_factory=list)  # benches that could not be loaded, and why

    @property
    def clean(self) -> bool:
        return all(r.clean for r in self.reports)

    def describe(self) -> str:
        return "\n".join([r.describe(limit=10) for r in self.reports] + self.skipped)

    def to_json(self) -> dict[str, Any]:
        return {"n_overlapping": sum(r.n_overlapping for r in self.reports),
                "benches": [r.to_json() for r in self.reports], "skipped": self.skipped}


def is_bench_folder(folder: Path) -> bool:
    """Whether `folder` is a SpineBench release itself (it is the bench: nothing to check against)."""
    try:
        return str(load_manifest(folder).get("name") or "").lower().startswith("spinebench")
    except (OSError, ValueError):
        return False


def bench_overlap_check(benches: list[str], *, registered: str | None = None):
    """The overlap check of a corpus folder against each bench and the `registered` release.

    A bench that cannot be loaded refuses publishing (a check that could not run is not a clean
    result), except the registered release when `benches` were named: then the named ones are
    checked and the result says the registered one could not be fetched."""

    def check(folder: Path) -> CombinedOverlap:
        reports, skipped = [], []
        for bench in list(dict.fromkeys([*benches, *([registered] if registered else [])])):
            try:
                reports.append(check_overlap(bench, folder))
            except (OSError, ValueError) as exc:
                if bench == registered and benches and bench not in benches:
                    skipped.append(f"registered SpineBench {bench!r} not checked ({type(exc).__name__}): "
                                   "checked against --bench only")
                    continue
                raise PublishError(
                    f"cannot check {str(folder)!r} for overlap with SpineBench {bench!r}: {exc}. Pass --bench with "
                    "a local SpineBench folder, or --allow-contaminated REASON to publish unchecked.") from None
        return CombinedOverlap(reports, skipped)

    return check


def _cmd_publish(args) -> int:
    overlap_check = None
    if not is_bench_folder(args.folder):
        check = bench_overlap_check(list(args.bench), registered=REGISTERED_BENCH)
        if args.allow_contaminated and args.allow_contaminated.strip():
            # an accepted overlap is still measured (and recorded) when a bench can be loaded
            def overlap_check(folder, check=check):
                try:
                    return check(folder)
                except PublishError as exc:
                    return _Unchecked(str(exc))
        else:
            overlap_check = check
    try:  # the endpoint: --endpoint, else $HF_ENDPOINT / huggingface_hub's default (hub_endpoint)
        plan = publish_folder(args.folder, args.repo, args.version, endpoint=args.endpoint, token=args.token,
                              private=args.private, dry_run=args.dry_run, overwrite_tag=args.overwrite_tag,
                              accept_residual_risk=args.accept_residual_risk, overlap_check=overlap_check,
                              allow_contaminated=args.allow_contaminated, check_licences=True, gated=args.gated)
    except PublishError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(plan.describe())
    return 0


@dataclass
class _Unchecked:
    """An overlap check that could not run, published under --allow-contaminated: recorded as such."""

    error: str
    clean: bool = False

    def describe(self) -> str:
        return f"overlap not checked: {self.error}"

    def to_json(self) -> dict[str, Any]:
        return {"checked": False, "error": self.error}
