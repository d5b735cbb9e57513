"""De-identification: planted identifiers in EN/ZH notes must go, clinical text must stay byte-identical."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import json
import random
import time
from pathlib import Path

import pytest

from spinemed import deid
from spinemed.deid import DEID_VERSION, Deidentifier, Finding, deidentify, deidentify_fields, find_identifiers

SOURCES = Path(__file__).resolve().parents[2] / "builders" / "spinemed_450k" / "sources"


def scrub_expected(note: str, plants: list[tuple[str, str]]) -> str:
    """`note` with each planted value (in order of appearance) replaced by its kind's placeholder."""
    out, pos = [], 0
    for value, kind in plants:
        i = note.index(value, pos)
        out += [note[pos:i], deid.PLACEHOLDERS[kind]]
        pos = i + len(value)
    return "".join(out) + note[pos:]


# --------------------------------------------------------------------------------------
# Realistic inpatient notes with planted identifiers
# --------------------------------------------------------------------------------------

EN_NOTE = """ADMISSION NOTE - Springfield General Hospital, Department of Orthopaedic Surgery
Patient: John Smith    MRN: 20230314001    DOB: 04/12/1931    SSN: 123-45-6789
Address: 1420 Maple Avenue, Springfield, IL 62704. Phone: (555) 123-4567. Email: john.smith@example.com
Insurance ID: BCX99812345. Patient portal: https://portal.springfield-general.example.org/p/8812
Attending: Dr. Emily Carter. Emergency contact: Mary Smith (wife), +1 555 987 6543.
HPI: Mr. Smith is a 92-year-old retired teacher admitted on March 14, 2023 with low back pain radiating to the left \
leg for 3 months, worse over 2 weeks. MRI on 2023-03-10 showed an L4/5 disc extrusion with Modic type 1 changes and \
L5/S1 foraminal stenosis; Cobb angle 12°.
Exam: VAS 7/10, JOA 12/17, ODI 46%, Lasègue sign positive at 40°, Hoffmann sign negative.
Labs: ESR 56 mm/h, CRP 32 mg/L, WBC 11.2×10^9/L, HLA-B27 negative.
Plan: L4-L5 TLIF on 14 March 2023; follow-up at Riverside Medical Center. Fax: (555) 765-4321. VPN log 192.168.10.25.
Electronically signed by Emily Carter, MD
"""
EN_PLANTS = [
    ("Springfield General Hospital", "HOSPITAL"),
    ("John Smith", "NAME"),
    ("20230314001", "MRN"),
    ("04/12/1931", "DATE"),
    ("123-45-6789", "ID"),
    ("1420 Maple Avenue, Springfield, IL 62704", "ADDRESS"),
    ("(555) 123-4567", "PHONE"),
    ("john.smith@example.com", "EMAIL"),
    ("BCX99812345", "ACCOUNT"),
    ("https://portal.springfield-general.example.org/p/8812", "URL"),
    ("Emily Carter", "NAME"),
    ("Mary Smith", "NAME"),
    ("+1 555 987 6543", "PHONE"),
    ("Smith", "NAME"),
    ("92-year-old", "AGE"),
    ("March 14, 2023", "DATE"),
    ("2023-03-10", "DATE"),
    ("14 March 2023", "DATE"),
    ("Riverside Medical Center", "HOSPITAL"),
    ("(555) 765-4321", "FAX"),
    ("192.168.10.25", "IP"),
    ("Emily Carter", "NAME"),
]

ZH_NOTE = """入院记录
姓名：张伟  性别：男  年龄：93岁  住院号：ZY2023001234  病案号：0456789
身份证号：33010619300101123X  联系电话：13800138000  邮箱：zhangwei@163.com
家庭住址：浙江省杭州市西湖区文三路123号  邮编：310012
患者张伟，男，93岁，因“腰痛伴左下肢麻木3月，加重2周”于2023年3月14日入浙江大学医学院附属第二医院脊柱外科。
外院MRI（2023.03.10）示腰4/5椎间盘突出，腰5/骶1椎管狭窄，T2WI高信号；Cobb角 12°，VAS评分7分，JOA评分12/17分。
既往在绍兴市中医院行保守治疗。家属李秀英女士（电话 +86 138 0013 8000，座机 010-12345678）陪同。
3月15日主任医师王建国查房后指示：完善检查，拟行椎板切除减压术。护士欧阳娜娜记录。
"""
ZH_PLANTS = [
    ("张伟", "NAME"),
    ("93岁", "AGE"),
    ("ZY2023001234", "MRN"),
    ("0456789", "MRN"),
    ("33010619300101123X", "ID"),
    ("13800138000", "PHONE"),
    ("zhangwei@163.com", "EMAIL"),
    ("浙江省杭州市西湖区文三路123号", "ADDRESS"),
    ("310012", "ADDRESS"),
    ("张伟", "NAME"),
    ("93岁", "AGE"),
    ("2023年3月14日", "DATE"),
    ("浙江大学医学院附属第二医院", "HOSPITAL"),
    ("2023.03.10", "DATE"),
    ("绍兴市中医院", "HOSPITAL"),
    ("李秀英", "NAME"),
    ("+86 138 0013 8000", "PHONE"),
    ("010-12345678", "PHONE"),
    ("3月15日", "DATE"),
    ("王建国", "NAME"),
    ("欧阳娜娜", "NAME"),
]


