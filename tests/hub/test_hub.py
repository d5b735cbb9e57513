"""Hub-layout dataset folders: writer, loading with `datasets`, card, manifest, publishing."""

from __future__ import annotations

import os

# Before `datasets` / `huggingface_hub` are imported: they read these at import time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import hashlib
import io
import json
import shutil
import types
from pathlib import Path

import datasets
import huggingface_hub
import pytest
from huggingface_hub import DatasetCard
from PIL import Image as PILImage

from spinemed import hub
from spinemed.schema import REPORT_PARTS, TASKS, features_for

TEMPLATE = Path(__file__).resolve().parents[2] / "dataset_cards" / "spinemed-450k.md"
VERSIONS = {"pipeline": "1.0.0", "criteria": "criteria-2026.1", "deid": "deid-1.2"}
EXTRA = {  # the shape spinemed.corpus.pipeline passes
    "repo_id": "spinemed/SpineMed-450k",
    "name": "spinemed-450k",
    "version": "v1.0.0",
    "license": "cc-by-nc-sa-4.0",
    "versions": {**VERSIONS, "prompts": "mcq.draft@1:ab12,mcq.revise@1:cd34"},
    "generation": {"backend": "offline", "model": "rules-v1"},
    "accounting": {
        "source_records": 40,
        "records_published": 34,
        "records_quarantined": 2,
        "records_duplicate": 4,
        "duplicates": {"exact": 3, "near": 1},
        "record_quarantine_reasons": {"pcm: caption mismatch": 2},
        "items_planned": 10,
        "items_published": 7,
        "items_quarantined": 3,
        "item_quarantine_reasons": {"answer not in options": 2, "level mismatch": 1},
        "source_defects": 1,
        "source_defect_reasons": {"unreadable PDF page": 1},
        "pcm": {},
        "balanced": True,
    },
}


@pytest.fixture(autouse=True)
def _offline_hf(tmp_path_factory, monkeypatch):
    """No network and no user cache: everything HF writes goes under a tmp folder."""
    home = tmp_path_factory.getbasetemp() / "hf_home"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(home / "datasets"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", home / "datasets")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def _load(path: str | Path, config: str | None = None, cache: Path | None = None):
    kwargs = {"cache_dir": str(cache)} if cache else {}
    return datasets.load_dataset(str(path), config, **kwargs)


# --------------------------------------------------------------------------------------
# A tiny build: all four configs, images as PNG bytes, as a file path and as a PIL image
# --------------------------------------------------------------------------------------


def png_bytes(color: str, size=(6, 4)) -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def make_row(task: str, n: int, *, language="en", images=(), subfield="lumbar_disc_herniation",
             source_type="textbook", redistributable=True) -> dict:
    row = {
        "id": f"{task}-{n:03d}",
        "task": task,
        "language": language,
        "modality": "image" if images else "text",
        "images": list(images),
        "subfield": subfield,
        "subfield_group": "spinal" if subfield != "foot_ankle" else "orthopedic",
        "levels": ["L4/L5"],
        "level_source": "text",
        "messages": [{"role": "user", "content": f"question {n}"}, {"role": "assistant", "content": f"answer {n}"}],
        "provenance": {
            "record_id": f"rec-{n:03d}",
            "source_type": source_type,
            "source_id": f"doi:10.1000/{n}",
            "locator": f"p. {n}",
            "license": "CC-BY-4.0" if redistributable else "proprietary",
            "redistributable": redistributable,
            "source_file": "book.md",
            "ocr": "",
        },
        "generation": {
            "backend": "offline",
            "model": "rules-v1",
            "prompt_id": f"{task}.draft",
            "prompt_hash": "a" * 16,
            "revision_prompt_id": f"{task}.revise",
            "revision_prompt_hash": "b" * 16,
            "criteria_version": "criteria-2026.1",
            "draft_hash": "c" * 16,
            "revisions": ["C1"],
        },
        "pipeline_version": "1.0.0",
        "deid_version": "deid-1.2",
    }
    if task == "mcq":
        row |= {
            "question": f"Which level is herniated? ({n})",
            "options": [{"label": "A", "text": "L3/L4"}, {"label": "B", "text": "L4/L5"}],
            "answer": "B",
            "explanation": "The MRI shows the L4/L5 disc.",
        }
    elif task == "open_qa":
        row |= {"question": "What is sciatica?", "answer": "Radicular leg pain."}
    elif task == "consultation":
        row |= {"case": "A 45-year-old with low back pain."}
    else:
        row |= {"case": "A 60-year-old with neurogenic claudication.", "report": {p: f"{p} text" for p in REPORT_PARTS}}
    return row


def build_rows(image_file: Path) -> list[tuple[str, dict]]:
    pil = PILImage.new("RGB", (5, 5), "blue")
    return [
        ("mcq", make_row("mcq", 1, images=[{"bytes": png_bytes("red"), "path": "/secret/home/fig1.png"}])),
        ("mcq", make_row("mcq", 2, images=[str(image_file)])),
        ("mcq", make_row("mcq", 3, language="zh", images=[pil], subfield="foot_ankle")),
        ("open_qa", make_row("open_qa", 1, language="zh", source_type="guideline")),
        ("open_qa", make_row("open_qa", 2, redistributable=False)),
        ("consultation", make_row("consultation", 1, source_type="open_dataset")),
        ("report", make_row("report", 1, source_type="inpatient", language="zh")),
    ]


def build_folder(out: Path, image_file: Path, rows=None, *, rows_per_shard=2) -> tuple[dict, dict]:
    rows = build_rows(image_file) if rows is None else rows
    writer = hub.DatasetFolderWriter(out, {t: features_for(t) for t in TASKS}, rows_per_shard=rows_per_shard)
    for config, row in rows:
        writer.add(config, row)
    result = writer.close()
    hub.write_dataset_card(out, TEMPLATE, pretty_name="SpineMed-450k", stats=result["stats"], extra=EXTRA)
    manifest = hub.write_manifest(
        out, name="SpineMed-450k", version="v1.0.0", versions=VERSIONS, stats=result["stats"], extra=EXTRA["accounting"]
    )
    return result, manifest


@pytest.fixture(scope="module")
def image_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("img") / "axial_t2.png"
    path.write_bytes(png_bytes("green", size=(7, 3)))
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory, image_file):
    out = tmp_path_factory.mktemp("build") / "spinemed-450k"
    result, manifest = build_folder(out, image_file)
    return out, result, manifest


