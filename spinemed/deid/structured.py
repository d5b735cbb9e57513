"""Structured records: an allowlist of keys per record kind, never a pass-through.

A clinical export grows keys nobody planned for (``insurance_member_id``, ``家属微信``).  A
denylist of identifier keys lets such a key through verbatim; an allowlist does not:

* keys of clinical content (``chief_complaint``, ``诊断``, ``imaging[].findings`` …) are kept
  and their free text goes through the scrubber;
* keys of identifiers (``name``, ``mrn``, ``住院号`` …, recognised by ``cues._key_kind``)
  are removed, and their values are scrubbed wherever the notes repeat them;
* every other key is dropped and reported (its path, never its value), and its value is also
  treated as a known identifier, since a field nobody recognised may well be one;
* a few keys hold a map whose keys are analyte or score names (``labs``, ``实验室检查``): their
  keys must look like one (short, no digits run, nothing the detector flags).

``ALLOWED_KEYS`` is the place to extend when a real export carries more clinical fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .cues import AGE_BUCKET, PLACEHOLDERS, _key_kind
from .scrubber import find_identifiers

# Clinical-content keys, EN and ZH, for the `case` kind (inpatient records, imaging studies).
ALLOWED_KEYS: dict[str, frozenset[str]] = {
    "case": frozenset("""
