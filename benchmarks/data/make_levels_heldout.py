"""Writes levels_heldout.jsonl: a held-out level-label set, templated from phrase lists written
after the finding rules of spinemed/levels.py were done and never used to change a rule.

Each template names its gold levels through slots ({lesion} is a level the finding is about,
{other} a level named for something else), so the gold labels follow from the template, not
from any parser.  Deterministic (seeded).

    python benchmarks/data/make_levels_heldout.py     # rewrites benchmarks/data/levels_heldout.jsonl
"""

from __future__ import annotations

import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent / "levels_heldout.jsonl"

SEGMENTS = [("L2-L3", "L2/3", "腰2/3"), ("L3-L4", "L3/4", "腰3/4"), ("L4-L5", "L4-5", "腰4/5"),
            ("L5-S1", "L5/S1", "腰5骶1"), ("C4-C5", "C4-5", "颈4/5"), ("C5-C6", "C5/6", "颈5/6"),
            ("C6-C7", "C6-7", "颈6/7"), ("T11-T12", "T11/12", "胸11/12")]
BODIES = [("T12", "T12", "胸12"), ("L1", "L1", "腰1"), ("L2", "L2", "腰2"), ("T8", "T8", "胸8"), ("C7", "C7", "颈7")]

# (language, trap, template, gold slots): {seg}/{body} are lesion levels, {oseg}/{obody} are
# other levels (a distinct segment / body) named for something that is not the finding.
TEMPLATES = [
    ("en", "plain", "Imaging demonstrates a sizeable extruded fragment at {seg}.", ["seg"]),
    ("en", "plain", "There is marked loss of height of the {body} body after a fall.", ["body"]),
    ("en", "plain", "Facet hypertrophy and ligamentum flavum thickening narrow the canal at {seg}.", ["seg"]),
    ("en", "plain", "A lytic lesion replaces most of {body}.", ["body"]),
    ("en", "dermatome", "He reports tingling down the leg in an {obody} pattern; the scan shows a protrusion at {seg}.",
     ["seg"]),
    ("en", "dermatome", "Loss of pinprick in the {obody} dermatome on the left.", []),
    ("en", "dermatome", "Diminished feeling in the {obody} territory, attributed to stenosis at {seg}.", ["seg"]),
    ("en", "myotome", "Hip flexion ({obody}) was graded 4/5; {seg} showed a large herniation.", ["seg"]),
    ("en", "myotome", "Testing of the {obody} myotome was normal.", []),
    ("en", "root", "The herniated {seg} disc displaces the {obody} nerve root posteriorly.", ["seg"]),
    ("en", "construct", "He was stabilised with a {oseg} construct for the {body} fracture.", ["body"]),
    ("en", "construct", "Prior arthrodesis at {oseg}; the new complaint is stenosis at {seg}.", ["seg"]),
    ("en", "construct", "Hardware extends from {obody} to the ilium without loosening.", []),
    ("en", "count", "A lumbosacral transitional vertebra was labelled {obody}, and the symptomatic level is {seg}.",
     ["seg"]),
    ("en", "count", "The tip of the conus lies at {obody}.", []),
    ("en", "negated", "Levels above {oseg} show no abnormality.", []),
    ("en", "negated", "{oseg} is unremarkable; at {seg} there is a broad protrusion.", ["seg"]),
    ("en", "negated", "No evidence of fracture involving {obody}.", []),
    ("en", "negated", "There is no foraminal narrowing at {oseg}, whereas {seg} is severely narrowed.", ["seg"]),
    ("zh", "plain", "{seg}椎间盘向后突出，硬膜囊明显受压。", ["seg"]),
    ("zh", "plain", "{body}椎体楔形压缩变扁。", ["body"]),
    ("zh", "plain", "CT示{body}椎体骨质破坏。", ["body"]),
    ("zh", "dermatome", "{obody}皮节区针刺觉减退，MRI示{seg}椎间盘突出。", ["seg"]),
    ("zh", "dermatome", "患者{obody}支配区皮肤麻木。", []),
    ("zh", "myotome", "股四头肌肌力（{obody}）4级。", []),
    ("zh", "root", "{seg}椎间盘脱出，{obody}神经根受压移位。", ["seg"]),
    ("zh", "construct", "{body}骨折，行{oseg}椎弓根螺钉内固定。", ["body"]),
    ("zh", "construct", "{oseg}内固定术后5年，现{seg}椎管狭窄。", ["seg"]),
    ("zh", "count", "{obody}为移行椎。", []),
    ("zh", "negated", "{oseg}椎间盘未见突出。", []),
    ("zh", "negated", "{oseg}未见明显狭窄，{seg}椎管重度狭窄。", ["seg"]),
    ("zh", "negated", "{obody}椎体未见骨折征象。", []),
]


def main() -> None:
    rng = random.Random(20261206)
    rows = []
    for _k in range(2):  # two fillings of each template, different levels and notations
        for lang, trap, template, gold_slots in TEMPLATES:
            seg, oseg = rng.sample(SEGMENTS, 2)
            body, obody = rng.sample(BODIES, 2)
            col = 2 if lang == "zh" else rng.choice((0, 1))
            values = {"seg": seg[col], "oseg": oseg[col], "body": body[col], "obody": obody[col]}
            gold_of = {"seg": seg[0], "body": body[0]}
            text = template.format(**values)
            rows.append({"id": f"h{len(rows) + 1:03d}", "language": lang, "trap": trap, "origin": "template",
                         "text": text[0].upper() + text[1:], "levels": sorted({gold_of[s] for s in gold_slots})})
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    print(f"{len(rows)} sentences -> {OUT}")


if __name__ == "__main__":
    main()
