"""`spinemed bench build`: write SpineBench as its own Hub-layout dataset folder.

    OUT/README.md                    card from dataset_cards/spinebench.md with the real counts
    OUT/manifest.json                shard hashes, counts, versions, sampling, verification summary
    OUT/audit.jsonl                  the audit log, one JSON line per decision; recorded in the
                                     manifest as an attachment, so it is verified and published
    OUT/data/{mcq,report}/test-*.parquet

Rows are the corpus rows of the verified candidates with the reviewers' corrections applied
(`levels` and `messages` re-derived), plus ``kind`` (text_mcq | image_mcq | report, the
scorer's N_k), ``bench_version`` and ``verification`` (status, group(s), reviewers, number of
decisions that count).  Ids stay the corpus ids, so every item traces back to its corpus row
and its audit entries.  The folder loads with ``load_dataset(OUT, "mcq")`` / ``"report"`` and
publishes with ``spinemed publish OUT --repo ORG/SpineBench --version vX.Y.Z``.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from spinemed.config import default_repo
from spinemed.hub import (
    DEFAULT_BREAKDOWNS,
    DatasetFolderWriter,
    check_version,
    dataset_info_yaml,
    load_manifest,
    write_dataset_card,
    write_manifest,
)
from spinemed.paths import checkout_path
from spinemed.schema import BENCH_CONFIGS, BENCH_KINDS, bench_features_for, bench_kind
from spinemed.scoring import SCORER_VERSION

from .decontam import DEFAULT_THRESHOLD
from .review import Workspace, apply_changes, resolve, verification_mode

BUILDER_VERSION = "1.0.0"
DEFAULT_VERSION = "v1.0.0"
DEFAULT_REPO_ID = default_repo("SpineBench")  # <$SPINEMED_HUB_ORG or spinemed>/SpineBench
AUDIT_NAME = "audit.jsonl"
CARD_TEMPLATE = checkout_path("dataset_cards", "spinebench.md")
BREAKDOWNS = {**DEFAULT_BREAKDOWNS, "kind": "kind", "verification_status": "verification.status"}


def build_spinebench(
    work: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    version: str = DEFAULT_VERSION,
    repo_id: str = DEFAULT_REPO_ID,
    drop_pending: bool = False,
    card_template: str | os.PathLike = CARD_TEMPLATE,
    corpus: str | os.PathLike | None = None,
    license: str | None = None,
) -> dict[str, Any]:
    """Build the SpineBench folder from a review workspace; returns a summary dict.

    Refuses while an item has conflicting corrections, and while items are undecided unless
    `drop_pending` (they are then left out and counted in the card).
    """
    start = time.perf_counter()
    check_version(version)
    ws = Workspace(work, corpus=corpus)
    out_dir = Path(out_dir)
    if out_dir.resolve() == ws.path.resolve() or ws.path.resolve() in out_dir.resolve().parents:
        raise ValueError("the SpineBench folder must not be inside the review workspace")
    sample = ws.sample()
    if out_dir.resolve() == ws.corpus_dir.resolve():
        raise ValueError("the SpineBench folder must differ from the corpus build folder")
    res = resolve(ws)
    if res["conflicts"]:
        first = res["conflicts"][0]
        raise ValueError(f"{len(res['conflicts'])} conflicting correction(s), e.g. item {first['item_id']} field "
                         f"{first['field']!r}: {first['values']}; re-review them with `spinemed bench export "
                         f"--work {ws.path} --redo conflicts --group ADJ` and import the filled packet")
    if res["pending"] and not drop_pending:
        raise ValueError(f"{len(res['pending'])} candidate(s) have no decision yet (e.g. {res['pending'][:3]}); "
                         "import the remaining packets, or pass --drop-pending to leave them out")
    if not ws.exports()["rounds"]:
        raise ValueError(f"{ws.path}: no packets were exported or reviewed; a SpineBench release needs verification")
    mode = verification_mode(res)
    corpus_manifest = load_manifest(ws.corpus_dir)
    rows = ws.candidate_rows()
    published: dict[str, list[dict[str, Any]]] = {c: [] for c in BENCH_CONFIGS}
    for item_id, item in res["items"].items():
        if item["status"] not in ("accepted", "fixed"):
            continue
        config = item["config"]
        row = apply_changes(rows[item_id], config, {f: c["after"] for f, c in item["changes"].items()})
        row["kind"] = bench_kind(row)
        row["bench_version"] = version
        row["verification"] = {"status": item["status"], "group": "+".join(item["groups"]),
                               "reviewers": item["reviewers"], "decisions": len(item["decisions"])}
        published[config].append(row)
    if not any(published.values()):
        raise ValueError("every candidate was removed or is pending: nothing to publish")

    (out_dir / AUDIT_NAME).unlink(missing_ok=True)  # ours; the writer refuses unknown files
    configs = {c: bench_features_for(c) for c in BENCH_CONFIGS}
    with DatasetFolderWriter(out_dir, configs, split="test", default_config="mcq", breakdowns=BREAKDOWNS) as writer:
        for config in BENCH_CONFIGS:
            for row in sorted(published[config], key=lambda r: (BENCH_KINDS.index(r["kind"]), r["id"])):
                writer.add(config, row)
    stats = writer.stats()

    audit = _release_audit(ws, res)
    with open(out_dir / AUDIT_NAME, "w", encoding="utf-8") as fh:
        for entry in audit:
            fh.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")

    kinds = Counter(r["kind"] for rs in published.values() for r in rs)
    by_kind: dict[str, dict[str, dict[str, int]]] = {}
    for dim, get in (("language", lambda r: r["language"]), ("subfield", lambda r: r["subfield"]),
                     ("source_type", lambda r: r["provenance"]["source_type"])):
        table: dict[str, Counter] = {}
        for rs in published.values():
            for r in rs:
                table.setdefault(get(r), Counter())[r["kind"]] += 1
        by_kind[dim] = {value: {k: c.get(k, 0) for k in BENCH_KINDS} | {"total": sum(c.values())}
                        for value, c in sorted(table.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))}
    n_k = {k: kinds.get(k, 0) for k in BENCH_KINDS}
    n_total = sum(n_k.values())
    removed = sorted(i for i, it in res["items"].items() if it["status"] == "removed")
    dropped = sorted(res["pending"]) if drop_pending else []
    verification = {
        "mode": mode,
        "candidates": len(res["items"]),
        "published": n_total,
        "accepted": res["counts"].get("accepted", 0),
        "fixed": res["counts"].get("fixed", 0),
        "removed": len(removed),
        "dropped_pending": len(dropped),
        "removed_items": [{"id": i, "config": res["items"][i]["config"], "comments": res["items"][i]["comments"]}
                          for i in removed],
        "dropped_items": dropped,
        "rounds": res["rounds"],
        "groups": res["decisions"]["groups"],
        "reviewers": res["decisions"]["reviewers"],
        "decisions": res["decisions"]["total"],
        "decisions_by_type": res["decisions"]["by_decision"],
        "decisions_superseded": res["decisions"]["superseded"],
        "fields_fixed": res["decisions"]["fields_fixed"],
        "decision_modes": res["modes"],
        "agreement": res["agreement"],
        "resolution_rule": "latest round counts; any remove removes; otherwise fixes are merged (conflicting "
                           "values block the build until re-reviewed); otherwise accepted",
    }
    versions = {k: v for k, v in (corpus_manifest.get("versions") or {}).items()
                if k in ("pipeline", "criteria", "deid", "lexicon", "backend", "model")}
    versions.update({"spinebench_builder": BUILDER_VERSION, "scorer": SCORER_VERSION,
                     "corpus": f"{corpus_manifest.get('name')} {corpus_manifest.get('version')} "
                               f"(content {corpus_manifest['content_hash'][:16]})"})
    # Published: which build was sampled (name, version, content hash), never where it lay on
    # the machine that built the release.
    sampling = {k: sample[k] for k in ("seed", "threshold", "max_share", "dimensions", "method",
                                       "requested", "scale", "scaled", "note", "targets", "configs")}
    sampling["corpus"] = {k: sample["corpus"].get(k) for k in ("name", "version", "content_hash")}
    sampling["warnings"] = list(sample.get("warnings") or [])
    card_license = license or _corpus_license(ws.corpus_dir)
    extra = {
        "repo_id": repo_id,
        "name": "spinebench",
        "version": version,
        "license": card_license,
        "versions": versions,
        "n_k": n_k,
        "by_kind": by_kind,
        "weights": {k: (n / n_total if n_total else 0.0) for k, n in n_k.items()},
        "sampling": sampling,
        "verification": verification,
        "decontamination_threshold": sample.get("threshold", DEFAULT_THRESHOLD),
        "audit_file": AUDIT_NAME,
        "card_metadata": {
            "task_categories": ["visual-question-answering", "multiple-choice", "text-generation"],
            "tags": ["medical", "spine", "orthopedics", "multimodal", "benchmark"],
            "verification_mode": mode,
        },
        "dataset_info": dataset_info_yaml(out_dir, configs, split="test"),
    }
    write_dataset_card(out_dir, card_template, pretty_name="SpineBench", stats=stats, extra=extra)
    manifest = write_manifest(
        out_dir, name="spinebench", version=version, versions=versions, stats=stats,
        extra={"verification_mode": mode, "n_k": n_k, "by_kind": by_kind, "sampling": sampling,
               "verification": verification, "audit_log": {"file": AUDIT_NAME, "entries": len(audit)}},
        attachments=[AUDIT_NAME])
    return {
        "out": str(out_dir),
        "version": version,
        "verification_mode": mode,
        "rows": {c: stats["configs"][c]["num_rows"] for c in BENCH_CONFIGS},
        "n_k": n_k,
        "candidates": len(res["items"]),
        "accepted": verification["accepted"],
        "fixed": verification["fixed"],
        "removed": len(removed),
        "dropped_pending": len(dropped),
        "agreement": res["agreement"],
        "content_hash": manifest["content_hash"],
        "audit_entries": len(audit),
        "seconds": round(time.perf_counter() - start, 2),
    }


def _release_audit(ws: Workspace, res: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every decision (with whether it counted) followed by one outcome entry per candidate."""
    latest = {i: it["round"] for i, it in res["items"].items()}
    out = []
    for e in ws.audit_entries():
        entry = {k: v for k, v in e.items() if k not in ("file_sha256",)}
        entry["counted"] = e["round"] == latest.get(e["item_id"])
        out.append(entry)
    for item_id, it in res["items"].items():
        out.append({"event": "outcome", "item_id": item_id, "config": it["config"], "status": it["status"],
                    "round": it["round"], "reviewers": it["reviewers"], "groups": it["groups"],
                    "changes": [{"field": f, "before": c["before"], "after": c["after"], "reviewers": c["reviewers"]}
                                for f, c in it["changes"].items()]})
    return out