# Identifiers with no label or title in front of them: only the clinical context gives them away.
EN_NOTE_UNLABELLED = """PROGRESS NOTE
John A. Smith is a 67-year-old man with L4/5 stenosis (VAS 7/10, JOA 12/17), seen with his daughter Sarah.
His wife Karen reports two falls; Meyerding grade II slip, Hoffmann sign negative (cf. Smith et al., 2019).
Pt John A. Smith underwent L4-L5 TLIF. His mother, who lives with them, is age 92.
Lives in Rochester 55905; ZIP 55905. Call his daughter on 555 867 5309 before discharge.
Spinal cord stimulator serial no. SN-4432-XY (S/N 88A-7731). He drove in; plate ABC-1234.
Medicare beneficiary identifier 1EG4-TE5-MK73; health plan number HP-99812.
"""
EN_UNLABELLED_PLANTS = [
    ("John A. Smith", "NAME"),
    ("Sarah", "NAME"),
    ("Karen", "NAME"),
    ("John A. Smith", "NAME"),
    ("92", "AGE"),
    ("Rochester 55905", "ADDRESS"),
    ("55905", "ADDRESS"),
    ("555 867 5309", "PHONE"),
    ("SN-4432-XY", "ID"),
    ("88A-7731", "ID"),
    ("ABC-1234", "ID"),
    ("1EG4-TE5-MK73", "ACCOUNT"),
    ("HP-99812", "ACCOUNT"),
]

ZH_NOTE_UNLABELLED = """病程记录
患者之子王大伟陪同就诊，其女李娜代诉病史：腰4/5椎间盘突出，Cobb角 12°，JOA评分12/17分，颈5/6节段退变。
家属微信号：wangdawei_88，QQ号：12345678，车牌号 京A12345。患者女儿王芳电话13800138000。
"""
ZH_UNLABELLED_PLANTS = [
    ("王大伟", "NAME"),
    ("李娜", "NAME"),
    ("wangdawei_88", "ACCOUNT"),
    ("12345678", "ACCOUNT"),
    ("京A12345", "ID"),
    ("王芳", "NAME"),
    ("13800138000", "PHONE"),
]

NOTES = [
    (EN_NOTE, EN_PLANTS),
    (ZH_NOTE, ZH_PLANTS),
    (EN_NOTE_UNLABELLED, EN_UNLABELLED_PLANTS),
    (ZH_NOTE_UNLABELLED, ZH_UNLABELLED_PLANTS),
]
NOTE_IDS = ["en", "zh", "en-unlabelled", "zh-unlabelled"]


@pytest.mark.parametrize("note,plants", NOTES, ids=NOTE_IDS)
def test_note_scrubbed_exactly(note, plants):
    # Every planted identifier becomes its kind's placeholder and nothing else changes.
    assert deidentify(note) == scrub_expected(note, plants)


@pytest.mark.parametrize("note,plants", NOTES, ids=NOTE_IDS)
def test_note_findings_list_each_plant_with_its_kind(note, plants):
    found = [(f.kind, f.text) for f in find_identifiers(note)]
    assert found == [(kind, value) for value, kind in plants]


# --------------------------------------------------------------------------------------
# One identifier per snippet
# --------------------------------------------------------------------------------------

