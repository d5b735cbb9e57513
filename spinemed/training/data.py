"""Training data: SpineMed rows (and other chat/QA datasets) to TRL's vision-language SFT format.

TRL's `SFTTrainer` takes rows ``{"messages": [...], "images": [PIL, ...]}`` where every message
content is a list of parts and each image is a ``{"type": "image"}`` placeholder, in the order the
images are listed.  `to_trl_example` is the one conversion of a SpineMed row; the mixture builder
applies it (or the converter of another dataset's `format`) to every source of a recipe, then
measures each row's length with the processor *including the expanded image tokens* and drops the
rows that do not fit `max_length` (counted per source).  Truncating instead would cut image tokens
out of a sequence whose pixel values are still passed to the model, and Qwen2.5-VL fails (or
silently misaligns) on that.
"""

from __future__ import annotations

import io
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from datasets import Dataset, Features, Image, List, Value, concatenate_datasets

logger = logging.getLogger(__name__)

__all__ = [
    "FORMATS",
    "TRL_FEATURES",
    "DatasetSource",
    "DatasetMixture",
    "SelectedSource",
    "MixtureResult",
    "to_trl_example",
    "convert_row",
    "select_source",
    "prepare_mixture",
    "count_tokens",
]

# Parts carry both keys so image placeholders and text parts share one Arrow struct type.
_PART = {"type": Value("string"), "text": Value("string")}
TRL_FEATURES = Features({
    "messages": List({"role": Value("string"), "content": List(_PART)}),
    "images": List(Image()),
})

FORMATS = ("spinemed", "messages", "sharegpt", "qa")
_ROLES = ("system", "user", "assistant")
_SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                   "system": "system", "model": "assistant"}
_IMAGE_TAG = re.compile(r"\s*<image>\s*")
# HuatuoGPT-o1's layout, the format medical-o1-reasoning-SFT was released for.
DEFAULT_REASONING_TEMPLATE = "## Thinking\n\n{reasoning}\n\n## Final Response\n\n{answer}"
_DEFAULT_COLUMNS = {
    "spinemed": {"messages": "messages", "images": "images"},
    "messages": {"messages": "messages", "images": "images"},
    "sharegpt": {"conversations": "conversations", "images": "image"},
    "qa": {"question": "question", "answer": "answer", "reasoning": "", "images": ""},
}


# --------------------------------------------------------------------------------------
# One row -> TRL format
# --------------------------------------------------------------------------------------


def _as_image(value: Any, where: str, image_root: Path | None, decode: bool) -> Any:
    """A PIL image (decode=True) or a `datasets.Image`-encodable value ({"bytes","path"} / path)."""
    from PIL import Image as PILImage

    if isinstance(value, PILImage.Image):
        return value
    if isinstance(value, (bytes, bytearray)):
        value = {"bytes": bytes(value), "path": None}
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        if not path.is_absolute() and image_root is not None:
            path = image_root / path
        if not path.is_file():
            raise ValueError(f"{where}: image file {str(path)!r} does not exist")
        value = {"bytes": None, "path": str(path)}
    if not isinstance(value, Mapping) or not (value.get("bytes") or value.get("path")):
        raise ValueError(f"{where}: expected a PIL image, bytes, a path or a {{'bytes','path'}} dict, got {type(value).__name__}")
    if not decode:
        return {"bytes": value.get("bytes"), "path": value.get("path")}
    try:
        img = PILImage.open(io.BytesIO(value["bytes"]) if value.get("bytes") else value["path"])
        img.load()
    except (OSError, ValueError) as exc:
        raise ValueError(f"{where}: image is not readable ({exc})") from exc
    return img


def _text_part(text: str) -> dict:
    return {"type": "text", "text": text}


def _image_part() -> dict:
    return {"type": "image", "text": None}


