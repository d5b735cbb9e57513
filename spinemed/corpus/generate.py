"""Stage 6: two-stage generation (draft, then revision against clinician criteria).

Every job renders a versioned prompt with the record's structured facts, asks the backend
for a JSON draft, asks again for a revision against the criteria file, then assembles the
published row.  Output that is not the requested JSON is re-asked with the parse error a
bounded number of times, then quarantined; no item is invented by the pipeline itself.

Every request is built from one source record by `Generator.ask_json`, which first checks the
record's de-identification stamp (`spinemed.deid.provenance.verify_record`: raises
`UnscrubbedRecordError` for a record that was never scrubbed or changed since) and tags the
request with the record's source type (endpoint routing) and stamp.  The PCM check and the
classification go through `ask_json` too, so no prompt text reaches a backend any other way.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..deid.provenance import verify_record
from ..levels import canonical_level, level_sort_key, parse_levels
from ..llm.base import ChatRequest, LLMError
from ..llm.images import text_and_images_content
from ..schema import PIPELINE_VERSION, REPORT_PARTS, REPORT_SECTION_TITLES, SUBFIELDS, SourceRecord, stable_id, subfield_group
from .classify import classification_text
from .prompts import LANGUAGE_NAMES, OutputParseError, PromptTemplate, dumps_facts, parse_json_object
from .step import PipelineStep, Window
from .validate import row_text, validate_row

# Which tasks each kind of source record yields (modality follows the record: figures and
# volumes are image items; question-bank items are image items when they carry an image).
DEFAULT_PLAN = {
    "passage": ["mcq", "open_qa"],
    "figure": ["mcq", "open_qa"],
    "mcq": ["mcq"],
    "case": ["report", "consultation", "mcq"],
    "volume": ["mcq", "consultation", "open_qa"],
}
# Case reports from the literature are not consultations: the paper simulates dialogue from
# hospital records and 3D datasets only.
NO_CONSULTATION_SOURCES = {"case_report"}


@dataclass(frozen=True)
class Criteria:
    version: str
    items: tuple  # dicts with id, tasks, text, text_zh
    sha256: str

    def for_task(self, task: str, language: str) -> list[dict]:
        return [{"id": c["id"], "criterion": c["text_zh"] if language == "zh" and c.get("text_zh") else c["text"]}
                for c in self.items if task in c["tasks"]]


def load_criteria(path: str | Path) -> Criteria:
    path = Path(path)
    raw_text = path.read_text("utf-8")
    raw = yaml.safe_load(raw_text)
    if not isinstance(raw, dict) or "version" not in raw or not raw.get("criteria"):
        raise ValueError(f"{path}: criteria file needs 'version' and a non-empty 'criteria' list")
    ids = [c.get("id") for c in raw["criteria"]]
    if len(set(ids)) != len(ids) or None in ids:
        raise ValueError(f"{path}: criteria ids must be present and unique")
    return Criteria(version=str(raw["version"]), items=tuple(raw["criteria"]),
                    sha256=hashlib.sha256(raw_text.encode("utf-8")).hexdigest())


@dataclass
class Job:
    record: SourceRecord
    task: str
    language: str
    modality: str
    subfield: str
    levels: list[str]
    images: list[dict] = field(default_factory=list)  # {"bytes", "path"}
    level_source: str = "text"  # "label" when `levels` are the source's labels (record_levels)

    @property
    def item_id(self) -> str:
        return stable_id(self.record.record_id, self.task, self.language, self.modality, prefix=f"{self.task}-")


@dataclass
class JobOutcome:
    job: Job
    row: dict | None = None
    reason: str = ""  # quarantine reason when row is None
    stage: str = ""
    detail: dict = field(default_factory=dict)


# The SourceRecord.fields key a reader fills from a source's labels (DICOM severity labels per
# level, VerSe graded vertebrae): a list of levels.  Present (even empty) means the labels decide.
LABEL_LEVELS = "label_levels"
LEVEL_SOURCES = ("label", "text", "none")


def record_levels(rec: SourceRecord) -> tuple[list[str], str]:
    """The levels a record is about and where they came from (`level_source`): its source's
    labels (`label`) when its reader filled `fields["label_levels"]`, else the levels its text's
    findings are about (`text`; `none` when it names none).  A label that is not one vertebral
    level raises ValueError naming it (the build quarantines the record)."""
    if LABEL_LEVELS in rec.fields:
        labels = rec.fields[LABEL_LEVELS]
        if isinstance(labels, str) or not isinstance(labels, (list, tuple)):
            raise ValueError(f"{LABEL_LEVELS} must be a list of levels, not {type(labels).__name__}")
        levels = []
        for value in labels:
            canon = canonical_level(value) if isinstance(value, str) else None
            if canon is None:
                raise ValueError(f"{LABEL_LEVELS} holds {value!r}, which is not one vertebral level")
            levels.append(canon)
        return sorted(set(levels), key=level_sort_key), "label"
    levels = parse_levels(classification_text(rec))
    return levels, "text" if levels else "none"


def row_levels(row: dict, text: str | None = None) -> tuple[list[str], str]:
    """A published row's `levels` and `level_source`: a row whose levels came from its source's
    labels keeps them (the labels, not the generated text, are the truth); any other row gets
    the levels its text's findings are about (`text`, or `none`).  `text` defaults to `row_text`."""
    if row.get("level_source") == "label":
        return list(row.get("levels") or []), "label"
    levels = parse_levels(row_text(row) if text is None else text)
    return levels, "text" if levels else "none"


