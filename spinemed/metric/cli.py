"""`spinemed metric`: prepare or publish the SpineBench `evaluate` metric as a Hub Space."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .space import MetricSpaceError, prepare_metric_space, publish_metric_space

_EPILOG = """\
examples:
  spinemed metric prepare --out space_out/spinebench       # folder + wheel, loads with evaluate.load(...)
  spinemed metric publish --repo ORG/spinebench --dry-run   # list what would be uploaded
  spinemed metric publish --repo ORG/spinebench             # needs a Hub token (HF_TOKEN or hf auth login)

The Space installs the kit from a wheel uploaded with it (spinemed is not on PyPI); see
"Publishing this metric" in evaluate_metric/spinebench/README.md."""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "metric", help="prepare or publish the SpineBench evaluate metric as a Hub Space",
        description="The SpineBench metric module (evaluate_metric/spinebench) as a Hub metric Space: the module, "
                    "its card, the Gradio widget and a wheel of the kit that requirements.txt installs.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="metric_command", required=True)

    prep = sub.add_parser("prepare", help="write the Space folder (module, card, app, wheel, requirements)")
    prep.add_argument("--out", required=True, type=Path, help="new or empty folder to write (name it spinebench)")
    prep.set_defaults(func=_cmd_prepare)

    pub = sub.add_parser("publish", help="prepare the Space and upload it (create_repo + upload_folder)")
    pub.add_argument("--repo", required=True, help="ORG/NAME of the Space, e.g. ORG/spinebench")
    pub.add_argument("--dry-run", action="store_true", help="prepare and list what would be uploaded, send nothing")
    pub.add_argument("--out", type=Path, help="keep the prepared folder here (default: a temporary folder)")
    pub.add_argument("--wheel-ref", choices=["relative", "hub"], default="relative",
                     help="how requirements.txt names the wheel: ./<wheel> (default) or its URL in the (public) Space")
    pub.add_argument("--endpoint", help="Hub endpoint (default: $HF_ENDPOINT or huggingface.co)")
    pub.add_argument("--token", help="Hub token (default: the logged-in token / $HF_TOKEN)")
    pub.add_argument("--private", action="store_true")
    pub.set_defaults(func=_cmd_publish)


def _cmd_prepare(args) -> int:
    try:
        folder = prepare_metric_space(args.out)
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