def _finish(messages: list[dict], images: list, where: str) -> dict:
    """Check roles/turn order and that placeholders match images; return the TRL row."""
    if not messages:
        raise ValueError(f"{where}: no messages")
    roles = [m["role"] for m in messages]
    body = roles[1:] if roles[0] == "system" else roles
    for i, role in enumerate(body):
        expected = "user" if i % 2 == 0 else "assistant"
        if role != expected:
            raise ValueError(f"{where}: messages must alternate user/assistant (after an optional system turn); "
                             f"turn {i + (len(roles) - len(body))} is {role!r}, expected {expected!r}")
    if not body or body[-1] != "assistant":
        raise ValueError(f"{where}: the last turn must be the assistant's (there is nothing to train on otherwise)")
    n_placeholders = sum(1 for m in messages for p in m["content"] if p["type"] == "image")
    if n_placeholders != len(images):
        raise ValueError(f"{where}: {n_placeholders} image placeholder(s) for {len(images)} image(s)")
    return {"messages": messages, "images": images}


def _string_turns(turns: list, where: str) -> list[tuple[str, str]]:
    out = []
    for i, m in enumerate(turns):
        if not isinstance(m, Mapping) or "role" not in m or "content" not in m:
            raise ValueError(f"{where}: messages[{i}] must be a {{'role', 'content'}} mapping")
        if m["role"] not in _ROLES:
            raise ValueError(f"{where}: messages[{i}].role {m['role']!r} is not one of {_ROLES}")
        if not isinstance(m["content"], str):
            raise ValueError(f"{where}: messages[{i}].content must be a string, got {type(m['content']).__name__}")
        out.append((m["role"], m["content"]))
    return out


def _with_images_first(turns: list[tuple[str, str]], n_images: int, where: str) -> list[dict]:
    """String turns to part lists, the images before the text of the first user turn.

    Images go first because that is how Qwen-VL (and the kit's evaluation prompts, see
    `spinemed.llm.images.text_and_images_content`) present them."""
    placed = n_images == 0
    messages = []
    for role, text in turns:
        parts = []
        if role == "user" and not placed:
            parts += [_image_part() for _ in range(n_images)]
            placed = True
        parts.append(_text_part(text))
        messages.append({"role": role, "content": parts})
    if not placed:
        raise ValueError(f"{where}: {n_images} image(s) but no user turn to attach them to")
    return messages


def to_trl_example(row: Mapping[str, Any], *, decode_images: bool = True) -> dict:
    """A SpineMed row (any config: mcq, open_qa, consultation, report) as a TRL VLM SFT row.

    Returns ``{"messages": [{"role", "content": [parts]}], "images": [...]}``: the row's
    `messages` (plain string contents) become part lists, with one ``{"type": "image"}``
    placeholder per entry of `images`, placed before the text of the first user turn.
    Images come back as PIL images; with ``decode_images=False`` encoded images
    (``{"bytes", "path"}``, what a dataset read with ``Image(decode=False)`` holds) are passed
    through untouched, which is how the mixture builder avoids a decode/re-encode per image.
    Raises ValueError naming the row id and the field for a malformed row.
    """
    where = f"row {row.get('id', '?')!r}"
    if "messages" not in row:
        raise ValueError(f"{where}: no 'messages' column (is this a SpineMed-450k row?)")
    turns = _string_turns(list(row["messages"] or []), where)
    images = [_as_image(img, f"{where} images[{i}]", None, decode_images) for i, img in enumerate(row.get("images") or [])]
    return _finish(_with_images_first(turns, len(images), where), images, where)


# --------------------------------------------------------------------------------------
# Other source formats
# --------------------------------------------------------------------------------------


def _column(row: Mapping, columns: Mapping[str, str], key: str, where: str, required: bool = True) -> Any:
    name = columns.get(key) or ""
    if not name:
        if required:
            raise ValueError(f"{where}: no column configured for {key!r}")
        return None
    if name not in row:
        if required:
            raise ValueError(f"{where}: column {name!r} (for {key!r}) is missing; columns are {sorted(row)}")
        return None
    return row[name]