CAUGHT = [
    # names: titles, labels, roles, signatures (EN)
    ("Seen by Mr. Robert Brown today.", "NAME", "Robert Brown"),
    ("Mrs. O'Brien was admitted.", "NAME", "O'Brien"),
    ("Ms. Jean-Luc Martin reported pain.", "NAME", "Jean-Luc Martin"),
    ("Prof. Wang reviewed the films.", "NAME", "Wang"),
    ("Patient: John Smith", "NAME", "John Smith"),
    ("Patient name: Smith, John A.", "NAME", "Smith, John A."),
    ("Name: Maria Garcia\nAge: 67", "NAME", "Maria Garcia"),
    ("Attending: Dr. Emily Carter", "NAME", "Emily Carter"),
    ("Emily Carter, MD", "NAME", "Emily Carter"),
    ("Electronically signed by Emily Carter on 03/15/2023", "NAME", "Emily Carter"),
    ("Dictated by: Michael Johnson", "NAME", "Michael Johnson"),
    ("Emergency contact: Mary Smith (wife), 555-987-6543", "NAME", "Mary Smith"),
    ("The patient John Smith was admitted for L4/5 herniation.", "NAME", "John Smith"),
    ("Wife (Karen Whitaker, phone 555-014-2290) will collect him.", "NAME", "Karen Whitaker"),
    ("Son Robert Pemberton, 555-019-4477, holds power of attorney.", "NAME", "Robert Pemberton"),
    # names without a title or label: what the note says of the person gives them away
    ("John Smith is a 67-year-old man with low back pain.", "NAME", "John Smith"),
    ("In March John Smith was a 67 y/o smoker.", "NAME", "John Smith"),
    ("HPI: Quentin Ashworth-Blythe is a 93-year-old man.", "NAME", "Quentin Ashworth-Blythe"),
    ("Mary Jones, a 54-year-old teacher, presented with neck pain.", "NAME", "Mary Jones"),
    ("Thomas Abernathy, 71M, dialysis dependent.", "NAME", "Thomas Abernathy"),
    ("John Smith underwent L4-5 TLIF.", "NAME", "John Smith"),
    ("Emily R. Lindqvist has a history of OPLL.", "NAME", "Emily R. Lindqvist"),
    ("John Smith (MRN pending) was seen.", "NAME", "John Smith"),
    ("Pt John A. Smith was admitted.", "NAME", "John A. Smith"),
    ("Pt. John Smith was admitted.", "NAME", "John Smith"),
    ("He was seen with his daughter Sarah.", "NAME", "Sarah"),
    ("wife Karen at bedside", "NAME", "Karen"),
    ("His wife Karen reports he fell.", "NAME", "Karen"),
    ("The patient's wife, Xiomara, reports a fall.", "NAME", "Xiomara"),
    ("his eldest daughter Sarah Jones brought him in.", "NAME", "Sarah Jones"),
    ("daughter Emily Lindqvist brought him in.", "NAME", "Emily Lindqvist"),
    ("Sarah, his daughter, was present.", "NAME", "Sarah"),
    ("Karen Smith (wife) at bedside.", "NAME", "Karen Smith"),
    # names (ZH): cue before or title after, common and compound surnames
    ("患者张伟，男，67岁。", "NAME", "张伟"),
    ("姓名：李秀英", "NAME", "李秀英"),
    ("主任医师王建国查房", "NAME", "王建国"),
    ("护士欧阳娜娜记录", "NAME", "欧阳娜娜"),
    ("张伟先生今日出院", "NAME", "张伟"),
    ("李女士诉腰痛", "NAME", "李"),
    ("王医生建议手术", "NAME", "王"),
    ("由刘洋主任主刀", "NAME", "刘洋"),
    ("医师：陈明", "NAME", "陈明"),
    ("联系人：儿子王磊，电话13951820066。", "NAME", "王磊"),
    ("患者李某某，女，45岁。", "NAME", "李某某"),
    ("患者之子王大伟陪同就诊。", "NAME", "王大伟"),
    ("其女李娜陪同。", "NAME", "李娜"),
    ("由其子王磊签字。", "NAME", "王磊"),
    ("长女张敏带患者来院复查。", "NAME", "张敏"),
    ("患者女儿王芳电话13800138000。", "NAME", "王芳"),
    # dates
    ("Admitted 2023-03-14.", "DATE", "2023-03-14"),
    ("Seen 03/14/2023.", "DATE", "03/14/2023"),
    ("Seen 14 March 2023.", "DATE", "14 March 2023"),
    ("Seen March 14, 2023.", "DATE", "March 14, 2023"),
    ("Surgery on Mar 3rd.", "DATE", "Mar 3rd"),
    ("Onset in March 2023.", "DATE", "March 2023"),
    ("Discharged 13/09/2024.", "DATE", "13/09/2024"),
    ("Seen 3/14/23 in clinic.", "DATE", "3/14/23"),
    ("于2023年3月14日入院", "DATE", "2023年3月14日"),
    ("复查（2023.03.14）", "DATE", "2023.03.14"),
    ("3月14日行手术", "DATE", "3月14日"),
    ("2023年3月起病", "DATE", "2023年3月"),
    ("二〇二三年三月十四日", "DATE", "二〇二三年三月十四日"),
    # record, identity and account numbers
    ("MRN: 20230314001", "MRN", "20230314001"),
    ("MRN 8812345", "MRN", "8812345"),
    ("Medical record number 00451234", "MRN", "00451234"),
    ("住院号：ZY2023001234", "MRN", "ZY2023001234"),
    ("病案号 0456789", "MRN", "0456789"),
    ("门诊号为MZ20230314", "MRN", "MZ20230314"),
    ("住院号2023001234患者诉腰痛", "MRN", "2023001234"),
    ("身份证号：33010619800101123X", "ID", "33010619800101123X"),
    ("证件 110101199003074518 已核对", "ID", "110101199003074518"),
    ("SSN 123-45-6789", "ID", "123-45-6789"),
    ("SSN: 123456789", "ID", "123456789"),
    ("Passport No. E12345678", "ID", "E12345678"),
    ("Insurance ID: BCX99812345", "ACCOUNT", "BCX99812345"),
    ("Account No. 4455667788", "ACCOUNT", "4455667788"),
    ("医保卡号：1234567890", "ACCOUNT", "1234567890"),
    ("Card 4111 1111 1111 1111", "ACCOUNT", "4111 1111 1111 1111"),
    ("health plan number HP-99812", "ACCOUNT", "HP-99812"),
    ("insurance number 7781-2231", "ACCOUNT", "7781-2231"),
    ("Medicare beneficiary identifier 1EG4-TE5-MK73", "ACCOUNT", "1EG4-TE5-MK73"),
    ("Medicare 1EG4TE5MK73", "ACCOUNT", "1EG4TE5MK73"),
    ("group number 88123", "ACCOUNT", "88123"),
    ("保险号：123456789", "ACCOUNT", "123456789"),
    ("新农合号 320102001", "ACCOUNT", "320102001"),
    # messaging accounts
    ("微信号：zhangwei_88", "ACCOUNT", "zhangwei_88"),
    ("WeChat: zw1988", "ACCOUNT", "zw1988"),
    ("QQ号：12345678", "ACCOUNT", "12345678"),
    ("可加微信 wx_lina2020 联系", "ACCOUNT", "wx_lina2020"),
    # device serial numbers and licence plates
    ("serial no. SN-4432-XY", "ID", "SN-4432-XY"),
    ("S/N 88A-7731", "ID", "88A-7731"),
    ("Implant S/N: 88A-7731", "ID", "88A-7731"),
    ("plate ABC-1234", "ID", "ABC-1234"),
    ("license plate 7ABC123", "ID", "7ABC123"),
    ("registration plate AB12 CDE", "ID", "AB12 CDE"),
    ("车牌号 京A12345", "ID", "京A12345"),
    ("车牌：沪B·D12345", "ID", "沪B·D12345"),
    ("驾车（粤B12345）时受伤", "ID", "粤B12345"),
    # phones and faxes
    ("Call (555) 123-4567.", "PHONE", "(555) 123-4567"),
    ("Call 555-123-4567.", "PHONE", "555-123-4567"),
    ("Call 1-555-123-4567.", "PHONE", "1-555-123-4567"),
    ("电话 +86 138 0013 8000", "PHONE", "+86 138 0013 8000"),
    ("联系电话13800138000", "PHONE", "13800138000"),
    ("座机010-12345678", "PHONE", "010-12345678"),
    ("Tel: 555 1234", "PHONE", "555 1234"),
    ("Call 555 867 5309 tomorrow.", "PHONE", "555 867 5309"),
    ("daughter can be reached on 555 867 5309", "PHONE", "555 867 5309"),
    ("Fax: (555) 765-4321", "FAX", "(555) 765-4321"),
    ("传真：0571-87654321", "FAX", "0571-87654321"),
    # email, URL, IP
    ("Email j.smith@example.com now", "EMAIL", "j.smith@example.com"),
    ("邮箱：zhangwei@163.com", "EMAIL", "zhangwei@163.com"),
    ("see https://patient-portal.example.org/u/123.", "URL", "https://patient-portal.example.org/u/123"),
    ("www.zhangwei-blog.cn", "URL", "www.zhangwei-blog.cn"),
    ("IP address 10.0.0.15", "IP", "10.0.0.15"),
    ("host 192.168.1.20", "IP", "192.168.1.20"),
    ("fe80::1ff:fe23:4567:890a", "IP", "fe80::1ff:fe23:4567:890a"),
    # addresses and zip codes in address context
    ("Lives at 1420 Maple Avenue, Springfield, IL 62704.", "ADDRESS", "1420 Maple Avenue, Springfield, IL 62704"),
    ("Address: 77 West 5th Street, Apt 4B, Boston, MA 02115", "ADDRESS",
     "77 West 5th Street, Apt 4B, Boston, MA 02115"),
    ("P.O. Box 4471", "ADDRESS", "P.O. Box 4471"),
    ("家住浙江省杭州市西湖区文三路123号", "ADDRESS", "浙江省杭州市西湖区文三路123号"),
    ("住址：北京市朝阳区建国路88号3号楼2单元501室", "ADDRESS", "北京市朝阳区建国路88号3号楼2单元501室"),
    ("住址沈阳市和平区南京南街155号", "ADDRESS", "沈阳市和平区南京南街155号"),
    ("来自江苏省南京市鼓楼区", "ADDRESS", "江苏省南京市鼓楼区"),
    ("ZIP 62704", "ADDRESS", "62704"),
    ("ZIP 55905", "ADDRESS", "55905"),
    ("zip code 55905", "ADDRESS", "55905"),
    ("zip code is 55905", "ADDRESS", "55905"),
    ("Zip-code: 55905-0001", "ADDRESS", "55905-0001"),
    ("Rochester, Minnesota 55905", "ADDRESS", "Rochester, Minnesota 55905"),
    ("Rochester, MN 55905", "ADDRESS", "Rochester, MN 55905"),
    ("She lives in Rochester 55905 with her husband.", "ADDRESS", "Rochester 55905"),
    ("resides in the 55905 area", "ADDRESS", "55905"),
    ("邮编：310012", "ADDRESS", "310012"),
    # hospitals and institutions
    ("Transferred to Springfield General Hospital.", "HOSPITAL", "Springfield General Hospital"),
    ("Referred from Riverside Medical Center.", "HOSPITAL", "Riverside Medical Center"),
    ("St. Mary's Hospital", "HOSPITAL", "St. Mary's Hospital"),
    ("Hospital of the University of Pennsylvania", "HOSPITAL", "Hospital of the University of Pennsylvania"),
    ("转至杭州市第一人民医院", "HOSPITAL", "杭州市第一人民医院"),
    ("就诊于浙江大学附属邵逸夫医院", "HOSPITAL", "浙江大学附属邵逸夫医院"),
    ("于绍兴市中医院就诊", "HOSPITAL", "绍兴市中医院"),
    ("曾在北京协和医院就诊", "HOSPITAL", "北京协和医院"),
    # ages over 89
    ("A 92-year-old man", "AGE", "92-year-old"),
    ("aged 95", "AGE", "95"),
    ("Patient is age 92.", "AGE", "92"),
    ("She died at the age of 97.", "AGE", "97"),
    ("aged 95.", "AGE", "95"),
    ("Age: 101", "AGE", "101"),
    ("ninety-one-year-old woman", "AGE", "ninety-one-year-old"),
    ("患者93岁", "AGE", "93岁"),
    ("年龄：96", "AGE", "96"),
    ("九十二岁老人", "AGE", "九十二岁"),
]


