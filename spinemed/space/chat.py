"""Chat backends for the Space's demo: a local transformers model or an OpenAI-compatible endpoint.

Both stream: :meth:`stream` yields text pieces as the model produces them.  A model is chosen
with the spec grammar of ``spinemed eval --model`` (:mod:`spinemed.models.spec`) and built by
:mod:`spinemed.models.loader`:

* ``hf:PATH_OR_REPO[@REV]`` — a local folder or Hub model id loaded with transformers
  (:func:`spinemed.models.loader.load_vlm`; SpineGPT / Qwen2.5-VL); downloaded only because the
  operator named it;
* ``openai:MODEL@URL[,URL...]`` — any OpenAI-compatible server(s) (vLLM, TGI, hosted APIs),
  streamed by the shared client (:meth:`spinemed.llm.client.LLMClient.stream_sync`); images are
  sent as data URLs (:func:`spinemed.llm.images.text_and_images_content`), the key comes from
  ``SPINEMED_API_KEY`` / ``OPENAI_API_KEY`` like everywhere in the kit;
* ``tiny`` — the random-weight tiny Qwen2.5-VL (:func:`spinemed.models.tiny.build_tiny_qwen25vl`),
  built offline: its answers are noise, it only proves the plumbing (images in, tokens out);
* nothing — :class:`NotConfiguredBackend` answers with how to configure a model.  The default
  Space therefore starts instantly and downloads nothing.

ZeroGPU: the local backend's generation runs under the ``spaces`` package's ``@spaces.GPU``
(:func:`zero_gpu`), which holds a GPU only while a visitor's answer is generated on a ZeroGPU
Space and is a no-op anywhere else (``spaces`` absent, or ``SPACES_ZERO_GPU`` unset).  All CUDA
work (inputs to the device, ``generate``) happens inside the decorated function, as ZeroGPU
requires; on ZeroGPU the model is loaded at start-up (:func:`on_zero_gpu`), elsewhere in the
background while the page is already up, and :meth:`TransformersChatBackend.loading_notice` is
what a visitor sees meanwhile.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from spinemed.extras import MissingExtra
from spinemed.llm.base import ChatRequest, LLMError
from spinemed.llm.images import text_and_images_content
from spinemed.models.loader import load_vlm, openai_client, tiny_model_folder
from spinemed.models.spec import ModelError, ModelSpec, parse_model_spec

__all__ = [
    "NOT_FOR_CLINICAL_USE",
    "ChatBackend",
    "ChatInputError",
    "NotConfiguredBackend",
    "OpenAIChatBackend",
    "TransformersChatBackend",
    "Turn",
    "CHAT_KINDS",
    "build_chat_backend",
    "on_zero_gpu",
    "turns_from_gradio",
    "zero_gpu",
]

NOT_FOR_CLINICAL_USE = (
    "Research demo, not a medical device: answers may be wrong and must not be used for diagnosis or treatment. "
    "仅供科研演示，并非医疗器械：回答可能有误，不得用于临床诊断或治疗。"
)

SYSTEM_PROMPTS = {
    "en": ("You are SpineGPT, an assistant for spinal medicine. Answer in English, concisely and accurately; "
           "name the vertebral levels you refer to (e.g. L4-L5). You are not a substitute for a clinician."),
    "zh": ("你是 SpineGPT，脊柱医学助手。请用中文简洁、准确地回答，并写明涉及的椎体节段（如 L4-L5）。"
           "你的回答不能替代临床医生的诊疗意见。"),
}

MAX_IMAGES = 4  # per request (most recent first): bounds vision tokens and upload work
MAX_IMAGE_BYTES = 10 * 1024 * 1024
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff")
CHAT_KINDS = ("hf", "openai", "tiny", "none")  # the model specs the chat takes


GPU_DURATION_S = 120  # ZeroGPU's time slot per answer (its quota is counted in these)
_LOADING = {
    "en": "⏳ Loading the model ({name}) — the first answer takes a while; it streams here as soon as the model is ready.",
    "zh": "⏳ 正在加载模型（{name}），首次回答需要稍等；模型就绪后回答会在此处逐字显示。",
}


def on_zero_gpu() -> bool:
    """True on a ZeroGPU Space (which sets ``SPACES_ZERO_GPU``)."""
    return str(os.environ.get("SPACES_ZERO_GPU", "")).strip().lower() in ("1", "true", "yes")


def zero_gpu(fn, duration: int = GPU_DURATION_S):
    """`fn` under ``spaces.GPU(duration=...)``: a GPU for each call on ZeroGPU, `fn` itself elsewhere
    (the package returns the function unchanged off ZeroGPU; without the package, so does this)."""
    try:
        import spaces
    except ImportError:
        return fn
    return spaces.GPU(duration=duration)(fn)


class ChatInputError(ValueError):
    """A message the backends cannot take (a non-image file, an unreadable image)."""


@dataclass
class Turn:
    role: str  # "user" | "assistant"
    text: str = ""
    images: list[str] = field(default_factory=list)  # file paths


def _file_path(part: Any) -> str | None:
    if isinstance(part, str):
        return part
    if isinstance(part, Mapping):
        if isinstance(part.get("file"), Mapping):
            return part["file"].get("path")
        return part.get("path")
    return getattr(part, "path", None)


def _content_parts(content: Any) -> tuple[str, list[str]]:
    """(text, file paths) of one Gradio message content, in any of Gradio's shapes."""
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, []
    if isinstance(content, tuple):  # ("path", alt) from older Chatbot values
        return "", [str(content[0])] if content else []
    parts = content if isinstance(content, list) else [content]
    texts, files = [], []
    for part in parts:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, Mapping) and part.get("type") == "text":
            texts.append(str(part.get("text") or ""))
        elif isinstance(part, Mapping) and (part.get("type") == "file" or "path" in part or "file" in part):
            path = _file_path(part)
            if path:
                files.append(str(path))
        # components (plots, audio players) in the history carry nothing a model can read
    return "\n".join(t for t in texts if t), files