def _image_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _convert_messages(row, src: DatasetSource, where: str, decode: bool) -> dict:
    cols = src.column_map()
    raw = list(_column(row, cols, "messages", where) or [])
    images = [_as_image(v, f"{where} images[{i}]", src.image_root_path(), decode)
              for i, v in enumerate(_image_list(_column(row, cols, "images", where, required=False)))]
    if all(isinstance(m.get("content"), str) for m in raw):
        return _finish(_with_images_first(_string_turns(raw, where), len(images), where), images, where)
    messages = []
    for i, m in enumerate(raw):  # already structured: keep the author's placeholder positions
        if m.get("role") not in _ROLES:
            raise ValueError(f"{where}: messages[{i}].role {m.get('role')!r} is not one of {_ROLES}")
        content = m.get("content")
        parts = [_text_part(content)] if isinstance(content, str) else []
        for j, p in enumerate([] if isinstance(content, str) else content or []):
            kind = p.get("type")
            if kind == "image":
                parts.append(_image_part())
            elif kind == "text":
                parts.append(_text_part(str(p.get("text") or "")))
            else:
                raise ValueError(f"{where}: messages[{i}].content[{j}].type {kind!r} is not 'text' or 'image'")
        messages.append({"role": m["role"], "content": parts})
    return _finish(messages, images, where)


def _convert_sharegpt(row, src: DatasetSource, where: str, decode: bool) -> dict:
    cols = src.column_map()
    conv = list(_column(row, cols, "conversations", where) or [])
    images = [_as_image(v, f"{where} images[{i}]", src.image_root_path(), decode)
              for i, v in enumerate(_image_list(_column(row, cols, "images", where, required=False)))]
    tagged = sum(str(t.get("value", "")).count("<image>") for t in conv)
    if tagged and tagged != len(images):
        raise ValueError(f"{where}: {tagged} <image> tag(s) for {len(images)} image(s)")
    messages = []
    for i, turn in enumerate(conv):
        role = _SHAREGPT_ROLES.get(str(turn.get("from", "")).lower())
        if role is None:
            raise ValueError(f"{where}: conversations[{i}].from {turn.get('from')!r} is not a known speaker")
        text = str(turn.get("value", ""))
        n_tags = text.count("<image>")
        parts = [_image_part() for _ in range(n_tags)] + [_text_part(_IMAGE_TAG.sub("\n", text).strip())]
        messages.append({"role": role, "content": parts})
    if images and not tagged:  # untagged: images before the first user text, like to_trl_example
        first_user = next((m for m in messages if m["role"] == "user"), None)
        if first_user is None:
            raise ValueError(f"{where}: {len(images)} image(s) but no user turn to attach them to")
        first_user["content"] = [_image_part() for _ in images] + first_user["content"]
    return _finish(messages, images, where)


def _convert_qa(row, src: DatasetSource, where: str, decode: bool) -> dict:
    cols = src.column_map()
    question = str(_column(row, cols, "question", where) or "").strip()
    answer = str(_column(row, cols, "answer", where) or "").strip()
    reasoning = _column(row, cols, "reasoning", where, required=False)
    if not question or not answer:
        raise ValueError(f"{where}: empty {'question' if not question else 'answer'}")
    if reasoning and str(reasoning).strip():
        answer = src.reasoning_template.format(reasoning=str(reasoning).strip(), answer=answer)
    images = [_as_image(v, f"{where} images[{i}]", src.image_root_path(), decode)
              for i, v in enumerate(_image_list(_column(row, cols, "images", where, required=False)))]
    turns = [("user", question), ("assistant", answer)]
    return _finish(_with_images_first(turns, len(images), where), images, where)


def convert_row(row: Mapping[str, Any], src: DatasetSource, *, index: int | None = None,
                decode_images: bool = True) -> dict:
    """One row of `src` in TRL format, by the source's `format`."""
    where = f"{src.label()} row {row.get('id', index)!r}"
    if src.format == "spinemed":
        try:
            return to_trl_example(row, decode_images=decode_images)
        except ValueError as exc:
            raise ValueError(f"{src.label()}: {exc}") from None
    return {"messages": _convert_messages, "sharegpt": _convert_sharegpt, "qa": _convert_qa}[src.format](
        row, src, where, decode_images)


# --------------------------------------------------------------------------------------
# Mixtures
# --------------------------------------------------------------------------------------