@pytest.mark.parametrize("text,kind,value", CAUGHT, ids=[c[0][:40] for c in CAUGHT])
def test_identifier_caught_with_kind(text, kind, value):
    found = [(f.kind, f.text) for f in find_identifiers(text)]
    assert (kind, value) in found
    out = deidentify(text)
    assert deid.PLACEHOLDERS[kind] in out
    assert value not in out


def test_ages_over_89_become_one_bucket_in_both_languages():
    assert deidentify("A 92-year-old man.") == "A [AGE>89] man."
    assert deidentify("患者，男，92岁。") == "患者，男，[AGE>89]。"
    assert deidentify("A 67-year-old man, 89 years old brother.") == "A 67-year-old man, 89 years old brother."
    assert deidentify("患者，男，67岁，其父89岁。") == "患者，男，67岁，其父89岁。"


def test_title_after_a_count_is_not_a_street():
    found = find_identifiers("In 12 Patients Dr. Smith found no leak.")
    assert [(f.kind, f.text) for f in found] == [("NAME", "Smith")]


def test_ip_like_section_numbers_need_a_cue():
    assert find_identifiers("Section 3.2.1.4 describes the approach.") == []
    assert find_identifiers("logged in from 10.0.0.15") == []
    assert [f.kind for f in find_identifiers("logged in from IP 10.0.0.15")] == ["IP"]


# --------------------------------------------------------------------------------------
# What must survive byte-identical
# --------------------------------------------------------------------------------------