def plan_jobs(record: SourceRecord, subfield: str, levels: list[str], images: list[dict],
              languages: list[str], plan: dict | None = None, level_source: str = "text") -> list[Job]:
    """The (task, language, modality) jobs for one record, in a fixed order."""
    plan = plan or DEFAULT_PLAN
    modality = "image" if images and record.kind in ("figure", "volume", "mcq") else "text"
    jobs = []
    for task in plan.get(record.kind, []):
        if task == "consultation" and record.source_type in NO_CONSULTATION_SOURCES:
            continue
        for lang in languages:
            jobs.append(Job(record, task, lang, modality, subfield, levels, images if modality == "image" else [],
                            level_source))
    return jobs


def build_facts(job: Job) -> dict[str, Any]:
    """The structured facts a prompt carries; the only thing the generator may draw on."""
    rec = job.record
    facts: dict[str, Any] = {
        "task": job.task,
        "language": job.language,
        "modality": job.modality,
        "source": {"record_id": rec.record_id, "type": rec.source_type, "kind": rec.kind, "id": rec.source_id,
                   "title": rec.title, "locator": rec.locator, "language": rec.language},
        "subfield": job.subfield,
        "subfield_name": SUBFIELDS[job.subfield][1 if job.language == "zh" else 0],
        "levels": job.levels,
    }
    if rec.text:
        facts["text"] = rec.text
    if rec.kind == "figure":
        img = rec.images[0] if rec.images else None
        facts["figure"] = {"label": img.label if img else "", "caption": img.caption if img else "",
                           "context": rec.context, "description": img.description if img else ""}
    elif rec.kind == "mcq":
        facts["mcq"] = {k: rec.fields.get(k) for k in ("question", "options", "answer", "explanation")}
    elif rec.kind == "case":
        facts["case"] = rec.fields
        facts["figures"] = [{"label": i.label, "caption": i.caption} for i in rec.images]
    elif rec.kind == "volume":
        vol = dict(rec.fields)
        vol["description"] = "; ".join(i.description for i in rec.images if i.description)
        facts["volume"] = vol
    return facts


