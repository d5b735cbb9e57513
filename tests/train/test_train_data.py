"""SpineMed rows -> TRL VLM format, dataset mixtures, and the max-length filter (no training here)."""

import io
import json
import re
from pathlib import Path

import pytest
from datasets import Dataset, List, load_dataset
from datasets import Image as ImageFeature
from PIL import Image

from spinemed.schema import TASKS
from spinemed.training.data import (
    TRL_FEATURES,
    DatasetMixture,
    DatasetSource,
    convert_row,
    count_tokens,
    prepare_mixture,
    select_source,
    to_trl_example,
)

UNDECODED = List(ImageFeature(decode=False))


@pytest.fixture(scope="module")
def corpus(sample_corpus):
    return sample_corpus  # read only here


@pytest.fixture(scope="module")
def processor(tmp_path_factory):
    from transformers import AutoProcessor

    from spinemed.models.tiny import build_tiny_qwen25vl

    return AutoProcessor.from_pretrained(build_tiny_qwen25vl(tmp_path_factory.mktemp("tiny")))


def _texts(message):
    return [p["text"] for p in message["content"] if p["type"] == "text"]


@pytest.mark.parametrize("config", TASKS)
def test_every_config_converts_with_one_placeholder_per_image(corpus, config):
    ds = load_dataset(str(corpus), config, split="train")
    n_image_rows = 0
    for row in ds:
        ex = to_trl_example(row)
        assert set(ex) == {"messages", "images"}
        assert [m["role"] for m in ex["messages"]] == [m["role"] for m in row["messages"]]
        assert [_texts(m) for m in ex["messages"]] == [[m["content"]] for m in row["messages"]]
        placeholders = [(i, j) for i, m in enumerate(ex["messages"]) for j, p in enumerate(m["content"])
                        if p["type"] == "image"]
        assert len(placeholders) == len(row["images"]) == len(ex["images"])
        # images precede the text of the first user turn, in order
        assert placeholders == [(0, j) for j in range(len(row["images"]))]
        assert all(isinstance(img, Image.Image) for img in ex["images"])
        assert ex["messages"][-1]["role"] == "assistant"
        n_image_rows += bool(row["images"])
    if config != "report":  # the sample corpus has image items in mcq, open_qa and consultation
        assert n_image_rows > 0


def test_consultation_keeps_every_turn(corpus):
    row = load_dataset(str(corpus), "consultation", split="train")[0]
    ex = to_trl_example(row)
    assert len(ex["messages"]) == len(row["messages"]) >= 4
    assert _texts(ex["messages"][3]) == [row["messages"][3]["content"]]


def test_undecoded_images_pass_through_untouched(corpus):
    ds = load_dataset(str(corpus), "mcq", split="train").cast_column("images", UNDECODED)
    row = next(r for r in ds if r["images"])
    ex = to_trl_example(row, decode_images=False)
    assert ex["images"][0]["bytes"] == row["images"][0]["bytes"]


@pytest.mark.parametrize("messages, images, error", [
    ([{"role": "user", "content": "q"}], [], "last turn must be the assistant's"),
    ([{"role": "assistant", "content": "a"}], [], "turn 0 is 'assistant'"),
    ([{"role": "user", "content": "q"}, {"role": "user", "content": "q2"}], [], "alternate"),
    ([{"role": "user", "content": ["q"]}, {"role": "assistant", "content": "a"}], [], "content must be a string"),
    ([{"role": "doctor", "content": "q"}], [], "role 'doctor'"),
    ([], [], "no messages"),
    ([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], [b"not an image"], "not readable"),
])
def test_malformed_rows_name_the_row(messages, images, error):
    with pytest.raises(ValueError, match=error) as exc:
        to_trl_example({"id": "row-7", "messages": messages, "images": images})
    assert "row-7" in str(exc.value)