SURVIVE = [
    # levels, sequences, angles, scores, labs, doses, measurements, durations
    "MRI showed a broad-based disc herniation at L4/5 and L5/S1 with foraminal stenosis at L4-L5 and C5-C6.",
    "The fracture involved T12 and L1; the T12-L1 junction was kyphotic. C5/6/7 showed spondylosis.",
    "Sagittal T1WI and T2WI with STIR were obtained; T2 hyperintensity at C4.",
    "HLA-B27 was positive. Cobb angle 45° on standing radiographs; thoracic kyphosis 62 degrees.",
    "VAS 7/10, JOA 12/17, ODI 46%, ASIA grade C, Frankel D, mJOA 11.",
    "ESR 56 mm/h, CRP 32 mg/L, WBC 11.2×10^9/L, hemoglobin 128 g/L, platelets 245 × 10^9/L.",
    "Methylprednisolone 30 mg/kg bolus followed by 5.4 mg/kg/h for 23 hours.",
    "The lesion measured 3.2 × 2.1 cm; the canal diameter was 12 mm.",
    "Symptoms for 3 months, worsening over 2 weeks; follow-up at 1, 3, 6 and 12 months.",
    "Blood pressure 135/85 mmHg, heart rate 78/min, operative time 180 min, blood loss 350 mL.",
    "Bone mineral density T-score -2.8 at the femoral neck.",
    "mJOA 12/17/18 at baseline, 6 months and final follow-up; infants aged 90 days were excluded.",
    # years alone, ages up to 89, figure labels, versions, identifiers of publications
    "In 2019, the guideline was updated; the 2-year fusion rate was 94%.",
    "A 67-year-old woman presented with neurogenic claudication; an 89 years old man had OPLL.",
    "See Figure 3-2, Fig. 12.2 and Table 4.1.",
    "Version 1.0.0 of the dataset; deid_version 1.0.0.",
    "doi:10.1016/j.spinee.2019.01.001 and PMC1234567, https://doi.org/10.1016/j.spinee.2019.01.001",
    "CC-BY-4.0",
    "Section 3.2.1.4 describes the anterior approach.",
    # eponyms, diseases, signs, classifications, procedures, drugs, genes
    "Scheuermann disease, Pott disease, Brown-Séquard syndrome, Kümmell disease and Klippel-Feil syndrome.",
    "Modic type 1 changes; Meyerding grade II spondylolisthesis; Hoffmann sign positive; Babinski sign negative.",
    "Lasègue sign at 40°; Marfan syndrome and Ehlers-Danlos syndrome may cause scoliosis.",
    "Grade 4 May-Thurner syndrome was ruled out.",
    "Type II odontoid fracture (Anderson and D'Alonzo classification); AO Spine classification.",
    "Procedures include ACDF, TLIF, PLIF, OLIF, XLIF and kyphoplasty.",
    "Gabapentin 300 mg three times daily and celecoxib 200 mg daily were started.",
    "Mutations in COL1A1 and FBN1 are associated with scoliosis.",
    "Magnetic Resonance Imaging (MRI) is the modality of choice.",
    "In this patient Magnetic Resonance Imaging showed cord compression.",
    "The patient was treated at a general hospital and later at an outside clinic.",
    # author citations are not person names
    "As reported by Smith et al., 2019, fusion rates exceeded 90%.",
    "Smith et al. (2019) and Jones and Brown (2020) found similar results.",
    "According to Wang et al. [12], the complication rate was 8.5%.",
    # headings, dialogue roles and labels whose value is not a name or a number
    "The Spine Patient Outcomes Research Trial (SPORT) compared surgery with nonoperative care.",
    "Patient Reported Outcome Measures were collected at 6 weeks.",
    "Doctor: Based on your MRI, the L4/5 disc is pressing on the nerve.",
    "Patient: My left leg feels numb when I walk.",
    "Doctor: Ankylosing Spondylitis is an inflammatory disease affecting the spine.",
    "assistant: Degenerative Spondylolisthesis at L4-L5 is the most likely diagnosis.",
    "Diagnosis: Lumbar Disc Herniation (L4/5).",
    "Drug name: Celecoxib",
    "Level: L4-L5\nSpecimen: T12 biopsy",
    "Take into account 1234 patients from the registry.",
    "Policy: 2019 guideline update.",
    # historical figures, authors and eponyms next to the words that anchor unlabelled names
    "Lou Gehrig disease can mimic cervical myelopathy; Tommy John surgery is an elbow procedure.",
    "The Patrick test was positive; the Thomas test was negative; the Adams forward bend test was positive.",
    "Sister Mary Joseph nodule is a sign of metastasis.",
    "Harris Hip Score improved from 45 to 88; Kaplan-Meier survival and Mann-Whitney U test were used.",
    "Mother and father were both healthy; daughter cells divide.",
    "Her mother had osteoporosis; his father had ankylosing spondylitis.",
    "His wife was present. Her husband drove her home. The patient's son is a physician.",
    "Clinical Presentation: A 45-year-old man. Index Case was a 45-year-old man.",
    "Case Report: A 67-year-old woman presented with back pain.",
    "PT Daily Progress was reviewed.",
    # numbers that look like the new formats
    "Values 120 130 1400 and 250 300 1500 were recorded.",
    "Blood loss 350 400 1200 mL in the three groups.",
    "Age group: 12-17 years; plan: 10-14 days of bracing.",
    "S/N ratio of 25 dB; SN-38 is the active metabolite of irinotecan.",
    "The plate was a 4-hole plate; plate C5-C6; anterior plate 22 mm.",
    "QQ plot showed a normal distribution. A lot of 1234 patients were screened.",
    "In Minnesota 55 patients were enrolled; home in 3 weeks.",
    "Neonates aged 92.5 days were excluded.",
    # Chinese clinical text
    "其子宫正常，双附件未见异常。",
    "其女性亲属均体健。",
    "其母亲患骨质疏松，其父亲体健。",
    "与同事关系融洽，家属陪同入院。",
    "腰4/5椎间盘突出，腰5/骶1椎管狭窄，颈5/6、颈6/7节段退变，胸12椎体压缩骨折。",
    "MRI示T2WI高信号，STIR序列示骨髓水肿，HLA-B27阳性。",
    "Cobb角 38°，VAS评分7分，JOA评分12/17分，ODI 46%。",
    "血沉56 mm/h，C反应蛋白32 mg/L，白细胞11.2×10^9/L。",
    "患者67岁，腰痛3个月，加重2周；术后2周拆线，3个月复查。",
    "见图3-2及表4-1。",
    "2019年发表的指南推荐早期手术。",
    "患者既往体健，否认高血压、糖尿病病史。",
    "患者高血压病史10年，规律服药。",
    "患者曾于2019年行腰椎手术。",
    "患者于我院门诊就诊，收入骨科。",
    "患者于当地医院行保守治疗无效，转入上级医院进一步治疗。",
    "患者左侧下肢麻木，右侧正常。",
    "患者全身乏力，精神尚可。",
    "患者康复出院。",
    "患者高热，体温39.2℃。",
    "医生：您好，请问哪里不舒服？",
    "患者：我腰疼了三个月了。",
    "医生：建议行椎板切除减压术。",
    "主任查房后指示完善术前检查。",
    "值班医生查看患者后予对症处理。",
    "责任护士协助患者翻身。",
    "主管医生向家属交代病情。",
    "相关医生会诊后同意手术。",
    "行后路腰椎椎间融合术（PLIF），经椎间孔入路。",
    "术后予镇痛、营养神经治疗，术区切口愈合良好。",
    "马尾综合征需急诊手术。",
    "黄韧带骨化症（OLF）与后纵韧带骨化症（OPLL）。",
    "陈旧性骨折，骨质疏松。",
    "强直性脊柱炎患者脊柱呈竹节样改变。",
    "社区获得性肺炎，医院获得性感染。",
    "患者双下肢肌力5级，高龄，手术风险大。",
    "医生曾建议，手术治疗。",
]


