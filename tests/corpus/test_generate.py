"""Generation stage: prompt files, strict JSON parsing, offline rules, draft -> revision -> validation."""

import asyncio
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from spinemed.corpus.generate import Generator, Job, load_criteria, plan_jobs
from spinemed.corpus.offline_rules import RulesBackend, pcm_check
from spinemed.corpus.prompts import OutputParseError, load_prompt, load_prompts, parse_json_object
from spinemed.corpus.validate import detect_language, validate_row
from spinemed.deid.provenance import stamp_record
from spinemed.llm.base import ChatResult
from spinemed.llm.client import LLMClient
from spinemed.schema import ImageRef, SourceRecord

BUILDER = Path(__file__).resolve().parents[2] / "builders" / "spinemed_450k"
PROMPTS = load_prompts(BUILDER / "prompts")
CRITERIA = load_criteria(BUILDER / "criteria" / "v1.yaml")

PASSAGE_EN = (
    "Lumbar disc herniation most often affects the L4/5 and L5/S1 levels. "
    "Cauda equina syndrome requires urgent decompression within 48 hours of onset. "
    "Most patients with sciatica improve with non-operative care over six weeks."
)
PASSAGE_ZH = "腰椎间盘突出症最常见于L4/5和L5/S1节段。马尾综合征需要在发病48小时内急诊减压。大多数坐骨神经痛患者经六周保守治疗可好转。"


def _record(text, language="en", kind="passage", **kw):
    return SourceRecord(record_id=f"rec-{language}-{kind}", source_type="textbook", source_id="isbn:demo", kind=kind,
                        language=language, text=text, title="Spine Surgery, ch. 3", locator="p. 57",
                        license="CC-BY-4.0", redistributable=True, source_file="textbooks/ch3.md", **kw)


def _png(desc="Sagittal T2-weighted MRI of the lumbar spine"):
    buf = io.BytesIO()
    Image.new("RGB", (32, 48), (90, 90, 90)).save(buf, format="PNG")
    return buf.getvalue()


def _run(gen, job):
    stamp_record(job.record)  # what the pipeline's de-identification stage does before generation
    return asyncio.run(gen.run(job))


def _generator(backend=None, **kw):
    return Generator(LLMClient(backend or RulesBackend()), PROMPTS, CRITERIA, **kw)


# ---------------------------------------------------------------- prompts and parsing

def test_prompt_files_have_ids_versions_and_hashes():
    assert set(PROMPTS) == {"draft_mcq", "draft_open_qa", "draft_consultation", "draft_report", "revise", "pcm_check", "classify",
                            "image_relevance"}
    for p in PROMPTS.values():
        assert p.version and len(p.hash) == 16
        msgs = p.render(language_name="English", modality="text", task="mcq", facts_json="{}", draft_json="{}",
                        criteria_json="[]", taxonomy={"x": ("X", "X")})
        assert msgs[0]["content"].startswith(f"prompt: {p.id}@{p.version}")


def test_prompt_file_errors_are_clear(tmp_path):
    bad = tmp_path / "bad.md"
    bad.write_text("---\nid: x\n---\n## system\nhi\n", "utf-8")
    with pytest.raises(ValueError, match="version"):
        load_prompt(bad)
    bad.write_text("---\nid: x\nversion: 1\n---\n## system\nhi\n", "utf-8")
    with pytest.raises(ValueError, match="system.*user"):
        load_prompt(bad)


@pytest.mark.parametrize("text,expected", [
    ('{"a": 1}', {"a": 1}),
    ('Here you go:\n```json\n{"a": 2}\n```\nDone.', {"a": 2}),
    ('Sure! {"a": 3} hope this helps', {"a": 3}),
])
def test_parse_json_object_accepts_one_object(text, expected):
    assert parse_json_object(text) == expected


@pytest.mark.parametrize("text,msg", [
    ("", "empty"), ("no json here", "no JSON object"), ('{"a": 1,}', "invalid JSON"), ("[1, 2]", "no JSON object"),
    ('```json\n{"a":1}\n```\n```json\n{"b":2}\n```', "2 fenced blocks"),
])
def test_parse_json_object_rejects_garbage(text, msg):
    with pytest.raises(OutputParseError, match=msg):
        parse_json_object(text)


# ---------------------------------------------------------------- offline rules end to end

def _job(rec, task, language=None, images=(), levels=("L4-L5", "L5-S1"), subfield="lumbar_disc_herniation"):
    return Job(rec, task, language or rec.language, "image" if images else "text", subfield, list(levels), list(images))


