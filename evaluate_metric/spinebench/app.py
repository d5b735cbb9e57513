"""The SpineBench metric Space: paste or upload model outputs, get the scores.

A small app on current Gradio (the Space's `sdk_version`), not evaluate's Gradio 3 widget: every
number comes from the metric module next to this file, so it matches `evaluate.load(...)`.
"""

import json
from pathlib import Path

import evaluate
import gradio as gr

# Load the sibling module file: works in a checkout and in the published metric Space alike.
module = evaluate.load(str(Path(__file__).with_name("spinebench.py")))

# Per-line keys besides prediction / reference / task: the metric's optional per-item inputs.
PER_ITEM = ("judge_scores", "judge_errors", "options", "subfield", "language", "ids", "reference_levels")
EXAMPLE = "\n".join(json.dumps(row, ensure_ascii=False) for row in (
    {"prediction": "The answer is B.", "reference": "B", "task": "text_mcq"},
    {"prediction": "答案：Ｃ", "reference": "C", "task": "text_mcq"},
    {"prediction": "I cannot answer this.", "reference": "A", "task": "image_mcq"},
))


def score_jsonl(text: str, bootstrap: int = 0) -> dict:
    """Score JSON lines ({"prediction", "reference", "task", optional per-item keys}) with the metric."""
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise gr.Error(f"line {n}: not valid JSON ({exc})") from None
        if not isinstance(row, dict) or not {"prediction", "reference", "task"} <= set(row):
            raise gr.Error(f"line {n}: needs an object with prediction, reference and task")
        rows.append(row)
    if not rows:
        raise gr.Error("no items: paste one JSON object per line")
    extra = {key: [row.get(key) for row in rows] for key in PER_ITEM if any(key in row for row in rows)}
    try:
        return module.compute(predictions=[r["prediction"] for r in rows], references=[r["reference"] for r in rows],
                              task=[r["task"] for r in rows], bootstrap=int(bootstrap), **extra)
    except (TypeError, ValueError) as exc:
        raise gr.Error(str(exc)) from None


def _read_upload(path: str | None) -> str:
    return Path(path).read_text(encoding="utf-8") if path else ""


with gr.Blocks(title="SpineBench metric") as demo:
    gr.Markdown("# SpineBench metric\nOne JSON object per line: `prediction` (the model's free text), `reference` "
                "(MCQ letter(s) or reference text) and `task` (`text_mcq`, `image_mcq`, `report`, `open_qa`); "
                "optional per item: " + ", ".join(f"`{k}`" for k in PER_ITEM) + ".  Or in Python: "
                "`evaluate.load(\"spinemed/spinebench\")` (needs `pip install spinemed`).")
    items = gr.Textbox(label="items (JSON lines)", value=EXAMPLE, lines=10)
    upload = gr.File(label="or upload a .jsonl file", file_types=[".jsonl", ".json", ".txt"], type="filepath")
    bootstrap = gr.Number(label="bootstrap resamples (0 = no confidence intervals)", value=0, precision=0, minimum=0, maximum=10000)
    run = gr.Button("Score", variant="primary")
    result = gr.JSON(label="scores")
    upload.change(_read_upload, upload, items)
    run.click(score_jsonl, [items, bootstrap], result)

if __name__ == "__main__":
    demo.launch()