# Textbooks and guidelines name historical figures: public, kept in literature mode. In patient
# text (the default, recall-first mode) the same people are scrubbed: a note never needs them.
HISTORY = [
    "Paul Harrington developed the Harrington rod in the 1950s.",
    "John Charnley was a British orthopaedic surgeon who described low-friction arthroplasty.",
    "Sir Ludwig Guttmann founded the Stoke Mandeville spinal unit.",
    "Percivall Pott described tuberculous spondylitis in 1779; Thomas Lowe reported on Scheuermann kyphosis.",
]


@pytest.mark.parametrize("text", HISTORY, ids=[s[:40] for s in HISTORY])
def test_literature_mode_keeps_historical_names(text):
    assert find_identifiers(text, mode="literature") == []
    assert deidentify(text, mode="literature") == text
    assert "Harrington developed" not in deidentify(text) or "Paul" not in deidentify(text)


@pytest.mark.parametrize("text", SURVIVE, ids=[s[:40] for s in SURVIVE])
def test_clinical_text_survives(text):
    assert find_identifiers(text) == []
    assert deidentify(text) == text


# --------------------------------------------------------------------------------------
# Detector contract
# --------------------------------------------------------------------------------------


def test_placeholders_are_not_reported():
    text = (
        "Patient: [NAME]  MRN: [MRN]  DOB: [DATE]  Address: [ADDRESS]  Age: [AGE>89]\n"
        "姓名：[NAME] 住院号：[MRN] 住址：[ADDRESS]"
    )
    assert find_identifiers(text) == []
    assert deidentify(text) == text


@pytest.mark.parametrize("note", [note for note, _ in NOTES], ids=NOTE_IDS)
def test_findings_sorted_non_overlapping_and_consistent(note):
    findings = find_identifiers(note)
    assert findings and all(isinstance(f, Finding) for f in findings)
    for f in findings:
        assert f.kind in deid.KINDS and note[f.start : f.end] == f.text
    for a, b in itertools.pairwise(findings):
        assert a.end <= b.start


def test_idempotent_on_notes_and_mixtures():
    texts = [note for note, _ in NOTES] + [*SURVIVE, *(c[0] for c in CAUGHT)]
    pieces = [value for _, _, value in CAUGHT]
    pieces += ["患者", "医生", "先生", "：", ": ", " ", "，", "Dr. ", "Patient: ", "MRN ", "住院号", "Hospital", "医院"]
    pieces += ["市", "区", "号", "\n", "[NAME]"]
    rng = random.Random(20240314)
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randint(2, 5))) for _ in range(400)]
    for text in texts:
        once = deidentify(text)
        assert deidentify(once) == once, text
        assert find_identifiers(once) == [], text


def test_name_boundary_exposed_by_a_replacement_is_still_scrubbed():
    # "张伟2023年…": the segmenter finds the name at once; the rules alone would find it only
    # once the date is replaced (the second scan).
    assert [f.kind for f in find_identifiers("患者张伟2023年3月14日入院")] == ["NAME", "DATE"]
    out = deidentify("患者张伟2023年3月14日入院")
    assert out == "患者[NAME][DATE]入院"
    assert deidentify(out) == out


def test_bad_input_type():
    with pytest.raises(TypeError, match="str"):
        find_identifiers(b"MRN 12345")
    assert find_identifiers("") == [] and deidentify("") == ""


def test_version_is_recorded():
    assert DEID_VERSION == "2.0.0"


# --------------------------------------------------------------------------------------
# Deidentifier configuration
# --------------------------------------------------------------------------------------