# --------------------------------------------------------------------------------------
# Writer and loading
# --------------------------------------------------------------------------------------


def test_close_names_shards_by_datasets_convention(built):
    out, result, _ = built
    assert result["configs"]["mcq"] == {
        "num_rows": 3,
        "shards": ["data/mcq/train-00000-of-00002.parquet", "data/mcq/train-00001-of-00002.parquet"],
    }
    assert result["configs"]["report"]["shards"] == ["data/report/train-00000-of-00001.parquet"]
    on_disk = sorted(p.relative_to(out).as_posix() for p in (out / "data").rglob("*.parquet"))
    assert on_disk == sorted(s for c in result["configs"].values() for s in c["shards"])
    assert not list(out.glob(".tmp-*"))  # staging removed


def test_stats_count_rows_as_they_stream(built):
    stats = built[1]["stats"]
    assert stats["num_rows"] == 7 and stats["num_images"] == 3
    assert {c: i["num_rows"] for c, i in stats["configs"].items()} == {
        "mcq": 3, "open_qa": 2, "consultation": 1, "report": 1,
    }
    b = stats["breakdowns"]
    assert b["language"] == {"en": 4, "zh": 3}
    assert b["modality"] == {"image": 3, "text": 4}
    assert b["subfield"] == {"foot_ankle": 1, "lumbar_disc_herniation": 6}
    assert b["source_type"] == {"guideline": 1, "inpatient": 1, "open_dataset": 1, "textbook": 4}
    assert b["redistributable"] == {"false": 1, "true": 6}
    assert stats["configs"]["mcq"]["breakdowns"]["language"] == {"en": 2, "zh": 1}
    assert stats["configs"]["mcq"]["columns"]["images"] == "list[image]"


@pytest.mark.parametrize("config", TASKS)
def test_each_config_loads_with_its_features(built, config, tmp_path):
    out, _, _ = built
    ds = _load(out, config, tmp_path / "cache")
    assert list(ds) == ["train"]
    assert ds["train"].features == features_for(config)
    expected = [row["id"] for cfg, row in build_rows(Path("unused")) if cfg == config]
    assert ds["train"]["id"] == expected  # add() order is kept


def test_folder_loads_default_config(built, tmp_path):
    ds = _load(built[0], cache=tmp_path / "cache")
    assert ds["train"]["id"] == ["mcq-001", "mcq-002", "mcq-003"]
    assert datasets.get_dataset_config_names(str(built[0])) == list(TASKS)


