"""Resolution: the outcome of every candidate from the audit log, and its summary.

Per item, over the decisions of the latest round that has any (earlier rounds stay in the
log as superseded): any *remove* removes the item (a benchmark keeps only items every
reviewer would keep); otherwise any *fix* applies the union of the corrections, and two
different corrections of one field are a *conflict* that blocks the build until a later round
(``export --redo conflicts``) decides the item again; otherwise the item is accepted.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from typing import Any

from ..agreement import decision_agreement
from .workspace import DECISIONS, Workspace


def resolve(work: str | os.PathLike | Workspace) -> dict[str, Any]:
    """The outcome of every candidate from the audit log (see the module docstring's rules).

    Returns {"items": {id: {config, status, round, decisions {reviewer: decision}, reviewers,
    groups, changes {field: {before, after, reviewers}}, comments, superseded}}, "counts",
    "pending", "conflicts", "agreement", "decisions", "modes", "rounds"}.
    """
    ws = work if isinstance(work, Workspace) else Workspace(work)
    config_of = ws.candidate_ids()
    entries = ws.audit_entries()
    by_item: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        by_item.setdefault(e["item_id"], []).append(e)
    items: dict[str, dict[str, Any]] = {}
    conflicts = []
    for item_id, config in config_of.items():
        es = by_item.get(item_id, [])
        if not es:
            items[item_id] = {"config": config, "status": "pending", "round": None, "decisions": {}, "reviewers": [],
                              "groups": [], "changes": {}, "comments": [], "superseded": 0, "modes": []}
            continue
        latest = max(e["round"] for e in es)
        counted = [e for e in es if e["round"] == latest]
        decisions = {e["reviewer"]: e["decision"] for e in counted}
        changes: dict[str, dict[str, Any]] = {}
        conflict = []
        for e in counted:
            if e["decision"] != "fix":
                continue
            for c in e["changes"]:
                cur = changes.get(c["field"])
                if cur is None:
                    changes[c["field"]] = {"before": c["before"], "after": c["after"], "reviewers": [e["reviewer"]]}
                elif cur["after"] == c["after"]:
                    cur["reviewers"].append(e["reviewer"])
                else:
                    values = {r: cur["after"] for r in cur["reviewers"]}
                    conflict.append({"field": c["field"], "values": {**values, e["reviewer"]: c["after"]}})
        if "remove" in decisions.values():
            status = "removed"
        elif conflict:
            status = "conflict"
            for c in conflict:
                conflicts.append({"item_id": item_id, "round": latest, **c})
        elif "fix" in decisions.values():
            status = "fixed"
        else:
            status = "accepted"
        items[item_id] = {"config": config, "status": status, "round": latest, "decisions": decisions,
                          "reviewers": sorted(decisions), "groups": sorted({e["group"] for e in counted}),
                          "changes": changes if status == "fixed" else {},
                          "comments": [f"{e['reviewer']}: {e['comment']}" for e in counted if e["comment"]],
                          "superseded": len(es) - len(counted), "modes": sorted({e["mode"] for e in counted})}
    units: dict[tuple[str, int], dict[str, str]] = {}
    fixes: dict[tuple[str, int], dict[str, dict[str, str]]] = {}
    for e in entries:
        units.setdefault((e["item_id"], e["round"]), {})[e["reviewer"]] = e["decision"]
        if e["decision"] == "fix":  # two fixes agree only with the same corrected values
            fixes.setdefault((e["item_id"], e["round"]), {})[e["reviewer"]] = {
                c["field"]: c["after"] for c in e["changes"]}
    modes = Counter(e["mode"] for e in entries)
    return {
        "items": items,
        "counts": dict(Counter(it["status"] for it in items.values())),
        "pending": [i for i, it in items.items() if it["status"] == "pending"],
        "conflicts": conflicts,
        "agreement": decision_agreement(units, DECISIONS, fixes),
        "decisions": {"total": len(entries), "by_decision": dict(Counter(e["decision"] for e in entries)),
                      "superseded": sum(it["superseded"] for it in items.values()),
                      "fields_fixed": dict(Counter(c["field"] for e in entries for c in e["changes"])),
                      "reviewers": len({e["reviewer"] for e in entries}),
                      "groups": sorted({e["group"] for e in entries})},
        "modes": dict(modes),
        "rounds": len(ws.exports()["rounds"]),
    }


def verification_mode(resolution: Mapping[str, Any]) -> str:
    """"clinician", "simulated" or "mixed", from the modes of the decisions that count."""
    modes = {m for it in resolution["items"].values() for m in it["modes"]}
    if not modes:
        return "none"
    return next(iter(modes)) if len(modes) == 1 else "mixed"


def format_resolution(res: Mapping[str, Any]) -> str:
    c = res["counts"]
    d = res["decisions"]
    a = res["agreement"]
    total = sum(c.values())
    lines = [f"review: {total} candidates = accepted {c.get('accepted', 0)} + fixed {c.get('fixed', 0)} + removed "
             f"{c.get('removed', 0)} + conflict {c.get('conflict', 0)} + pending {c.get('pending', 0)}",
             f"decisions: {d['total']} by {d['reviewers']} reviewer(s) in group(s) {', '.join(d['groups']) or '-'} "
             f"over {res['rounds']} round(s): " + ", ".join(f"{k} {v}" for k, v in sorted(d["by_decision"].items()))
             + (f"; {d['superseded']} superseded by later rounds" if d["superseded"] else "")
             + (f"  [mode: {', '.join(f'{k} {v}' for k, v in sorted(res['modes'].items()))}]" if res["modes"] else "")]
    if d["fields_fixed"]:
        lines.append("fields fixed: " + ", ".join(f"{k} {v}" for k, v in sorted(d["fields_fixed"].items())))
    if a["items"]:
        kappa = "undefined" if a["fleiss_kappa"] is None else f"{a['fleiss_kappa']:.3f}"
        cohen = "undefined" if a["mean_cohen_kappa"] is None else f"{a['mean_cohen_kappa']:.3f}"
        lines.append(f"agreement on {a['items']} item(s) seen by 2+ reviewers: {a['percent_agreement']:.1f}% "
                     f"(all agree on {100 * a['all_agree']:.0f}%), Fleiss' kappa {kappa}, mean Cohen's kappa {cohen}"
                     + (f"  ({'; '.join(a['notes'])})" if a["notes"] else ""))
    else:
        lines.append("agreement: no item was decided by two or more reviewers yet")
    for conflict in res["conflicts"][:10]:
        values = "; ".join(f"{r}: {v[:60]!r}" for r, v in conflict["values"].items())
        lines.append(f"CONFLICT {conflict['item_id']} {conflict['field']}: {values}")
    if res["conflicts"]:
        lines.append("resolve conflicts with `spinemed bench export --work WORK --redo conflicts --group ADJ` and import it")
    return "\n".join(lines)