@dataclass
class DatasetSource:
    """One dataset of a recipe's mixture.

    path       Hub dataset id or local folder (a built SpineMed-450k release loads as a folder)
    name       config (`mcq`, `open_qa`, `consultation`, `report` for SpineMed-450k)
    split      split to read; revision: Hub revision (tag) to pin, e.g. v1.0.0
    format     spinemed | messages | sharegpt | qa  (how rows become chat turns)
    columns    field -> column name for the format (e.g. qa: question/answer/reasoning/images)
    where      keep rows whose column equals the value (or is in the list), e.g. subfield_group: orthopedic
    fraction   share of this source's rows used (after `where`), a seeded random sample; 1.0 = all
    max_rows   cap on the rows used (after `fraction`), e.g. 150000 for PubMedVision
    image_root folder that relative image paths are resolved against
    """

    path: str
    name: str | None = None
    split: str = "train"
    revision: str | None = None
    data_files: Any = None
    data_dir: str | None = None
    format: str = "spinemed"
    columns: dict[str, str] = field(default_factory=dict)
    where: dict[str, Any] = field(default_factory=dict)
    fraction: float = 1.0
    max_rows: int | None = None
    image_root: str | None = None
    reasoning_template: str = DEFAULT_REASONING_TEMPLATE

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "dataset") -> DatasetSource:
        if not isinstance(d, Mapping):
            raise ValueError(f"{where}: expected a mapping, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
        if not d.get("path"):
            raise ValueError(f"{where}: 'path' is required (Hub dataset id or local folder)")
        src = cls(**dict(d))
        src.validate(where)
        return src

    def validate(self, where: str) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"{where}: format {self.format!r} is not one of {FORMATS}")
        if not isinstance(self.fraction, (int, float)) or not 0 < self.fraction <= 1:
            raise ValueError(f"{where}: fraction must be in (0, 1], got {self.fraction!r}")
        if self.max_rows is not None and (not isinstance(self.max_rows, int) or self.max_rows < 1):
            raise ValueError(f"{where}: max_rows must be a positive integer, got {self.max_rows!r}")
        if not isinstance(self.columns, Mapping) or not isinstance(self.where, Mapping):
            raise ValueError(f"{where}: 'columns' and 'where' must be mappings")
        unknown = sorted(set(self.columns) - set(_DEFAULT_COLUMNS[self.format]))
        if unknown:
            raise ValueError(f"{where}: columns {unknown} mean nothing for format {self.format!r}; "
                             f"it reads {sorted(_DEFAULT_COLUMNS[self.format])}")

    def column_map(self) -> dict[str, str]:
        return {**_DEFAULT_COLUMNS[self.format], **self.columns}

    def image_root_path(self) -> Path | None:
        if self.image_root:
            return Path(self.image_root)
        local = Path(self.path)
        return local if local.is_dir() else None

    def label(self) -> str:
        return f"{self.path}" + (f"[{self.name}]" if self.name else "") + f":{self.split}"

    def load(self) -> Dataset:
        """The split, from a local folder or the Hub.

        A path that exists is a local dataset.  One that does not and cannot be a Hub id (absolute,
        ``./``, ``../``, ``~``, more than one ``/``) fails at once, without a Hub round trip; one that
        could be either (``demo_out/spinebench`` reads like ``org/name``) is tried on the Hub, and if
        that fails too (offline: `datasets` raises ConnectionError) the error says both."""
        import datasets
        from datasets.exceptions import DatasetsError

        kwargs = {"split": self.split}
        for key in ("revision", "data_files", "data_dir"):
            if getattr(self, key) is not None:
                kwargs[key] = getattr(self, key)
        local = Path(self.path).expanduser()
        if not local.exists() and _only_local(self.path):
            raise FileNotFoundError(f"{self.label()}: {_no_such_folder(self.path)}")
        try:
            return datasets.load_dataset(self.path, self.name, **kwargs)
        except (ConnectionError, FileNotFoundError, ValueError, DatasetsError) as exc:
            if not local.exists():
                raise FileNotFoundError(f"{self.label()}: {_no_such_folder(self.path)}, and it cannot be loaded as a "
                                        f"Hub dataset either ({type(exc).__name__}: {exc})") from None
            raise ValueError(f"{self.label()}: cannot load ({exc})") from exc


def _only_local(path: str) -> bool:
    """True for a path that cannot be a Hub dataset id (those are 'name' or 'org/name')."""
    posix = path.replace("\\", "/")
    return (Path(path).is_absolute() or posix.startswith(("./", "../", "~")) or posix in (".", "..")
            or posix.count("/") > 1)


def _no_such_folder(path: str) -> str:
    where = "" if Path(path).expanduser().is_absolute() else f" (relative to the working directory {os.getcwd()})"
    return f"no such folder {path!r}{where}"