def test_folder_loads_by_name_from_its_parent(built, tmp_path, monkeypatch):
    monkeypatch.chdir(built[0].parent)
    ds = datasets.load_dataset("spinemed-450k", "open_qa", cache_dir=str(tmp_path / "cache"))
    assert ds["train"].num_rows == 2 and ds["train"][0]["language"] == "zh"


def test_images_are_embedded_and_decode_to_pil(built, tmp_path, image_file):
    ds = _load(built[0], "mcq", tmp_path / "cache")["train"]
    sizes = [[img.size for img in row["images"]] for row in ds]
    assert sizes == [[(6, 4)], [(7, 3)], [(5, 5)]]
    assert all(isinstance(img, PILImage.Image) for row in ds for img in row["images"])
    raw = ds.cast_column("images", datasets.List(datasets.Image(decode=False)))
    stored = [row["images"][0] for row in raw]
    assert stored[0] == {"bytes": png_bytes("red"), "path": "fig1.png"}  # no local directories leak
    assert stored[1] == {"bytes": image_file.read_bytes(), "path": "axial_t2.png"}
    assert stored[2]["path"] is None and stored[2]["bytes"][:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "mutate, field, fragment",
    [
        (lambda r: r.update(language=3), "language", "expected string, got int"),
        (lambda r: r.pop("answer"), "answer", "is missing"),
        (lambda r: r.update(colour="red"), "colour", "is not in the features"),
        (lambda r: r["options"][1].update(text=None), "options[1].text", "is None"),
        (lambda r: r["provenance"].update(redistributable="yes"), "provenance.redistributable", "expected bool"),
        (lambda r: r.update(levels="L4/L5"), "levels", "expected a list"),
        (lambda r: r.update(images=[{"bytes": b"not an image"}]), "images[0]", "not a readable image"),
        (lambda r: r.update(images=["/no/such/file.png"]), "images[0]", "image file not found"),
    ],
)
def test_broken_row_names_config_row_and_field(tmp_path, mutate, field, fragment):
    writer = hub.DatasetFolderWriter(tmp_path / "ds", {"mcq": features_for("mcq")})
    row = make_row("mcq", 7)
    mutate(row)
    with pytest.raises(ValueError) as err:
        writer.add("mcq", row)
    message = str(err.value)
    assert "config 'mcq'" in message and "row 'mcq-007'" in message
    assert f"field {field!r}" in message and fragment in message
    writer.abort()


def test_unknown_config_and_bad_arguments(tmp_path):
    writer = hub.DatasetFolderWriter(tmp_path / "ds", {"mcq": features_for("mcq")})
    with pytest.raises(ValueError, match="unknown config 'report'"):
        writer.add("report", make_row("report", 1))
    writer.abort()
    with pytest.raises(ValueError, match="default_config 'x'"):
        hub.DatasetFolderWriter(tmp_path / "ds2", {"mcq": features_for("mcq")}, default_config="x")
    with pytest.raises(ValueError, match="config name 'a/b'"):
        hub.DatasetFolderWriter(tmp_path / "ds3", {"a/b": features_for("mcq")})


def test_shards_flush_at_rows_per_shard(tmp_path):
    writer = hub.DatasetFolderWriter(tmp_path / "ds", {"open_qa": features_for("open_qa")}, rows_per_shard=3)
    for n in range(7):
        writer.add("open_qa", make_row("open_qa", n))
        # at most one shard's worth of rows is ever held in memory
        assert len(writer._configs["open_qa"].buffer) == (n + 1) % 3
    result = writer.close()
    assert [s.rsplit("/", 1)[1] for s in result["configs"]["open_qa"]["shards"]] == [
        "train-00000-of-00003.parquet", "train-00001-of-00003.parquet", "train-00002-of-00003.parquet",
    ]


def test_empty_config_is_left_out_of_folder_and_card(tmp_path, image_file):
    rows = [(c, r) for c, r in build_rows(image_file) if c != "consultation"]
    out = tmp_path / "ds"
    result, manifest = build_folder(out, image_file, rows)
    assert "consultation" not in result["configs"] and not (out / "data" / "consultation").exists()
    assert result["stats"]["configs"]["consultation"]["num_rows"] == 0
    assert manifest["counts"]["configs"]["consultation"] == 0
    card = DatasetCard.load(out / "README.md")
    assert [c["config_name"] for c in card.data.configs] == ["mcq", "open_qa", "report"]
    assert "Not published in this release" in card.text
    assert datasets.get_dataset_config_names(str(out)) == ["mcq", "open_qa", "report"]