def _check_image(path: str) -> None:
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    if p.suffix.lower() not in IMAGE_SUFFIXES:
        raise ChatInputError(f"{p.name}: only images can be attached (PNG, JPEG, WebP, ...)")
    try:
        size = p.stat().st_size
    except OSError:
        raise ChatInputError(f"{p.name}: the uploaded file is gone; attach it again") from None
    if size > MAX_IMAGE_BYTES:
        raise ChatInputError(f"{p.name}: {size / 1e6:.1f} MB; images up to {MAX_IMAGE_BYTES // 1024 // 1024} MB")
    try:
        with Image.open(p) as img:
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError):
        raise ChatInputError(f"{p.name}: not a readable image") from None


def turns_from_gradio(message: Any, history: Sequence[Mapping[str, Any]]) -> list[Turn]:
    """The conversation as turns: Gradio's history (messages format) plus the new message.

    Consecutive messages of one role are merged (Gradio stores a text and each file as
    separate messages).  Only the most recent :data:`MAX_IMAGES` images are kept.  Raises
    ChatInputError for a non-image attachment in the new message.
    """
    turns: list[Turn] = []

    def add(role: str, text: str, files: list[str]) -> None:
        if role not in ("user", "assistant"):
            return
        if turns and turns[-1].role == role:
            turns[-1].text = "\n".join(t for t in (turns[-1].text, text) if t)
            turns[-1].images += files
        else:
            turns.append(Turn(role, text, list(files)))

    for msg in history or []:
        if not isinstance(msg, Mapping):
            continue
        text, files = _content_parts(msg.get("content"))
        add(str(msg.get("role")), text, [f for f in files if Path(f).suffix.lower() in IMAGE_SUFFIXES])
    if isinstance(message, Mapping):
        text = str(message.get("text") or "")
        files = [p for p in (_file_path(f) for f in message.get("files") or []) if p]
    else:
        text, files = str(message or ""), []
    for f in files:
        _check_image(f)
    add("user", text, files)
    # Keep the latest images only; older ones become a note so the text still makes sense.
    seen = 0
    for turn in reversed(turns):
        keep = []
        for img in reversed(turn.images):
            if seen < MAX_IMAGES and Path(img).is_file():
                keep.append(img)
                seen += 1
        turn.images = list(reversed(keep))
    return turns


class ChatBackend(Protocol):
    name: str
    description: str

    def stream(self, turns: list[Turn], language: str) -> Iterator[str]: ...


# --------------------------------------------------------------------------------------
# No model configured
# --------------------------------------------------------------------------------------

