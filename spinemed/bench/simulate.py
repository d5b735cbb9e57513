"""Simulated reviewers: a deterministic script that fills exported packets, for demos and tests.

There are no surgeons on a demo machine, so the round-trip is driven by a script that fills
the *exported CSV files* (read with the same reader the import uses, written as a
spreadsheet would save them) and imports them through the real import with
``mode="simulated"``; the release card and manifest then say ``verification_mode:
simulated``.  One simulated reviewer per group (``sim-<group>``) fills that group's packets.

The script, over items ranked by a seeded hash:
* the first item seen by a single group is removed (comment says it is simulated);
* the next 10% (at least one) are fixed by appending a sentence that says, in the item's
  language, that the edit is simulated and no clinician checked the item (MCQ: explanation;
  report: post-operative management), so the published text never claims a real review;
* everything else is accepted;
* items given to two groups: the second reviewer agrees, except on every fifth such item
  (the 3rd, 8th, ...), where accept and fix are swapped; the first such item is fixed by
  both (same correction), so agreement statistics have both categories to work with.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .review import ImportResult, Workspace, import_packets, read_packet_csv, write_packet_csv
from .review.packets import _unescape

SIM_NOTE = {
    "en": " (Edited in a simulated review: no clinician has checked this item.)",
    "zh": "（模拟审核修改：本题未经临床医生核对。）",
}
_FIX_FIELD = {"mcq": "explanation", "report": "postop_management"}


def _rank(seed: int, item_id: str) -> str:
    return hashlib.sha256(f"spinebench-sim:{seed}:{item_id}".encode()).hexdigest()


def plan_decisions(round_record: Mapping[str, Any], *, seed: int = 0) -> dict[tuple[str, str], str]:
    """{(packet_id, item_id): decision} for every row of a round's packets (see module docstring)."""
    groups_of: dict[str, list[str]] = {}
    for packet in round_record["packets"]:
        for item_id in packet["items"]:
            groups_of.setdefault(item_id, []).append(packet["packet_id"])
    order = sorted(groups_of, key=lambda i: _rank(seed, i))
    single = [i for i in order if len(groups_of[i]) == 1]
    removed = single[0] if single else order[0]
    rest = [i for i in order if i != removed]
    n_fix = max(1, math.ceil(0.1 * len(order))) if len(order) > 1 else 0
    first = {i: ("fix" if i in set(rest[:n_fix]) else "accept") for i in rest}
    first[removed] = "remove"
    plan: dict[tuple[str, str], str] = {}
    shared = [i for i in order if len(groups_of[i]) > 1 and i != removed]
    for item_id in order:
        packets = groups_of[item_id]
        plan[(packets[0], item_id)] = first[item_id]
        for extra in packets[1:]:
            plan[(extra, item_id)] = first[item_id]
    for j, item_id in enumerate(shared):
        primary, *others = groups_of[item_id]
        if j == 0:
            decision_1 = decision_2 = "fix"
        else:
            decision_1 = first[item_id]
            decision_2 = {"accept": "fix", "fix": "accept"}[decision_1] if j % 5 == 2 else decision_1
        plan[(primary, item_id)] = decision_1
        for extra in others:
            plan[(extra, item_id)] = decision_2
    if removed in groups_of and len(groups_of[removed]) > 1:  # every item is shared: all remove it
        for packet_id in groups_of[removed]:
            plan[(packet_id, removed)] = "remove"
    return plan


def simulate_review(work: str | os.PathLike, *, seed: int = 0, round_no: int | None = None,
                    corpus: str | os.PathLike | None = None) -> tuple[list[Path], ImportResult]:
    """Fill the packets of a round (default: the latest) and import them as simulated decisions.

    The filled files are kept in WORK/simulated/round-N/ for inspection; returns them and the
    import result.
    """
    ws = Workspace(work, corpus=corpus)
    rounds = ws.exports()["rounds"]
    if not rounds:
        raise ValueError(f"{ws.path}: no packets were exported yet (run export first)")
    record = rounds[-1] if round_no is None else next((r for r in rounds if r["round"] == round_no), None)
    if record is None:
        raise ValueError(f"{ws.path}: there is no round {round_no}")
    plan = plan_decisions(record, seed=seed)
    out_dir = ws.path / "simulated" / f"round-{record['round']}"
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for packet in record["packets"]:
        header, rows, _ = read_packet_csv(ws.path / packet["file"])
        reviewer = f"sim-{packet['group']}"
        filled = []
        for _, cells in rows:
            row = dict(zip(header, cells))
            decision = plan[(packet["packet_id"], row["item_id"])]
            row["reviewer_id"] = reviewer
            row["decision"] = decision
            if decision == "fix":
                field = _FIX_FIELD[packet["config"]]
                row[f"corrected_{field}"] = row[field] + SIM_NOTE[row["language"]]
                row["comment"] = "simulated reviewer: scripted edit"
            elif decision == "remove":
                row["comment"] = "simulated reviewer: scripted removal (no clinical judgement)"
            filled.append(row)
        path = out_dir / f"{packet['group']}-{packet['config']}-{reviewer}.csv"
        write_packet_csv(path, header, [{k: _raw(v) for k, v in r.items()} for r in filled])
        files.append(path)
    return files, import_packets(ws.path, files, mode="simulated", corpus=corpus)


def _raw(value: str) -> str:
    """Undo the export's spreadsheet guard before writing again (the writer re-applies it)."""
    return _unescape(value)
