"""The SpineBench part of `spinemed demo`: sample -> packets -> simulated review -> release.

No clinicians are available on a demo machine, so the verification round-trip runs with the
simulated reviewers of :mod:`spinemed.bench.simulate` through the real export and import,
and the release says ``verification_mode: simulated`` in its card and manifest.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from .decontam import DEFAULT_THRESHOLD, check_overlap, write_decontaminated_corpus
from .release import build_spinebench
from .review import Workspace, export_packets
from .sample import sample_candidates
from .simulate import simulate_review

BENCH_NAME = "spinebench"
# The folder to train on and to publish as SpineMed-450k: the corpus build minus the bench.
RELEASE_NAME = "spinemed-450k-release"


def run_bench_demo(corpus_dir: Path, out_root: Path, *, seed: int = 0) -> dict[str, Any]:
    """Build the sample SpineBench and the decontaminated SpineMed-450k release from a corpus build.

    Writes ``out_root/spinebench`` (the benchmark), ``out_root/spinemed-450k-release`` (the
    corpus without bench items, their near duplicates and their source-record siblings) and ``out_root/spinebench.work``
    (review workspace: sample, packets, simulated filled packets, audit log).  Returns a
    summary dict (counts, paths, agreement, overlap: 0 after a real check of the release).
    """
    corpus_dir, out_root = Path(corpus_dir), Path(out_root)
    work = out_root / f"{BENCH_NAME}.work"
    if work.exists():  # a demo rerun starts the review from scratch
        shutil.rmtree(work)
    ws = Workspace(work)
    sample = sample_candidates(corpus_dir, seed=seed)
    ws.write_sample(sample)
    round1 = export_packets(work, groups=3, overlap=0.2, seed=seed)
    filled, imported = simulate_review(work, seed=seed)
    bench = build_spinebench(work, out_root / BENCH_NAME)
    release = write_decontaminated_corpus(out_root / BENCH_NAME, corpus_dir, out_root / RELEASE_NAME,
                                          progress=None)
    overlap = check_overlap(out_root / BENCH_NAME, out_root / RELEASE_NAME, threshold=DEFAULT_THRESHOLD)
    if not overlap.clean:  # would be a bug in the decontamination, never acceptable in a release
        raise RuntimeError(f"decontaminated release still overlaps SpineBench: {overlap.items[:3]}")
    return {
        "bench_dir": str(out_root / BENCH_NAME),
        "corpus_release_dir": str(out_root / RELEASE_NAME),
        "work_dir": str(work),
        "verification_mode": bench["verification_mode"],
        "sampling": {"scaled": sample["scaled"], "note": sample["note"], "targets": sample["targets"],
                     "selected": {c: r["selected"] for c, r in sample["configs"].items()}},
        "packets": [p["file"] for p in round1["packets"]],
        "filled_packets": [str(p) for p in filled],
        "decisions": imported.resolution["decisions"]["by_decision"],
        "bench": {"rows": bench["rows"], "n_k": bench["n_k"], "accepted": bench["accepted"],
                  "fixed": bench["fixed"], "removed": bench["removed"], "content_hash": bench["content_hash"],
                  "audit_entries": bench["audit_entries"]},
        "agreement": {k: bench["agreement"][k] for k in ("items", "percent_agreement", "fleiss_kappa",
                                                         "mean_cohen_kappa")},
        "corpus_release": {"rows_in": release["rows_in"], "rows_out": release["rows_out"],
                           "removed": release["removed"], "removed_by_reason": release["removed_by_reason"],
                           "content_hash": release["content_hash"]},
        "overlap": overlap.n_overlapping,
        "overlap_checked": overlap.n_checked,
    }


def format_bench_demo(summary: dict[str, Any]) -> str:
    """Terminal lines for the demo's SpineBench step."""
    b, r, a, s = summary["bench"], summary["corpus_release"], summary["agreement"], summary["sampling"]
    n = b["n_k"]
    kappa = "undefined" if a["fleiss_kappa"] is None else f"{a['fleiss_kappa']:.3f}"
    lines = [
        ("sampling: NOTE " if s["scaled"] else "sampling: ") + s["note"],
        f"review (SIMULATED reviewers, verification_mode: {summary['verification_mode']}): "
        f"{len(summary['packets'])} packets, decisions "
        + ", ".join(f"{k} {v}" for k, v in sorted(summary["decisions"].items()))
        + f"; agreement on {a['items']} double-reviewed items {a['percent_agreement']}%, Fleiss' kappa {kappa}",
        f"SpineBench -> {summary['bench_dir']}: {sum(n.values())} items = text_mcq {n['text_mcq']} + image_mcq "
        f"{n['image_mcq']} + report {n['report']} (accepted {b['accepted']}, fixed {b['fixed']}, removed {b['removed']}; "
        f"audit log {b['audit_entries']} entries)",
        f"SpineMed-450k release -> {summary['corpus_release_dir']}: {r['rows_in']} corpus rows - {r['removed']} "
        f"overlapping the bench = {r['rows_out']}; overlap re-checked: {summary['overlap']} of {summary['overlap_checked']}",
        f"Load: datasets.load_dataset('{summary['bench_dir']}', 'mcq', split='test')",
    ]
    return "\n".join(lines)
