"""`spinemed metric`: prepare or publish the SpineBench `evaluate` metric as a Hub Space."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .space import MetricSpaceError, prepare_metric_space, publish_metric_space

_EPILOG = """\
examples:
  spinemed metric prepare --out space_out/spinebench           # the folder; loads with evaluate.load(...)
  spinemed metric publish --repo spinemed/spinebench --dry-run  # list what would be uploaded
  spinemed metric publish --repo spinemed/spinebench            # needs a Hub token (HF_TOKEN or hf auth login)

The Space installs spinemed==<this version> from the package index (publish the release first,
docs/release.md); --wheel-ref relative|hub ships a wheel of the checkout with it instead.  See
"Publishing this metric" in evaluate_metric/spinebench/README.md."""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "metric", help="prepare or publish the SpineBench evaluate metric as a Hub Space",
        description="The SpineBench metric module (evaluate_metric/spinebench) as a Hub metric Space: the module, "
                    "its card, its Gradio app and a requirements.txt installing this release of the kit.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="metric_command", required=True)

    prep = sub.add_parser("prepare", help="write the Space folder (module, card, app, requirements)")
    prep.add_argument("--out", required=True, type=Path, help="new or empty folder to write (name it spinebench)")
    prep.add_argument("--bundle-wheel", action="store_true",
                      help="build a wheel of the checkout into the folder and install that (a version not on the index yet)")
    prep.set_defaults(func=_cmd_prepare)

    pub = sub.add_parser("publish", help="prepare the Space and upload it (create_repo + upload_folder)")
    pub.add_argument("--repo", required=True, help="ORG/NAME of the Space, e.g. spinemed/spinebench")
    pub.add_argument("--dry-run", action="store_true", help="prepare and list what would be uploaded, send nothing")
    pub.add_argument("--out", type=Path, help="keep the prepared folder here (default: a temporary folder)")
    pub.add_argument("--wheel-ref", choices=["index", "relative", "hub"], default="index",
                     help="how requirements.txt names the kit: spinemed==<version> from the package index (default), "
                          "or a bundled wheel as ./<wheel> or by its URL in the (public) Space")
    pub.add_argument("--endpoint", help="Hub endpoint (default: $HF_ENDPOINT or huggingface.co)")
    pub.add_argument("--token", help="Hub token (default: the logged-in token / $HF_TOKEN)")
    pub.add_argument("--private", action="store_true")
    pub.set_defaults(func=_cmd_publish)


def _cmd_prepare(args) -> int:
    try:
        folder = prepare_metric_space(args.out, bundle_wheel=args.bundle_wheel)
    except MetricSpaceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"prepared {folder}:")
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        print(f"  {path.name}  {path.stat().st_size:,}")
    name = folder.name
    target = str(folder) if name == "spinebench" else str(folder / "spinebench.py")
    print(f"load it: evaluate.load({target!r})")
    return 0


def _cmd_publish(args) -> int:
    try:  # the endpoint: --endpoint, else $HF_ENDPOINT / huggingface_hub's default (spinemed.hub.hub_endpoint)
        plan = publish_metric_space(
            args.repo, token=args.token, endpoint=args.endpoint, private=args.private,
            dry_run=args.dry_run, work_dir=args.out, wheel_ref=args.wheel_ref,
        )
    except MetricSpaceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(plan.describe())
    return 0