def test_empty_default_config_or_no_rows_is_an_error(tmp_path):
    writer = hub.DatasetFolderWriter(tmp_path / "a", {t: features_for(t) for t in TASKS})
    writer.add("report", make_row("report", 1))
    with pytest.raises(ValueError, match="default config 'mcq' has no rows"):
        writer.close()
    assert not list((tmp_path / "a").glob(".tmp-*"))
    writer = hub.DatasetFolderWriter(tmp_path / "b", {"mcq": features_for("mcq")})
    with pytest.raises(ValueError, match="no rows were added"):
        writer.close()


def test_killed_build_leaves_an_incomplete_folder(built, tmp_path, image_file):
    out = tmp_path / "ds"
    shutil.copytree(built[0], out)
    before = {p: p.read_bytes() for p in (out / "data").rglob("*.parquet")}
    with pytest.raises(RuntimeError, match="killed"):
        with hub.DatasetFolderWriter(out, {t: features_for(t) for t in TASKS}) as writer:
            writer.add("mcq", make_row("mcq", 9))
            raise RuntimeError("killed")
    assert not (out / "manifest.json").exists()  # so it no longer counts as complete
    assert {p: p.read_bytes() for p in (out / "data").rglob("*.parquet")} == before
    assert not list(out.glob(".tmp-*"))
    with pytest.raises(ValueError, match="not a complete build"):
        hub.verify_folder(out)


def test_refuses_to_write_into_a_foreign_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="notes.txt"):
        hub.DatasetFolderWriter(tmp_path, {"mcq": features_for("mcq")})
    assert (tmp_path / "notes.txt").exists()


# --------------------------------------------------------------------------------------
# Card
# --------------------------------------------------------------------------------------


def test_card_yaml_parses_with_configs_and_metadata(built):
    card = DatasetCard.load(built[0] / "README.md")
    data = card.data
    assert data.configs == [
        {"config_name": "mcq", "data_files": [{"split": "train", "path": "data/mcq/train-*"}], "default": True},
        {"config_name": "open_qa", "data_files": [{"split": "train", "path": "data/open_qa/train-*"}]},
        {"config_name": "consultation", "data_files": [{"split": "train", "path": "data/consultation/train-*"}]},
        {"config_name": "report", "data_files": [{"split": "train", "path": "data/report/train-*"}]},
    ]
    assert data.license == "cc-by-nc-sa-4.0"
    assert data.language == ["en", "zh"]
    assert data.task_categories == ["visual-question-answering", "question-answering", "text-generation"]
    assert data.tags == ["medical", "spine", "orthopedics", "multimodal"]
    assert data.size_categories == ["n<1K"]
    assert data.pretty_name == "SpineMed-450k"


def test_card_body_has_real_counts_and_no_placeholders(built):
    text = (built[0] / "README.md").read_text(encoding="utf-8")
    for marker in ("TODO", "{{", "}}", "{%", "<repo>", "None"):
        assert marker not in text, marker
    assert "**Not for clinical use.**" in text
    assert 'load_dataset("spinemed/SpineMed-450k", "mcq", revision="v1.0.0")' in text
    assert "| `mcq` (default) | 3 | 3 | 2 |" in text  # items, images, shards
    assert "| `mcq` | 3 | 2 | 1 | 0 | 3 | 3 |" in text  # per task: en, zh, text, image, images
    assert "| **total** | **7** | 4 | 3 | 4 | 3 | 3 |" in text
    assert "| spinal | Lumbar disc herniation | 腰椎间盘突出症 | `lumbar_disc_herniation` | 6 | 85.7% |" in text
    assert "| textbook | 4 | 57.1% |" in text
    assert "| source records read | 40 |" in text and "| items quarantined | 3 |" in text
    assert "| duplicates removed (exact) | 3 |" in text and "| duplicates removed (near) | 1 |" in text
    assert "| answer not in options | 2 |" in text and "| pcm: caption mismatch | 2 |" in text
    assert "| source defects (reported, not fatal) | 1 |" in text and "| unreadable PDF page | 1 |" in text
    assert "**Picture-context matching (figures anchored to captions and citing text)**: none." in text
    assert "| accounting balanced | yes |" in text and "| prompts | `mcq.draft@1:ab12,mcq.revise@1:cd34` |" in text
    assert "| proprietary | 1 |" in text and "provenance.redistributable" in text
    assert "deid-1.2" in text and "criteria-2026.1" in text and "| `rules-v1` | 7 |" in text
    assert "ICLR" in text and "2026" in text and "openreview.net" in text
    assert "| `report` | `struct{structured_findings," in text  # schema table


