"""`spinemed publish`: push a built dataset folder to the Hub and tag the version."""

from __future__ import annotations

import sys
from pathlib import Path

from .publish import PublishError, publish_folder


def register(subparsers) -> None:
    p = subparsers.add_parser("publish", help="push a built dataset folder to the Hub and tag the version",
                              description="Verify the folder (manifest hashes, card), run the independent publish gate "
                                          "(spinemed.deid.gate: the scrubber's detector plus name-dictionary, format, "
                                          "image-metadata and provenance checks over every row, the card and the "
                                          "manifest; refuses on any finding unless --accept-residual-risk), then "
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
    p.set_defaults(func=_cmd_publish)


def _cmd_publish(args) -> int:
    try:  # the endpoint: --endpoint, else $HF_ENDPOINT / huggingface_hub's default (hub_endpoint)
        plan = publish_folder(args.folder, args.repo, args.version, endpoint=args.endpoint, token=args.token,
                              private=args.private, dry_run=args.dry_run, overwrite_tag=args.overwrite_tag,
                              accept_residual_risk=args.accept_residual_risk)
    except PublishError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(plan.describe())
    return 0
