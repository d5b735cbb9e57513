"""Nothing un-scrubbed leaves the machine: every request body of a real build, captured.

The shipped sample sources are built with `spinemed build --backend openai --base-url
http://127.0.0.1:PORT/v1 --trusted-endpoint` against a local OpenAI-compatible capture server
(`SimServer(capture=True)`, answering with the offline rules).  Then:

- none of the identifiers planted in the structured fields of the sample inpatient records
  (names, MRNs / 住院号, SSNs / 身份证号, phones, e-mails, addresses, hospitals, attending
  physicians, dates of birth) appears in any captured body, in its text or in the bytes of
  its images;
- every request carries a de-identification stamp (`X-SpineMed-Deid-Stamp`), and every stamp
  is the stamp of a source record after the build's de-identification stage;
- no request names a real source file, case id or imaging subject.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from release_edit import request_text_and_images  # tests/ is on sys.path (pytest's rootdir-relative import)
from tools.simserver import SimServer

from spinemed.cli import main as cli_main
from spinemed.corpus.deidentify import deidentify_record
from spinemed.corpus.offline_rules import RulesBackend
from spinemed.corpus.sources import iter_sources
from spinemed.deid.provenance import ProvenanceIds, deidentify_provenance, stamp_record
from spinemed.llm.openai_compat import OpenAICompatBackend
from spinemed.schema import SourceRecord

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "builders" / "spinemed_450k" / "sources"

# structured keys of the sample inpatient records that hold identifiers, by category
_KEYS = {
    "name": ("name", "姓名"),
    "mrn": ("mrn", "住院号"),
    "id_number": ("ssn", "身份证号"),
    "phone": ("phone", "联系电话"),
    "email": ("email", "电子邮箱"),
    "address": ("address", "家庭住址"),
    "facility": ("hospital", "医院"),
    "clinician": ("attending_physician", "主治医师"),
    "date_of_birth": ("date_of_birth", "出生日期"),
}
_TITLES = re.compile(r"^(?:Dr|Mr|Mrs|Ms|Prof)\.?\s+")


def planted_identifiers() -> list[tuple[str, str, str]]:
    """(category, value, case file) for every identifier in the inpatient records' structured
    fields, plus the parts a note may repeat alone (surname, street line)."""
    out = []
    for path in sorted((SOURCES / "inpatient").glob("*.json")):
        record = json.loads(path.read_text("utf-8"))["record"]
        for category, keys in _KEYS.items():
            for key in keys:
                value = record.get(key)
                if not isinstance(value, str) or not value.strip():
                    continue
                value = value.strip()
                out.append((category, value, path.name))
                if category in ("name", "clinician") and re.match(r"[A-Za-z]", value):
                    parts = _TITLES.sub("", value).replace(".", " ").split()
                    out += [(category, p, path.name) for p in parts if len(p) >= 3]
                if category == "address" and "," in value:
                    out.append((category, value.split(",")[0].strip(), path.name))
    return out


def scrubbed_stamps() -> dict[str, str]:
    """stamp -> source type of every sample record after the build's de-identification stage."""
    ids = ProvenanceIds()
    stamps = {}
    for rec in iter_sources(SOURCES):
        if isinstance(rec, SourceRecord):
            deidentify_provenance(rec, ids)
            deidentify_record(rec)
            stamps[stamp_record(rec)] = rec.source_type
    return stamps


@pytest.fixture(scope="module")
def captured(tmp_path_factory):
    rules = RulesBackend()
    out = tmp_path_factory.mktemp("capture") / "spinemed-450k"
    with SimServer(latency_s=0.0, max_concurrency=16, capture=True,
                   responder=lambda body: rules.respond(body["messages"])) as server:
        rc = cli_main(["build", "--out", str(out), "--backend", "openai", "--model", "capture-model",
                       "--base-url", server.base_url, "--trusted-endpoint", "--languages", "source",
                       "--concurrency", "8", "--json"])
        assert rc == 0
        requests = list(server.captured)
    assert len(requests) > 300
    return requests, out


def test_planted_identifiers_are_read_from_the_samples():
    planted = planted_identifiers()
    assert {c for c, _, _ in planted} == set(_KEYS)
    assert len({f for _, _, f in planted}) == 12  # 6 EN + 6 ZH records


def test_no_planted_identifier_in_any_request_body(captured):
    requests, _ = captured
    planted = planted_identifiers()
    leaks: dict[str, set[str]] = {}
    for req in requests:
        text, images = request_text_and_images(req["body"])
        for category, value, case in planted:
            hit = value in text or value in req["raw"]
            if not hit and images:
                needle = value.encode("utf-8")
                hit = any(needle in img for img in images)
            if hit:
                leaks.setdefault(category, set()).add(f"{value} ({case})")
    assert not leaks, "identifiers sent to the endpoint: " + "; ".join(
        f"{c}: {sorted(v)}" for c, v in sorted(leaks.items()))


def test_every_request_came_from_a_stamped_record(captured):
    requests, _ = captured
    valid = scrubbed_stamps()
    header = OpenAICompatBackend.STAMP_HEADER.lower()
    stamps = [req["headers"].get(header, "") for req in requests]
    assert all(stamps), "a request without a de-identification stamp"
    unknown = {s for s in stamps if s not in valid}
    assert not unknown, f"stamps of no scrubbed record: {sorted(unknown)[:3]}"
    # clinical records were among the senders (the test would be vacuous otherwise)
    assert {valid[s] for s in stamps} >= {"inpatient", "open_dataset", "textbook", "case_report"}


def test_no_request_names_a_real_file_case_or_subject(captured):
    requests, _ = captured
    real = set()
    for rec in iter_sources(SOURCES):
        if isinstance(rec, SourceRecord):
            real.add(rec.source_file)
            real.update(img.path for img in rec.images if img.path)
            if rec.source_type == "inpatient":
                real.add(rec.source_id)
            if rec.kind == "volume":
                real.add(rec.fields["subject"])
    for req in requests:
        text, _ = request_text_and_images(req["body"])
        found = sorted(v for v in real if v and v in text)
        assert not found, found
