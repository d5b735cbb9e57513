"""Release governance (issue 13, part 4): `spinemed publish` of a corpus folder checks overlap with
SpineBench and the rows' source licences, on the sample build and the demo's bench and release."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest
from hub_fakes import FakeHub
from huggingface_hub import DatasetCard

import spinemed.hub.publish as publish
from spinemed.bench import publish_cli
from spinemed.bench.demo import BENCH_NAME, RELEASE_NAME, run_bench_demo
from spinemed.cli import main as cli_main
from spinemed.hub import load_manifest

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def demo(sample_corpus, tmp_path_factory):
    """The sample build plus the demo's SpineBench and decontaminated release (read-only)."""
    root = tmp_path_factory.mktemp("gov")
    run_bench_demo(sample_corpus, root, seed=0)
    return sample_corpus, root / BENCH_NAME, root / RELEASE_NAME


@pytest.fixture
def fake_hub(monkeypatch):
    FakeHub.made.clear()
    monkeypatch.setattr(publish, "HfApi", FakeHub)
    return FakeHub.made


def _copy(folder: Path, tmp_path: Path) -> Path:
    out = tmp_path / folder.name
    shutil.copytree(folder, out)
    return out


def _publish(folder, *extra, version="v1.0.0"):
    return cli_main(["publish", str(folder), "--repo", "org/SpineMed-450k", "--version", version,
                     "--endpoint", "http://hub.invalid", *extra])


def test_publishing_the_raw_build_is_refused_for_bench_overlap(demo, tmp_path, fake_hub, capsys):
    corpus, bench, _ = demo
    folder = _copy(corpus, tmp_path)
    assert _publish(folder, "--bench", str(bench), "--gated") == 2
    err = capsys.readouterr().err
    assert "overlaps the benchmark" in err and "CONTAMINATED" in err and "--allow-contaminated" in err
    assert "spinemed bench decontaminate" in err
    assert fake_hub == [] or all(h.calls == [] for h in fake_hub)
    assert "contamination_accepted" not in load_manifest(folder)


def test_overlap_counts_match_the_demo(demo):
    corpus, bench, _ = demo
    report = publish_cli.bench_overlap_check([str(bench)])(corpus)
    assert not report.clean
    overlapping = report.reports[0].n_overlapping
    assert 0 < overlapping < report.reports[0].n_checked == load_manifest(corpus)["counts"]["num_rows"]


def test_allow_contaminated_records_the_reason(demo, tmp_path, fake_hub):
    corpus, bench, _ = demo
    folder = _copy(corpus, tmp_path)
    assert _publish(folder, "--bench", str(bench), "--gated", "--allow-contaminated", "ablation: bench-aware") == 0
    entry = load_manifest(folder)["contamination_accepted"]
    assert entry["reason"] == "ablation: bench-aware" and entry["n_overlapping"] > 0
    assert entry["benches"][0]["items"]
    assert "upload_folder" in fake_hub[-1].names()


def test_unreachable_registered_bench_refuses(demo, tmp_path, fake_hub, capsys):
    # HF_HUB_OFFLINE is set by conftest: the registered release cannot be fetched, which is not a clean check
    _, _, release = demo
    assert _publish(_copy(release, tmp_path), "--gated") == 2
    err = capsys.readouterr().err
    assert f"SpineBench {publish_cli.REGISTERED_BENCH!r}" in err and "--bench" in err


def test_restricted_rows_refuse_a_public_repo(demo, tmp_path, fake_hub, capsys):
    _, bench, release = demo
    folder = _copy(release, tmp_path)
    licences = publish.licence_report(folder)
    assert 0 < licences.restricted < licences.rows == load_manifest(folder)["counts"]["num_rows"]
    assert _publish(folder, "--bench", str(bench)) == 2
    err = capsys.readouterr().err
    assert f"{licences.restricted} of {licences.rows} rows come from sources that are not redistributable" in err
    assert "proprietary-sample" in err and "--gated" in err
    assert all(h.calls == [] for h in fake_hub)


def test_gated_publish_gates_before_upload_and_card_licence_follows_sources(demo, tmp_path, fake_hub):
    _, bench, release = demo
    folder = _copy(release, tmp_path)
    assert DatasetCard.load(folder / "README.md").data.license == "cc-by-nc-sa-4.0"
    assert _publish(folder, "--bench", str(bench), "--gated") == 0
    names = fake_hub[-1].names()
    assert names.index("update_repo_settings") < names.index("upload_folder")
    settings = fake_hub[-1].calls[names.index("update_repo_settings")][2]
    assert settings["gated"] == "manual"
    data = DatasetCard.load(folder / "README.md").data.to_dict()
    assert data["license"] == "other" and "proprietary-sample" in data["license_details"]
    assert data["extra_gated_fields"] and data["extra_gated_prompt"]
    assert "contamination_accepted" not in load_manifest(folder)  # the release is clean


