"""End-to-end de-identification: identifiers planted in every source kind never get out.

A copy of the shipped sample sources is seeded with NEW identifiers drawn from Faker (en_US,
en_GB and zh_CN, fixed seeds) -- generators that were not used to write the detector's rules:

* inpatient JSON: every structured identifier key (name, DOB, MRN, SSN / 身份证号, phone, e-mail,
  address, hospital, attending physician, admission / discharge / imaging dates), two keys
  nobody planned for (``insurance_member_id``, ``家属微信``) and free-text clinical fields;
* inpatient notes, EN and ZH: a full name opening a sentence without any cue, 'Last, First',
  relatives and clinicians named only in the notes, phones, MRN-like numbers, street
  addresses, towns, dates in several formats;
* JATS case reports: abstract and body paragraphs and figure captions (EN, and the ZH report);
* markdown textbooks and guidelines: a patient vignette paragraph and a figure caption;
* question banks: stem, an option, the explanation and an item id (CSV and the ZH JSON);
* file names: a case report, an inpatient export (and its case id), a case-report figure and a
  textbook figure renamed after people (catalog.yaml updated where it names the file);
* image metadata: PNG tEXt ``Author`` / iTXt ``Comment`` and JPEG EXIF Artist /
  ImageDescription and a COM comment carrying names, on the images the build publishes.

Textbooks and guidelines are de-identified in 'literature' mode (spinemed/deid/records.py):
their authors, eponyms and citations are public and are kept on purpose.  So only
clinical-style identifiers are planted there -- phone numbers, e-mails, MRNs, dates of birth,
street addresses, and names behind a patient cue ('A patient, <name>, of ...', 'Patient:
<name>', '患者<name>') -- never a bare name, which literature mode may rightly keep.

The sources are built once with the offline backend and once against a local OpenAI-compatible
capture server marked trusted.  Every string cell of every parquet shard, every published
image (its metadata text and its raw bytes), README.md, manifest.json and every captured
request body (with its images) is searched for every planted value.  Latin values match
case-insensitively between non-alphanumeric boundaries; values with Chinese characters match
as substrings.  Values shorter than 4 characters are not kept -- except Chinese ones, where a
2-3 character full name is the whole identifier (kept from 2 characters; single-character
surnames are not).  A candidate value that already occurs in the unmodified samples, the
builder's prompts or an unmodified build is drawn again, so that a hit can only come from the
plant.  Finally `spinemed publish --dry-run` passes the clean build and refuses it once a
planted name is written into a shard after the build.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from faker import Faker
from PIL import Image, PngImagePlugin
from release_edit import request_text_and_images, rewrite_first_shard  # tests/ is on sys.path (pytest's rootdir-relative import)
from tools.simserver import SimServer

from spinemed.cli import main as cli_main
from spinemed.corpus.offline_rules import RulesBackend
from spinemed.corpus.pipeline import BuildConfig, run_build
from spinemed.deid.gate import scan_folder as gate_scan
from spinemed.deid.images import metadata_text

ROOT = Path(__file__).resolve().parents[2]
BUILDER = ROOT / "builders" / "spinemed_450k"
SOURCES = BUILDER / "sources"
SEED = 20240611
_CJK = re.compile(r"[\u3400-\u9fff]")
_TEXT_SUFFIXES = {".py", ".md", ".json", ".csv", ".xml", ".yaml", ".yml", ".txt", ".jinja", ".j2", ".tmpl"}


# ---------------------------------------------------------------- matching


def _has_cjk(value: str) -> bool:
    return bool(_CJK.search(value))


def _pattern(value: str) -> str:
    if _has_cjk(value):
        return re.escape(value)
    return r"(?<![0-9A-Za-z])" + re.escape(value) + r"(?![0-9A-Za-z])"


def _finder(values: Iterable[str]) -> re.Pattern | None:
    values = sorted(set(values), key=len, reverse=True)
    return re.compile("|".join(_pattern(v) for v in values), re.IGNORECASE) if values else None


def _occurs(value: str, text: str, lowered: str | None = None) -> bool:
    if value.lower() not in (lowered if lowered is not None else text.lower()):  # fast path
        return False
    return re.search(_pattern(value), text, re.IGNORECASE) is not None


# ---------------------------------------------------------------- the planted values


@dataclass(frozen=True)
class Plant:
    value: str
    field: str  # source file and field the value was planted in


class Planter:
    """Draws fresh identifiers and keeps the list of everything planted."""

    def __init__(self, corpus: str):
        self.corpus = corpus
        self.lowered = corpus.lower()
        self.fakers = {}
        for n, loc in enumerate(("en_US", "en_GB", "zh_CN")):
            f = Faker(loc)
            f.seed_instance(SEED + n)
            self.fakers[loc] = f
        self.plants: list[Plant] = []
        self.used: set[str] = set()

    def fake(self, loc: str) -> Faker:
        return self.fakers[loc]

    def _fresh(self, value: str) -> bool:
        key = value.lower()
        if key in self.used:
            return False
        # a shorter value is not checked; a longer one must not already occur anywhere
        return not (self._kept(value) and _occurs(value, self.corpus, self.lowered))

    @staticmethod
    def _kept(value: str) -> bool:
        return len(value) >= (2 if _has_cjk(value) else 4)

    def add(self, value: str, field: str) -> str:
        value = str(value).strip()
        if self._kept(value):
            self.plants.append(Plant(value, field))
            self.used.add(value.lower())
        return value

    def draw(self, make, field: str, *, record: bool = True) -> str:
        for _ in range(200):
            value = str(make()).strip()
            if value and self._fresh(value):
                return self.add(value, field) if record else value
        raise AssertionError(f"no fresh value for {field}")

    def zh(self, field: str) -> str:
        """A fresh Chinese full name (planted whole: the surname alone is one character)."""
        return self.draw(self.fake("zh_CN").name, field)

    def name(self, loc: str, field: str) -> tuple[str, str]:
        """(given, surname) of a fresh person; the full name and the surname are planted."""
        f = self.fake(loc)
        for _ in range(500):
            given, last = f.first_name(), f.last_name()
            full = f"{given} {last}"
            if (len(last) >= 4 and len(given) >= 3 and self._fresh(full) and self._fresh(last)
                    and not _occurs(given, self.corpus, self.lowered)):
                self.add(full, field)
                self.add(last, field + " (surname)")
                return given, last
        raise AssertionError(f"no fresh name for {field}")

    # shortcuts -------------------------------------------------------------
    def date(self, loc: str, field: str, fmt: str = "%Y-%m-%d") -> str:
        """A fresh date of the last three years; fmt "long" is "4 November 2023"."""
        f = self.fake(loc)

        def make() -> str:
            d = f.date_between(start_date="-3y", end_date="today")
            return f"{d.day} {d:%B %Y}" if fmt == "long" else d.strftime(fmt)

        return self.draw(make, field)

    def dob(self, loc: str, field: str, fmt: str = "%Y-%m-%d") -> str:
        f = self.fake(loc)
        return self.draw(lambda: f.date_of_birth(minimum_age=25, maximum_age=85).strftime(fmt), field)

    def phone(self, loc: str, field: str) -> str:
        f = self.fake(loc)
        return self.draw(f.phone_number, field)

    def mrn(self, loc: str, field: str, pattern: str = "??-########") -> str:
        f = self.fake(loc)
        return self.draw(lambda: f.bothify(pattern).upper(), field)

    def email(self, loc: str, field: str) -> str:
        return self.draw(self.fake(loc).email, field)

    def street(self, loc: str, field: str) -> tuple[str, str]:
        """(street line, town).  Planted: the street line, its number + street name, the
        street name alone and the town (a partly scrubbed line must not leave the street)."""
        f = self.fake(loc)
        name = self.draw(f.street_name, field + " (street name)")
        core = self.add(f"{f.building_number()} {name}", field + " (house number and street)")
        line = core
        if f.boolean():
            unit = f.secondary_address()
            line = self.add(f"{unit}, {core}" if loc == "en_GB" else f"{core} {unit}", field + " (street line)")
        town = self.draw(f.city, field + " (town)")
        return line, town

    def zh_address(self, field: str) -> str:
        """A Chinese address down to the room.  Planted: the whole address, the street line
        (street, number, building, room) and the street with its number."""
        f = self.fake("zh_CN")
        core = self.draw(lambda: f"{f.street_name()}{f.random_int(1, 999)}号", field + " (street and number)")
        line = self.add(f"{core}{f.random_int(1, 30)}号楼{f.random_int(1, 30)}0{f.random_int(1, 9)}室",
                        field + " (street line)")
        return self.draw(lambda: f"{f.province()}{f.city()}{f.district()}区{line}", field)


def _zh_date(p: Planter, field: str) -> str:
    f = p.fake("zh_CN")

    def make() -> str:
        d = f.date_between(start_date="-3y", end_date="today")
        return f"{d.year}年{d.month}月{d.day}日"

    return p.draw(make, field)


# ---------------------------------------------------------------- planting, per source kind


def _plant_inpatient_en(p: Planter, path: Path, loc: str, rename: bool) -> Path:
    data = json.loads(path.read_text("utf-8"))
    rec = data["record"]
    where = f"inpatient/{path.name}"
    given, last = p.name(loc, f"{where} record.name")
    full = f"{given} {last}"
    rec["name"] = full
    rec["date_of_birth"] = p.dob(loc, f"{where} record.date_of_birth")
    rec["mrn"] = p.mrn(loc, f"{where} record.mrn")
    rec["ssn"] = p.draw(p.fake("en_US").ssn, f"{where} record.ssn")
    rec["phone"] = p.phone(loc, f"{where} record.phone")
    rec["email"] = p.email(loc, f"{where} record.email")
    street, town = p.street(loc, f"{where} record.address")
    rec["address"] = p.add(f"{street}, {town}, {p.fake(loc).postcode()}", f"{where} record.address")
    inst = p.draw(lambda: f"{p.fake(loc).city()} Spine Institute", f"{where} record.hospital")
    rec["hospital"] = inst
    dg, dl = p.name(loc, f"{where} record.attending_physician")
    rec["attending_physician"] = f"Dr. {dg} {dl}"
    rec["admission_date"] = p.date(loc, f"{where} record.admission_date")
    rec["discharge_date"] = p.date(loc, f"{where} record.discharge_date")
    for n, study in enumerate(rec.get("imaging") or []):
        study["date"] = p.date(loc, f"{where} record.imaging[{n}].date")
    # keys nobody planned for
    rec["insurance_member_id"] = p.mrn("en_US", f"{where} record.insurance_member_id", "???#########")
    rec["家属微信"] = p.draw(lambda: "wxid_" + p.fake("en_US").user_name() + str(p.fake("en_US").random_int(10, 99)),
                          f"{where} record.家属微信")
    # free text of a known clinical key
    gpg, gpl = p.name(loc, f"{where} record.history (referring GP)")
    practice = p.draw(lambda: f"{p.fake(loc).last_name()} Family Practice", f"{where} record.history (practice)")
    rec["history"] = f"Referred by {gpg} {gpl} of {practice}. " + rec.get("history", "")

    # notes: identifiers the structured fields do not hold
    notes = data["notes"]
    ag = rec.get("age", 60)
    rel_g, rel_l = p.name(loc, f"{where} notes[0] ('Last, First' relative)")
    p.add(f"{rel_l}, {rel_g}", f"{where} notes[0] ('Last, First' relative)")
    rel_phone = p.phone(loc, f"{where} notes[0] (relative's phone)")
    seen_long = p.date(loc, f"{where} notes[0] (date, long form)", "long")
    chart = p.mrn(loc, f"{where} notes[0] (MRN-like number)", "########")
    notes[0]["text"] = (f"{full}, {ag}, presented to clinic on {seen_long}. {rel_l}, {rel_g} (daughter) came "
                        f"with the patient and is reachable on {rel_phone}. Old chart {chart}. " + notes[0]["text"])
    notes[0]["date"] = p.date(loc, f"{where} notes[0].date")
    sg, sl = p.name(loc, f"{where} notes[1] (surgeon opening a sentence)")
    ag_, al_ = p.name(loc, f"{where} notes[1] (assistant after a comma)")
    stamp = p.date(loc, f"{where} notes[1] (ISO date-time)", "%Y-%m-%dT09:12")
    notes[1]["text"] = (f"{sg} {sl} operated at {stamp}, {ag_} {al_} assisting. {given} tolerated the procedure well. "
                        + notes[1]["text"])
    street2, town2 = p.street(loc, f"{where} notes[2] (discharge address)")
    dis = p.date(loc, f"{where} notes[2] (date, slashes)", "%m/%d/%Y")
    kin_g, kin_l = p.name(loc, f"{where} notes[2] (relative opening a sentence)")
    notes[2]["text"] = (f"Discharged {dis} to {street2}, {town2}. {kin_g} {kin_l} will drive him home. "
                        f"{last} to ring {p.phone(loc, f'{where} notes[2] (clinic phone)')} if weakness returns. "
                        + notes[2]["text"])
    if rename:
        case = p.mrn(loc, f"{where} case_id (renamed)", "RX########")
        data["case_id"] = p.add(f"{case}-{last.lower()}", f"{where} case_id (renamed)")
        new = path.with_name(f"{last}_{given}_{case}.json")
        p.add(f"{last}_{given}", f"file name {new.relative_to(path.parents[1])}")
        path.unlink()
        path = new
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), "utf-8")
    return path


def _plant_inpatient_zh(p: Planter, path: Path) -> None:
    data = json.loads(path.read_text("utf-8"))
    rec = data["record"]
    z = p.fake("zh_CN")
    where = f"inpatient/{path.name}"
    full = p.zh(f"{where} record.姓名")
    rec["姓名"] = full
    rec["出生日期"] = p.dob("zh_CN", f"{where} record.出生日期")
    rec["住院号"] = p.mrn("zh_CN", f"{where} record.住院号", "ZY###########")
    rec["身份证号"] = p.draw(z.ssn, f"{where} record.身份证号")
    rec["联系电话"] = p.phone("zh_CN", f"{where} record.联系电话")
    rec["电子邮箱"] = p.email("zh_CN", f"{where} record.电子邮箱")
    rec["家庭住址"] = p.zh_address(f"{where} record.家庭住址")
    rec["医院"] = p.draw(lambda: f"{z.company_prefix()}骨科中心", f"{where} record.医院")
    doc = p.zh(f"{where} record.主治医师")
    rec["主治医师"] = doc
    rec["入院日期"] = p.date("zh_CN", f"{where} record.入院日期")
    rec["出院日期"] = p.date("zh_CN", f"{where} record.出院日期")
    for n, study in enumerate(rec.get("影像学检查") or []):
        study["日期"] = p.date("zh_CN", f"{where} record.影像学检查[{n}].日期")
    rec["家属微信"] = p.draw(lambda: "wxid_" + p.fake("en_GB").user_name() + str(z.random_int(100, 999)),
                          f"{where} record.家属微信")
    rec["insurance_member_id"] = p.mrn("zh_CN", f"{where} record.insurance_member_id", "YB##############")
    intro = p.zh(f"{where} record.现病史 (referrer)")
    rec["现病史"] = f"经{intro}介绍来诊。" + rec.get("现病史", "")

    notes = data["notes"]
    sex = rec.get("性别", "男")
    ag = rec.get("年龄", 60)
    adm = _zh_date(p, f"{where} notes[0] (date)")
    rel = p.zh(f"{where} notes[0] (relative in brackets)")
    rel_phone = p.phone("zh_CN", f"{where} notes[0] (relative's phone)")
    zy = p.mrn("zh_CN", f"{where} notes[0] (MRN-like number)", "##########")
    notes[0]["text"] = (f"{full}，{sex}，{ag}岁，{adm}因腰腿痛入院（{zy}）。陪护（{rel}）{rel_phone}。"
                        + notes[0]["text"])
    notes[0]["date"] = p.date("zh_CN", f"{where} notes[0].date")
    other = p.zh(f"{where} notes[1] (clinician opening a sentence)")
    notes[1]["text"] = f"{other}查房，{full}诉疼痛减轻。" + notes[1]["text"]
    dis = _zh_date(p, f"{where} notes[2] (date)")
    addr = p.zh_address(f"{where} notes[2] (address)")
    kin = p.zh(f"{where} notes[2] (relative opening a sentence)")
    phone = p.phone("zh_CN", f"{where} notes[2] (phone)")
    notes[2]["text"] = f"{dis}出院，返回{addr}。{kin}接其回家，微信同手机号{phone}。" + notes[2]["text"]
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), "utf-8")


def _plant_jats(p: Planter, path: Path, loc: str, lang: str) -> None:
    xml = path.read_text("utf-8")
    where = f"case_reports/{path.name}"
    count = {"p": 0, "cap": 0}

    body_at = xml.find("<body>")

    def para(m: re.Match) -> str:
        count["p"] += 1
        field = f"{where} {'abstract' if m.start() < body_at else 'body case presentation'} paragraph"
        if lang == "zh":
            nm = p.zh(field)
            d = _zh_date(p, field + " (date)")
            ph = p.phone("zh_CN", field + " (phone)")
            return m.group(0) + f"{nm}，{d}入院，联系电话{ph}。"
        g, sname = p.name(loc, field)
        _, town = p.street(loc, field)
        d = p.date(loc, field + " (date)", "long")
        mrn = p.mrn(loc, field + " (hospital number)")
        return m.group(0) + (f"{g} {sname}, a warehouse worker from {town}, was admitted on {d} "
                             f"(hospital number {mrn}). ")

    def caption(m: re.Match) -> str:
        count["cap"] += 1
        field = f"{where} figure caption {count['cap']}"
        if lang == "zh":
            nm = p.zh(field)
            return m.group(0) + f"（{nm}，{_zh_date(p, field + ' (date)')}摄）"
        g, sname = p.name(loc, field)
        return m.group(0) + f"Images of {g} {sname}, acquired {p.date(loc, field + ' (date)', '%d/%m/%Y')}. "

    title = "病例资料|病例摘要|病例介绍" if lang == "zh" else "Case presentation"
    xml = re.sub(rf"<title>(?:{title})</title>\s*<p>|<abstract>\s*<p>", para, xml)
    xml = re.sub(r"<caption>\s*<p>", caption, xml)
    assert count["p"] >= 1 and count["cap"] >= 1, (path.name, count)
    path.write_text(xml, "utf-8")


_CAPTION = re.compile(r"^(?:\*\*)?(?:Figure|Fig\.|图)\s*\d", re.M)


def _plant_markdown(p: Planter, path: Path, lang: str, loc: str) -> None:
    """A patient vignette paragraph in the first section and a patient cue in the first caption
    (literature mode: clinical-style identifiers only, names behind a patient cue)."""
    lines = path.read_text("utf-8").split("\n")
    where = f"{path.parent.name}/{path.name}"
    field = f"{where} vignette paragraph"
    if lang == "zh":
        nm = p.zh(field)
        addr, tel = p.zh_address(field + " (address)"), p.phone("zh_CN", field + " (phone)")
        mrn, dob = p.mrn("zh_CN", field + " (MRN)", "ZY##########"), p.dob("zh_CN", field + " (DOB)")
        vignette = (f"例如，患者{nm}，住址：{addr}，电话：{tel}，住院号：{mrn}，出生日期：{dob}，"
                    f"邮箱：{p.email('zh_CN', field + ' (e-mail)')}。该患者表现为典型的腰背痛，经保守治疗后好转。")
    else:
        g, last = p.name(loc, field)
        street, town = p.street(loc, field)
        dob, mrn = p.dob(loc, field + " (DOB)", "%m/%d/%Y"), p.mrn(loc, field + " (MRN)")
        tel, mail = p.phone(loc, field + " (phone)"), p.email(loc, field + " (e-mail)")
        vignette = (f"A patient, {g} {last}, of {street}, {town} (DOB {dob}, MRN {mrn}, phone {tel}, e-mail {mail}), "
                    "presented with the typical picture described here and improved with nonoperative care.")
    # after the first ordinary paragraph that follows the first section heading
    heading = next(i for i, ln in enumerate(lines) if ln.startswith("## "))
    at = next((i for i in range(heading + 1, len(lines))
               if lines[i].strip() and not lines[i].startswith(("#", "!", "<!--", "|")) and not _CAPTION.match(lines[i])),
              None)
    if at is None:  # en_ch09 is a headings-only chapter on purpose: the adapter reports it and reads nothing
        return
    lines[at + 1:at + 1] = ["", vignette]
    for i, ln in enumerate(lines):
        if _CAPTION.match(ln):
            cf = f"{where} figure caption"
            if lang == "zh":
                nm = p.zh(cf)
                lines[i] = ln + f"（患者：{nm}，住院号{p.mrn('zh_CN', cf + ' (MRN)', 'ZY##########')}）"
            else:
                g, last = p.name(loc, cf)
                lines[i] = ln + f" (Patient: {g} {last}, MRN {p.mrn(loc, cf + ' (MRN)')})"
            break
    path.write_text("\n".join(lines), "utf-8")


def _plant_csv(p: Planter, path: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(path.read_text("utf-8"))))
    fields = list(rows[0].keys())
    where = "question_bank/mcq_en.csv"
    for n, row in enumerate(rows[:6]):
        loc = ("en_US", "en_GB")[n % 2]
        rid = row["id"]
        g, last = p.name(loc, f"{where} row {rid} question")
        row["question"] = f"{g} {last}, {p.fake(loc).random_int(30, 80)}, is seen in clinic. " + row["question"]
        if n % 3 == 0:
            og, ol = p.name(loc, f"{where} row {rid} option E")
            row["E"] = f"Refer to {og} {ol} for a second opinion"
        if n % 3 == 1:
            eg, el = p.name(loc, f"{where} row {rid} explanation ('Last, First')")
            p.add(f"{el}, {eg}", f"{where} row {rid} explanation ('Last, First')")
            mrn = p.mrn(loc, f"{where} row {rid} explanation (MRN)")
            tel = p.phone(loc, f"{where} row {rid} explanation (phone)")
            row["explanation"] += f" Case from the chart of {el}, {eg} (MRN {mrn}, tel {tel})."
        if n == 2:
            _, il = p.name(loc, f"{where} row {rid} id")
            row["id"] = f"{rid}-{il}"
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    path.write_text(out.getvalue(), "utf-8")


def _plant_zh_json(p: Planter, path: Path) -> None:
    items = json.loads(path.read_text("utf-8"))
    where = "question_bank/mcq_zh.json"
    for n, item in enumerate(items[:6]):
        rid = item["id"]
        nm = p.zh(f"{where} item {rid} question")
        item["question"] = f"{nm}，{p.fake('zh_CN').random_int(30, 80)}岁，门诊就诊。" + item["question"]
        if n % 2 == 0:
            on = p.zh(f"{where} item {rid} option")
            letter = sorted(item["options"])[-1]
            item["options"][letter] = item["options"][letter] + f"（{on}建议）"
        else:
            item["explanation"] += (f"（病例来源：{p.zh(f'{where} item {rid} explanation')}，"
                                    f"电话{p.phone('zh_CN', f'{where} item {rid} explanation (phone)')}）")
        if n == 3:
            en = p.zh(f"{where} item {rid} id")
            item["id"] = f"{rid}-{en}"
    path.write_text(json.dumps(items, ensure_ascii=False, indent=1), "utf-8")


def _plant_png(p: Planter, path: Path, zh: bool) -> None:
    img = Image.open(path)
    img.load()
    info = PngImagePlugin.PngInfo()
    field = f"image metadata {path.parent.parent.name}/images/{path.name}"
    g, last = p.name("en_GB", field + " (PNG tEXt Author)")
    info.add_text("Author", f"{g} {last}")
    if zh:
        nm = p.zh(field + " (PNG iTXt Comment)")
        info.add_itxt("Comment", f"患者{nm}", lang="zh", tkey="注释")
    img.save(path, format="PNG", pnginfo=info)


def _plant_jpeg(p: Planter, path: Path) -> None:
    img = Image.open(path)
    img.load()
    field = f"image metadata case_reports/images/{path.name}"
    ag, al = p.name("en_US", field + " (EXIF Artist)")
    dg, dl = p.name("en_US", field + " (EXIF ImageDescription)")
    cg, cl = p.name("en_US", field + " (JPEG COM)")
    exif = Image.Exif()
    exif[0x013B] = f"{ag} {al}"
    exif[0x010E] = f"MRI of {dg} {dl}"
    img.save(path, format="JPEG", quality=95, exif=exif.tobytes(), comment=f"Scanned for {cg} {cl}".encode())


def plant_sources(dest: Path, corpus: str) -> tuple[Path, list[Plant], dict[str, str]]:
    """Copy the samples to `dest`/sources and plant identifiers; returns (root, plants, renames)."""
    src = dest / "sources"
    shutil.copytree(SOURCES, src)
    p = Planter(corpus)
    renames: dict[str, str] = {}

    # inpatient (one export renamed after its patient, with a case id that holds an MRN and name)
    for n, path in enumerate(sorted((src / "inpatient").glob("IP-EN-*.json"))):
        new = _plant_inpatient_en(p, path, ("en_US", "en_GB")[n % 2], rename=(n == 1))
        if new != path:
            renames[f"inpatient/{path.name}"] = f"inpatient/{new.name}"
    for path in sorted((src / "inpatient").glob("IP-ZH-*.json")):
        _plant_inpatient_zh(p, path)

    # case reports: body, abstract, captions; one file and one figure renamed after people
    catalog = (src / "catalog.yaml").read_text("utf-8")
    for n, path in enumerate(sorted((src / "case_reports").glob("PMC*.xml"))):
        if path.name == "PMC0000106.xml":  # truncated on purpose: the adapter reports it and reads nothing
            continue
        lang = "zh" if 'xml:lang="zh"' in path.read_text("utf-8")[:2000] else "en"
        _plant_jats(p, path, ("en_US", "en_GB")[n % 2], lang)
    fg, fl = p.name("en_GB", "file name case_reports/PMC0000103_<name>.xml")
    old, new = "case_reports/PMC0000103.xml", f"case_reports/PMC0000103_{fl}_{fg}.xml"
    p.add(f"{fl}_{fg}", f"file name {new}")
    (src / old).rename(src / new)
    assert f"path: {old}\n" in catalog
    catalog = catalog.replace(f"path: {old}\n", f"path: {new}\n")
    renames[old] = new
    (src / "catalog.yaml").write_text(catalog, "utf-8")
    ig, il = p.name("en_US", "file name case_reports/images/PMC0000105_f1_<name>.jpg")
    img_old, img_new = "PMC0000105_f1", f"PMC0000105_f1_{il}_{ig}"
    p.add(f"{il}_{ig}", f"file name case_reports/images/{img_new}.jpg")
    (src / "case_reports/images" / f"{img_old}.jpg").rename(src / "case_reports/images" / f"{img_new}.jpg")
    xml = src / "case_reports/PMC0000105.xml"
    xml.write_text(xml.read_text("utf-8").replace(f'xlink:href="{img_old}"', f'xlink:href="{img_new}"'), "utf-8")
    renames[f"case_reports/images/{img_old}.jpg"] = f"case_reports/images/{img_new}.jpg"

    # textbooks and guidelines (literature mode), one figure renamed after a person
    for n, path in enumerate(sorted([*(src / "textbooks").glob("*.md"), *(src / "guidelines").glob("*.md")])):
        lang = "zh" if path.name.startswith("zh_") else "en"
        _plant_markdown(p, path, lang, ("en_US", "en_GB")[n % 2])
    tg, tl = p.name("en_US", "file name textbooks/images/ch5_fig1_<name>.png")
    p.add(f"{tl}_{tg}", f"file name textbooks/images/ch5_fig1_{tl}_{tg}.png")
    md = src / "textbooks/en_ch05_cervical_myelopathy_opll.md"
    md.write_text(md.read_text("utf-8").replace("images/ch5_fig1.png", f"images/ch5_fig1_{tl}_{tg}.png"), "utf-8")
    (src / "textbooks/images/ch5_fig1.png").rename(src / f"textbooks/images/ch5_fig1_{tl}_{tg}.png")
    renames["textbooks/images/ch5_fig1.png"] = f"textbooks/images/ch5_fig1_{tl}_{tg}.png"

    # question banks
    _plant_csv(p, src / "question_bank/mcq_en.csv")
    _plant_zh_json(p, src / "question_bank/mcq_zh.json")

    # image metadata on every sample image
    for path in sorted([*(src / "textbooks/images").glob("*.png"), *(src / "question_bank/images").glob("*.png")]):
        try:
            _plant_png(p, path, zh="zh" in path.name)
        except OSError:  # the deliberately broken sample image
            continue
    for path in sorted((src / "case_reports/images").glob("*.jpg")):
        _plant_jpeg(p, path)
    return src, p.plants, renames


# ---------------------------------------------------------------- scanning


def _walk(value, path: str) -> Iterator[tuple[str, object]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")
    else:
        yield path, value


class Scanner:
    """Collects (where, text) and image bytes, then finds every planted value in them.

    A value is first looked for in all the collected text at once (a plain lower-case
    substring search), and only the values found there are matched cell by cell."""

    def __init__(self, plants: list[Plant]):
        self.by_value: dict[str, list[Plant]] = {}
        for pl in plants:
            self.by_value.setdefault(pl.value, []).append(pl)
        self.texts: list[tuple[str, str]] = []
        self.images: dict[bytes, str] = {}

    def text(self, where: str, text: str) -> None:
        if text:
            self.texts.append((where, text))

    def image(self, where: str, data: bytes) -> None:
        if data not in self.images:
            self.images[data] = where
            for line in metadata_text(data):
                self.text(f"{where} [metadata]", line)

    @cached_property
    def leaks(self) -> dict[str, list[str]]:
        """value -> ["where: context", ...]"""
        lowered = [t.lower() for _, t in self.texts]
        everything = "\n".join(lowered)
        out: dict[str, list[str]] = {}
        for value in self.by_value:
            low = value.lower()
            if low in everything:
                pattern = re.compile(_pattern(value), re.IGNORECASE)
                for (where, text), ltext in zip(self.texts, lowered):
                    if low in ltext and (m := pattern.search(text)):
                        ctx = text[max(0, m.start() - 60):m.end() + 60].replace("\n", " ")
                        out.setdefault(value, []).append(f"{where}: ...{ctx}...")
            needle = value.encode("utf-8")
            for data, where in self.images.items():
                if needle in data:
                    out.setdefault(value, []).append(f"{where}: raw image bytes")
        return out

    def report(self) -> str:
        leaks = self.leaks
        lines = []
        for value, hits in sorted(leaks.items(), key=lambda kv: self.by_value[kv[0]][0].field):
            origin = "; ".join(pl.field for pl in self.by_value[value])
            lines.append(f"- {value!r} planted in [{origin}] found {len(hits)}x, e.g. {hits[0]}")
        return f"{len(leaks)} of {len(self.by_value)} planted values leaked:\n" + "\n".join(lines)


def scan_folder(scanner: Scanner, folder: Path) -> int:
    """Every string cell of every shard, every published image, the card and the manifest."""
    n = 0
    for shard in sorted(folder.glob("data/*/*.parquet")):
        config = shard.parent.name
        for row in pq.read_table(shard).to_pylist():
            n += 1
            for path, value in _walk(row, ""):
                where = f"{config}/{shard.name} row {row.get('id')} {path}"
                if isinstance(value, str):
                    scanner.text(where, value)
                elif isinstance(value, bytes):
                    scanner.image(where, value)
    for name in ("README.md", "manifest.json"):
        scanner.text(name, (folder / name).read_text("utf-8"))
    return n


# ---------------------------------------------------------------- fixtures


def _corpus(out: Path) -> str:
    """Text of the unmodified samples, the builder's prompts and an unmodified build (`out`): a
    planted value must occur in none of them, or a hit would prove nothing."""
    parts = []
    for path in BUILDER.rglob("*"):
        if path.is_file() and path.suffix in _TEXT_SUFFIXES:
            parts.append(path.read_text("utf-8", errors="ignore"))
    for shard in out.glob("data/*/*.parquet"):
        for row in pq.read_table(shard).to_pylist():
            parts += [v for _, v in _walk(row, "") if isinstance(v, str)]
    parts += [(out / n).read_text("utf-8") for n in ("README.md", "manifest.json")]
    return "\n".join(parts)


@pytest.fixture(scope="module")
def planted(tmp_path_factory, sample_corpus):
    tmp = tmp_path_factory.mktemp("planted")
    src, plants, renames = plant_sources(tmp, _corpus(sample_corpus))
    return tmp, src, plants, renames


@pytest.fixture(scope="module")
def offline_build(planted):
    tmp, src, _, _ = planted
    out = tmp / "offline" / "spinemed-450k"
    summary = run_build(BuildConfig(out=out, sources=src), progress=None)
    return out, summary


@pytest.fixture(scope="module")
def capture_build(planted):
    tmp, src, _, _ = planted
    rules = RulesBackend()
    out = tmp / "capture" / "spinemed-450k"
    with SimServer(latency_s=0.0, max_concurrency=16, capture=True,
                   responder=lambda body: rules.respond(body["messages"])) as server:
        rc = cli_main(["build", "--out", str(out), "--sources", str(src), "--backend", "openai",
                       "--model", "capture-model", "--base-url", server.base_url, "--trusted-endpoint",
                       "--languages", "source", "--concurrency", "8", "--json"])
        requests = list(server.captured)
    assert rc == 0
    return out, requests


# ---------------------------------------------------------------- tests


def test_identifiers_are_planted_in_every_source_kind(planted):
    _, src, plants, renames = planted
    fields = " | ".join(pl.field for pl in plants)
    assert len({pl.value for pl in plants}) >= 300
    for kind in ("inpatient/IP-EN", "inpatient/IP-ZH", "record.insurance_member_id", "record.家属微信",
                 "notes[0]", "case_reports/PMC0000101.xml body", "case_reports/PMC0000104.xml",
                 "figure caption", "textbooks/en_", "textbooks/zh_", "guidelines/", "question_bank/mcq_en.csv",
                 "question_bank/mcq_zh.json", "file name", "PNG tEXt Author", "PNG iTXt", "EXIF Artist", "JPEG COM"):
        assert kind in fields, kind
    for old, new in renames.items():
        assert not (src / old).exists() and (src / new).exists()
    # the planted sample images carry the metadata the build must strip
    assert any("Author" in t for t in metadata_text((src / "question_bank/images/qb_en_01.png").read_bytes()))
    assert len(metadata_text((src / "case_reports/images/PMC0000101_f1.jpg").read_bytes())) >= 2


def test_offline_build_publishes_no_planted_identifier(planted, offline_build):
    _, _, plants, renames = planted
    out, summary = offline_build
    # the renamed files were read (their opaque ids resolve to the new names)
    values = {json.loads(x)["value"] for x in (out.parent / "spinemed-450k.work" / "provenance_map.jsonl")
              .read_text("utf-8").splitlines()}
    assert set(renames.values()) <= values, set(renames.values()) - values
    scanner = Scanner(plants)
    rows = scan_folder(scanner, out)
    assert rows > 200
    leaks = scanner.leaks
    assert not leaks, "published folder: " + scanner.report()


def test_no_planted_identifier_in_any_request_body(planted, capture_build):
    _, _, plants, _ = planted
    out, requests = capture_build
    assert len(requests) > 300
    scanner = Scanner(plants)
    n_images = 0
    for n, req in enumerate(requests):
        text, images = request_text_and_images(req["body"])
        scanner.text(f"request {n} body", text)
        scanner.text(f"request {n} raw", req["raw"])
        for i, data in enumerate(images):
            n_images += 1
            scanner.image(f"request {n} image {i}", data)
    assert n_images > 0
    leaks = scanner.leaks
    assert not leaks, "request bodies: " + scanner.report()


def test_capture_build_publishes_no_planted_identifier(planted, capture_build):
    _, _, plants, _ = planted
    out, _ = capture_build
    scanner = Scanner(plants)
    assert scan_folder(scanner, out) > 200
    leaks = scanner.leaks
    assert not leaks, "published folder (capture build): " + scanner.report()


def test_work_folder_holds_no_planted_identifier(planted, offline_build, capture_build):
    """The cache, quarantine and logs hold scrubbed text only (the private provenance map is
    the one file meant to resolve opaque ids to real file names and case ids)."""
    _, _, plants, _ = planted
    scanner = Scanner(plants)
    for out in (offline_build[0], capture_build[0]):
        work = out.parent / f"{out.name}.work"
        for path in sorted(work.rglob("*")):
            if not path.is_file() or path.name == "provenance_map.jsonl":
                continue
            where = f"{out.parent.name}/{path.relative_to(work)}"
            if path.suffix == ".sqlite":
                con = sqlite3.connect(path)
                try:
                    for key, value in con.execute("select key, value from requests"):
                        scanner.text(f"{where} {key[:12]}", str(value))
                finally:
                    con.close()
            else:
                scanner.text(where, path.read_text("utf-8", errors="ignore"))
    leaks = scanner.leaks
    assert not leaks, "work folder: " + scanner.report()


# the raw build overlaps SpineBench and holds non-redistributable rows: release governance
# (tests/hub/test_governance.py) is waived here, the publish gate is what these tests check
_PUBLISH = ["--repo", "org/x", "--version", "v1.0.0", "--dry-run", "--gated", "--allow-contaminated", "deid test"]


def test_publish_gate_passes_the_clean_build(offline_build, capsys):
    out, _ = offline_build
    rc = cli_main(["publish", str(out), *_PUBLISH])
    assert rc == 0, "publish --dry-run refused the planted build:\n" + capsys.readouterr().err


def test_publish_gate_refuses_a_planted_name_written_after_the_build(planted, offline_build, tmp_path):
    _, _, plants, _ = planted
    out, _ = offline_build
    folder = tmp_path / "edited"
    shutil.copytree(out, folder)
    name = next(pl.value for pl in plants if pl.field.endswith("IP-EN-001.json record.name"))
    before = {f.where for f in gate_scan(folder).findings}
    edited = {}

    def edit(rows):
        # a row the gate had nothing to say about, so that the refusal is the edit's
        row = next(r for r in rows if f"mcq/{r['id']}/question" not in before)
        row["question"] = f"{name} was reviewed in clinic. " + row["question"]
        edited["where"] = f"mcq/{row['id']}/question"

    rewrite_first_shard(folder, "mcq", edit)
    after = {f.where for f in gate_scan(folder).findings}
    assert edited["where"] in after, f"the gate does not see {name!r} written into {edited['where']}"
    assert cli_main(["publish", str(folder), *_PUBLISH]) == 2