_HOW_TO = {
    "en": (
        "No chat model is configured for this Space, so nothing was sent anywhere.\n\n"
        "To chat, start the Space with a model:\n"
        "- a local or Hub model through transformers: `spinemed space --model hf:spinemed/SpineGPT-7B` "
        "(or set `SPINEMED_CHAT_MODEL=hf:...` in the Space settings);\n"
        "- an OpenAI-compatible server: `spinemed space --model openai:MODEL@http://localhost:8000/v1` "
        "(API key from `SPINEMED_API_KEY` or `OPENAI_API_KEY`);\n"
        "- `--model tiny` runs a random-weight test model offline: it answers noise, but shows the pipeline works.\n\n"
        "The leaderboard, submissions and the benchmark explorer work without a model."
    ),
    "zh": (
        "此 Space 尚未配置对话模型，因此没有发送任何请求。\n\n"
        "启动时指定模型即可对话：\n"
        "- 通过 transformers 加载本地或 Hub 模型：`spinemed space --model hf:spinemed/SpineGPT-7B`"
        "（或在 Space 设置中设置 `SPINEMED_CHAT_MODEL=hf:...`）；\n"
        "- OpenAI 兼容服务：`spinemed space --model openai:MODEL@http://localhost:8000/v1`"
        "（API 密钥取自 `SPINEMED_API_KEY` 或 `OPENAI_API_KEY`）；\n"
        "- `--model tiny` 离线运行随机权重的测试模型：回答无意义，仅用于验证流程。\n\n"
        "排行榜、结果提交和基准浏览无需模型即可使用。"
    ),
}


class NotConfiguredBackend:
    name = "none"
    description = "no chat model configured"

    def stream(self, turns: list[Turn], language: str) -> Iterator[str]:
        yield _HOW_TO["zh" if language == "zh" else "en"]


# --------------------------------------------------------------------------------------
# OpenAI-compatible endpoint
# --------------------------------------------------------------------------------------


class OpenAIChatBackend:
    """Streams the answer of OpenAI-compatible endpoint(s) through the shared client
    (:meth:`spinemed.llm.client.LLMClient.stream_sync`: ``"stream": true``, server-sent events).

    A server that ignores ``stream`` and answers with one JSON body still works (the whole
    answer arrives as one piece).  Several URLs share the visitors (fewest requests in flight
    first).  One attempt per message: a visitor sees the error at once and can resend.
    `transport` is for tests (a transport of :mod:`spinemed.llm.openai_compat`'s ``httpx``).
    """

    name = "openai"

    def __init__(self, base_url: str | Sequence[str], model: str, *, api_key: str | None = None,
                 timeout_s: float = 120.0, max_tokens: int = 1024, temperature: float = 0.2, max_side: int = 1024,
                 concurrency: int = 32, transport: Any = None):
        if not model:
            raise ValueError("chat endpoint: the model name is required (openai:MODEL@URL)")
        urls = (base_url,) if isinstance(base_url, str) else tuple(base_url)
        self.client = openai_client(ModelSpec("openai", model, urls=urls), api_key=api_key, concurrency=concurrency,
                                    timeout_s=timeout_s, retries=0, transport=transport)
        self.base_urls = self.client.backend.base_urls
        self.model = model
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.max_side = max_side
        self.description = f"{model} at {', '.join(self.base_urls)}"

    def request(self, turns: list[Turn], language: str) -> ChatRequest:
        messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM_PROMPTS[language]}]
        for t in turns:
            if t.role == "user" and t.images:
                messages.append({"role": "user", "content": text_and_images_content(t.text, t.images, max_side=self.max_side)})
            else:
                messages.append({"role": t.role, "content": t.text})
        return ChatRequest(messages=tuple(messages), model=self.model, temperature=self.temperature,
                           max_tokens=self.max_tokens)

    def stream(self, turns: list[Turn], language: str) -> Iterator[str]:
        yield from self.client.stream_sync(self.request(turns, language))


# --------------------------------------------------------------------------------------
# Local transformers model
# --------------------------------------------------------------------------------------


