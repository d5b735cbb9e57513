"""`spinemed bench ...`: sample, review round-trip, release and decontamination of SpineBench.

A thin layer over :mod:`spinemed.bench` (registered by `spinemed.cli` through `register`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from spinemed.config import default_repo
from spinemed.fileio import atomic_write_json
from spinemed.progress import add_quiet_argument

from .decontam import (
    DEFAULT_ANSWER_THRESHOLD,
    DEFAULT_THRESHOLD,
    check_overlap,
    load_bench_index,
    write_decontaminated_corpus,
)
from .release import build_spinebench, format_build
from .review import Workspace, export_packets, format_resolution, import_packets, resolve
from .sample import DEFAULT_MAX_SHARE, DEFAULT_TARGETS, format_sampling, sample_candidates
from .simulate import simulate_review

BENCH_COMMANDS_ATTR = "spinemed_bench_commands"  # the `bench` parser's subcommand action, for later parts

_WORKFLOW = """\
workflow (WORK is the review workspace; it keeps the sample, the packets and the audit log):
  spinemed bench sample --corpus out/spinemed-450k --work out/bench-work
  spinemed bench export --work out/bench-work --groups 3 --overlap 0.2
      -> send out/bench-work/packets/round-1/ (CSV packets + images/ + README.txt) to the reviewers
  spinemed bench import --work out/bench-work filled/*.csv       (as often as packets come back)
  spinemed bench status --work out/bench-work                    (progress, agreement, conflicts)
  spinemed bench export --work out/bench-work --redo conflicts --group senior   (if needed)
  spinemed bench build --work out/bench-work --out out/spinebench --version v1.0.0
  spinemed bench decontaminate --bench out/spinebench --corpus out/spinemed-450k --out out/spinemed-450k-release
  spinemed publish out/spinebench --repo spinemed/SpineBench --version v1.0.0
  spinemed bench check-overlap spinemed/SpineBench path/or/hub-id/of/training-data
  spinemed bench export-harness out/harness --bench out/spinebench   (lmms-eval task + VLMEvalKit TSV)"""


def register(subparsers) -> None:
    bench = subparsers.add_parser(
        "bench", help="SpineBench: sample, clinician review round-trip, release, decontamination",
        description="Build SpineBench from a SpineMed-450k build: distribution-matched sampling, review packets "
                    "for clinicians and their strict import (audit log, agreement), the Hub-layout release, "
                    "and decontamination of the training corpus.",
        epilog=_WORKFLOW, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = bench.add_subparsers(dest="bench_command", required=True, metavar="COMMAND")
    # Later parts add `bench` commands that need them (evaluation/cli.py: export-harness).
    setattr(bench, BENCH_COMMANDS_ATTR, sub)

    p = sub.add_parser("sample", help="draw the candidate set from a corpus build (stratified, seeded)",
                       description="Draw SpineBench candidates from a built SpineMed-450k folder, stratified so they "
                                   "follow the corpus over sub-field, language, modality and source type. Prints the "
                                   "achieved vs target distribution (also kept in WORK/sample.json and the release "
                                   "manifest). Targets larger than --max-share of a config are scaled down, all by the "
                                   "same factor, and the output says so.")
    p.add_argument("--corpus", required=True, type=Path, help="built SpineMed-450k folder (with manifest.json)")
    p.add_argument("--work", required=True, type=Path, help="review workspace to create (e.g. out/bench-work)")
    p.add_argument("--mcq", type=int, default=DEFAULT_TARGETS["mcq"], help="MCQ candidates (default %(default)s)")
    p.add_argument("--report", type=int, default=DEFAULT_TARGETS["report"], help="report candidates (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    p.add_argument("--max-share", type=float, default=DEFAULT_MAX_SHARE,
                   help="largest share of a config's rows the bench may take (default %(default)s)")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                   help="near-duplicate threshold between candidates (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print the sample record as JSON")
    p.set_defaults(func=_cmd_sample)

    p = sub.add_parser("export", help="write review packets (CSV per reviewer group, images next to them)",
                       description="Write the next review round: one CSV packet (UTF-8 with BOM, opens in Excel) per "
                                   "reviewer group and task type under WORK/packets/round-N/, the item images in "
                                   "images/ and a bilingual README.txt. Round 1 covers every candidate; later rounds "
                                   "re-review a selection (--redo or --items).")
    p.add_argument("--work", required=True, type=Path, help="review workspace")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--groups", type=int, help="number of reviewer groups, named g1..gN (default 3)")
    g.add_argument("--group", dest="group_names", action="append", metavar="NAME", help="a group name (repeatable)")
    p.add_argument("--overlap", type=float, default=0.2,
                   help="share of items also given to a second group so agreement can be measured (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the group assignment (default %(default)s)")
    p.add_argument("--redo", choices=["conflicts", "disagreements", "pending"],
                   help="later rounds: re-review items with conflicting corrections, any disagreement, or no decision")
    p.add_argument("--items", nargs="+", metavar="ID", help="later rounds: re-review these item ids")
    p.add_argument("--corpus", type=Path, help="the corpus folder, if it moved since sampling")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("import", help="import filled packets (strict; all or nothing; audit log)",
                       description="Validate filled packets and record every decision in WORK/review/audit.jsonl. "
                                   "Refused, with every problem listed by file, row and column, when a file is not "
                                   "UTF-8 (the encoding it looks like is named; see --encoding), a packet or item id "
                                   "is unknown, a decision is not accept/fix/remove, a read-only cell differs from the "
                                   "exported one in any byte (line breaks aside), rows of the packet are missing (see "
                                   "--allow-missing-rows), a correction is invalid, or a packet was already imported; "
                                   "then nothing is recorded. Exit status: 0 imported, 2 refused (nothing recorded).")
    p.add_argument("--work", required=True, type=Path, help="review workspace")
    p.add_argument("files", nargs="+", type=Path, help="filled packet CSV files")
    p.add_argument("--corpus", type=Path, help="the corpus folder, if it moved since sampling")
    p.add_argument("--encoding", metavar="NAME",
                   help="encoding of files that are not UTF-8, e.g. cp1252 (a Western-locale Excel 'CSV') or gb18030 "
                        "(a Chinese-locale one); without it such files are refused. UTF-8 files, with or without BOM, "
                        "are always read as UTF-8")
    p.add_argument("--allow-missing-rows", action="store_true",
                   help="import a file that lacks rows of its packet (cut short, rows deleted): its rows are recorded, "
                        "the missing ones are listed and stay pending (default: refuse such a file)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser("status", help="review progress, agreement between reviewers, conflicts",
                       description="Show where every candidate stands (accepted / fixed / removed / conflict / "
                                   "pending), decision counts, agreement where several reviewers saw an item, and "
                                   "conflicting corrections.")
    p.add_argument("--work", required=True, type=Path, help="review workspace")
    p.add_argument("--json", action="store_true", help="print the full resolution as JSON")
    p.set_defaults(func=_cmd_status)

    p = sub.add_parser("simulate", help="fill the latest packets with SIMULATED reviewers (demo, testing)",
                       description="Fill the latest round's packets with a deterministic script (mostly accept, a few "
                                   "fixes, one removal) and import them marked as simulated. A release built from "
                                   "them says verification_mode: simulated. Never use it for a real release.")
    p.add_argument("--work", required=True, type=Path, help="review workspace")
    p.add_argument("--seed", type=int, default=0, help="seed of the scripted decisions (default %(default)s)")
    p.set_defaults(func=_cmd_simulate)

    p = sub.add_parser("build", help="write the SpineBench release folder (Hub layout, card, manifest, audit log)",
                       description="Write SpineBench as a Hub-layout dataset folder: split test, configs mcq (text "
                                   "and image items, kind + modality columns) and report, card with the real counts, "
                                   "manifest with hashes, audit.jsonl. Loads with load_dataset(OUT, 'mcq'); publish "
                                   "with `spinemed publish OUT --repo spinemed/SpineBench --version vX.Y.Z`.")
    p.add_argument("--work", required=True, type=Path, help="review workspace")
    p.add_argument("--out", required=True, type=Path, help="release folder to write (e.g. out/spinebench)")
    p.add_argument("--version", default="v1.0.0", help="release version tag vX.Y.Z (default %(default)s)")
    p.add_argument("--repo-id", default=default_repo("SpineBench"), help="Hub repo the card points at (default %(default)s)")
    p.add_argument("--drop-pending", action="store_true", help="leave undecided candidates out instead of refusing")
    p.add_argument("--corpus", type=Path, help="the corpus folder, if it moved since sampling")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=_cmd_build)

    p = sub.add_parser("decontaminate", help="write the SpineMed-450k release without anything overlapping the bench",
                       description="Copy a corpus build to a release folder, leaving out every row that overlaps "
                                   "SpineBench: exact or near duplicate of a bench item's prompt, the same item id, "
                                   "generated from the same source record as a bench item, containing a bench item's "
                                   "question and answer, or a bench image; new card and manifest with the removed "
                                   "counts.")
    p.add_argument("--bench", required=True, help="SpineBench folder, saved bench index or Hub repo id")
    p.add_argument("--corpus", required=True, type=Path, help="built SpineMed-450k folder")
    p.add_argument("--out", required=True, type=Path, help="release folder to write (e.g. out/spinemed-450k-release)")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                   help="near-duplicate threshold (default %(default)s)")
    p.add_argument("--answer-threshold", type=float, default=DEFAULT_ANSWER_THRESHOLD,
                   help="answer-key 5-gram containment that counts as a leak (default %(default)s)")
    p.add_argument("--version", help="release version (default: the corpus build's)")
    p.add_argument("--repo-id", default=default_repo("SpineMed-450k"), help="Hub repo the card points at (default %(default)s)")
    p.add_argument("--redistributable-only", action="store_true",
                   help="also leave out rows whose source is not redistributable (a public release), counted per "
                        "licence in the card's accounting")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_quiet_argument(p)
    p.set_defaults(func=_cmd_decontaminate)

    p = sub.add_parser("check-overlap", help="report overlap between SpineBench and any dataset (exit 1 if any)",
                       description="Report every row of CANDIDATE that overlaps SpineBench: exact or near duplicate "
                                   "(MinHash Jaccard >= threshold) of a bench item's prompt text, the same item id, "
                                   "the same source record (SpineMed provenance.record_id), a bench item's question "
                                   "and answer anywhere in the row (5-gram containment >= --answer-threshold), or a "
                                   "bench image. CANDIDATE is a dataset folder or a Hub dataset repo id, read with "
                                   "datasets.load_dataset (streaming). Exit status: 0 clean, 1 overlap found, "
                                   "2 error (nothing was certified, e.g. a dataset could not be loaded).")
    p.add_argument("bench", help="SpineBench folder, saved bench index (--save-index) or Hub repo id")
    p.add_argument("candidate", help="dataset folder or Hub repo id to check (e.g. your training data)")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                   help="near-duplicate threshold (default %(default)s)")
    p.add_argument("--answer-threshold", type=float, default=DEFAULT_ANSWER_THRESHOLD,
                   help="answer-key 5-gram containment that counts as a leak (default %(default)s)")
    p.add_argument("--config", dest="configs", action="append", metavar="NAME", help="only this config (repeatable)")
    p.add_argument("--split", dest="splits", action="append", metavar="NAME", help="only this split (repeatable)")
    p.add_argument("--out", type=Path, help="write the full report as JSON to this file")
    p.add_argument("--save-index", type=Path, metavar="DIR", help="also save the bench index here for later checks")
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    add_quiet_argument(p)
    p.set_defaults(func=_cmd_check_overlap)


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))


def _cmd_sample(args) -> int:
    sample = sample_candidates(args.corpus, targets={"mcq": args.mcq, "report": args.report}, seed=args.seed,
                               max_share=args.max_share, threshold=args.threshold)
    path = Workspace(args.work).write_sample(sample)
    if args.json:
        _print_json(sample)
    else:
        print(format_sampling(sample))
        print(f"\nsaved {path}; next: spinemed bench export --work {args.work}")
    return 0


def _cmd_export(args) -> int:
    if args.group_names or args.groups is not None:
        groups = args.group_names or args.groups
    else:  # round 1 goes to 3 groups; re-review rounds to one adjudication group
        groups = ["adjudication"] if args.redo or args.items else 3
    record = export_packets(args.work, groups=groups, overlap=args.overlap, seed=args.seed, redo=args.redo,
                            items=args.items, corpus=args.corpus)
    folder = Path(args.work) / record["folder"]
    print(f"round {record['round']}: {record['items']} items in {len(record['packets'])} packets -> {folder}")
    for p in record["packets"]:
        print(f"  {Path(p['file']).name}: {len(p['items'])} items (group {p['group']}, {p['config']})")
    print(f"send the folder (CSV packets, images/, README.txt) to the reviewers; "
          f"then: spinemed bench import --work {args.work} FILLED.csv ...")
    return 0


def _cmd_import(args) -> int:
    result = import_packets(args.work, args.files, corpus=args.corpus, encoding=args.encoding,
                            allow_missing=args.allow_missing_rows)
    for f in result.files:
        for packet_id, ids in f["missing"].items():
            print(f"WARNING: {f['file']}: {len(ids)} row(s) of packet {packet_id} missing, those items stay pending: "
                  + ", ".join(ids), file=sys.stderr)
    if args.json:
        _print_json({"files": result.files, "decisions": len(result.entries),
                     "resolution": {k: v for k, v in result.resolution.items() if k != "items"}})
        return 0
    for f in result.files:
        print(f"imported {f['file']}{'' if f['encoding'] == 'utf-8' else ' (read as ' + f['encoding'] + ')'}: "
              f"{f['decided']} decisions (" + ", ".join(f"{k} {v}" for k, v in sorted(f["decisions"].items()))
              + (f"), {f['blank']} rows left blank" if f["blank"] else ")")
              + (f", {sum(map(len, f['missing'].values()))} rows MISSING" if f["missing"] else ""))
    print(format_resolution(result.resolution))
    return 0


def _cmd_status(args) -> int:
    res = resolve(args.work)
    if args.json:
        _print_json(res)
    else:
        print(format_resolution(res))
    return 0


def _cmd_simulate(args) -> int:
    files, result = simulate_review(args.work, seed=args.seed)
    print(f"SIMULATED reviewers filled {len(files)} packets (in {files[0].parent}); imported as mode=simulated")
    print(format_resolution(result.resolution))
    return 0


def _cmd_build(args) -> int:
    summary = build_spinebench(args.work, args.out, version=args.version, repo_id=args.repo_id,
                               drop_pending=args.drop_pending, corpus=args.corpus)
    if args.json:
        _print_json(summary)
    else:
        print(format_build(summary))
        print(f"\nLoad it: datasets.load_dataset('{args.out}', 'mcq', split='test')  (or 'report')")
    return 0


def _cmd_decontaminate(args) -> int:
    summary = write_decontaminated_corpus(args.bench, args.corpus, args.out, threshold=args.threshold,
                                          answer_threshold=args.answer_threshold, version=args.version, repo_id=args.repo_id,
                                          progress=None if args.json else print,
                                          redistributable_only=args.redistributable_only)
    if args.json:
        _print_json(summary)
    return 0


def _cmd_check_overlap(args) -> int:
    """Exit 0 clean, 1 overlap found, 2 when the check could not be completed.

    Every failure ends in 2: an uncaught exception would exit 1 and read as "overlap found"
    to a script certifying its training data."""
    try:
        report = _check_overlap(args)
    except Exception as exc:
        detail = str(exc) if isinstance(exc, (OSError, ValueError)) and str(exc) else f"{type(exc).__name__}: {exc}"
        print(f"error: check-overlap did not complete, nothing was certified: {detail}", file=sys.stderr)
        return 2
    if args.json:
        _print_json(report.to_json())
    else:
        print(report.describe())
    return 0 if report.clean else 1


def _check_overlap(args):
    index = load_bench_index(args.bench, threshold=args.threshold)
    if args.save_index:
        index.save(args.save_index)
        print(f"saved the bench index to {args.save_index}", file=sys.stderr)
    report = check_overlap(index, args.candidate, threshold=args.threshold, answer_threshold=args.answer_threshold,
                           configs=args.configs, splits=args.splits)
    if args.out:
        atomic_write_json(args.out, report.to_json(), indent=2)
    return report