class Generator:
    """Runs jobs through draft -> revision -> validation with one LLM client.

    `gen_kwargs` are extra request parameters for every stage (``--gen-kwargs``, or
    ``generation.gen_kwargs`` in the builder YAML); `sent_params` keeps, per backend and model, the
    parameters as last sent (after the model's rules of `spinemed.llm.params`) for the manifest."""

    def __init__(self, client, prompts: dict[str, PromptTemplate], criteria: Criteria, *,
                 json_retries: int = 2, max_tokens: int | None = 2048, gen_kwargs: dict | None = None):
        self.client = client
        self.prompts = prompts
        self.criteria = criteria
        self.json_retries = json_retries
        self.max_tokens = max_tokens
        self.gen_kwargs = dict(gen_kwargs or {})
        self.sent_params: dict[str, dict] = {}

    async def ask_json(self, messages: list[dict], check=None, *, record: SourceRecord) -> tuple[dict, str]:
        """(parsed object, raw text).  Re-asks with the parse/shape error; raises OutputParseError.

        `record` is the source record the messages were rendered from: its de-identification
        stamp is verified before every request (`UnscrubbedRecordError` otherwise) and the
        request carries its source type (for routing) and stamp."""
        messages = list(messages)
        last_error = ""
        for _attempt in range(self.json_retries + 1):
            stamp = verify_record(record)
            req = ChatRequest(messages=tuple(messages), temperature=0.0, max_tokens=self.max_tokens,
                              response_format={"type": "json_object"}, route=record.source_type, deid_stamp=stamp,
                              extra=self.gen_kwargs)
            result = await self.client.chat(req)
            if result.params:
                self.sent_params[f"{result.backend}:{result.model}"] = {
                    k: v for k, v in result.params.items() if k != "model"}
            try:
                obj = parse_json_object(result.text)
                if "error" not in obj and check is not None:
                    check(obj)
                return obj, result.text
            except OutputParseError as exc:
                last_error = str(exc)
            except (KeyError, TypeError, ValueError) as exc:
                last_error = f"wrong shape: {exc}"
            messages = messages + [
                {"role": "assistant", "content": result.text},
                {"role": "user", "content": f"Your output could not be used ({last_error}). "
                                            "Return only the single JSON object described above."},
            ]
        raise OutputParseError(f"no valid JSON after {self.json_retries + 1} attempts: {last_error}")

    def backend_for(self, record: SourceRecord):
        """The backend a record's requests go to (a routing backend answers per source type)."""
        backend = self.client.backend
        return backend.backend_for(record.source_type) if hasattr(backend, "backend_for") else backend

    def _messages(self, prompt: PromptTemplate, job: Job, **ctx) -> list[dict]:
        msgs = prompt.render(language_name=LANGUAGE_NAMES[job.language], modality=job.modality, task=job.task, **ctx)
        if job.images:
            msgs[-1] = {"role": "user", "content": text_and_images_content(msgs[-1]["content"], [i["bytes"] for i in job.images])}
        return msgs

    async def run(self, job: Job) -> JobOutcome:
        facts = build_facts(job)
        facts_json = dumps_facts(facts)
        draft_prompt = self.prompts[f"draft_{job.task}"]
        revise_prompt = self.prompts["revise"]
        try:
            draft, draft_raw = await self.ask_json(self._messages(draft_prompt, job, facts_json=facts_json),
                                                   check=lambda o: _check_shape(job.task, o), record=job.record)
        except OutputParseError as exc:
            return JobOutcome(job, reason=f"draft: {exc}", stage="generate")
        except LLMError as exc:
            return JobOutcome(job, reason=f"draft: backend failed: {exc}", stage="generate")
        if "error" in draft:
            return JobOutcome(job, reason=f"draft: backend declined: {draft['error']}", stage="generate")
        criteria = self.criteria.for_task(job.task, job.language)
        try:
            revised, _ = await self.ask_json(
                self._messages(revise_prompt, job, facts_json=facts_json, draft_json=dumps_facts(draft),
                               criteria_json=json.dumps(criteria, ensure_ascii=False, indent=1)),
                check=lambda o: _check_shape(job.task, o["item"]), record=job.record)
        except OutputParseError as exc:
            return JobOutcome(job, reason=f"revision: {exc}", stage="generate", detail={"draft": draft})
        except LLMError as exc:
            return JobOutcome(job, reason=f"revision: backend failed: {exc}", stage="generate", detail={"draft": draft})
        item = revised["item"]
        changes = [str(c.get("criterion", "")) for c in revised.get("changes", []) if isinstance(c, dict)]
        backend = self.backend_for(job.record)
        generation = {
            "backend": getattr(backend, "name", ""),
            "model": getattr(backend, "model", ""),
            "prompt_id": f"{draft_prompt.id}@{draft_prompt.version}",
            "prompt_hash": draft_prompt.hash,
            "revision_prompt_id": f"{revise_prompt.id}@{revise_prompt.version}",
            "revision_prompt_hash": revise_prompt.hash,
            "criteria_version": self.criteria.version,
            "draft_hash": hashlib.sha256(draft_raw.encode("utf-8")).hexdigest()[:16],
            "revisions": sorted(set(c for c in changes if c)),
        }
        try:
            row = assemble_row(job, item, generation)
        except (KeyError, TypeError, ValueError) as exc:
            return JobOutcome(job, reason=f"assembly: {exc}", stage="validate", detail={"item": item})
        problems = validate_row(row)
        if problems:
            return JobOutcome(job, reason="validation: " + "; ".join(problems), stage="validate", detail={"item": item})
        return JobOutcome(job, row=row)


def _check_shape(task: str, obj: dict) -> None:
    """Raise KeyError/TypeError when a draft lacks the keys its task needs (triggers a re-ask)."""
    if "error" in obj:
        if not isinstance(obj["error"], str):
            raise TypeError("'error' must be a string")
        return
    need = {"mcq": ("question", "options", "answer"), "open_qa": ("question", "answer"),
            "consultation": ("messages",), "report": ("case", "report")}[task]
    for k in need:
        if k not in obj:
            raise KeyError(f"missing key {k!r}")
    if task == "mcq" and not isinstance(obj["options"], (dict, list)):
        raise TypeError("'options' must be an object of letter -> text")
    if task == "consultation" and not isinstance(obj["messages"], list):
        raise TypeError("'messages' must be a list")
    if task == "report" and not isinstance(obj["report"], dict):
        raise TypeError("'report' must be an object")


def _options_list(options) -> list[dict]:
    if isinstance(options, dict):
        return [{"label": str(k).strip().upper(), "text": str(v).strip()} for k, v in sorted(options.items())]
    return [{"label": str(o["label"]).strip().upper(), "text": str(o["text"]).strip()} for o in options]