@dataclass
class DatasetMixture:
    """The datasets of one stage, mixed and (by default) shuffled with `seed`."""

    datasets: list[DatasetSource]
    seed: int = 42
    shuffle: bool = True

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "dataset_mixture") -> DatasetMixture:
        if not isinstance(d, Mapping) or not isinstance(d.get("datasets"), list) or not d["datasets"]:
            raise ValueError(f"{where}: needs a non-empty 'datasets' list")
        unknown = sorted(set(d) - {"datasets", "seed", "shuffle"})
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {unknown}; known: ['datasets', 'seed', 'shuffle']")
        sources = [DatasetSource.from_dict(s, f"{where}.datasets[{i}]") for i, s in enumerate(d["datasets"])]
        return cls(datasets=sources, seed=int(d.get("seed", 42)), shuffle=bool(d.get("shuffle", True)))


@dataclass
class SelectedSource:
    """A source's rows chosen for training (before conversion), with the counts so far."""

    source: DatasetSource
    dataset: Dataset
    n_loaded: int
    n_matched: int  # after `where`

    @property
    def ids(self) -> list[str]:
        return list(self.dataset["id"]) if "id" in self.dataset.column_names else []


def _matches(value: Any, wanted: Any) -> bool:
    return value in wanted if isinstance(wanted, (list, tuple, set)) else value == wanted


def select_source(src: DatasetSource, seed: int = 42, dataset: Dataset | None = None) -> SelectedSource:
    """Load one source and apply `where`, `fraction` and `max_rows` (nothing is converted yet)."""
    ds = src.load() if dataset is None else dataset
    n_loaded = len(ds)
    missing = sorted(set(src.where) - set(ds.column_names))
    if missing:
        raise ValueError(f"{src.label()}: 'where' names column(s) {missing} the dataset does not have "
                         f"(columns: {ds.column_names})")
    if src.where:
        cols = list(src.where)
        # Filter on the `where` columns only, so images are never decoded for it.
        keep = [i for i, row in enumerate(ds.select_columns(cols))
                if all(_matches(row[c], src.where[c]) for c in cols)]
        ds = ds.select(keep)
    n_matched = len(ds)
    n_take = round(n_matched * src.fraction)
    if src.max_rows is not None:
        n_take = min(n_take, src.max_rows)
    if n_take < n_matched:
        ds = ds.shuffle(seed=seed).select(range(n_take))
    return SelectedSource(source=src, dataset=ds, n_loaded=n_loaded, n_matched=n_matched)


def _encoded_image_size(img: Any) -> tuple[int, int]:
    """(height, width) of an encoded image, reading only its header."""
    from PIL import Image as PILImage

    if isinstance(img, PILImage.Image):
        return img.height, img.width
    with PILImage.open(io.BytesIO(img["bytes"]) if img.get("bytes") else img["path"]) as im:
        return im.height, im.width


def count_tokens(example: Mapping[str, Any], processor: Any, chat_template: str | None = None) -> int:
    """Length in tokens of a TRL row as the collator will feed it, image tokens included.

    Fast path (Qwen2-VL family and every processor implementing transformers'
    `_get_num_multimodal_tokens`): tokenise the rendered text, then replace each image
    placeholder token by the number of tokens the processor expands it to, computed from the
    image size alone.  Otherwise the row is processed in full (pixels included)."""
    images = list(example.get("images") or [])
    messages = [dict(m) for m in example["messages"]]
    text = processor.apply_chat_template(messages, chat_template=chat_template, tokenize=False)
    if images and hasattr(processor, "_get_num_multimodal_tokens"):
        sizes = [_encoded_image_size(img) for img in images]
        per_image = processor._get_num_multimodal_tokens(image_sizes=sizes)["num_image_tokens"]
        n_text = len(processor.tokenizer(text, add_special_tokens=False)["input_ids"])
        return n_text + sum(per_image) - len(images)  # each placeholder token becomes per_image[i]
    if not images:
        return len(processor.tokenizer(text, add_special_tokens=False)["input_ids"])
    pil = [_as_image(img, "image", None, True) for img in images]
    out = processor(text=[text], images=pil, add_special_tokens=False)
    return len(out["input_ids"][0])