def test_dry_run_reports_without_writing(demo, tmp_path, fake_hub, capsys):
    _, bench, release = demo
    folder = _copy(release, tmp_path)
    before = (folder / "README.md").read_text(encoding="utf-8")
    assert _publish(folder, "--bench", str(bench), "--gated", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "card licence: cc-by-nc-sa-4.0 -> other" in out and "gated repo" in out
    assert "CLEAN" in out and "registered SpineBench 'spinemed/SpineBench' not checked" in out  # offline
    assert (folder / "README.md").read_text(encoding="utf-8") == before and fake_hub == []


def test_publishing_spinebench_itself_is_not_overlap_checked(demo, tmp_path, fake_hub):
    _, bench, _ = demo
    assert publish_cli.is_bench_folder(bench)
    assert publish.licence_report(bench).restricted  # the bench's rows come from the same sources
    assert _publish(_copy(bench, tmp_path / "public"), "--dry-run", version=load_manifest(bench)["version"]) == 2
    assert _publish(_copy(bench, tmp_path), "--gated", "--dry-run", version=load_manifest(bench)["version"]) == 0


def test_card_licence_follows_a_single_source_licence():
    assert publish.source_licence_metadata("cc-by-4.0", {"CC-BY-4.0": 3}) == {}
    assert publish.source_licence_metadata("cc-by-4.0", {"CC-BY-4.0": 3, "(unspecified)": 1})["license"] == "other"


def test_readme_publishes_the_release_folder():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Publishing"):text.index("## Scoring SpineBench")]
    assert "spinemed bench decontaminate" in section
    assert "spinemed publish out/spinemed-450k-release" in section
    assert "spinemed publish out/spinemed-450k " not in section and "--redistributable-only" in section


def _model_summary(data_path, licence="apache-2.0"):
    stage = {"stage": 1, "name": "sft", "sources": [{"path": str(data_path), "kept": 3}], "rows": 3,
             "decontamination": {"status": "clean"}}
    return {"model_name": "m", "base_model": "org/base", "license": licence, "stages": [stage]}


def test_model_card_warns_when_its_licence_conflicts_with_the_training_data(demo, tmp_path):
    from spinemed.training.card import LicenceConflictWarning, licence_conflicts, training_data_licences

    _, _, release = demo
    licences = training_data_licences(_model_summary(release)["stages"])
    assert "CC-BY-NC-4.0" in licences and "proprietary-sample" in licences
    problems = licence_conflicts("apache-2.0", licences)
    assert any("non-commercial" in p and "CC-BY-NC-4.0" in p for p in problems)
    assert any("proprietary-sample" in p for p in problems)
    assert not any("non-commercial" in p for p in licence_conflicts("cc-by-nc-sa-4.0", licences))
    assert licence_conflicts("cc-by-4.0", {"CC-BY-4.0": {"x": 2}}) == []

    from spinemed.training.card import render_model_card

    template = tmp_path / "card.md"
    template.write_text("---\n{{ card_data }}\n---\n# {{ model_name }}\n", encoding="utf-8")
    with pytest.warns(LicenceConflictWarning, match="CC-BY-NC-4.0"):
        card = render_model_card(_model_summary(release), template=template)
    assert card.data.license == "apache-2.0"  # warned, not changed: the licence is the publisher's call
    with warnings.catch_warnings():
        warnings.simplefilter("error", LicenceConflictWarning)
        render_model_card(_model_summary(release, licence="other"), template=template)


def test_allow_contaminated_without_a_reachable_bench_records_unchecked(demo, tmp_path, fake_hub):
    _, _, release = demo
    folder = _copy(release, tmp_path)
    assert _publish(folder, "--gated", "--allow-contaminated", "offline mirror, checked by hand") == 0
    entry = load_manifest(folder)["contamination_accepted"]
    assert entry["checked"] is False and "spinemed/SpineBench" in entry["error"]
    assert entry["reason"] == "offline mirror, checked by hand"


def test_a_public_release_leaves_out_rows_that_are_not_redistributable(demo, tmp_path, fake_hub, capsys):
    corpus, bench, release = demo
    out = tmp_path / "public"
    assert cli_main(["bench", "decontaminate", "--bench", str(bench), "--corpus", str(corpus), "--out", str(out),
                     "--redistributable-only"]) == 0
    assert "not redistributable" in capsys.readouterr().out
    before, after = publish.licence_report(release), publish.licence_report(out)
    assert after.restricted == 0 and after.rows == before.rows - before.restricted
    accounting = load_manifest(out)["build"]["accounting"]
    assert accounting["items_removed_as_not_redistributable"] == before.restricted
    assert accounting["not_redistributable_removed_by_license"] == before.restricted_by_licence
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "not redistributable" in card.lower()
    # the public release needs no gate
    assert _publish(out, "--bench", str(bench)) == 0
    assert "update_repo_settings" not in fake_hub[-1].names()
