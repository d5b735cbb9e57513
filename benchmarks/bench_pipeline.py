"""Scale benchmark of every non-LLM stage of the corpus build.

Synthesises N source items on disk (OCR-style markdown chapters with figures, plus inpatient
records carrying identifiers), then streams them through the same code the build uses:
adapters + PCM anchoring -> de-identification -> dedup (MinHash LSH) -> keyword
classification -> level parsing -> row assembly + validation -> parquet shards + manifest.
The LLM stages (PCM check, generation) are replaced by a fixed no-LLM row per record, so
the figure measures the pipeline's own cost, not a model's.

    python benchmarks/bench_pipeline.py                 # 20k items
    python benchmarks/bench_pipeline.py --n 457000      # the full corpus size

Prints items/s, peak RSS and RSS at checkpoints (memory must stay flat as N grows: records
stream in windows; only the dedup index grows, at about 1 KB per kept record).
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml
from PIL import Image

from spinemed import deid
from spinemed.corpus.classify import classification_text, keyword_classify
from spinemed.corpus.dedup import Deduper, dedup_text
from spinemed.corpus.deidentify import deidentify_record, load_images
from spinemed.corpus.generate import Job, assemble_row
from spinemed.corpus.sources import iter_sources
from spinemed.corpus.validate import validate_row
from spinemed.hub import DatasetFolderWriter, write_manifest
from spinemed.levels import parse_levels
from spinemed.schema import PIPELINE_VERSION, SourceIssue, SourceRecord, features_for

LEVELS = ["C3/4", "C4-5", "C5-C6", "C6/7", "T11", "T12", "L1", "L2/3", "L3-4", "L4/5", "L5/S1"]
LEVELS_ZH = LEVELS + ["腰4/5", "颈5/6", "第12胸椎"]
EN_SENTENCES = [
    "Patients with lumbar disc herniation at {lv} usually present with radicular pain in the matching dermatome.",
    "A Cobb angle of {n} degrees in adolescent idiopathic scoliosis is an indication for bracing when the Risser sign is {m}.",
    "MRI of the cervical spine showed cord compression at {lv} with T2 signal change in a {n}-year-old patient.",
    "Osteoporotic vertebral compression fracture of {lv} with {n}% height loss was treated with percutaneous kyphoplasty.",
    "Spinal tuberculosis destroyed the {lv} disc space and produced a paravertebral abscess measuring {n} mm.",
    "The Spinal Instability Neoplastic Score was {m} for a metastasis at {lv}, and separation surgery was discussed.",
    "HLA-B27 was positive and sacroiliitis was grade {m} in a patient with ankylosing spondylitis for {n} years.",
    "Degenerative spondylolisthesis at {lv} of Meyerding grade {m} was treated with decompression and TLIF.",
    "Neurogenic claudication limited walking to {n} metres because of lumbar spinal stenosis at {lv}.",
    "Total hip arthroplasty through a posterior approach relieved pain in {n} of {m} patients with osteoarthritis.",
]
ZH_SENTENCES = [
    "腰椎间盘突出症患者{lv}节段受累，直腿抬高试验{n}度阳性。",
    "青少年特发性脊柱侧凸Cobb角{n}度，Risser征{m}级，建议支具治疗。",
    "骨质疏松性椎体压缩骨折{lv}，椎体高度丢失{n}%，行经皮椎体后凸成形术。",
    "脊柱结核累及{lv}，椎旁脓肿大小约{n}毫米，需规范抗结核治疗{m}个月。",
    "强直性脊柱炎病史{n}年，HLA-B27阳性，骶髂关节炎{m}级。",
    "脊髓型颈椎病{lv}节段脊髓受压，JOA评分{n}分。",
]
CASE_EN = ("Mr {name} (MRN {mrn}, phone {phone}) was admitted on {date} to {hosp} with {lv} disc herniation; "
           "SLR positive at {n} degrees. {story} Attending: Dr. {doc}. Address: {addr}.")


_SYLLABLES = ["ka", "lo", "mi", "ner", "tus", "var", "pel", "dos", "ri", "gan", "te", "bul", "som", "ax", "quo"]
_HAN = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处府研"


def _filler(rng: random.Random, zh: bool) -> str:
    # random filler so synthetic paragraphs are as dissimilar as real ones (dedup must not
    # flag template siblings as near duplicates: that would skip later stages and flatter the figure)
    if zh:
        return "".join(rng.choice(_HAN) for _ in range(rng.randint(8, 16))) + "。"
    return " ".join("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))) for _ in range(rng.randint(6, 10))) + "."


def _paragraph(rng: random.Random, zh: bool, k: int) -> str:
    pool = ZH_SENTENCES if zh else EN_SENTENCES
    sents = [rng.choice(pool).format(lv=rng.choice(LEVELS_ZH if zh else LEVELS), n=rng.randint(5, 95), m=rng.randint(1, 5)) + " " + _filler(rng, zh)
             for _ in range(k)]
    return ("" if zh else " ").join(sents)


def synthesize(root: Path, n: int, seed: int = 0, per_chapter: int = 400) -> None:
    """N items: ~88% textbook passages, ~2% figures, ~10% inpatient records; ~2% exact duplicates."""
    rng = random.Random(seed)
    (root / "textbooks" / "images").mkdir(parents=True)
    (root / "inpatient").mkdir()
    png = io.BytesIO()
    Image.new("L", (96, 128), 120).save(png, format="PNG", pnginfo=None)
    catalog = []
    n_cases = n // 10
    n_chapter_items = n - n_cases
    chapter, made, prev = 0, 0, ""
    while made < n_chapter_items:
        zh = chapter % 3 == 2
        lines = [f"# Chapter {chapter}", ""]
        in_chapter = min(per_chapter, n_chapter_items - made)
        for i in range(in_chapter):
            if i % 50 == 49:  # a figure with its caption and a citing paragraph
                img = f"images/c{chapter}_f{i}.png"
                (root / "textbooks" / img).write_bytes(png.getvalue())
                label = f"图{chapter}-{i}" if zh else f"Figure {chapter}-{i}"
                lines += [f"![]({img})", "", f"{label} {'腰椎MRI矢状位' if zh else 'Sagittal MRI of the lumbar spine'}", ""]
                lines += [("如" + label + "所示，" if zh else f"As shown in {label}, ") + _paragraph(rng, zh, 2), ""]
                made += 2  # the figure and its citing paragraph are two records
                continue
            para = prev if (i % 50 == 7 and prev) else _paragraph(rng, zh, rng.randint(3, 5))
            prev = para
            lines += [para, ""]
            made += 1
        name = f"ch{chapter:05d}.md"
        (root / "textbooks" / name).write_text("\n".join(lines), "utf-8")
        catalog.append({"path": f"textbooks/{name}", "source_type": "textbook", "source_id": f"isbn:bench-{chapter}",
                        "title": f"Bench chapter {chapter}", "language": "zh" if zh else "en",
                        "license": "proprietary-sample", "redistributable": False})
        chapter += 1
    with open(root / "inpatient" / "cases.jsonl", "w", encoding="utf-8") as f:
        for i in range(n_cases):
            note = CASE_EN.format(name=f"Alex Morgan{i}", mrn=f"MR-{1000000 + i}", phone="(555) 014-2287",
                                  date="March 14, 2024", hosp="Lakeside General Hospital", lv=rng.choice(LEVELS),
                                  n=rng.randint(20, 70), doc="Jane Roe", addr="12 Elm Street, Springfield, IL 62704",
                                  story=_paragraph(rng, False, 3))
            rec = {"case_id": f"B-{i}", "record": {
                "name": f"Alex Morgan{i}", "mrn": f"MR-{1000000 + i}", "phone": f"(555) 01{i % 10}-{1000 + i % 9000}",
                "admission_date": "2024-03-14", "hospital": "Lakeside General Hospital", "age": rng.randint(20, 95),
                "chief_complaint": "Low back pain radiating to the left leg.",
                "diagnosis": f"Lumbar disc herniation {rng.choice(LEVELS)}"},
                "notes": [{"type": "Admission note", "date": "2024-03-14", "text": note}]}
            f.write(json.dumps(rec) + "\n")
    catalog.append({"path": "inpatient", "source_type": "inpatient", "source_id": "bench-hospital", "title": "Bench cases",
                    "language": "en", "license": "proprietary-sample", "redistributable": False})
    (root / "catalog.yaml").write_text(yaml.safe_dump({"sources": catalog}, allow_unicode=True), "utf-8")


def _prepare(rec: SourceRecord):
    """The per-record CPU work that parallelises: de-identification, classification, levels."""
    deidentify_record(rec)
    text = classification_text(rec)
    return rec, keyword_classify(text).subfield or rec.subfield_hint or None, parse_levels(text)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(root: Path, out: Path, workers: int, window: int = 2000) -> dict:
    configs = {"open_qa": features_for("open_qa")}
    writer = DatasetFolderWriter(out, configs, rows_per_shard=20000, default_config="open_qa")
    deduper = Deduper(threshold=0.8)
    counts = {"records": 0, "issues": 0, "duplicates": 0, "unclassified": 0, "published": 0, "invalid": 0}
    checkpoints = []
    start = time.perf_counter()
    pool = mp.get_context("fork").Pool(workers) if workers > 1 else None
    mapper = (lambda f, xs: pool.imap(f, xs, chunksize=64)) if pool else map
    generation = {"backend": "none", "model": "", "prompt_id": "bench", "prompt_hash": "", "revision_prompt_id": "",
                  "revision_prompt_hash": "", "criteria_version": "", "draft_hash": "", "revisions": []}

    def records():
        for entry in iter_sources(root):
            if isinstance(entry, SourceIssue):
                counts["issues"] += 1
                if counts["issues"] <= 3:
                    print("source issue:", entry.source_file, entry.reason, file=sys.stderr)
                continue
            yield entry

    try:
        for rec, subfield, levels in mapper(_prepare, records()):
            counts["records"] += 1
            if deduper.check(rec.record_id, dedup_text(rec)).status != "unique":
                counts["duplicates"] += 1
                continue
            if subfield is None:
                counts["unclassified"] += 1
                continue
            images = load_images(rec, root) if rec.kind == "figure" else []
            job = Job(rec, "open_qa", rec.language, "image" if images else "text", subfield, levels, images)
            item = {"question": rec.title or "Summarise.", "answer": rec.text or json.dumps(rec.fields, ensure_ascii=False)}
            row = assemble_row(job, item, generation)
            row["deid_version"] = deid.DEID_VERSION
            problems = validate_row(row)
            if problems:
                counts["invalid"] += 1
                if counts["invalid"] <= 3:
                    print("invalid:", rec.source_file, problems, file=sys.stderr)
                continue
            writer.add("open_qa", row)
            counts["published"] += 1
            if counts["records"] % 50000 == 0:
                checkpoints.append((counts["records"], round(_rss_mb())))
        writer.close()
    finally:
        if pool:
            pool.close()
            pool.join()
    write_manifest(out, name="bench", version="v0.0.0", versions={"pipeline": PIPELINE_VERSION, "criteria": "none",
                   "deid": deid.DEID_VERSION}, stats=writer.stats(), extra={})
    seconds = time.perf_counter() - start
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"seconds": round(seconds, 1), "items_per_s": round(counts["records"] / seconds), "peak_rss_mb": round(_rss_mb()),
            "peak_rss_worker_mb": round(children),
            "rss_checkpoints_mb": checkpoints, **counts}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20000, help="source items to synthesise (457000 = full corpus)")
    ap.add_argument("--workers", type=int, default=2, help="processes for deid/classify/levels (default 2 = the cores here)")
    ap.add_argument("--keep", type=Path, help="keep the synthesised sources and output in this folder")
    args = ap.parse_args(argv)
    base = args.keep or Path(tempfile.mkdtemp(prefix="spinemed-bench-"))
    src, out = base / "sources", base / "out"
    shutil.rmtree(src, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    synthesize(src, args.n)
    print(f"synthesised {args.n} items in {time.perf_counter() - t0:.1f} s under {src}", file=sys.stderr)
    result = run(src, out, args.workers)
    print(json.dumps({"n": args.n, "workers": args.workers, **result}, indent=1))
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