def _png(color=(200, 10, 10), size=(40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def test_other_formats(tmp_path):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.png").write_bytes(_png())
    qa = DatasetSource(path="x", format="qa", columns={"question": "Q", "reasoning": "CoT", "answer": "A"})
    ex = convert_row({"Q": "Why?", "CoT": "Because of L5.", "A": "L4-L5"}, qa)
    assert _texts(ex["messages"][1]) == ["## Thinking\n\nBecause of L5.\n\n## Final Response\n\nL4-L5"]

    sharegpt = DatasetSource(path="x", format="sharegpt", image_root=str(tmp_path / "imgs"))
    row = {"conversations": [{"from": "human", "value": "<image>\nWhat is shown?"}, {"from": "gpt", "value": "A spine."}],
           "image": ["a.png"]}
    ex = convert_row(row, sharegpt)
    assert [p["type"] for p in ex["messages"][0]["content"]] == ["image", "text"]
    assert _texts(ex["messages"][0]) == ["What is shown?"]
    assert ex["images"][0].size == (40, 30)
    with pytest.raises(ValueError, match="2 <image> tag"):
        convert_row({**row, "conversations": [{"from": "human", "value": "<image><image> x"}, row["conversations"][1]]},
                    sharegpt)
    with pytest.raises(ValueError, match="does not exist"):
        convert_row({**row, "image": ["missing.png"]}, sharegpt)

    structured = DatasetSource(path="x", format="messages")
    row = {"messages": [{"role": "user", "content": [{"type": "text", "text": "look"}, {"type": "image"}]},
                        {"role": "assistant", "content": "ok"}], "images": [_png()]}
    ex = convert_row(row, structured)
    assert [p["type"] for p in ex["messages"][0]["content"]] == ["text", "image"]  # author's placement kept
    with pytest.raises(ValueError, match="column 'Q'"):
        convert_row({"question": "q", "answer": "a"}, qa)


def test_source_config_errors():
    with pytest.raises(ValueError, match="unknown key"):
        DatasetSource.from_dict({"path": "x", "fractoin": 0.5}, "d[0]")
    with pytest.raises(ValueError, match="fraction"):
        DatasetSource.from_dict({"path": "x", "fraction": 1.5}, "d[0]")
    with pytest.raises(ValueError, match="format"):
        DatasetSource.from_dict({"path": "x", "format": "alpaca"}, "d[0]")
    with pytest.raises(ValueError, match="mean nothing"):
        DatasetSource.from_dict({"path": "x", "format": "qa", "columns": {"conversations": "c"}}, "d[0]")
    with pytest.raises(ValueError, match="non-empty 'datasets'"):
        DatasetMixture.from_dict({"datasets": []})


def test_a_missing_local_folder_is_named_with_the_working_directory(tmp_path, monkeypatch):
    import datasets

    monkeypatch.chdir(tmp_path)
    hub_calls = []
    real = datasets.load_dataset
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **kw: hub_calls.append(a) or real(*a, **kw))
    # Only a local path: refused before any Hub look-up.
    for path in ("./demo_out/spinebench", "demo_out/spinemed-450k/release", str(tmp_path / "absent")):
        with pytest.raises(FileNotFoundError, match=f"no such folder '{re.escape(path)}'") as info:
            DatasetSource(path=path, name="mcq").load()
        assert ("relative to the working directory" in str(info.value)) == (not Path(path).is_absolute())
    assert hub_calls == []
    # 'demo_out/x' reads like a Hub id: tried there (offline in the tests: ConnectionError), then both are said.
    with pytest.raises(FileNotFoundError) as info:
        DatasetSource(path="demo_out/spinemed-450k-release", name="mcq").load()
    assert len(hub_calls) == 1
    message = str(info.value)
    assert message.startswith("demo_out/spinemed-450k-release[mcq]:train: no such folder "
                              f"'demo_out/spinemed-450k-release' (relative to the working directory {tmp_path})")
    assert "cannot be loaded as a Hub dataset either (ConnectionError" in message


def test_select_where_fraction_and_cap_are_seeded(corpus):
    full = load_dataset(str(corpus), "mcq", split="train")
    n_ortho = sum(1 for g in full["subfield_group"] if g == "orthopedic")
    src = DatasetSource(path=str(corpus), name="mcq", where={"subfield_group": "orthopedic"})
    sel = select_source(src)
    assert (sel.n_loaded, sel.n_matched, len(sel.dataset)) == (len(full), n_ortho, n_ortho)
    assert set(sel.dataset["subfield_group"]) == {"orthopedic"}

    half = DatasetSource(path=str(corpus), name="mcq", fraction=0.5, max_rows=40)
    a, b = select_source(half, seed=1), select_source(half, seed=1)
    assert len(a.dataset) == min(round(len(full) * 0.5), 40) == 40
    assert a.ids == b.ids and select_source(half, seed=2).ids != a.ids
    with pytest.raises(ValueError, match="'where' names column"):
        select_source(DatasetSource(path=str(corpus), name="mcq", where={"specialty": "spine"}))
    with pytest.raises(ValueError, match="cannot load"):
        select_source(DatasetSource(path=str(corpus), name="no_such_config"))


def _exact_length(example, processor):
    from trl.data_utils import prepare_multimodal_messages

    msgs = prepare_multimodal_messages(example["messages"], images=example["images"])
    out = processor.apply_chat_template(msgs, tokenize=True, return_dict=True)
    return len(out["input_ids"][0])


def test_fast_length_equals_the_processor_with_image_tokens(corpus, processor):
    ds = load_dataset(str(corpus), "mcq", split="train")
    rows = [r for r in ds if r["images"]][:6] + [r for r in ds if not r["images"]][:3]
    for row in rows:
        ex = to_trl_example(row)
        assert count_tokens(ex, processor) == _exact_length(ex, processor)
    img_row = to_trl_example(rows[0])
    text_only = {"messages": img_row["messages"], "images": []}
    # the image counts for many tokens, not one placeholder
    assert count_tokens(img_row, processor) - count_tokens({**text_only, "messages": [
        {**m, "content": [p for p in m["content"] if p["type"] == "text"]} for m in img_row["messages"]]},
        processor) > 4


def test_qwen25vl_chat_template_and_its_training_variant(corpus, processor):
    """Qwen2.5-VL-7B-Instruct's own template (no generation markers): TRL trains with its training
    variant; both render the same text, so lengths measured with either agree, and assistant-only
    masking works on our rows."""
    import copy

    import trl
    from trl.chat_template_utils import get_training_chat_template
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    qwen = copy.deepcopy(processor)
    qwen.chat_template = (Path(trl.__file__).parent / "chat_templates" / "qwen2_5_vl.jinja").read_text()
    training = get_training_chat_template(qwen)
    assert training and "generation" in training
    rows = [to_trl_example(r) for r in load_dataset(str(corpus), "consultation", split="train")]
    rows = [r for r in rows if r["images"]][:1] + rows[:3]
    for ex in rows:
        assert count_tokens(ex, qwen) == count_tokens(ex, qwen, chat_template=training)
    batch = DataCollatorForVisionLanguageModeling(processor=qwen, assistant_only_loss=True, chat_template=training)(
        [dict(rows[0]), dict(rows[1])])
    for i, ex in enumerate(rows[:2]):
        assert int(batch["attention_mask"][i].sum()) == count_tokens(ex, qwen, chat_template=training)
        assert 0 < int((batch["labels"][i] != -100).sum()) < int(batch["attention_mask"][i].sum())


def test_over_long_rows_are_dropped_and_counted_not_truncated(corpus, processor):
    sources = [DatasetSource(path=str(corpus), name=c) for c in ("mcq", "report")]
    selected = [select_source(s) for s in sources]
    limit = 1024
    expected = {}
    for s in sources:
        ds = load_dataset(str(corpus), s.name, split="train")
        expected[s.label()] = sum(_exact_length(to_trl_example(r), processor) > limit for r in ds)
    assert expected[sources[1].label()] > 0  # the sample reports are long for the tiny tokenizer
    logs = []
    mix = prepare_mixture(selected, processor, limit, log=logs.append)
    assert {s["label"]: s["too_long"] for s in mix.sources} == expected
    assert mix.n_too_long == sum(expected.values())
    assert mix.n_rows == sum(len(sel.dataset) for sel in selected) - mix.n_too_long
    assert all(count_tokens(ex, processor) <= limit for ex in mix.dataset.cast_column("images", UNDECODED))
    assert any("dropped" in line for line in logs)
    assert "dropped as longer than max_length 1024" in mix.summary()
    # the mixture keeps images, decoded to PIL, for the rows that have them
    image_rows = [ex for ex in mix.dataset if ex["images"]]
    assert image_rows and isinstance(image_rows[0]["images"][0], Image.Image)
    assert sum(s["with_images"] for s in mix.sources) == len(image_rows)


def test_mixed_text_and_image_batches_collate(corpus, processor):
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    mix = prepare_mixture([select_source(DatasetSource(path=str(corpus), name="mcq"))], processor, None)
    image_ex = next(ex for ex in mix.dataset if ex["images"])
    text_ex = next(ex for ex in mix.dataset if not ex["images"])
    collator = DataCollatorForVisionLanguageModeling(processor=processor, assistant_only_loss=True)
    batch = collator([dict(image_ex), dict(text_ex)])
    image_token = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    n_image_tokens = int((batch["input_ids"] == image_token).sum())
    merge = processor.image_processor.merge_size
    assert n_image_tokens == int(batch["image_grid_thw"].prod(-1).sum()) // merge**2 > 1
    text_part = {"messages": [{**m, "content": [p for p in m["content"] if p["type"] == "text"]}
                              for m in image_ex["messages"]], "images": []}
    # the measured length counts every expanded image token (+ vision start/end)
    assert count_tokens(image_ex, processor) == count_tokens(text_part, processor) + n_image_tokens + 2
    assert batch["pixel_values"] is not None and batch["image_grid_thw"].shape[0] == len(image_ex["images"])
    # assistant-only loss: the prompt (and the image) is masked
    labels = batch["labels"][0]
    assert (labels[batch["input_ids"][0] == image_token] == -100).all()
    assert 0 < int((labels != -100).sum()) < int(batch["attention_mask"][0].sum())
    text_batch = collator([dict(text_ex), dict(text_ex)])
    assert "pixel_values" not in text_batch or text_batch["pixel_values"] is None


def test_mixture_rows_match_trl_features(corpus, processor):
    mix = prepare_mixture([select_source(DatasetSource(path=str(corpus), name="consultation"))], processor, 100_000)
    assert mix.dataset.features == TRL_FEATURES
    assert json.loads(json.dumps(mix.sources))  # stats are JSON (they go into the run summary)
    assert Path(str(corpus)).is_dir() and mix.n_too_long == 0
    assert isinstance(mix.dataset, Dataset)