@dataclass
class MixtureResult:
    """The training dataset of a stage and where every selected row went."""

    dataset: Dataset
    sources: list[dict[str, Any]]  # per source: label, loaded, matched, selected, too_long, kept, with_images
    max_length: int | None

    @property
    def n_rows(self) -> int:
        return len(self.dataset)

    @property
    def n_too_long(self) -> int:
        return sum(s["too_long"] for s in self.sources)

    def summary(self) -> str:
        lines = [f"{'source':<60} {'loaded':>8} {'selected':>8} {'too long':>8} {'kept':>8} {'images':>7}"]
        for s in self.sources:
            lines.append(f"{s['label']:<60} {s['loaded']:>8} {s['selected']:>8} {s['too_long']:>8} {s['kept']:>8} "
                         f"{s['with_images']:>7}")
        limit = f"max_length {self.max_length}" if self.max_length else "no max_length"
        lines.append(f"total {self.n_rows} rows; {self.n_too_long} dropped as longer than {limit} "
                     "(dropped, never truncated through image tokens)")
        return "\n".join(lines)


def _convert_dataset(sel: SelectedSource, num_proc: int | None) -> Dataset:
    ds = sel.dataset
    image_col = sel.source.column_map().get("images") or ""
    if image_col in ds.column_names:
        feat = ds.features[image_col]
        if isinstance(feat, Image):
            ds = ds.cast_column(image_col, Image(decode=False))
        elif isinstance(feat, List) and isinstance(feat.feature, Image):
            ds = ds.cast_column(image_col, List(Image(decode=False)))
    src = sel.source
    return ds.map(lambda row, i: convert_row(row, src, index=i, decode_images=False), with_indices=True,
                  remove_columns=ds.column_names, features=TRL_FEATURES, num_proc=num_proc,
                  desc=f"convert {src.label()}")


def prepare_mixture(selected: list[SelectedSource], processor: Any = None, max_length: int | None = None, *,
                    seed: int = 42, shuffle: bool = True, num_proc: int | None = None,
                    chat_template: str | None = None, log: Callable[[str], None] | None = None) -> MixtureResult:
    """Convert every selected source, drop (and count) rows longer than `max_length`, mix.

    Lengths are measured with `processor` (see `count_tokens`); without a processor or a
    `max_length` nothing is dropped."""
    log = log or logger.info
    parts, stats = [], []
    for sel in selected:
        base = {"label": sel.source.label(), "path": sel.source.path, "name": sel.source.name,
                "split": sel.source.split, "format": sel.source.format, "loaded": sel.n_loaded,
                "matched": sel.n_matched}
        if len(sel.dataset) == 0:  # e.g. a `where` that matches nothing in this release
            log(f"{sel.source.label()}: no rows selected")
            stats.append({**base, "selected": 0, "too_long": 0, "kept": 0, "with_images": 0})
            continue
        ds = _convert_dataset(sel, num_proc)
        n_selected = len(ds)
        too_long = 0
        if max_length is not None and processor is not None and n_selected:
            raw = ds.cast_column("images", List(Image(decode=False)))
            lengths = raw.map(lambda ex: {"n_tokens": count_tokens(ex, processor, chat_template)},
                              remove_columns=raw.column_names, num_proc=num_proc,
                              desc=f"measure {sel.source.label()}")["n_tokens"]
            keep = [i for i, n in enumerate(lengths) if n <= max_length]
            too_long = n_selected - len(keep)
            if too_long:
                ds = ds.select(keep)
                log(f"{sel.source.label()}: dropped {too_long} of {n_selected} rows longer than {max_length} tokens "
                    f"(longest {max(lengths)})")
        with_images = sum(1 for imgs in ds.cast_column("images", List(Image(decode=False)))["images"] if imgs) \
            if len(ds) else 0
        stats.append({**base, "selected": n_selected, "too_long": too_long, "kept": len(ds),
                      "with_images": with_images})
        parts.append(ds)
    mixed = concatenate_datasets(parts) if parts else None
    if mixed is None or len(mixed) == 0:
        raise ValueError("no training rows left after selection and the max_length filter")
    if shuffle:
        mixed = mixed.shuffle(seed=seed)
    return MixtureResult(dataset=mixed, sources=stats, max_length=max_length)