def test_known_values_are_scrubbed_without_any_cue():
    d = Deidentifier(
        {"NAME": ["Quentin Ashworth-Blythe", "禤海燕"], "MRN": ["RG-00482913"], "PHONE": ["+86 139 0000 1111"]}
    )
    text = ("Ashworth-Blythe tolerated the procedure; QUENTIN ASHWORTH-BLYTHE was discharged (rg-00482913). "
            "禤海燕术后恢复良好，电话13900001111。")
    assert d.scrub(text) == ("[NAME] tolerated the procedure; [NAME] was discharged ([MRN]). "
                             "[NAME]术后恢复良好，电话[PHONE]。")
    # The default instance knows none of these, and still removes the names: recall first.
    default = deidentify(text)
    assert "Ashworth" not in default and "ASHWORTH" not in default and "禤海燕" not in default


def test_known_chinese_name_not_matched_after_a_digit():
    # The attending "周明" is not in "术后1周明显好转" (1 week, clearly better).
    d = Deidentifier({"NAME": ["周明"]})
    assert d.scrub("术后1周明显好转，周明主治医师查房。") == "术后1周明显好转，[NAME]主治医师查房。"


def test_known_name_words_match_capitalised_only():
    d = Deidentifier({"NAME": ["Rose Grant"]})
    text = "Rose was seen today; pain rose after the grant-funded trial. Grant agreed."
    assert d.scrub(text) == "[NAME] was seen today; pain rose after the grant-funded trial. [NAME] agreed."
    # Words that are also common English ("Will", "May") are not matched on their own.
    text = "Will the pain improve? May we operate?"
    assert Deidentifier({"NAME": ["Will May"]}).scrub(text) == text


def test_allowed_url_hosts():
    text = "See https://doi.org/10.1000/xyz and https://europepmc.org/article/PMC/PMC1234 and https://example.org/p/1"
    assert [f.text for f in find_identifiers(text)] == ["https://example.org/p/1"]
    strict = Deidentifier(allowed_url_hosts=())
    assert [f.kind for f in strict.find(text)] == ["URL", "URL", "URL"]


def test_known_values_are_validated():
    with pytest.raises(ValueError, match="SURNAME"):
        Deidentifier({"SURNAME": ["Smith"]})
    with pytest.raises(TypeError, match="list of strings"):
        Deidentifier({"NAME": "Smith"})


# --------------------------------------------------------------------------------------
# Structured records
# --------------------------------------------------------------------------------------

EN_RECORD = {
    "name": "Quentin R. Ashworth-Blythe",
    "sex": "M",
    "age": 93,
    "DOB": "1931-01-09",
    "MRN": "RG-00482913",
    "ssn": "123-45-6789",
    "phone": "555-014-2290",
    "Email": "q.ab@example.org",
    "address": "1187 Alder Creek Road, Millbrook, OH 43952",
    "hospital": "Riverside General Hospital",
    "admissionDate": "2024-02-02",
    "Discharge Date": "2024-02-06",
    "attending_physician": "Dr. Helen Castellano",
    "emergency contact": {"name": "Karen Ashworth-Blythe", "relation": "wife", "phone": 5550142291},
    "drug_name": "Celecoxib",
    "levels": ["L4/5", "L5/S1"],
    "vas": 7,
    "smoker": False,
    "notes": [
        "Quentin was admitted for left L4/5 microdiscectomy; VAS 7/10. Ashworth-Blythe is 93 years of age.",
        "Discharged to 1187 Alder Creek Road, Millbrook. Dialysis patient from Millbrook; call 5550142290.",
        "Follow-up at Riverside General in 6 weeks with Dr. Castellano.",
    ],
}


def test_record_identifier_keys_replaced_wholesale():
    out = deidentify_fields(EN_RECORD)
    assert out["name"] == "[NAME]" and out["attending_physician"] == "[NAME]"
    assert out["DOB"] == out["admissionDate"] == out["Discharge Date"] == "[DATE]"
    assert out["MRN"] == "[MRN]" and out["ssn"] == "[ID]" and out["phone"] == "[PHONE]" and out["Email"] == "[EMAIL]"
    assert out["address"] == "[ADDRESS]" and out["hospital"] == "[HOSPITAL]"
    assert out["emergency contact"] == {"name": "[NAME]", "relation": "[NAME]", "phone": "[PHONE]"}
    assert out["age"] == "90+"
    # Ordinary fields are untouched.
    assert out["sex"] == "M" and out["drug_name"] == "Celecoxib" and out["levels"] == ["L4/5", "L5/S1"]
    assert out["vas"] == 7 and out["smoker"] is False


def test_record_identifier_values_scrubbed_from_free_text():
    out = deidentify_fields(EN_RECORD)
    assert out["notes"] == [
        "[NAME] was admitted for left L4/5 microdiscectomy; VAS 7/10. [NAME] is [AGE>89].",
        "Discharged to [ADDRESS]. Dialysis patient from [ADDRESS]; call [PHONE].",
        "Follow-up at [HOSPITAL] in 6 weeks with Dr. [NAME].",
    ]


def test_record_input_untouched_and_output_new():
    before = copy.deepcopy(EN_RECORD)
    out = deidentify_fields(EN_RECORD)
    assert before == EN_RECORD
    assert out is not EN_RECORD and out["notes"] is not EN_RECORD["notes"]