sex gender age age_group chief_complaint complaint presenting_complaint history history_of_present_illness hpi
present_illness past_history past_medical_history pmh medical_history surgical_history family_history social_history
occupation allergies medications current_medications drug_history exam examination physical_exam physical_examination
neurological_exam neuro_exam vitals vital_signs imaging imaging_findings radiology labs laboratory lab_results
investigations diagnosis diagnoses admission_diagnosis discharge_diagnosis differential_diagnosis impression
assessment plan procedure procedures operation operative_findings operation_note surgery implants anaesthesia
anesthesia complications course hospital_course treatment treatments management outcome outcomes discharge_plan
discharge_medications follow_up followup prognosis rehabilitation scores pathology histology microbiology
department ward specialty service notes language subfield label_levels
性别 年龄 职业 民族 婚姻 婚姻状况 主诉 现病史 既往史 个人史 家族史 婚育史 月经史 过敏史 用药史 手术史 外伤史 输血史
体格检查 专科检查 神经系统检查 生命体征 影像学检查 影像检查 辅助检查 实验室检查 化验 检验 诊断 入院诊断 出院诊断 初步诊断
鉴别诊断 手术 手术名称 手术记录 术中所见 麻醉 麻醉方式 内固定 植入物 并发症 诊疗经过 住院经过 治疗 治疗经过 处理 转归
预后 出院医嘱 随访 康复 评分 病理 病理诊断 微生物 科室 病区 专业
""".split()),
}
# Keys whose value is a list of objects with these keys.
NESTED_KEYS: dict[str, frozenset[str]] = {
    "imaging": frozenset("modality date findings impression technique comparison study sequence sequences level levels".split()),
    "影像学检查": frozenset("检查 检查项目 日期 所见 印象 结论 表现 部位 序列".split()),
    "影像检查": frozenset("检查 检查项目 日期 所见 印象 结论 表现 部位 序列".split()),
    "辅助检查": frozenset("检查 检查项目 日期 所见 印象 结论 表现 部位 结果".split()),
    "notes": frozenset("type date text title 类型 日期 内容".split()),
    "procedures": frozenset("name procedure date level levels approach implants findings 名称 日期 节段".split()),
    "medications": frozenset("name drug dose route frequency duration 药物 剂量 用法 频次".split()),
}
# Keys whose value maps analyte / score / vital names to values.
MAP_KEYS = frozenset("labs laboratory lab_results scores vitals vital_signs 实验室检查 化验 检验 评分 生命体征".split())
# An analyte, score or vital name: short, one line, no long digit run, no e-mail ("25-OH vitamin D",
# "HbA1c", "T-SPOT.TB", "空腹血糖"); the scrubber must find nothing in it either.
_ANALYTE_NAME = re.compile(r"^(?!.*\d{5})[^\n@]{1,40}$")


@dataclass
class StructuredResult:
    fields: dict[str, Any]
    dropped: list[str] = field(default_factory=list)  # key paths dropped as unknown
    identifiers: dict[str, list[str]] = field(default_factory=dict)  # kind -> values seen under identifier keys


def _norm(key: str) -> str:
    return re.sub(r"[\s\-./]+", "_", re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key.strip())).lower().strip("_")


def _collect(value: Any, kind: str, out: dict[str, list[str]]) -> None:
    if isinstance(value, Mapping):
        for v in value.values():
            _collect(v, kind, out)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _collect(v, kind, out)
    elif isinstance(value, (str, int)) and not isinstance(value, bool):
        text = str(value).strip()
        # short values only: a paragraph under an unknown key is dropped, not turned into a pattern
        if 2 <= len(text) <= 80 and not re.fullmatch(r"\[[A-Z>0-9]+\]", text):
            out.setdefault(kind, []).append(text)


def _unknown_value_kind(value: Any) -> str:
    text = str(value)
    return "ID" if re.search(r"\d", text) else "NAME"


def allowlist(fields: Mapping[str, Any], kind: str = "case", *, path: str = "") -> StructuredResult:
    """Split `fields` into allowed content (unscrubbed yet), identifier values and dropped keys."""
    allowed = ALLOWED_KEYS.get(kind, ALLOWED_KEYS["case"])
    out: dict[str, Any] = {}
    result = StructuredResult(out)
    for key, value in fields.items():
        where = f"{path}.{key}" if path else str(key)
        if not isinstance(key, str):
            result.dropped.append(where)
            continue
        id_kind = _key_kind(key)
        norm = _norm(key)
        if id_kind == "AGE":
            out[key] = value
            continue
        if id_kind is not None and norm not in allowed and key not in allowed:
            _collect(value, id_kind, result.identifiers)
            continue
        if norm in MAP_KEYS or key in MAP_KEYS:
            if isinstance(value, Mapping):
                sub = {}
                for k2, v2 in value.items():
                    if isinstance(k2, str) and _ANALYTE_NAME.match(k2) and _key_kind(k2) is None \
                            and not find_identifiers(k2):
                        sub[k2] = v2
                    else:
                        result.dropped.append(f"{where}.{k2}")
                        _collect(v2, _unknown_value_kind(v2), result.identifiers)
                out[key] = sub
            else:
                out[key] = value
            continue
        nested = NESTED_KEYS.get(norm) or NESTED_KEYS.get(key)
        if nested is not None and isinstance(value, list):
            items = []
            for i, item in enumerate(value):
                if isinstance(item, Mapping):
                    keep = {}
                    for k2, v2 in item.items():
                        k2n = _norm(k2) if isinstance(k2, str) else k2
                        if k2n in nested or k2 in nested:
                            keep[k2] = v2
                        else:
                            result.dropped.append(f"{where}[{i}].{k2}")
                            _collect(v2, _key_kind(k2) or _unknown_value_kind(v2), result.identifiers)
                    items.append(keep)
                else:
                    items.append(item)
            out[key] = items
            continue
        if norm in allowed or key in allowed:
            out[key] = value
            continue
        result.dropped.append(where)
        _collect(value, _unknown_value_kind(value), result.identifiers)
    return result


def bucket_age(value: Any) -> Any:
    """Safe Harbor: ages over 89 become one "90+" bucket."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return AGE_BUCKET if value > 89 else value
    m = re.match(r"\s*(\d{1,3})(?!\d)", str(value))
    if m and int(m.group(1)) > 89:
        return AGE_BUCKET
    return value


__all__ = ["ALLOWED_KEYS", "MAP_KEYS", "NESTED_KEYS", "PLACEHOLDERS", "StructuredResult", "allowlist", "bucket_age"]