@pytest.mark.parametrize("language,text", [("en", PASSAGE_EN), ("zh", PASSAGE_ZH)])
def test_offline_mcq_from_passage_is_valid_and_revised(language, text):
    out = _run(_generator(), _job(_record(text, language), "mcq"))
    assert out.row is not None, out.reason
    row = out.row
    assert row["language"] == language and row["task"] == "mcq"
    labels = [o["label"] for o in row["options"]]
    assert labels == ["A", "B", "C", "D"] and row["answer"] in labels
    correct = next(o["text"] for o in row["options"] if o["label"] == row["answer"])
    assert correct in (["lumbar disc herniation", "cauda equina syndrome"] if language == "en" else ["腰椎间盘突出症", "马尾综合征"])
    assert "_____" in row["question"]
    # revision applied the source-citation and explicit-levels criteria and recorded them
    assert "Spine Surgery, ch. 3" in row["explanation"]
    assert {"C03-cite-source"} <= set(row["generation"]["revisions"])
    assert row["generation"]["prompt_id"] == "draft_mcq@1" and row["generation"]["criteria_version"] == "v1"
    assert row["generation"]["backend"] == "offline"
    assert row["levels"] == ["L4-L5", "L5-S1"]
    assert row["messages"][0]["role"] == "user" and row["answer"] in row["messages"][1]["content"]


def test_offline_generation_is_deterministic():
    a = _run(_generator(), _job(_record(PASSAGE_EN), "mcq")).row
    b = _run(_generator(), _job(_record(PASSAGE_EN), "mcq")).row
    assert a == b


def test_offline_declines_without_facts_and_item_is_quarantined():
    out = _run(_generator(), _job(_record("The weather was pleasant that afternoon."), "mcq"))
    assert out.row is None and out.reason.startswith("draft: backend declined")


def test_image_mcq_from_figure_caption():
    rec = _record("", kind="figure", images=[ImageRef(path="f.png", label="Figure 3-2",
                  caption="Figure 3-2 Sagittal T2-weighted MRI showing lumbar disc herniation at L4/5.",
                  description="Sagittal T2-weighted MRI of the lumbar spine")],
                  context=["As shown in Figure 3-2, the L4/5 disc compresses the L5 root."])
    out = _run(_generator(), _job(rec, "mcq", images=[{"bytes": _png(), "path": "f.png"}], levels=["L4-L5"]))
    assert out.row is not None, out.reason
    assert out.row["modality"] == "image" and len(out.row["images"]) == 1
    assert "image" in out.row["question"].lower()


CASE_FIELDS = {
    "age": "46", "sex": "male", "chief_complaint": "Low back pain radiating to the left leg for 3 months",
    "history": "Pain worse on sitting, no bladder symptoms.", "physical_exam": "Straight leg raise test positive at 40 degrees on the left.",
    "imaging": "MRI: L4/5 left paracentral disc extrusion compressing the L5 nerve root.",
    "diagnosis": "Lumbar disc herniation, L4-L5", "procedure": "Microdiscectomy at L4-L5",
    "outcome": "Leg pain resolved at 6 weeks.",
}


@pytest.mark.parametrize("task", ["report", "consultation", "mcq"])
def test_offline_case_tasks(task):
    rec = _record("", kind="case", fields=dict(CASE_FIELDS))
    rec.source_type = "inpatient"
    out = _run(_generator(), _job(rec, task))
    assert out.row is not None, out.reason
    if task == "report":
        assert "L4-L5" in out.row["report"]["structured_findings"]
        assert "microdiscectomy" in out.row["report"]["treatment_patient"].lower()
    if task == "consultation":
        msgs = out.row["messages"]
        assert msgs[0]["role"] == "user" and msgs[-1]["role"] == "assistant"
        assert "C06-safety-net" in out.row["generation"]["revisions"]
    if task == "mcq":
        correct = next(o["text"] for o in out.row["options"] if o["label"] == out.row["answer"])
        assert correct == "lumbar disc herniation"


def test_plan_skips_consultation_for_literature_case_reports():
    rec = _record("", kind="case", fields=dict(CASE_FIELDS))
    rec.source_type = "case_report"
    tasks = [j.task for j in plan_jobs(rec, "lumbar_disc_herniation", [], [], ["en"])]
    assert tasks == ["report", "mcq"]


# ---------------------------------------------------------------- garbage from the model

class _ScriptedBackend:
    """Returns scripted outputs in order, then repeats the last one; counts calls."""

    name = "scripted"
    model = "scripted-1"

    def __init__(self, outputs):
        self.outputs = list(outputs)
        self.calls = 0

    async def complete(self, request):
        text = self.outputs[min(self.calls, len(self.outputs) - 1)]
        self.calls += 1
        return ChatResult(text=text, model=self.model, backend=self.name)