ZH_RECORD = {
    "患者姓名": "禤海燕",
    "性别": "女",
    "年龄": "93岁",
    "出生日期": "1931-03-02",
    "住院号": "ZY20240315027",
    "病案号": 456789,
    "门诊号": "MZ0099",
    "身份证号": "320102193103023526",
    "联系电话": "13851627734",
    "手机": "139 5182 0066",
    "家庭住址": "江苏省南京市鼓楼区中山北路218号",
    "就诊医院": "江北市第一人民医院",
    "邮箱": "xhy@example.cn",
    "入院日期": "2024-03-15",
    "出院日期": "2024-03-23",
    "主治医师": "李振华",
    "科室": "脊柱外科二病区",
    "医生建议": "佩戴腰围3个月",
    "诊断": "腰椎管狭窄症（L3-L5）",
    "病程记录": ["禤海燕术后第1天，李振华主治医师查房，双下肢麻木减轻。", "出院后电话13951820066随访。"],
}


def test_zh_record():
    out = deidentify_fields(ZH_RECORD)
    for key in ("患者姓名", "主治医师"):
        assert out[key] == "[NAME]"
    for key in ("出生日期", "入院日期", "出院日期"):
        assert out[key] == "[DATE]"
    for key in ("住院号", "病案号", "门诊号"):
        assert out[key] == "[MRN]"
    assert out["身份证号"] == "[ID]" and out["联系电话"] == out["手机"] == "[PHONE]" and out["邮箱"] == "[EMAIL]"
    assert out["家庭住址"] == "[ADDRESS]" and out["就诊医院"] == "[HOSPITAL]"
    assert out["年龄"] == "90+"
    for key in ("科室", "医生建议", "诊断"):
        assert out[key] == ZH_RECORD[key]
    # 禤 is not in the surname list: only the record's own name field reveals it.
    assert out["病程记录"] == ["[NAME]术后第1天，[NAME]主治医师查房，双下肢麻木减轻。", "出院后电话[PHONE]随访。"]


@pytest.mark.parametrize(
    "key,value,expected",
    [
        ("age", 90, "90+"),
        ("age", 89, 89),
        ("Age", 104.0, "90+"),
        ("年龄", "67岁", "67岁"),
        ("patient_age", "95 years", "90+"),
    ],
)
def test_record_ages(key, value, expected):
    assert deidentify_fields({key: value})[key] == expected


def test_record_dates_and_empty_values():
    out = deidentify_fields({"visit": dt.date(2024, 3, 15), "name": "N/A", "phone": "", "mrn": None, "姓名": "不详"})
    assert out == {"visit": "[DATE]", "name": "N/A", "phone": "", "mrn": None, "姓名": "不详"}


def test_record_bad_values_name_their_path():
    with pytest.raises(TypeError, match=r"fields\.notes\[1\]"):
        deidentify_fields({"notes": ["ok", {1, 2}]})
    with pytest.raises(TypeError, match="dict"):
        deidentify_fields(["not", "a", "record"])


# --------------------------------------------------------------------------------------
# The project's own sample sources
# --------------------------------------------------------------------------------------


def _strings(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)
    elif isinstance(obj, str):
        yield obj


def _identifier_values(obj, kind=None):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _identifier_values(v, deid._key_kind(k) or kind)
    elif isinstance(obj, list):
        for v in obj:
            yield from _identifier_values(v, kind)
    elif kind not in (None, "AGE") and obj not in (None, ""):
        yield str(obj)


@pytest.mark.skipif(not (SOURCES / "inpatient").is_dir(), reason="sample inpatient sources not present")
@pytest.mark.parametrize("path", sorted((SOURCES / "inpatient").glob("*.json")), ids=lambda p: p.name)
def test_sample_inpatient_records_leave_nothing(path):
    record = json.loads(path.read_text(encoding="utf-8"))
    out = deidentify_fields(record)
    flat = json.dumps(out, ensure_ascii=False)
    for value in _identifier_values(record):
        assert value not in flat, value
    assert [f for s in _strings(out) for f in find_identifiers(s)] == []


@pytest.mark.skipif(not SOURCES.is_dir(), reason="sample sources not present")
def test_sample_textbooks_and_guidelines_have_no_findings():
    files = sorted([*SOURCES.glob("textbooks/*.md"), *SOURCES.glob("guidelines/*.md")])
    assert files
    for path in files:
        assert find_identifiers(path.read_text(encoding="utf-8")) == [], path.name


# --------------------------------------------------------------------------------------
# Throughput (run by hand: pytest tests/deid/test_deid.py -m slow -s)
# --------------------------------------------------------------------------------------


def _packed_inpatient_notes(size: int = 650) -> list[str]:
    """The shipped inpatient notes packed into notes of about `size` characters."""
    notes, cur = [], ""
    for path in sorted((SOURCES / "inpatient").glob("*.json")):
        for note in json.loads(path.read_text(encoding="utf-8")).get("notes", []):
            if cur and len(cur) + len(note["text"]) > size:
                notes.append(cur)
                cur = ""
            cur += note["text"] + "\n"
    return [*notes, cur] if cur else notes


@pytest.mark.slow
def test_throughput_report():
    workloads = [
        ("clinical text, no identifiers", [" ".join(SURVIVE[:9])[:600], "".join(SURVIVE[-30:])[:600]]),
        ("planted notes, ~20 identifiers each", [EN_NOTE[:600], ZH_NOTE]),
    ]
    if (SOURCES / "inpatient").is_dir():
        workloads.append(("shipped inpatient notes", _packed_inpatient_notes()))
    for label, notes in workloads:
        assert all(find_identifiers(deidentify(note)) == [] for note in notes)
        chars = sum(map(len, notes)) / len(notes)
        for fn in (find_identifiers, deidentify):
            best = float("inf")
            for _ in range(5):
                t0 = time.perf_counter()
                for _ in range(20):
                    for note in notes:
                        fn(note)
                best = min(best, time.perf_counter() - t0)
            print(f"\n{fn.__name__:16s} {label}: {20 * len(notes) / best:,.0f} notes/s (~{chars:.0f} chars each)")
