"""Wall time of scoring a full-size SpineBench run (no judge calls).

Builds a synthetic benchmark with the paper's counts (294 text MCQ, 193 image MCQ, 87 reports
with judge scores) and realistic free-text outputs (English and Chinese phrasing, reasoning
before the answer, abbreviations, refusals, hedges, long reports naming vertebral levels),
then times `spinemed.scoring.score_predictions`.

    .venv/bin/python benchmarks/bench_scoring.py [--repeats 7] [--bootstrap 1000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from spinemed.scoring import BENCHMARK_COUNTS, DIMENSIONS, score_predictions

SUBFIELDS = ["lumbar_disc_herniation", "lumbar_stenosis", "degenerative_cervical", "spinal_trauma", "spinal_tumors", "opll_olf"]
LEVELS = ["C3-C4", "C4-C5", "C5-C6", "C6-C7", "T11-T12", "T12-L1", "L2-L3", "L3-L4", "L4-L5", "L5-S1"]
EN_REASONING = (
    "The patient is a 58-year-old man with low back pain radiating to the left leg. CT and MRI show "
    "a paracentral disc herniation; T2WI shows high signal. ACDF is not relevant here, and HLA-B27 is "
    "negative, so ankylosing spondylitis (option A is tempting) is unlikely. DISH would show flowing "
    "ossification. Considering the S1 dermatome and the reflex changes, "
)
ZH_REASONING = "患者男性，58岁，腰痛伴左下肢放射痛。MRI示腰4/5椎间盘突出，T2WI信号增高，HLA-B27阴性。综合分析，"


def _mcq_output(rng: random.Random, answer: str, language: str) -> str:
    """A model output that is correct, wrong, refused, hedged or empty, in varied phrasing."""
    roll = rng.random()
    letter = answer if roll < 0.8 else rng.choice([c for c in "ABCDE" if c not in answer])
    if roll > 0.97:
        return rng.choice(["", "I cannot provide a diagnosis without more information.", "无法确定，需要更多信息。"])
    if roll > 0.94:
        return "It could be A or B, depending on the imaging."
    if language == "zh":
        return ZH_REASONING + rng.choice([f"答案是{letter}", f"故选{letter}。", f"答案：{letter}", f"本题选{letter}"])
    return EN_REASONING + rng.choice(
        [f"the answer is {letter}.", f"**Answer: {letter}**", f"\\boxed{{{letter}}}", f"<answer>{letter}</answer>",
         f"Answer: {letter}. Explanation: A is wrong because the findings are segmental."]
    )


def _report(rng: random.Random, levels: list[str], language: str) -> str:
    named = ", ".join(levels)
    if language == "zh":
        return (
            f"影像学所见：{named}椎间盘突出，硬膜囊受压，T2WI信号减低。\n诊断：{named}椎间盘突出症。\n"
            "治疗建议：保守治疗6周，无效则行椎间孔镜下髓核摘除术。\n风险与预后：复发率约5%-10%。\n"
            "术后管理：佩戴腰围4周，逐步功能锻炼。\n诊断依据：症状、体征与MRI表现一致。"
        ) * 2
    return (
        f"Structured findings: disc herniation at {named} with thecal sac compression; T2 hypointense disc.\n"
        f"Diagnosis: lumbar disc herniation at {named}, left S1 radiculopathy.\n"
        "Treatment (patient): rest, physiotherapy and pain control for six weeks; surgery if weakness worsens.\n"
        f"Treatment (evidence-based): microdiscectomy at {levels[0]} if conservative care fails (NASS guideline).\n"
        "Risk and prognosis: recurrence 5-10%, dural tear 1-3%.\nPost-op: early mobilisation, no lifting for 6 weeks.\n"
        "Diagnostic basis: dermatomal pain, positive straight-leg raise, MRI concordant with the symptoms."
    ) * 2


def build(seed: int = 0):
    rng = random.Random(seed)
    items, outputs, judge = [], [], []
    for kind in ("text_mcq", "image_mcq", "report"):
        for i in range(BENCHMARK_COUNTS[kind]):
            language = "zh" if rng.random() < 0.4 else "en"
            item = {"id": f"{kind}-{i}", "kind": kind, "language": language, "subfield": rng.choice(SUBFIELDS)}
            if kind == "report":
                ref_levels = sorted(rng.sample(LEVELS, rng.randint(1, 3)))
                pred_levels = sorted(set(ref_levels[:-1] + rng.sample(LEVELS, 1))) or ref_levels
                item["reference"] = _report(rng, ref_levels, language)
                items.append(item)
                outputs.append(_report(rng, pred_levels, language))
                judge.append({d: rng.randint(2, 5) for d in DIMENSIONS})
            else:
                answer = "".join(sorted(rng.sample("ABCDE", 2))) if rng.random() < 0.05 else rng.choice("ABCDE")
                item["answer"] = answer
                items.append(item)
                outputs.append(_mcq_output(rng, answer, language))
                judge.append(None)
    return items, outputs, judge


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--bootstrap", type=int, default=1000, help="resamples for the second timing")
    args = parser.parse_args(argv)
    items, outputs, judge = build()
    score_predictions(items, outputs, judge)  # warm-up: compiles the extraction / level regexes

    for label, kwargs in (("no CI", {}), (f"bootstrap={args.bootstrap}", {"bootstrap": args.bootstrap})):
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            res = score_predictions(items, outputs, judge, **kwargs)
            times.append(time.perf_counter() - start)
        print(
            f"score_predictions, {res['counts']['total']} items ({label}): "
            f"median {statistics.median(times) * 1000:.1f} ms, best {min(times) * 1000:.1f} ms over {args.repeats} runs"
        )
    s = res["scores"]
    print(
        f"  P1 {s['text_mcq']:.2f}  P2 {s['image_mcq']:.2f}  P3 {s['report']:.2f}  total {s['total']:.2f}  "
        f"unparsed {sum(a['unparsed'] for a in res['answers'].values())}  "
        f"refused {sum(a['refused'] for a in res['answers'].values())}  level F1 {res['levels']['f1']:.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
