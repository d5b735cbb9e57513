"""The SpineBench paper's reported figures (data, as printed; not recomputed) and their check."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .formulas import BENCHMARK_COUNTS, TotalCheck, check_reported_total


@dataclass(frozen=True)
class PaperResult:
    """One row as *reported* in the SpineBench paper (percent, two decimals).

    `total` is the published total, which is not always consistent with the published
    components: use :func:`check_paper_table` / recompute instead of copying it.
    """

    model: str
    size: str
    closed_qa: float
    report: float | None = None
    total: float | None = None
    text_mcq: float | None = None
    image_mcq: float | None = None
    source: str = "SpineBench paper, main results table"


PAPER_RESULTS: tuple[PaperResult, ...] = (
    PaperResult("Gemini-2.5-Pro", ">100B", 88.50, 93.32, 89.23),
    PaperResult("GPT5-mini", "-", 85.83, 93.56, 87.01),
    PaperResult("GPT5", "-", 84.46, 91.60, 85.54, text_mcq=87.41, image_mcq=79.97),
    PaperResult("GLM-4.5V", "21B", 83.98, 79.24, 83.26, text_mcq=85.71, image_mcq=81.35),
    PaperResult("Qwen2.5-VL-72B", "72B", 82.75, 63.80, 79.88),
    PaperResult("Medgemma-27B", "27B", 82.34, 70.16, 76.66),
    PaperResult("Qwen2.5-VL-7B", "7B", 74.95, 54.52, 64.74, text_mcq=75.51, image_mcq=74.09),
    PaperResult("SpineGPT", "7B", 87.89, 87.24, 87.44, text_mcq=89.46),
    PaperResult("Claude4", "-", 79.67, source="SpineBench paper, text (closed QA only)"),
    PaperResult("GPT-4o", "-", 84.74, source="SpineBench paper, text (closed QA only)"),
)

# Human-vs-judge Pearson correlation range the paper reports over the ten dimensions.
PAPER_AGREEMENT_PEARSON = (0.382, 0.949)


def check_paper_table(
    rows: Iterable[PaperResult] = PAPER_RESULTS,
    counts: Mapping[str, int] = BENCHMARK_COUNTS,
    *,
    tolerance: float = 0.01,
) -> list[TotalCheck]:
    """Recompute every published total (and closed QA where the text/image split is published)."""
    n_closed = counts["text_mcq"] + counts["image_mcq"]
    checks = []
    for row in rows:
        if row.total is not None and row.report is not None:
            checks.append(
                check_reported_total(
                    {"closed_qa": row.closed_qa, "report": row.report},
                    {"closed_qa": n_closed, "report": counts["report"]},
                    row.total,
                    tolerance=tolerance,
                    label=row.model,
                )
            )
        if row.text_mcq is not None and row.image_mcq is not None:
            checks.append(
                check_reported_total(
                    {"text_mcq": row.text_mcq, "image_mcq": row.image_mcq},
                    {"text_mcq": counts["text_mcq"], "image_mcq": counts["image_mcq"]},
                    row.closed_qa,
                    tolerance=tolerance,
                    label=row.model,
                    quantity="closed_qa",
                )
            )
    return checks