def test_card_render_names_missing_extra(built, tmp_path):
    stats = built[1]["stats"]
    for key in ("license", "accounting", "repo_id"):
        without = {k: v for k, v in EXTRA.items() if k != key}
        with pytest.raises(ValueError, match=key):
            hub.render_dataset_card(TEMPLATE, pretty_name="X", stats=stats, extra=without)
    bare = tmp_path / "bare.md"
    bare.write_text("# no front matter\n")
    with pytest.raises(ValueError, match="card_data"):
        hub.render_dataset_card(bare, pretty_name="X", stats=stats, extra=EXTRA)


@pytest.mark.parametrize(
    "n, label", [(0, "n<1K"), (999, "n<1K"), (1000, "1K<n<10K"), (456_000, "100K<n<1M"), (2_000_000, "1M<n<10M")]
)
def test_size_category(n, label):
    assert hub.size_category(n) == label


# --------------------------------------------------------------------------------------
# Manifest
# --------------------------------------------------------------------------------------


def test_manifest_records_shard_hashes_and_counts(built):
    out, result, manifest = built
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == manifest
    assert manifest["name"] == "SpineMed-450k" and manifest["version"] == "v1.0.0"
    assert manifest["versions"] == VERSIONS and manifest["created_at"].endswith("Z")
    assert manifest["counts"]["configs"] == {"mcq": 3, "open_qa": 2, "consultation": 1, "report": 1}
    assert manifest["counts"]["num_images"] == 3
    assert manifest["build"] == EXTRA["accounting"]
    for shard in manifest["shards"]:
        path = out / shard["path"]
        assert shard["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert shard["num_bytes"] == path.stat().st_size
    assert sum(s["num_rows"] for s in manifest["shards"]) == 7
    assert hub.verify_folder(out)["content_hash"] == manifest["content_hash"]


def test_identical_builds_have_the_same_content_hash(built, tmp_path, image_file):
    _, manifest = build_folder(tmp_path / "again" / "spinemed-450k", image_file)
    assert manifest["content_hash"] == built[2]["content_hash"]
    assert [s["sha256"] for s in manifest["shards"]] == [s["sha256"] for s in built[2]["shards"]]
    diff = hub.compare_manifests(built[2], tmp_path / "again" / "spinemed-450k")
    assert diff["same_content"] and diff["added"] == diff["removed"] == diff["changed"] == []
    assert diff["count_deltas"] == {"num_rows": 0, "num_images": 0, "configs": {}, "breakdowns": {}}


def test_compare_manifests_reports_changes(built, tmp_path, image_file):
    rows = build_rows(image_file)
    rows[3][1]["answer"] = "Pain radiating along the sciatic nerve."  # open_qa shard changes
    rows.append(("report", make_row("report", 2)))
    _, manifest = build_folder(tmp_path / "v2", image_file, rows)
    diff = hub.compare_manifests(built[2], manifest)
    assert not diff["same_content"]
    # report's 2 rows still fit one shard, so it changes rather than being added
    assert diff["changed"] == ["data/open_qa/train-00000-of-00001.parquet", "data/report/train-00000-of-00001.parquet"]
    assert diff["removed"] == [] and diff["added"] == []
    assert diff["count_deltas"]["num_rows"] == 1
    assert diff["count_deltas"]["configs"] == {"report": 1}
    assert diff["count_deltas"]["breakdowns"]["language"] == {"en": 1}


def test_manifest_rejects_stats_from_another_build_and_bad_versions(built, tmp_path):
    out = tmp_path / "ds"
    shutil.copytree(built[0], out)
    stats = json.loads(json.dumps(built[1]["stats"]))
    stats["configs"]["mcq"]["num_rows"] = 4
    with pytest.raises(ValueError, match="stats say"):
        hub.write_manifest(out, name="x", version="v1.0.0", versions=VERSIONS, stats=stats, extra={})
    with pytest.raises(ValueError, match="vX.Y.Z"):
        hub.write_manifest(out, name="x", version="1.0", versions=VERSIONS, stats=built[1]["stats"], extra={})
    with pytest.raises(ValueError, match="deid"):
        hub.write_manifest(out, name="x", version="v1.0.0", versions={"pipeline": "1", "criteria": "1"},
                           stats=built[1]["stats"], extra={})


# --------------------------------------------------------------------------------------
# Publishing
# --------------------------------------------------------------------------------------


class FakeApi:
    """Records HfApi calls; no network."""

    endpoint = "https://hub.example.org"

    def __init__(self, tags=()):
        self.calls: list[tuple[str, tuple, dict]] = []
        self.tags = list(tags)

    def create_repo(self, *args, **kwargs):
        self.calls.append(("create_repo", args, kwargs))

    def list_repo_refs(self, *args, **kwargs):
        self.calls.append(("list_repo_refs", args, kwargs))
        return types.SimpleNamespace(tags=[types.SimpleNamespace(name=t) for t in self.tags], branches=[])

    def upload_folder(self, **kwargs):
        self.calls.append(("upload_folder", (), kwargs))
        return types.SimpleNamespace(oid="0123abcd" * 5)

    def delete_tag(self, *args, **kwargs):
        self.calls.append(("delete_tag", args, kwargs))

    def create_tag(self, *args, **kwargs):
        self.calls.append(("create_tag", args, kwargs))


def no_findings(folder):
    return None


def test_publish_calls_the_hub_in_order_with_the_planned_files(built):
    out, _, manifest = built
    api = FakeApi(tags=["v0.9.0"])
    plan = hub.publish_folder(out, "spinemed/SpineMed-450k", "v1.0.0", api=api, preflight=no_findings)
    assert [c[0] for c in api.calls] == ["create_repo", "list_repo_refs", "upload_folder", "create_tag"]
    assert api.calls[0][1:] == (("spinemed/SpineMed-450k",), {"repo_type": "dataset", "private": False, "exist_ok": True})
    assert api.calls[1][1:] == (("spinemed/SpineMed-450k",), {"repo_type": "dataset"})
    upload = api.calls[2][2]
    assert upload["folder_path"] == str(out) and upload["repo_id"] == "spinemed/SpineMed-450k"
    assert upload["repo_type"] == "dataset" and upload["commit_message"] == "Release v1.0.0"
    expected_files = sorted(["README.md", "manifest.json"] + [s["path"] for s in manifest["shards"]])
    assert upload["allow_patterns"] == expected_files
    assert upload["delete_patterns"] == ["data/*"]
    assert api.calls[3][1] == ("spinemed/SpineMed-450k",)
    assert api.calls[3][2] == {
        "tag": "v1.0.0",
        "repo_type": "dataset",
        "tag_message": f"SpineMed-450k v1.0.0 (content {manifest['content_hash'][:16]})",
        "revision": "0123abcd" * 5,
    }
    assert plan.commit == "0123abcd" * 5 and plan.endpoint == "https://hub.example.org"
    assert [p for p, _ in plan.files] == expected_files
    assert dict(plan.files)["README.md"] == (out / "README.md").stat().st_size
    assert plan.total_bytes == sum((out / p).stat().st_size for p in expected_files)


def test_publish_dry_run_makes_no_calls(built):
    api = FakeApi()
    plan = hub.publish_folder(built[0], "org/ds", "v1.0.0", api=api, preflight=no_findings, dry_run=True,
                              endpoint="http://localhost:5564")
    assert api.calls == [] and plan.dry_run and plan.commit is None
    assert plan.endpoint == "http://localhost:5564" and plan.repo_id == "org/ds" and plan.version == "v1.0.0"
    assert "would publish org/ds" in plan.describe()


def test_publish_refuses_an_existing_tag_unless_overwritten(built):
    api = FakeApi(tags=["v1.0.0"])
    with pytest.raises(hub.PublishError, match="already has tag v1.0.0"):
        hub.publish_folder(built[0], "org/ds", "v1.0.0", api=api, preflight=no_findings)
    assert [c[0] for c in api.calls] == ["create_repo", "list_repo_refs"]  # nothing uploaded
    api = FakeApi(tags=["v1.0.0"])
    hub.publish_folder(built[0], "org/ds", "v1.0.0", api=api, preflight=no_findings, overwrite_tag=True)
    assert [c[0] for c in api.calls] == ["create_repo", "list_repo_refs", "upload_folder", "delete_tag", "create_tag"]


def test_publish_refused_when_preflight_raises(built):
    def deid_recheck(folder):
        raise RuntimeError("identifiers found: mcq row 'mcq-001' NAME 'Zhang San'")

    api = FakeApi()
    with pytest.raises(hub.PublishError, match="refused by the pre-publish check: identifiers found: .*Zhang San"):
        hub.publish_folder(built[0], "org/ds", "v1.0.0", api=api, preflight=deid_recheck)
    assert api.calls == []


def test_default_preflight_is_the_publish_gate_over_every_string_cell(built, monkeypatch):
    from spinemed.deid import gate

    seen = []
    real = gate.scan_text

    def spy(text, *, mode="clinical", where=""):
        seen.append((where, text))
        found = real(text, mode=mode, where=where)
        if "question 2" in text:
            found.append(gate.GateFinding(where, "NAME", "test", "[NAME]"))
        return found

    monkeypatch.setattr(gate, "scan_text", spy)
    api = FakeApi()
    with pytest.raises(hub.PublishError, match="publish gate") as err:
        hub.publish_folder(built[0], "org/ds", "v1.0.0", api=api)
    assert "mcq/mcq-002/messages[0].content: NAME (test)" in str(err.value)
    assert "--accept-residual-risk" in str(err.value)
    assert api.calls == []
    # nested strings of every config were scanned, image bytes were not
    texts = [t for _, t in seen]
    assert "diagnostic_basis text" in texts and "CC-BY-4.0" in texts and "B" in texts
    assert not any(isinstance(t, bytes) for t in texts)

    monkeypatch.setattr(gate, "scan_text", real)
    assert hub.publish_folder(built[0], "org/ds", "v1.0.0", api=FakeApi(), dry_run=True).dry_run


@pytest.mark.parametrize("version", ["1.0.0", "v1.0", "v1.0.0-rc1", "v01.0.0", "latest", ""])
def test_publish_rejects_bad_versions(built, version):
    with pytest.raises(hub.PublishError, match="vX.Y.Z"):
        hub.publish_folder(built[0], "org/ds", version, api=FakeApi(), preflight=no_findings)


def test_publish_rejects_a_version_the_folder_was_not_built_as(built):
    with pytest.raises(hub.PublishError, match="built as 'v1.0.0'"):
        hub.publish_folder(built[0], "org/ds", "v1.0.1", api=FakeApi(), preflight=no_findings)


def test_publish_rejects_broken_folders(built, tmp_path):
    out = tmp_path / "ds"
    shutil.copytree(built[0], out)
    shard = out / "data" / "report" / "train-00000-of-00001.parquet"
    shutil.copyfile(out / "data" / "consultation" / "train-00000-of-00001.parquet", shard)  # valid, but not it
    with pytest.raises(hub.PublishError, match="modified after the build.*data/report/train-00000-of-00001"):
        hub.publish_folder(out, "org/ds", "v1.0.0", api=FakeApi(), preflight=no_findings, dry_run=True)
    shard.write_bytes(b"truncated")
    with pytest.raises(hub.PublishError, match="not a readable parquet file"):
        hub.publish_folder(out, "org/ds", "v1.0.0", api=FakeApi(), preflight=no_findings, dry_run=True)

    shutil.rmtree(out)
    shutil.copytree(built[0], out)
    shutil.copyfile(out / "data" / "mcq" / "train-00000-of-00002.parquet", out / "data" / "mcq" / "train-00000-of-00001.parquet")
    with pytest.raises(hub.PublishError, match="not in the manifest"):
        hub.publish_folder(out, "org/ds", "v1.0.0", api=FakeApi(), preflight=no_findings, dry_run=True)

    shutil.rmtree(out)
    shutil.copytree(built[0], out)
    (out / "README.md").write_text("---\nconfigs: [unclosed\n---\n")
    with pytest.raises(hub.PublishError, match="YAML"):
        hub.publish_folder(out, "org/ds", "v1.0.0", api=FakeApi(), preflight=no_findings, dry_run=True)

    (out / "manifest.json").unlink()
    with pytest.raises(hub.PublishError, match="no manifest"):
        hub.publish_folder(out, "org/ds", "v1.0.0", api=FakeApi(), preflight=no_findings, dry_run=True)
    with pytest.raises(hub.PublishError, match="org/name"):
        hub.publish_folder(built[0], "just-a-name", "v1.0.0", api=FakeApi(), preflight=no_findings)


def test_attachments_are_hashed_verified_and_published(tmp_path):
    """Extra release files (e.g. an audit log) ship with the shards and are tamper-checked."""
    from spinemed.hub import DatasetFolderWriter, publish_folder, verify_folder, write_dataset_card, write_manifest

    out = tmp_path / "ds"
    w = DatasetFolderWriter(out, {"open_qa": features_for("open_qa")}, default_config="open_qa")
    w.add("open_qa", {"id": "q1", "task": "open_qa", "language": "en", "modality": "text", "images": [],
                      "subfield": "lumbar_stenosis", "subfield_group": "spinal", "levels": [], "level_source": "none", "question": "Q?",
                      "answer": "A.", "messages": [], "provenance": {"record_id": "r1", "source_type": "textbook", "source_id": "x",
                      "locator": "", "license": "cc-by-4.0", "redistributable": True, "source_file": "x.md",
                      "ocr": ""},
                      "generation": {"backend": "", "model": "", "prompt_id": "", "prompt_hash": "",
                                     "revision_prompt_id": "", "revision_prompt_hash": "", "criteria_version": "",
                                     "draft_hash": "", "revisions": []},
                      "pipeline_version": "1", "deid_version": "1"})
    w.close()
    (out / "audit.jsonl").write_text('{"event": "decision"}\n', "utf-8")
    write_dataset_card(out, Path(__file__).resolve().parents[2] / "dataset_cards" / "spinemed-450k.md",
                       pretty_name="T", stats=w.stats(), extra=EXTRA)
    manifest = write_manifest(out, name="t", version="v1.0.0", versions={"pipeline": "1", "criteria": "1", "deid": "1"},
                              stats=w.stats(), extra={}, attachments=["audit.jsonl"])
    assert manifest["attachments"][0]["path"] == "audit.jsonl"
    plan = publish_folder(out, "org/t", "v1.0.0", dry_run=True, endpoint="https://hub.example", preflight=lambda _: None)
    assert "audit.jsonl" in dict(plan.files)
    (out / "audit.jsonl").write_text('{"event": "tampered"}\n', "utf-8")
    with pytest.raises(ValueError, match="attachment 'audit.jsonl'"):
        verify_folder(out)
    with pytest.raises(ValueError, match="must be an existing file"):
        write_manifest(out, name="t", version="v1.0.0", versions={"pipeline": "1", "criteria": "1", "deid": "1"},
                       stats=w.stats(), extra={}, attachments=["../x"])


def test_publish_builds_its_client_for_the_endpoint_and_prints_its_urls(built, monkeypatch, capsys, tmp_path):
    """--endpoint (else HF_ENDPOINT) reaches HfApi and the printed plan; the shared helper sends the release."""
    from hub_fakes import FakeHub

    import spinemed.hub.publish as publish
    from spinemed.bench import publish_cli
    from spinemed.cli import main

    FakeHub.made = []
    monkeypatch.setattr(publish, "HfApi", FakeHub)
    monkeypatch.setattr(publish, "deid_preflight", no_findings)
    # release governance (tests/hub/test_governance.py): no bench overlap here, and the folder's
    # non-redistributable row needs a gated repo; a copy, since publishing rewrites the card
    monkeypatch.setattr(publish_cli, "bench_overlap_check", lambda benches, **kw: lambda folder: types.SimpleNamespace(clean=True, describe=lambda: "clean"))
    folder = tmp_path / "ds"
    shutil.copytree(built[0], folder)
    argv = ["publish", str(folder), "--repo", "org/ds", "--version", "v1.0.0", "--token", "hf_t", "--gated"]
    assert main([*argv, "--endpoint", "https://mirror.example"]) == 0
    (client,) = FakeHub.made
    assert (client.endpoint, client.token) == ("https://mirror.example", "hf_t")
    assert client.names() == ["create_repo", "list_repo_refs", "update_repo_settings", "upload_folder", "create_tag"]
    assert client.calls[4][2]["revision"] == f"{1:040x}"  # the tag is on the uploaded commit
    out = capsys.readouterr().out
    assert out.startswith(f"published org/ds (dataset) tag v1.0.0 at https://mirror.example commit {1:040x}\n")

    monkeypatch.setenv("HF_ENDPOINT", "https://env.example")
    plan = hub.publish_folder(built[0], "org/ds", "v1.0.0", preflight=no_findings)
    assert FakeHub.made[-1].endpoint == "https://env.example" and plan.url == "https://env.example/datasets/org/ds"
