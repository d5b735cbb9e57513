"""The offline backend: deterministic, rule-based completions with no network.

It answers the same rendered prompts an OpenAI-compatible endpoint gets (it reads the
`prompt: <id>@<version>` line and the FACTS / DRAFT / CRITERIA JSON blocks), so the default
demo and the tests go through exactly the same draft -> revision -> validation path as a
real model.  What it can do is limited by design:
- it only writes from the structured facts it is given (cloze MCQs over lexicon terms,
  caption-based image MCQs, field-mapped reports and consultations) and never translates,
  so it declares `can_translate = False` and the planner only asks it for the source language;
- it cannot see pixels: for images it reads the description the source ships (PNG text
  chunk / alt text), which stands in for vision in the picture-context check.
Outputs that have no basis in the facts are returned as `{"error": ...}`; the pipeline then
quarantines the item with that reason instead of publishing an invented one.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import Any

from ..corpus.classify import keyword_classify
from ..corpus.pcm import region_modality_conflict
from ..corpus.prompts import extract_fenced_json, prompt_key_of
from ..lexicon import Term, load_lexicon
from ..schema import SUBFIELDS
from .base import ChatRequest, ChatResult, LLMError

DEFAULT_MODEL = "spinemed-offline-rules-v1"


class OfflineBackend:
    name = "offline"
    can_translate = False
    trusted = True  # runs in this process: nothing leaves the machine

    def __init__(self, model: str | None = None):
        self.model = model or DEFAULT_MODEL

    async def complete(self, request: ChatRequest) -> ChatResult:
        start = time.perf_counter()
        text = self.respond(list(request.messages))
        return ChatResult(text=text, model=self.model, backend=self.name, endpoint="offline",
                          latency_s=time.perf_counter() - start)

    # The dispatcher is synchronous so it can be unit-tested directly.
    def respond(self, messages: list[dict]) -> str:
        try:
            key = prompt_key_of(messages)
        except KeyError as exc:
            raise LLMError(f"offline backend: {exc}") from None
        prompt_id = key.split("@", 1)[0]
        user = _text_of(messages[-1]["content"])
        handler = _HANDLERS.get(prompt_id)
        if handler is None:
            raise LLMError(f"offline backend has no rules for prompt {key!r}")
        if prompt_id == "revise":
            out = handler(extract_fenced_json(user, "FACTS"), extract_fenced_json(user, "DRAFT"),
                          extract_fenced_json(user, "CRITERIA"))
        else:
            label = "FIGURE" if prompt_id == "pcm_check" else "TEXT" if prompt_id == "classify" else "FACTS"
            out = handler(extract_fenced_json(user, label))
        return json.dumps(out, ensure_ascii=False)


def _text_of(content) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(p.get("text", "") for p in content if p.get("type") == "text")


# ----------------------------------------------------------------------------- helpers

def _h(*parts: Any) -> int:
    """Deterministic choice source (stable across processes, unlike hash())."""
    blob = json.dumps(parts, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8")
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "big")


_EN_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")
_ZH_SENT = re.compile(r"(?<=[。！？；])")


def sentences(text: str, language: str) -> list[str]:
    text = re.sub(r"\s+", " ", text or "").strip()
    parts = _ZH_SENT.split(text) if language == "zh" else _EN_SENT.split(text)
    return [p.strip() for p in parts if len(p.strip()) > 3]


def _replace_term(sentence: str, surface: str, repl: str) -> str:
    return re.sub(re.escape(surface), repl, sentence, count=1, flags=re.I)


def _letters(n: int) -> str:
    return "ABCDE"[:n]


def _arrange(correct: str, distractors: list[str], seed: Any) -> tuple[dict, str]:
    """Options dict with the correct text at a deterministic position; returns (options, letter)."""
    opts = [correct, *distractors[:3]]
    order = sorted(range(len(opts)), key=lambda i: _h(seed, i, opts[i]))
    options = {letter: opts[i] for letter, i in zip(_letters(len(opts)), order)}
    answer = next(letter for letter, text in options.items() if text == correct)
    return options, answer


def _distractor_terms(term: Term, text: str, language: str, seed: Any, n: int = 3) -> list[str]:
    lex = load_lexicon()
    low = text.lower()
    pool = [t.text(language) for t in lex.same_category(term)
            if t.text(language).lower() not in low and t.text(language) != term.text(language)]
    pool = sorted(set(pool), key=lambda s: _h(seed, s))
    return pool[:n]


def _cite(facts: dict) -> str:
    src = facts.get("source", {})
    title, loc = src.get("title") or src.get("id", ""), src.get("locator", "")
    if facts["language"] == "zh":
        return f"（出处：《{title}》{('，' + loc) if loc else ''}）"
    return f"(Source: {title}{', ' + loc if loc else ''})"


def _levels_phrase(levels: list[str], language: str) -> str:
    if not levels:
        return ""
    return ("涉及节段：" + "、".join(levels) + "。") if language == "zh" else ("Levels involved: " + ", ".join(levels) + ".")


def _err(msg: str) -> dict:
    return {"error": msg}


# ----------------------------------------------------------------------------- MCQ

_CATEGORY_PRIORITY = ("diagnosis", "procedure", "sign", "measure", "imaging", "lab")


def _pick_cloze(text: str, language: str, seed: Any):
    """(term, sentence, distractors) for the most specific lexicon term with 3 distractors."""
    lex = load_lexicon()
    sents = sentences(text, language)
    terms = lex.terms_in(text, language)
    terms.sort(key=lambda t: (_CATEGORY_PRIORITY.index(t.category) if t.category in _CATEGORY_PRIORITY else 99,
                              -len(t.text(language))))
    for term in terms:
        surface = term.text(language)
        sent = next((s for s in sents if surface.lower() in s.lower()), None)
        if sent is None:
            continue
        distractors = _distractor_terms(term, text, language, seed)
        if len(distractors) == 3:
            return surface, sent, distractors
    return None


# A quantity with its unit: "5% to 15%", "48 hours", "2～4周", "30°～40°".
_NUM = r"\d+(?:\.\d+)?"
_UNIT = r"(?:%|°|\s?(?:hours?|days?|weeks?|months?|years?|mm|cm)\b|(?:小时|天|周|个月|月|年|岁|毫米|厘米))"
_QUANTITY_RE = re.compile(rf"{_NUM}\s?{_UNIT}?\s?(?:to|-|–|～|~|至)\s?{_NUM}\s?{_UNIT}|{_NUM}\s?{_UNIT}")


def _pick_numeric_cloze(text: str, language: str, seed: Any):
    """(quantity, sentence, distractors) for the first sentence stating a quantity with a unit;
    distractors scale every number in it (x2, x3, /2) so they stay plausible but wrong."""
    for sent in sentences(text, language):
        m = _QUANTITY_RE.search(sent)
        if not m:
            continue
        phrase = m.group(0).strip()
        distractors = []
        for factor in (2, 3, 0.5, 4):
            alt = re.sub(_NUM, lambda n: _scaled(n.group(0), factor), phrase)
            if alt != phrase and alt not in distractors and not _over_100_percent(alt):
                distractors.append(alt)
        if len(distractors) >= 3:
            return phrase, sent, distractors[:3]
    return None


def _scaled(number: str, factor: float) -> str:
    value = float(number) * factor
    return str(int(round(value))) if "." not in number else f"{value:.1f}"


def _over_100_percent(phrase: str) -> bool:
    return "%" in phrase and any(float(n) > 100 for n in re.findall(_NUM, phrase))


def draft_mcq(facts: dict) -> dict:
    lang, kind = facts["language"], facts["source"]["kind"]
    seed = (facts["source"].get("record_id"), "mcq", lang, facts["modality"])
    if kind == "mcq":
        bank = facts["mcq"]
        options = {str(k).strip().upper(): str(v).strip() for k, v in bank["options"].items()}
        answer = "".join(sorted(str(bank["answer"]).upper().replace(",", "").replace(" ", "")))
        expl = bank.get("explanation") or ""
        if not expl:
            expl = ("正确答案为" + answer + "。") if lang == "zh" else f"The correct answer is {answer}."
        return {"question": bank["question"].strip(), "options": options, "answer": answer, "explanation": expl}
    if facts["modality"] == "image":
        return _image_mcq(facts, seed)
    if kind == "case":
        return _case_mcq(facts, seed)
    text = facts.get("text", "")
    picked = _pick_cloze(text, lang, seed) or _pick_numeric_cloze(text, lang, seed)
    if picked is None:
        return _err("no lexicon term with enough same-category distractors and no quantitative statement in the source text")
    surface, sent, distractors = picked
    cloze = _replace_term(sent, surface, "_____")
    title = facts["source"].get("title", "")
    if lang == "zh":
        q = f"根据《{title}》，下列哪一项最适合填入空白处？\n“{cloze}”"
        expl = f"原文指出：“{sent}”"
    else:
        q = f'According to "{title}", which term best completes the statement?\n"{cloze}"'
        expl = f'The source states: "{sent}"'
    options, answer = _arrange(surface, distractors, seed)
    return {"question": q, "options": options, "answer": answer, "explanation": expl}


def _case_mcq(facts: dict, seed) -> dict:
    lang = facts["language"]
    case = facts.get("case", {})
    dx_text = _field(case, "diagnosis")
    lex = load_lexicon()
    dx_terms = [t for t in lex.terms_in(dx_text, lang) if t.category == "diagnosis"]
    if not dx_terms:
        return _err("case diagnosis names no lexicon diagnosis to build options from")
    term = dx_terms[0]
    presentation = _case_presentation(case, lang)
    distractors = _distractor_terms(term, dx_text + presentation, lang, seed)
    if len(distractors) < 3:
        return _err("not enough distractor diagnoses")
    options, answer = _arrange(term.text(lang), distractors, seed)
    if lang == "zh":
        q = f"{presentation}\n该患者最可能的诊断是？"
        expl = f"病例资料支持{term.zh}：{dx_text}"
    else:
        q = f"{presentation}\nWhat is the most likely diagnosis?"
        expl = f"The findings support {term.en}: {dx_text}"
    return {"question": q, "options": options, "answer": answer, "explanation": expl}


def _image_mcq(facts: dict, seed) -> dict:
    lang = facts["language"]
    if facts["source"]["kind"] == "volume":
        return _volume_mcq(facts, seed)
    fig = facts.get("figure", {})
    caption = _strip_label(fig.get("caption", ""))
    if not caption:
        return _err("figure has no caption")
    lex = load_lexicon()
    for term in lex.terms_in(caption, lang):
        distractors = _distractor_terms(term, caption, lang, seed)
        if len(distractors) == 3:
            surface = term.text(lang)
            alts = [_replace_term(caption, surface, d) for d in distractors]
            options, answer = _arrange(caption, alts, seed)
            q = "下列哪项描述与该图像最相符？" if lang == "zh" else "Which statement best describes this image?"
            expl = (f"图注：“{caption}”" if lang == "zh" else f'The figure caption reads: "{caption}"')
            return {"question": q, "options": options, "answer": answer, "explanation": expl}
    levels = facts.get("levels") or []
    if levels:
        true = levels[0]
        distractors = [lv for lv in _neighbour_levels(true) if lv not in levels][:3]
        if len(distractors) == 3:
            options, answer = _arrange(true, distractors, seed)
            q = "该图像显示的主要病变位于哪个节段？" if lang == "zh" else "At which level is the main abnormality in this image?"
            expl = (f"图注：“{caption}”" if lang == "zh" else f'The figure caption reads: "{caption}"')
            return {"question": q, "options": options, "answer": answer, "explanation": expl}
    return _err("caption names no lexicon term or level to build an image question from")


_LEVEL_ORDER = [f"C{i}" for i in range(1, 8)] + [f"T{i}" for i in range(1, 13)] + [f"L{i}" for i in range(1, 6)] + ["S1"]


def _neighbour_levels(level: str) -> list[str]:
    """Same-kind levels near `level` (segments for a segment, vertebrae for a vertebra)."""
    if "-" in level:
        segs = [f"{a}-{b}" for a, b in zip(_LEVEL_ORDER, _LEVEL_ORDER[1:])]
        pool = segs
    else:
        pool = _LEVEL_ORDER[:-1]
    if level not in pool:
        return []
    i = pool.index(level)
    near = sorted((j for j in range(len(pool)) if j != i), key=lambda j: (abs(j - i), j))
    return [pool[j] for j in near]


def _volume_mcq(facts: dict, seed) -> dict:
    lang = facts["language"]
    vol = facts.get("volume", {})
    verts = list(vol.get("vertebrae") or [])
    compressed = list(vol.get("compressed") or [])
    if compressed and len(verts) >= 4:
        true = compressed[0]
        distractors = [v for v in sorted(verts, key=lambda v: _h(seed, v)) if v not in compressed][:3]
        options, answer = _arrange(true, distractors, seed)
        if lang == "zh":
            q = "在这幅脊柱CT矢状位重建图像中，哪一个椎体呈楔形压缩？"
            expl = f"{true}椎体前缘高度明显降低，呈楔形改变；其余椎体高度正常。"
        else:
            q = "In this sagittal CT reconstruction, which vertebral body shows a wedge compression deformity?"
            expl = f"The anterior height of {true} is clearly reduced (wedge deformity); the other vertebral bodies keep their height."
        return {"question": q, "options": options, "answer": answer, "explanation": expl}
    if len(verts) >= 4:
        true = verts[-1]
        distractors = [v for v in sorted(_LEVEL_ORDER[:-1], key=lambda v: _h(seed, v)) if v not in verts][:3]
        options, answer = _arrange(true, distractors, seed)
        if lang == "zh":
            q = "该CT矢状位图像中完整显示的最下方椎体是？"
            expl = f"图像显示{verts[0]}至{verts[-1]}椎体，最下方为{true}。"
        else:
            q = "Which is the most caudal vertebra fully shown in this sagittal CT image?"
            expl = f"The image shows {verts[0]} to {verts[-1]}; the most caudal is {true}."
        return {"question": q, "options": options, "answer": answer, "explanation": expl}
    return _err("volume facts list fewer than 4 vertebrae")


_LABEL_PREFIX = re.compile(r"^\s*(?:fig(?:ure)?s?\.?|图)\s*\d+(?:[-.–]\d+)?\s*[:：.]?\s*", re.I)


def _strip_label(caption: str) -> str:
    return _LABEL_PREFIX.sub("", caption or "").strip()


# ----------------------------------------------------------------------------- open QA

def draft_open_qa(facts: dict) -> dict:
    lang = facts["language"]
    title = facts["source"].get("title", "")
    if facts["modality"] == "image":
        fig = facts.get("figure") or {}
        caption = _strip_label(fig.get("caption", ""))
        if facts["source"]["kind"] == "volume":
            vol = facts.get("volume", {})
            caption = vol.get("description", "")
        if not caption:
            return _err("image has no caption or description")
        ctx = sentences(" ".join(fig.get("context", [])), lang)[:2]
        if lang == "zh":
            return {"question": "这幅图像显示了什么？有何临床意义？", "answer": caption + ("。" if not caption.endswith("。") else "") + "".join(ctx)}
        return {"question": "What does this image show, and what is its clinical significance?",
                "answer": " ".join([caption.rstrip(".") + ".", *ctx])}
    text = facts.get("text", "")
    sents = sentences(text, lang)
    if not sents:
        return _err("source text has no sentences")
    terms = load_lexicon().terms_in(text, lang)
    if terms:
        surface = terms[0].text(lang)
        about = [s for s in sents if surface.lower() in s.lower()][:3]
        q = (f"根据《{title}》，关于{surface}有哪些要点？" if lang == "zh"
             else f'According to "{title}", what are the key points about {surface}?')
    else:
        about = sents[:3]
        q = (f"请概述《{title}》这一部分的要点。" if lang == "zh"
             else f'Summarise the key points of this section of "{title}".')
    return {"question": q, "answer": ("" if lang == "zh" else " ").join(about)}


# ----------------------------------------------------------------------------- cases

_FIELD_SYNONYMS = {
    "complaint": ("chief_complaint", "complaint", "主诉"),
    "history": ("history", "present_illness", "history_of_present_illness", "现病史", "病史"),
    "exam": ("physical_exam", "examination", "exam", "physical_examination", "查体", "体格检查", "专科检查"),
    "imaging": ("imaging", "imaging_findings", "radiology", "影像学检查", "影像", "辅助检查"),
    "labs": ("labs", "laboratory", "lab_results", "实验室检查", "化验"),
    "diagnosis": ("diagnosis", "discharge_diagnosis", "admission_diagnosis", "诊断", "出院诊断", "入院诊断"),
    "treatment": ("procedure", "treatment", "operation", "surgery", "手术", "治疗", "手术名称", "治疗经过"),
    "outcome": ("outcome", "follow_up", "course", "hospital_course", "转归", "随访", "预后", "出院情况"),
    "age": ("age", "年龄"),
    "sex": ("sex", "gender", "性别"),
}


def _field(case: dict, what: str) -> str:
    """Value of a case field by meaning (EN/ZH key synonyms, JATS section names)."""
    keys = _FIELD_SYNONYMS[what]
    for k, v in case.items():
        kl = str(k).lower().replace(" ", "_")
        if kl in keys or any(s in kl for s in keys if not s.isascii()):
            text = _flat(v)
            if text:
                return text
    sections = case.get("sections") or {}
    section_words = {
        "complaint": ("presentation", "case report", "病例"), "history": ("history", "presentation", "病史"),
        "exam": ("examination", "查体"), "imaging": ("imaging", "radiolog", "investigation", "影像"),
        "labs": ("laborator", "化验"), "diagnosis": ("diagnos", "诊断"),
        "treatment": ("treatment", "management", "surg", "治疗", "手术"),
        "outcome": ("outcome", "follow", "course", "随访", "转归"),
    }.get(what, ())
    for name, text in sections.items():
        if any(w in str(name).lower() for w in section_words):
            return str(text).strip()
    if what == "diagnosis" and case.get("title"):
        # A published case report names its diagnosis in the title ("X at L4/5: a case report").
        return _CASE_REPORT_SUFFIX.sub("", str(case["title"])).strip()
    return ""


_CASE_REPORT_SUFFIX = re.compile(r"\s*[:：]?\s*(?:a case report(?: and review of (?:the )?literature)?|1例报告|一例报告|病例报告)\s*$", re.I)


_PLACEHOLDER = re.compile(r"^\s*(\[[A-Z>0-9]+\]\s*)+$")


def _flat(value) -> str:
    """A structured field as one line of text: lists joined, dicts as "key value" pairs;
    dates and pure placeholders (left by de-identification) dropped."""
    if isinstance(value, dict):
        parts = []
        for k, v in value.items():
            t = _flat(v)
            if not t or str(k).lower() in ("date", "日期"):
                continue
            parts.append(t if str(k).lower() in ("findings", "text", "所见", "结果") else f"{k} {t}")
        return "; ".join(parts)
    if isinstance(value, (list, tuple)):
        return "; ".join(t for t in (_flat(v) for v in value) if t)
    text = "" if value is None else str(value).strip()
    return "" if _PLACEHOLDER.match(text or "[X]") else text


def _case_presentation(case: dict, lang: str) -> str:
    age, sex = _field(case, "age"), _field(case, "sex")
    bits = []
    if lang == "zh":
        if age or sex:
            bits.append(f"患者，{sex or ''}{('，' + age + ('岁' if age.isdigit() else '')) if age else ''}。")
        seen = set()
        for what, label in (("complaint", "主诉"), ("history", "现病史"), ("exam", "查体"), ("imaging", "影像学"), ("labs", "实验室检查")):
            v = _field(case, what)
            if v and v not in seen:
                seen.add(v)
                bits.append(f"{label}：{v}")
        return "\n".join(bits)
    if age or sex:
        bits.append(f"Patient: {age + '-year-old ' if age.isdigit() else (age + ' ' if age else '')}{sex}".strip() + ".")
    seen = set()
    for what, label in (("complaint", "Chief complaint"), ("history", "History"), ("exam", "Examination"), ("imaging", "Imaging"), ("labs", "Laboratory")):
        v = _field(case, what)
        if v and v not in seen:  # a case report's one "presentation" section can answer several
            seen.add(v)
            bits.append(f"{label}: {v}")
    if not bits and case.get("abstract"):
        bits.append(str(case["abstract"]))
    return "\n".join(bits)


def _is_surgical(treatment: str) -> bool:
    return bool(re.search(r"fusion|ectomy|otomy|plasty|fixation|decompress|osteotomy|surg|instrument|reconstruct|"
                          r"术|融合|减压|固定|截骨|切除|成形", treatment, re.I))


def draft_report(facts: dict) -> dict:
    lang = facts["language"]
    case = facts.get("case", {})
    presentation = _case_presentation(case, lang)
    imaging, dx, tx = _field(case, "imaging"), _field(case, "diagnosis"), _field(case, "treatment")
    if not (presentation and dx and (imaging or facts.get("figures"))):
        return _err("case lacks presentation, diagnosis or imaging facts for a report")
    outcome, exam, complaint = _field(case, "outcome"), _field(case, "exam"), _field(case, "complaint")
    levels = facts.get("levels") or []
    lv = _levels_phrase(levels, lang)
    surgical = _is_surgical(tx)
    if not imaging:
        imaging = " ".join(_strip_label(f.get("caption", "")) for f in facts.get("figures", []))
    if lang == "zh":
        rep = {
            "structured_findings": f"{imaging}{lv}",
            "diagnosis": dx,
            "treatment_patient": (f"建议的治疗：{tx.rstrip('。')}。目的是解除神经压迫、缓解疼痛并恢复功能；医生会与您详细沟通手术的获益与风险。"
                                  if surgical else f"建议的治疗：{(tx or '规范的保守治疗（休息、药物与康复锻炼）').rstrip('。')}。多数患者经规范治疗后症状可改善。"),
            "treatment_evidence": (f"{tx.rstrip('。')}。依据：{dx}，影像学与临床表现一致，符合手术指征。" if tx
                                   else f"依据{dx}的诊疗规范，首选保守治疗并定期复查。"),
            "risk_prognosis": (f"转归：{outcome.rstrip('。')}。" if outcome else "") + (
                "主要风险包括感染、神经损伤、硬膜撕裂、内固定相关并发症及邻近节段退变。" if surgical
                else "主要风险为症状反复或神经功能进行性损害，需要密切随访。"),
            "postop_management": ("术后早期在保护下下地活动，切口护理，按医嘱复查影像（术后3个月、6个月及1年），逐步进行核心肌群康复训练；如出现发热、切口渗液或新的肢体麻木无力应及时就诊。"
                                  if surgical else "本例以非手术治疗为主：规律康复训练与随访；若症状加重或出现神经功能障碍，应重新评估手术指征。"),
            "diagnostic_basis": "；".join(x for x in (f"症状：{complaint}" if complaint else "", f"体征：{exam}" if exam else "", f"影像：{imaging}") if x) + "。",
        }
    else:
        rep = {
            "structured_findings": f"{imaging} {lv}".strip(),
            "diagnosis": dx,
            "treatment_patient": (f"Recommended treatment: {tx.rstrip('.')}. In plain words, the aim is to take pressure off the nerves, relieve pain and restore function; your surgeon will go through the benefits and risks with you."
                                  if surgical else f"Recommended treatment: {(tx or 'structured non-operative care (activity modification, medication and physiotherapy)').rstrip('.')}. Most patients improve with this approach."),
            "treatment_evidence": (f"{tx.rstrip('.')}. Rationale: {dx} with concordant clinical and imaging findings meets the indication for surgery." if tx
                                   else f"Guideline-based non-operative management of {dx} first, with scheduled reassessment."),
            "risk_prognosis": (f"Course: {outcome.rstrip('.')}. " if outcome else "") + (
                "Main risks: infection, neurological injury, dural tear, implant-related complications and adjacent-segment degeneration." if surgical
                else "Main risks: recurrence of symptoms or progressive neurological deficit; close follow-up is needed."),
            "postop_management": ("Early protected mobilisation, wound care, follow-up imaging at 3, 6 and 12 months, and progressive core-strengthening rehabilitation; return early for fever, wound discharge or new numbness or weakness."
                                  if surgical else "Managed without surgery: structured rehabilitation and follow-up; reassess for surgery if symptoms worsen or a neurological deficit appears."),
            "diagnostic_basis": "; ".join(x for x in (f"Symptoms: {complaint}" if complaint else "", f"Signs: {exam}" if exam else "", f"Imaging: {imaging}") if x) + ".",
        }
    return {"case": presentation, "report": rep}


def draft_consultation(facts: dict) -> dict:
    lang = facts["language"]
    if facts["source"]["kind"] == "volume":
        return _volume_consultation(facts)
    case = facts.get("case", {})
    complaint, history = _field(case, "complaint"), _field(case, "history")
    imaging, dx, tx = _field(case, "imaging"), _field(case, "diagnosis"), _field(case, "treatment")
    if not (complaint and dx):
        return _err("case lacks a chief complaint or diagnosis for a consultation")
    lv = _levels_phrase(facts.get("levels") or [], lang)
    if lang == "zh":
        msgs = [
            ("user", f"医生您好，我的主要问题是：{complaint}。"),
            ("assistant", "您好。请问这些症状持续多久了？有没有外伤，症状是否影响行走或大小便？"),
            ("user", history or "症状逐渐加重，休息后略有缓解。"),
            ("assistant", "明白了。您做过影像学检查吗？结果怎么说？"),
            ("user", f"检查报告写着：{imaging}" if imaging else "还没有做过检查。"),
            ("assistant", f"根据您的描述和检查结果，考虑为{dx}。{lv}建议的处理是{tx or '先进行规范的保守治疗'}。"),
        ]
    else:
        msgs = [
            ("user", f"Hello doctor, my main problem is: {complaint}."),
            ("assistant", "Thank you for explaining. How long has this been going on, was there any injury, and does it affect your walking or your bladder or bowel control?"),
            ("user", history or "It has been getting worse gradually; rest helps a little."),
            ("assistant", "I see. Have you had any scans, and what did the report say?"),
            ("user", f"The report says: {imaging}" if imaging else "I haven't had any scans yet."),
            ("assistant", f"From what you describe and the imaging, this is most consistent with {dx}. {lv} The usual next step is {tx or 'a course of structured non-operative treatment'}.".replace("  ", " ")),
        ]
    summary = _case_presentation(case, lang)
    return {"case": summary, "messages": [{"role": r, "content": c} for r, c in msgs]}


def _volume_consultation(facts: dict) -> dict:
    lang = facts["language"]
    vol = facts.get("volume", {})
    verts = list(vol.get("vertebrae") or [])
    if len(verts) < 2:
        return _err("volume facts list fewer than 2 vertebrae")
    compressed = list(vol.get("compressed") or [])
    if lang == "zh":
        finding = (f"{'、'.join(compressed)}椎体前缘高度降低，呈楔形压缩改变，其余椎体高度正常。" if compressed
                   else "所示椎体高度和排列未见明显异常。")
        msgs = [
            ("user", "医生，这是我的脊柱CT图像，能帮我看看有什么问题吗？"),
            ("assistant", f"图像为脊柱CT矢状位重建，显示{verts[0]}至{verts[-1]}椎体。{finding}请问您有没有外伤史或骨质疏松？"),
            ("user", "前段时间弯腰搬东西后背痛，平时没有查过骨密度。"),
            ("assistant", "建议完善骨密度检查和MRI以判断骨折是否新鲜，并由脊柱专科医生面诊评估。"),
        ]
    else:
        finding = (f"The anterior height of {', '.join(compressed)} is reduced, a wedge compression deformity; the other vertebral bodies keep their height." if compressed
                   else "Vertebral body heights and alignment look preserved.")
        msgs = [
            ("user", "Doctor, here is my spine CT. Can you tell me what it shows?"),
            ("assistant", f"This is a sagittal CT reconstruction showing {verts[0]} to {verts[-1]}. {finding} Have you had a fall, or have you been told you have osteoporosis?"),
            ("user", "My back started hurting after lifting a box a few weeks ago. I have never had a bone density scan."),
            ("assistant", "A bone density scan and an MRI to tell whether the fracture is recent are the sensible next steps, with an assessment by a spine specialist."),
        ]
    case = vol.get("description") or ""
    return {"case": case, "messages": [{"role": r, "content": c} for r, c in msgs]}


# ----------------------------------------------------------------------------- revision

_CATCHALL = re.compile(r"all of the above|none of the above|以上都是|以上均是|以上都不是|以上均不是", re.I)
_SAFETY_EN = ("Seek urgent care if you develop new leg weakness, numbness in the saddle area, or loss of bladder or bowel control; "
              "please have an in-person assessment by a spine specialist.")
_SAFETY_ZH = "如出现下肢无力加重、鞍区麻木或大小便失禁，请立即急诊就医；请到脊柱专科面诊评估。"


def revise(facts: dict, draft: dict, criteria: list[dict]) -> dict:
    """Apply each criterion the offline rules can check; record what changed and why."""
    lang, task = facts["language"], facts["task"]
    item = json.loads(json.dumps(draft, ensure_ascii=False))
    changes: list[dict] = []
    ids = {c["id"] for c in criteria}

    def note(cid: str, msg: str) -> None:
        changes.append({"criterion": cid, "note": msg})

    if "error" in item:
        return {"item": item, "changes": []}
    if task == "mcq":
        opts = item.get("options") or {}
        if "C02-no-catchall-options" in ids:
            bad = [k for k, v in opts.items() if _CATCHALL.search(str(v))]
            if bad and len(opts) - len(bad) >= 4 and not set(bad) & set(str(item.get("answer", ""))):
                kept = [v for k, v in sorted(opts.items()) if k not in bad]
                old_answer = [opts[a] for a in str(item["answer"])]
                opts = {letter: v for letter, v in zip(_letters(len(kept)), kept)}
                item["options"] = opts
                item["answer"] = "".join(sorted(k for k, v in opts.items() if v in old_answer))
                note("C02-no-catchall-options", f"removed catch-all option(s) {','.join(bad)}")
        if "C01-answer-key" in ids:
            ans = str(item.get("answer", ""))
            fixed = "".join(sorted({a for a in ans.upper() if a in opts}))
            if fixed != ans and fixed:
                item["answer"] = fixed
                note("C01-answer-key", f"answer key normalised {ans!r} -> {fixed!r}")
        if "C03-cite-source" in ids:
            title = facts.get("source", {}).get("title", "")
            if title and title not in item.get("explanation", ""):
                item["explanation"] = (item.get("explanation", "").rstrip() + " " + _cite(facts)).strip()
                note("C03-cite-source", "added the source citation to the explanation")
        _ensure_levels(item, "explanation", facts, ids, note)
    elif task == "open_qa":
        if "C03-cite-source" in ids:
            title = facts.get("source", {}).get("title", "")
            if title and title not in item.get("answer", ""):
                item["answer"] = (item.get("answer", "").rstrip() + " " + _cite(facts)).strip()
                note("C03-cite-source", "added the source citation to the answer")
        _ensure_levels(item, "answer", facts, ids, note)
    elif task == "report":
        rep = item.get("report") or {}
        _ensure_levels(rep, "structured_findings", facts, ids, note)
        if "C05-plain-language" in ids and rep.get("treatment_patient"):
            new = _expand_abbreviations(rep["treatment_patient"], lang)
            if new != rep["treatment_patient"]:
                rep["treatment_patient"] = new
                note("C05-plain-language", "spelled out abbreviations in the patient-friendly treatment")
    elif task == "consultation":
        msgs = item.get("messages") or []
        if msgs and msgs[-1].get("role") == "assistant":
            if "C05-plain-language" in ids:
                for m in msgs:
                    if m.get("role") == "assistant":
                        new = _expand_abbreviations(m["content"], lang)
                        if new != m["content"]:
                            m["content"] = new
                            note("C05-plain-language", "spelled out abbreviations in an answer")
            if "C04-levels-explicit" in ids and facts.get("levels"):
                text = " ".join(m["content"] for m in msgs)
                if not any(lv in text for lv in facts["levels"]):
                    msgs[-1]["content"] = msgs[-1]["content"].rstrip() + " " + _levels_phrase(facts["levels"], lang)
                    note("C04-levels-explicit", "named the levels in the final answer")
            if "C06-safety-net" in ids:
                safety = _SAFETY_ZH if lang == "zh" else _SAFETY_EN
                if safety not in msgs[-1]["content"]:
                    msgs[-1]["content"] = msgs[-1]["content"].rstrip() + ("" if lang == "zh" else " ") + safety
                    note("C06-safety-net", "added red-flag advice and specialist referral")
    if "C08-no-identifiers" in ids:
        from ..deid import deidentify

        before = json.dumps(item, ensure_ascii=False)
        item = _map_strings(item, deidentify)
        if json.dumps(item, ensure_ascii=False) != before:
            note("C08-no-identifiers", "removed personal identifiers")
    return {"item": item, "changes": changes}


def _ensure_levels(obj: dict, key: str, facts: dict, ids: set, note) -> None:
    levels = facts.get("levels") or []
    if "C04-levels-explicit" not in ids or not levels or not obj.get(key):
        return
    if not any(lv in obj[key] for lv in levels):
        sep = "" if facts["language"] == "zh" else " "
        obj[key] = obj[key].rstrip() + sep + _levels_phrase(levels, facts["language"])
        note("C04-levels-explicit", f"named the levels in {key}")


def _expand_abbreviations(text: str, lang: str) -> str:
    for term in load_lexicon().terms:
        if not term.abbr:
            continue
        full = term.zh if lang == "zh" else term.en
        if full.lower() in text.lower():
            continue
        pat = re.compile(r"(?<![A-Za-z])" + re.escape(term.abbr) + r"(?![A-Za-z])")
        repl = f"{term.abbr}（{full}）" if lang == "zh" else f"{full} ({term.abbr})"
        text = pat.sub(repl, text, count=1)
    return text


def _map_strings(obj, fn):
    if isinstance(obj, dict):
        return {k: _map_strings(v, fn) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_map_strings(v, fn) for v in obj]
    return fn(obj) if isinstance(obj, str) else obj


# ----------------------------------------------------------------------------- PCM, classify

def pcm_check(facts: dict) -> dict:
    """Consistent unless the image description and the caption name different body regions
    or imaging modalities (the offline stand-in for looking at the picture)."""
    desc = facts.get("image_description", "")
    if not desc:
        return {"consistent": True, "reason": "no image description to compare (the offline backend cannot see pixels)"}
    conflict = region_modality_conflict(facts.get("caption", ""), desc)
    if conflict:
        return {"consistent": False, "reason": conflict}
    return {"consistent": True, "reason": "body region and modality agree"}


def classify(facts: dict) -> dict:
    result = keyword_classify(facts.get("text", ""))
    if result.subfield is None:
        return {"subfield": "unknown", "reason": result.reason}
    assert result.subfield in SUBFIELDS
    return {"subfield": result.subfield, "reason": result.reason}


_HANDLERS = {
    "draft_mcq": draft_mcq,
    "draft_open_qa": draft_open_qa,
    "draft_report": draft_report,
    "draft_consultation": draft_consultation,
    "revise": revise,
    "pcm_check": pcm_check,
    "classify": classify,
}
