"""PDF reader speed: text-layer pages per second and OCR pages per second (EN, ZH) per engine.

Builds its own PDFs with the sample generator (builders/spinemed_450k/sample_pdfs.py): a
text-layer book of `--pages` pages (headings, paragraphs, a table and a figure every few pages)
and scanned pages (150 dpi page images, EN and ZH) as image-only PDFs, then times
`spinemed.corpus.sources.pdf.read_pdf` end to end (page extraction, markdown, records).

    python benchmarks/bench_pdf.py                          # 60 text pages, 4 OCR pages per language
    python benchmarks/bench_pdf.py --pages 200 --ocr-pages 8 --workers 1 2
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spinemed import ocr  # noqa: E402
from spinemed.corpus.sources.pdf import read_pdf  # noqa: E402
from spinemed.schema import SourceIssue  # noqa: E402

_spec = importlib.util.spec_from_file_location("sample_pdfs", ROOT / "builders" / "spinemed_450k" / "sample_pdfs.py")
sp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sp)
_mss_spec = importlib.util.spec_from_file_location("mss", ROOT / "builders" / "spinemed_450k" / "make_sample_sources.py")
mss = importlib.util.module_from_spec(_mss_spec)
_mss_spec.loader.exec_module(mss)

ENTRY = {"source_type": "textbook", "source_id": "bench", "title": "bench", "language": "auto",
         "license": "proprietary-sample", "redistributable": False}
_PARA = ("Lumbar spinal stenosis is a narrowing of the central canal, the lateral recesses or the neural foramina "
         "that compresses the cauda equina or the exiting nerve roots; it is most common at L4-L5 in patients older "
         "than 60 years. Section {n} discusses neurogenic claudication, which is relieved by sitting or flexing forward.")


def text_book(pages: int) -> bytes:
    w = sp.PdfWriter()
    f = sp.Flow(w)
    fig = mss.sagittal_spine("t2", ["L1", "L2", "L3", "L4", "L5", "S1"], herniation=3)
    n = 0
    while f.n < pages:
        n += 1
        f.heading(f"{n}.1 Section {n}", 13)
        for k in range(3):
            f.para(_PARA.format(n=f"{n}.{k}"))
        if n % 3 == 0:
            f.para(f"Table {n}-1 Claudication by cause")
            f.table([["Feature", "Neurogenic", "Vascular"], ["Relief", "Sitting", "Standing still"],
                     ["Pulses", "Normal", "Reduced"]])
        if n % 4 == 0:
            f.figure(fig, f"Figure {n}-1 Sagittal T2-weighted MRI showing stenosis at L4-L5 (section {n}).", height=160)
    f.finish()
    return w.to_bytes()


def scan_book(lines, pages: int) -> bytes:
    w = sp.PdfWriter()
    for i in range(pages):
        im = w.image(sp.scanned_page(lines, seed=100 + i), jpeg=True)
        w.page(b"q %d 0 0 %d 0 0 cm /Im1 Do Q" % (sp.PAGE_W, sp.PAGE_H), {"Im1": im})
    return w.to_bytes()


def timed(path: Path, n_pages: int, **kw) -> dict:
    t = time.perf_counter()
    out = list(read_pdf(path, {**ENTRY, "root": str(path.parent)}, **kw))
    dt = time.perf_counter() - t
    issues = [o.reason for o in out if isinstance(o, SourceIssue)]
    return {"pages": n_pages, "seconds": round(dt, 2), "pages_per_s": round(n_pages / dt, 2),
            "records": len(out) - len(issues), "issues": issues[:3]}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=60, help="text-layer pages")
    ap.add_argument("--ocr-pages", type=int, default=4, help="scanned pages per language")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--engines", nargs="+", default=list(ocr.ENGINES))
    args = ap.parse_args(argv)
    results = {"cpus": os.cpu_count(), "text": {}, "ocr": {}}
    with tempfile.TemporaryDirectory() as tmp:
        book = Path(tmp) / "book.pdf"
        book.write_bytes(text_book(args.pages))
        for w in args.workers:
            results["text"][f"workers={w}"] = timed(book, args.pages, workers=w)
            print("text layer", w, results["text"][f"workers={w}"], flush=True)
        for lang, lines in (("en", sp._SCAN_EN), ("zh", sp._SCAN_ZH)):
            scan = Path(tmp) / f"scan_{lang}.pdf"
            scan.write_bytes(scan_book(lines, args.ocr_pages))
            for engine in args.engines:
                name = ocr.engine_name(engine)
                if name is None:
                    results["ocr"][f"{engine} {lang}"] = "not installed"
                    continue
                for w in args.workers:
                    key = f"{name} {lang} workers={w}"
                    results["ocr"][key] = timed(scan, args.ocr_pages, workers=w, ocr_engine=engine)
                    print("ocr", key, results["ocr"][key], flush=True)
    print(json.dumps(results, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