def render_messages(row: dict) -> list[dict]:
    """The row as chat turns for training (images travel separately in `images`)."""
    zh = row["language"] == "zh"
    task = row["task"]
    if task == "mcq":
        opts = "\n".join(f"{o['label']}. {o['text']}" for o in row["options"])
        user = f"{row['question']}\n{opts}"
        lead = "答案：" if zh else "Answer: "
        assistant = f"{lead}{row['answer']}\n{('解析：' if zh else 'Explanation: ')}{row['explanation']}".strip()
        return [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    if task == "open_qa":
        return [{"role": "user", "content": row["question"]}, {"role": "assistant", "content": row["answer"]}]
    if task == "consultation":
        return [dict(m) for m in row["_dialogue"]]
    intro = "请根据以下病例资料撰写结构化诊断报告：\n" if zh else "Write a structured diagnostic report for this case:\n"
    body = "\n\n".join(f"## {REPORT_SECTION_TITLES[p][1 if zh else 0]}\n{row['report'][p]}" for p in REPORT_PARTS)
    return [{"role": "user", "content": intro + row["case"]}, {"role": "assistant", "content": body}]


def assemble_row(job: Job, item: dict, generation: dict) -> dict:
    rec = job.record
    row: dict[str, Any] = {
        "id": job.item_id,
        "task": job.task,
        "language": job.language,
        "modality": job.modality,
        "images": job.images,
        "subfield": job.subfield,
        "subfield_group": subfield_group(job.subfield),
    }
    if job.task == "mcq":
        row.update(question=str(item["question"]).strip(), options=_options_list(item["options"]),
                   answer="".join(sorted(set(str(item["answer"]).upper().replace(",", "").replace(" ", "")))),
                   explanation=str(item.get("explanation", "")).strip())
    elif job.task == "open_qa":
        row.update(question=str(item["question"]).strip(), answer=str(item["answer"]).strip())
    elif job.task == "consultation":
        dialogue = [{"role": str(m["role"]), "content": str(m["content"]).strip()} for m in item["messages"]]
        row.update(case=str(item.get("case", "")).strip(), _dialogue=dialogue)
    elif job.task == "report":
        rep = item["report"]
        row.update(case=str(item["case"]).strip(), report={p: str(rep.get(p, "") or "").strip() for p in REPORT_PARTS})
    dialogue = "\n".join(m["content"] for m in row["_dialogue"]) if job.task == "consultation" else None
    row["levels"], row["level_source"] = row_levels(
        {"level_source": "label", "levels": job.levels} if job.level_source == "label" else row, dialogue)
    row["messages"] = render_messages(row)
    row.pop("_dialogue", None)
    row["provenance"] = rec.provenance()
    row["generation"] = generation
    row["pipeline_version"] = PIPELINE_VERSION
    row["deid_version"] = ""  # set by the pipeline (it owns the de-identification stage)
    return row


class Generate(PipelineStep):
    """Plans each classified record's jobs (task x language x modality) and runs all jobs of a
    window concurrently through draft -> revision -> validation; `doc.outcomes` holds one
    outcome per job, in job order.  Stats: `items` (planned)."""

    name = "plan"
    progress_name, progress_unit, progress_failed = "generate", "item", "quarantined"

    def __init__(self, generator: Generator, plan: dict | None = None, languages: str = "auto"):
        super().__init__()
        if languages not in ("auto", "source", "both"):
            raise ValueError(f"generation.languages must be auto, source or both, not {languages!r}")
        self.generator = generator
        self.plan = plan or DEFAULT_PLAN
        self.languages = languages

    def languages_for(self, rec: SourceRecord) -> list[str]:
        """Both languages when asked for, or (auto) when the record's endpoint can translate."""
        if self.languages == "both" or (
                self.languages == "auto" and getattr(self.generator.backend_for(rec), "can_translate", True)):
            return ["en", "zh"]
        return [rec.language]

    async def process(self, window: Window) -> Window:
        planned = []
        for doc in window:
            rec = doc.record
            try:
                levels, level_source = record_levels(rec)
            except ValueError as exc:
                self.drop(doc, f"bad level labels: {exc}")
                continue
            doc.jobs = plan_jobs(rec, doc.subfield, levels, doc.images, self.languages_for(rec), self.plan, level_source)
            if not doc.jobs:
                self.drop(doc, f"no task is planned for record kind {rec.kind!r}")
                continue
            planned.append(doc)
        flat = [job for doc in planned for job in doc.jobs]
        self.stats["items"]["planned"] += len(flat)
        outcomes = await self.gather([self.generator.run(j) for j in flat], failed=lambda o: o.row is None)
        pos = 0
        for doc in planned:
            doc.outcomes = list(outcomes[pos:pos + len(doc.jobs)])
            pos += len(doc.jobs)
        return planned