def _stop_on_event(event: threading.Event) -> Any:
    """A transformers ``StoppingCriteria`` that ends generation once `event` is set (built on first
    use: transformers is an optional extra)."""
    import torch
    from transformers import StoppingCriteria

    class StopOnEvent(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            return torch.full((input_ids.shape[0],), event.is_set(), dtype=torch.bool, device=input_ids.device)

    return StopOnEvent()


class TransformersChatBackend:
    """A vision-language model loaded with transformers, streamed with ``TextIteratorStreamer``.

    Loaded on first use (so the Space starts at once) by :func:`spinemed.models.loader.load_vlm`
    (device and dtype as in ``spinemed eval``: cuda bfloat16 > mps float16 > cpu float32); one
    generation at a time (a second request waits), since one model copy serves all visitors.
    """

    name = "transformers"

    def __init__(self, model: str | os.PathLike, *, revision: str | None = None, max_new_tokens: int = 1024,
                 label: str | None = None, device: str | None = None, gpu_duration: int = GPU_DURATION_S):
        self.model_id = str(model)
        self.revision = revision
        self.max_new_tokens = max_new_tokens
        self.description = label or self.model_id
        self.device = device
        self._model = None
        self._processor = None
        self._load_lock = threading.Lock()
        self._generate_lock = threading.Lock()
        # Decorated here, before the app launches (ZeroGPU registers GPU functions at start-up).
        self._generate_on_gpu = zero_gpu(self._generate, gpu_duration)

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def loading_notice(self, language: str) -> str | None:
        """What to show while the model is not loaded yet (None once it is)."""
        return None if self.loaded else _LOADING["zh" if language == "zh" else "en"].format(name=self.description)

    def load(self) -> None:
        with self._load_lock:
            if self._model is not None:
                return
            try:
                vlm = load_vlm(self.model_id, revision=self.revision, device=self.device or "auto")
            except (ModelError, MissingExtra) as exc:  # shown in the chat, not a traceback
                raise LLMError(f"chat model: {exc}") from exc
            self._processor, self._model, self.device = vlm.processor, vlm.model, vlm.device

    def build_messages(self, turns: list[Turn], language: str) -> list[dict[str, Any]]:
        from PIL import Image

        messages: list[dict[str, Any]] = [{"role": "system", "content": [{"type": "text", "text": SYSTEM_PROMPTS[language]}]}]
        for t in turns:
            parts: list[dict[str, Any]] = []
            for path in t.images:
                with Image.open(path) as img:
                    parts.append({"type": "image", "image": img.convert("RGB")})
            parts.append({"type": "text", "text": t.text})
            messages.append({"role": t.role, "content": parts})
        return messages

    def _generate(self, messages: list[dict[str, Any]]) -> Iterator[str]:
        """Tokenise, move to the device and generate, streaming the text (the GPU function: on
        ZeroGPU it runs while a GPU is attached, so every CUDA call is in here)."""
        from transformers import StoppingCriteriaList, TextIteratorStreamer

        inputs = self._processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True,
                                                     return_tensors="pt").to(self.device)
        streamer = TextIteratorStreamer(self._processor.tokenizer, skip_prompt=True, skip_special_tokens=True)
        failure: list[BaseException] = []
        stop = threading.Event()  # set when the visitor goes away: generation ends at the next token

        def generate() -> None:
            try:
                self._model.generate(**inputs, streamer=streamer, max_new_tokens=self.max_new_tokens, do_sample=False,
                                     stopping_criteria=StoppingCriteriaList([_stop_on_event(stop)]))
            except BaseException as exc:  # surfaced in the chat below, not lost in a thread
                failure.append(exc)
                streamer.end()

        worker = threading.Thread(target=generate, name="space-chat-generate", daemon=True)
        worker.start()
        try:
            for piece in streamer:
                if piece:
                    yield piece
        finally:
            stop.set()  # a closed stream (disconnect) must not hold the GPU and the lock until max_new_tokens
            worker.join()
        if failure:
            raise LLMError(f"generation failed: {type(failure[0]).__name__}: {failure[0]}")

    def stream(self, turns: list[Turn], language: str) -> Iterator[str]:
        self.load()
        messages = self.build_messages(turns, language)
        with self._generate_lock:  # one model copy serves everyone: one answer at a time
            yield from self._generate_on_gpu(messages)


# --------------------------------------------------------------------------------------
# Model specs
# --------------------------------------------------------------------------------------


def build_chat_backend(spec: str | None, *, cache_dir: str | os.PathLike | None = None, max_new_tokens: int = 1024,
                       revision: str | None = None) -> ChatBackend:
    """A backend for a chat model spec (one of :data:`CHAT_KINDS`, see :mod:`spinemed.models.spec`);
    nothing is loaded yet.  `revision` (``SPINEMED_CHAT_REVISION`` on a Space) applies to an
    ``hf:`` spec without ``@REV``.  Raises ValueError for a spec the chat does not take."""
    s = parse_model_spec(spec, kinds=CHAT_KINDS, what="chat model")
    if s.kind == "hf" and s.revision and revision and s.revision != revision:
        raise ValueError(f"chat model {spec!r} names revision {s.revision!r} and the chat revision setting {revision!r}")
    if s.kind == "hf" and not s.revision and revision:
        s = ModelSpec("hf", s.model, revision, text=s.text)
    if s.kind == "none":
        return NotConfiguredBackend()
    if s.kind == "openai":
        return OpenAIChatBackend(s.urls, s.model, max_tokens=max_new_tokens)
    if s.kind == "hf":
        return TransformersChatBackend(s.model, revision=s.revision, max_new_tokens=max_new_tokens,
                                       label=s.model + (f"@{s.revision}" if s.revision else ""))
    return TransformersChatBackend(tiny_model_folder(cache_dir), max_new_tokens=min(max_new_tokens, 48),
                                   label="tiny random-weight Qwen2.5-VL (test model: its answers are noise)")
