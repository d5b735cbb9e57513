"""Export: the next round of review packets (round 1: every candidate; later rounds: a selection)."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from spinemed.fileio import atomic_write_json
from spinemed.schema import bench_kind

from .packets import image_names, packet_cells, packet_columns, write_packet_csv
from .resolution import resolve
from .workspace import _REVIEWER_RE, Workspace, _now

_README = """\
SpineBench review packets, round {round}
========================================

Files: one CSV per reviewer group and task type ({files}).
Open a CSV in Excel, LibreOffice or Numbers (UTF-8; Excel: double-click, or Data > From Text/CSV).
Images are in images/; the `images` column gives their paths relative to this folder.

For every row:
  reviewer_id   your reviewer code (e.g. R07; letters, digits, . _ -; no names)
  decision      accept  | fix  | remove      (接受 / 修改 / 删除 also work)
  corrected_*   only with decision = fix: the corrected value of that field; leave blank = unchanged
                (corrected_answer: the letter(s), e.g. B or AC; corrected_subfield: a slug from the card)
  comment       why; required for remove
Do not edit the other columns (they are checked on import), do not add columns.
Leave a row blank if you have not reviewed it yet; do not delete rows. Save as "CSV UTF-8"
(not plain "CSV") and send the whole file back.

SpineBench 审核表（第 {round} 轮）
每行一题。请填写：reviewer_id（审核人编号，如 R07，勿填姓名）、decision（接受 / 修改 / 删除，
或 accept / fix / remove）、corrected_*（仅在“修改”时填写该字段修改后的内容，留空表示不变）、
comment（说明理由；“删除”时必填）。其他列请勿改动，也不要增加列。未审核的行请留空，不要删除行。
保存时请选择“CSV UTF-8（逗号分隔）”，并发回完整文件。
"""


def _assign_groups(ids: Sequence[str], rows: Mapping[str, Mapping[str, Any]], groups: Sequence[str],
                   overlap: float, seed: int) -> dict[str, list[str]]:
    """Deal items round-robin over groups in (kind, sub-field, language) order so every group
    gets a similar mix; the `overlap` share of items (seeded choice) also goes to the next group."""
    def h(item_id: str) -> str:
        return hashlib.sha256(f"spinebench-assign:{seed}:{item_id}".encode()).hexdigest()

    order = sorted(ids, key=lambda i: (bench_kind(rows[i]), rows[i]["subfield"], rows[i]["language"], h(i)))
    assigned: dict[str, list[str]] = {g: [] for g in groups}
    home = {}
    for n, item_id in enumerate(order):
        home[item_id] = n % len(groups)
        assigned[groups[home[item_id]]].append(item_id)
    if len(groups) > 1 and overlap > 0:
        n_overlap = max(1, int(round(overlap * len(ids))))
        for item_id in sorted(ids, key=h)[:n_overlap]:
            assigned[groups[(home[item_id] + 1) % len(groups)]].append(item_id)
    return assigned


def export_packets(
    work: str | os.PathLike,
    *,
    groups: Sequence[str] | int = 3,
    overlap: float = 0.2,
    seed: int = 0,
    redo: str | None = None,
    items: Sequence[str] | None = None,
    corpus: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Write the next round of review packets; returns the round record (also in exports.json).

    Round 1 covers every candidate.  Later rounds re-review a selection: ``redo`` =
    "conflicts" (conflicting corrections), "disagreements" (reviewers decided differently),
    "pending" (no decision yet) or ``items`` = explicit ids.  ``groups``: a number of groups
    (named g1, g2, ...) or their names; ``overlap``: share of items also given to a second
    group, so agreement can be measured (needs 2+ groups; with one group, have several
    reviewers fill the same packet).
    """
    ws = Workspace(work, corpus=corpus)
    if isinstance(groups, int):
        if groups < 1:
            raise ValueError(f"groups must be >= 1, got {groups}")
        groups = [f"g{i + 1}" for i in range(groups)]
    groups = list(groups)
    bad = [g for g in groups if not _REVIEWER_RE.match(g)]
    if bad or len(set(groups)) != len(groups):
        raise ValueError(f"group names must be unique codes of letters, digits, . _ - (got {groups})")
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be in [0, 1), got {overlap!r}")
    config_of = ws.candidate_ids()
    exports = ws.exports()
    round_no = len(exports["rounds"]) + 1
    if round_no == 1:
        if redo or items:
            raise ValueError("the first round reviews every candidate; --redo / --items are for later rounds")
        selected = list(config_of)
    else:
        if not redo and not items:
            raise ValueError("round 1 was already exported; to re-review items pass "
                             "redo=conflicts|disagreements|pending or items")
        if items:
            unknown = [i for i in items if i not in config_of]
            if unknown:
                raise ValueError(f"unknown item id(s) {unknown[:5]}: not candidates of {ws.path}")
            selected = list(dict.fromkeys(items))
        else:
            res = resolve(ws)
            if redo == "conflicts":
                selected = [c["item_id"] for c in res["conflicts"]]
            elif redo == "disagreements":
                selected = [i for i, it in res["items"].items() if len(set(it["decisions"].values())) > 1]
            elif redo == "pending":
                selected = list(res["pending"])
            else:
                raise ValueError(f"redo must be conflicts, disagreements or pending, not {redo!r}")
            selected = list(dict.fromkeys(selected))
        if not selected:
            raise ValueError(f"nothing to re-review: no item matches redo={redo!r}")
    rows = ws.candidate_rows(selected)
    assignment = _assign_groups(selected, rows, groups, overlap, seed)
    out_dir = ws.packets_dir / f"round-{round_no}"
    if out_dir.exists():
        shutil.rmtree(out_dir)  # left by an export that died before registering the round
    (out_dir / "images").mkdir(parents=True)
    packets = []
    for group in groups:
        for config in ("mcq", "report"):
            ids = [i for i in assignment[group] if config_of[i] == config]
            if not ids:
                continue
            packet_id = f"r{round_no}-{group}-{config}"
            path = out_dir / f"{group}-{config}.csv"
            table = []
            for item_id in ids:
                row = rows[item_id]
                for name, img in zip(image_names(row), row.get("images") or []):
                    (out_dir / name).write_bytes(img["bytes"])
                cells = packet_cells(row, config, packet_id)
                table.append({c: cells.get(c, "") for c in packet_columns(config)})
            write_packet_csv(path, packet_columns(config), table)
            packets.append({"packet_id": packet_id, "round": round_no, "group": group, "config": config,
                            "file": path.relative_to(ws.path).as_posix(),
                            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "items": ids})
    files = ", ".join(Path(p["file"]).name for p in packets)
    (out_dir / "README.txt").write_text(_README.format(round=round_no, files=files), encoding="utf-8")
    record = {"round": round_no, "created_at": _now(), "groups": groups, "overlap": overlap, "seed": seed,
              "redo": redo or ("items" if items else None), "items": len(selected),
              "folder": out_dir.relative_to(ws.path).as_posix(), "packets": packets}
    exports["rounds"].append(record)
    atomic_write_json(ws.exports_file, exports)
    return record