def _corpus_license(corpus_dir: Path) -> str:
    from huggingface_hub import DatasetCard

    try:
        return DatasetCard.load(Path(corpus_dir) / "README.md").data.to_dict().get("license") or "other"
    except Exception:
        return "other"


def format_build(summary: Mapping[str, Any]) -> str:
    n = summary["n_k"]
    a = summary["agreement"]
    lines = [f"SpineBench {summary['version']} -> {summary['out']}  ({summary['seconds']} s)",
             f"items: {sum(n.values())} = text_mcq {n['text_mcq']} + image_mcq {n['image_mcq']} + report {n['report']}"
             f"  (configs: " + ", ".join(f"{c}={k}" for c, k in summary["rows"].items()) + ")",
             f"verification ({summary['verification_mode']}): {summary['candidates']} candidates -> accepted "
             f"{summary['accepted']}, fixed {summary['fixed']}, removed {summary['removed']}"
             + (f", dropped undecided {summary['dropped_pending']}" if summary["dropped_pending"] else ""),
             f"audit log: {summary['audit_entries']} entries ({AUDIT_NAME}, shipped with the release)",
             f"content hash: {summary['content_hash']}"]
    if a["items"]:
        lines.append(f"agreement: {a['items']} items seen by 2+ reviewers, {a['percent_agreement']}% agreement, "
                     f"Fleiss' kappa {a['fleiss_kappa']}")
    if summary["verification_mode"] != "clinician":
        lines.append(f"NOTE: verification mode is {summary['verification_mode']!r}: the card and manifest say so; "
                     "do not present this build as clinician-verified")
    return "\n".join(lines)
