"""SpineGPT on ZeroGPU: the local transformers chat runs under `spaces.GPU` (tested with the tiny model and a
recording stand-in for the decorator, as on a ZeroGPU Space), streams, says the model is loading until it is
loaded, takes its model and revision from Space variables, and the app's queue is bounded."""

from __future__ import annotations

import inspect

import pytest
import yaml

pytest.importorskip("transformers")
spaces = pytest.importorskip("spaces")

from spinemed.paths import checkout_path  # noqa: E402
from spinemed.space.chat import GPU_DURATION_S, TransformersChatBackend, Turn, build_chat_backend, zero_gpu  # noqa: E402
from spinemed.space.config import SpaceConfig  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from spinemed.models.tiny import build_tiny_qwen25vl

    return build_tiny_qwen25vl(tmp_path_factory.mktemp("tiny") / "tiny-qwen25vl", seed=0)


@pytest.fixture
def gpu_calls(monkeypatch):
    """Replace spaces.GPU by what it does on ZeroGPU, minus the GPU: wrap the function (generator
    functions stay generators) and record each call with its duration."""
    calls: list[dict] = []

    def GPU(task=None, *, duration=None, size=None):
        def decorate(fn):
            assert inspect.isgeneratorfunction(fn), "streaming needs a generator function under spaces.GPU"

            def wrapped(*args, **kwargs):
                calls.append({"fn": fn.__name__, "duration": duration, "pieces": 0})
                for piece in fn(*args, **kwargs):
                    calls[-1]["pieces"] += 1
                    yield piece

            return wrapped

        return decorate if task is None else decorate(task)

    monkeypatch.setattr(spaces, "GPU", GPU)
    return calls


def test_the_local_chat_streams_under_spaces_gpu(tiny, gpu_calls):
    backend = TransformersChatBackend(tiny, max_new_tokens=12, label="tiny")
    assert "Loading the model (tiny)" in backend.loading_notice("en") and "正在加载模型" in backend.loading_notice("zh")
    pieces = list(backend.stream([Turn("user", "Which level is affected? L4-L5?")], "en"))
    assert gpu_calls == [{"fn": "_generate", "duration": GPU_DURATION_S, "pieces": len(pieces)}]
    assert pieces and all(isinstance(p, str) for p in pieces)
    assert backend.loaded and backend.loading_notice("en") is None
    list(backend.stream([Turn("user", "again")], "en"))
    assert len(gpu_calls) == 2  # one GPU slot per answer, the model loaded once


def test_the_page_says_the_model_is_loading_then_streams_the_answer(tiny, gpu_calls, tmp_path):
    from spinemed.space.app import SpaceState

    backend = TransformersChatBackend(tiny, max_new_tokens=8, label="SpineGPT-test")
    state = SpaceState(SpaceConfig(results_dir=tmp_path / "r", cache_dir=tmp_path / "c"), chat=backend)
    shown = list(state.respond({"text": "腰椎间盘突出怎么办？", "files": []}, [], "auto"))
    assert shown[0].startswith("⏳") and "SpineGPT-test" in shown[0]
    assert len(gpu_calls) == 1 and not shown[-1].startswith("⏳")


def test_off_zero_gpu_the_decorator_is_a_no_op(monkeypatch):
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)

    def gen():
        yield "x"

    assert zero_gpu(gen) is gen  # the real `spaces` package, not on ZeroGPU


def test_model_revision_and_queue_size_come_from_space_variables(tmp_path):
    cfg = SpaceConfig.from_env({"SPINEMED_CHAT_MODEL": "hf:org/SpineGPT-7B", "SPINEMED_CHAT_REVISION": "v1.0.0",
                                "SPINEMED_MAX_QUEUE": "7"}, results_dir=tmp_path / "r", cache_dir=tmp_path / "c")
    backend = build_chat_backend(cfg.model, revision=cfg.chat_revision)  # nothing is downloaded until the first use
    assert (backend.model_id, backend.revision, backend.description) == ("org/SpineGPT-7B", "v1.0.0", "org/SpineGPT-7B@v1.0.0")
    with pytest.raises(ValueError, match="names revision"):
        build_chat_backend("hf:org/SpineGPT-7B@main", revision="v1.0.0")
    with pytest.raises(ValueError, match="SPINEMED_MAX_QUEUE"):
        SpaceConfig.from_env({"SPINEMED_MAX_QUEUE": "0"})

    from spinemed.space.app import create_app

    demo, _ = create_app(SpaceConfig.from_env({"SPINEMED_MAX_QUEUE": "7"}, results_dir=tmp_path / "r", cache_dir=tmp_path / "c"))
    assert demo._queue.max_size == 7


def test_the_space_card_suggests_zero_gpu_hardware_and_lists_spaces():
    text = checkout_path("space_app", "README.md").read_text(encoding="utf-8")
    front = yaml.safe_load(text.split("---")[1])
    assert front["suggested_hardware"] == "zero-a10g"
    assert "SPINEMED_CHAT_REVISION" in text
    requirements = checkout_path("space_app", "requirements.txt").read_text(encoding="utf-8").split()
    assert "spaces" in requirements


@pytest.mark.gpu
def test_the_local_chat_streams_on_cuda_under_spaces_gpu(tiny, gpu_calls):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    backend = TransformersChatBackend(tiny, max_new_tokens=12, device="cuda")
    pieces = list(backend.stream([Turn("user", "Which level is affected?")], "en"))
    assert backend.device.startswith("cuda") and pieces and len(gpu_calls) == 1