def test_invalid_json_is_retried_then_accepted():
    good = json.dumps({"question": "Which level?", "answer": "L4-L5 is the most commonly affected level."})
    revised = json.dumps({"item": json.loads(good), "changes": []})
    backend = _ScriptedBackend(["not json at all", good, revised])
    out = _run(_generator(backend), _job(_record(PASSAGE_EN), "open_qa"))
    assert out.row is not None, out.reason
    assert backend.calls == 3  # one garbage answer, one re-ask, one revision


def test_invalid_json_is_quarantined_after_bounded_retries():
    backend = _ScriptedBackend(["{broken"])
    out = _run(_generator(backend, json_retries=2), _job(_record(PASSAGE_EN), "open_qa"))
    assert out.row is None and "no valid JSON after 3 attempts" in out.reason
    assert backend.calls == 3


def test_wrong_shape_is_reasked():
    backend = _ScriptedBackend([json.dumps({"q": "x"})])
    out = _run(_generator(backend, json_retries=1), _job(_record(PASSAGE_EN), "open_qa"))
    assert out.row is None and "missing key 'question'" in out.reason and backend.calls == 2


def test_invalid_mcq_from_model_is_quarantined_by_validation():
    draft = {"question": "Q?", "options": {"A": "x", "B": "x", "C": "y"}, "answer": "E", "explanation": "e"}
    backend = _ScriptedBackend([json.dumps(draft), json.dumps({"item": draft, "changes": []})])
    out = _run(_generator(backend), _job(_record(PASSAGE_EN), "mcq"))
    assert out.row is None and out.reason.startswith("validation:")
    assert "3 options" in out.reason and "not distinct" in out.reason


# ---------------------------------------------------------------- validation and PCM rules

def test_language_detection():
    assert detect_language("Lumbar disc herniation at L4-L5") == "en"
    assert detect_language("腰椎间盘突出症，L4-L5节段，MRI示髓核突出") == "zh"
    assert detect_language("12 34") is None


def test_validate_report_requires_all_parts():
    row = {"task": "report", "language": "en", "modality": "text", "images": [], "subfield": "lumbar_stenosis",
           "case": "A 70-year-old with neurogenic claudication.",
           "report": {"structured_findings": "Stenosis at L4-L5.", "diagnosis": "Lumbar spinal stenosis"}}
    problems = validate_row(row)
    assert any("missing part(s): treatment_patient, treatment_evidence" in p for p in problems)


def test_validate_rejects_broken_image_and_language_mismatch():
    row = {"task": "open_qa", "language": "zh", "modality": "image", "images": [{"bytes": b"not an image", "path": "x.png"}],
           "subfield": "lumbar_stenosis", "question": "What is shown?", "answer": "Stenosis at L4-L5."}
    problems = validate_row(row)
    assert any("does not decode" in p for p in problems)
    assert any("language mismatch" in p for p in problems)


def test_offline_pcm_check_flags_region_and_modality_mismatch():
    assert pcm_check({"caption": "Figure 2 Sagittal T2 MRI of the lumbar spine", "image_description": "AP radiograph of the right knee"})["consistent"] is False
    assert pcm_check({"caption": "图3-1 腰椎MRI矢状位", "image_description": "Axial CT of the lumbar spine"})["consistent"] is False
    assert pcm_check({"caption": "Fig. 3.2: Lateral radiograph of the lumbar spine", "image_description": "Lateral X-ray of the lumbar spine"})["consistent"] is True


def test_a_record_that_was_not_scrubbed_or_changed_since_is_never_sent():
    """ask_json checks the de-identification stamp before it builds any request."""
    from spinemed.deid.provenance import UnscrubbedRecordError

    class Recording(RulesBackend):
        sent = 0

        async def complete(self, request):
            Recording.sent += 1
            return await super().complete(request)

    rec = _record(PASSAGE_EN)
    with pytest.raises(UnscrubbedRecordError, match="no de-identification stamp"):
        asyncio.run(_generator(Recording()).run(_job(rec, "mcq")))
    stamp_record(rec)
    rec.text += " Seen by Dr. Imre Okonkwo-Bayliss."  # changed after scrubbing
    with pytest.raises(UnscrubbedRecordError, match="changed after de-identification"):
        asyncio.run(_generator(Recording()).run(_job(rec, "mcq")))
    assert Recording.sent == 0
    stamp_record(rec)
    out = asyncio.run(_generator(Recording()).run(_job(rec, "open_qa")))
    assert Recording.sent >= 2 and out.job.record is rec
