"""The publish gate: an identifier written into a built folder after the build is refused."""

from __future__ import annotations

import io
import shutil

import pytest
from PIL import Image, PngImagePlugin
from release_edit import rewrite_first_shard  # tests/ is on sys.path (pytest's rootdir-relative import)

from spinemed.cli import main as cli_main
from spinemed.deid.gate import scan_folder, scan_text
from spinemed.hub import PublishError, load_manifest, publish_folder, verify_folder


@pytest.fixture(scope="module")
def built(sample_corpus):
    return sample_corpus  # the tests that edit it edit a copy


def test_clean_build_passes_the_gate(built):
    report = scan_folder(built)
    assert report.ok, report.summary()
    assert report.scanned["rows"] > 100 and report.scanned["images"] > 0 and report.scanned["files"] == 2
    publish_folder(built, "spinemed/SpineMed-450k", "v1.0.0", endpoint="http://hub.invalid", dry_run=True)


@pytest.mark.parametrize("planted", [
    "Henrietta Vossberg, 71, presented with back pain.",
    "Okonkwo-Bayliss, Imre was reviewed in clinic.",
    "柴晓芸，女，42岁，因腰痛入院。",
    "Call her daughter on 0412 555 019 or henrietta.v@example.org.",
    "MRN RG-00482913, admitted 2023-11-04T09:12.",
])
def test_identifier_written_after_the_build_is_refused(built, tmp_path, planted):
    folder = tmp_path / "edited"
    shutil.copytree(built, folder)

    def edit(rows):
        rows[0]["question"] = planted + " " + rows[0]["question"]

    rewrite_first_shard(folder, "mcq", edit)
    report = scan_folder(folder)
    assert not report.ok
    hit = report.findings[0]
    assert hit.where.startswith("mcq/") and hit.where.endswith("/question")
    # the report masks the value: no planted identifier is echoed back
    for token in ("Vossberg", "Imre", "柴晓芸", "0412", "RG-00482913", "henrietta"):
        assert token not in report.summary()
    with pytest.raises(PublishError, match="publish gate"):
        publish_folder(folder, "spinemed/SpineMed-450k", "v1.0.0", endpoint="http://hub.invalid", dry_run=True)
    assert cli_main(["publish", str(folder), "--repo", "spinemed/SpineMed-450k", "--version", "v1.0.0",
                     "--dry-run"]) == 2


def test_image_metadata_written_after_the_build_is_refused(built, tmp_path):
    folder = tmp_path / "edited"
    shutil.copytree(built, folder)

    def edit(rows):
        row = next(r for r in rows if r["images"])
        info = PngImagePlugin.PngInfo()
        info.add_text("Author", "Henrietta Vossberg")
        buf = io.BytesIO()
        Image.new("L", (8, 8)).save(buf, format="PNG", pnginfo=info)
        row["images"][0]["bytes"] = buf.getvalue()

    rewrite_first_shard(folder, "mcq", edit)
    kinds = {f.kind for f in scan_folder(folder).findings}
    assert "IMAGE_METADATA" in kinds


def test_accepted_residual_risk_is_recorded(built, tmp_path):
    folder = tmp_path / "edited"
    shutil.copytree(built, folder)
    rewrite_first_shard(folder, "mcq", lambda rows: rows[0].update(question="Seen by Imre Vossberg. " + rows[0]["question"]))
    from spinemed.hub import ResidualRiskError, deid_preflight, record_residual_risk

    with pytest.raises(ResidualRiskError) as err:
        deid_preflight(folder)
    # a dry run with the override passes and writes nothing
    publish_folder(folder, "spinemed/SpineMed-450k", "v1.0.0", endpoint="http://hub.invalid", dry_run=True,
                   accept_residual_risk="reviewed: fictional name in a textbook vignette")
    assert "residual_risk_accepted" not in load_manifest(folder)
    entry = record_residual_risk(folder, "reviewed: fictional name", err.value.report)
    manifest = load_manifest(folder)
    assert manifest["residual_risk_accepted"]["reason"] == "reviewed: fictional name"
    assert manifest["residual_risk_accepted"]["findings"] == entry["findings"] >= 1
    verify_folder(folder)  # the record does not break the release's integrity check


def test_gate_provenance_and_paths():
    assert [f.kind for f in scan_text("see /home/alice/notes/smith_john.md", mode="literature")] != []
    assert scan_text("case case-dcf56830169f, ISBN 978-7-117-12345-6, PMC0000101", mode="clinical") == []
    assert scan_text("[NAME], [AGE>89], seen on [DATE].") == []
