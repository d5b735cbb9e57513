"""Row conformance: check a plain-dict row against its `datasets.Features`, embedding images as bytes.

`conform` is what `DatasetFolderWriter.add` runs on every row before `Features.encode_example`:
a wrong type, a missing or unknown key or an unreadable image is a `FieldError` naming the
field, not a pyarrow error about a column; images are embedded (bytes plus a base name only)
with their metadata stripped (`spinemed.deid.images.strip_metadata`).
"""

from __future__ import annotations

import io
import numbers
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from datasets import ClassLabel, Image, LargeList, List, Value
from datasets.features.image import image_to_bytes

from spinemed.deid.images import strip_metadata

__all__ = ["FieldError", "conform", "describe_feature", "join_path"]


class FieldError(ValueError):
    """A row does not fit its Features; `field_path` names the field (`messages[0].content`)."""

    def __init__(self, field_path: str, message: str):
        super().__init__(message)
        self.field_path = field_path
        self.message = message


_INT_DTYPES = {f"{p}int{b}" for p in ("", "u") for b in (8, 16, 32, 64)}
_FLOAT_DTYPES = {"float16", "float32", "float64", "double", "float"}


def _check_value(value: Any, feature: Value, where: str) -> int:
    dtype = feature.dtype
    if value is None:
        raise FieldError(where, f"is None, expected {dtype}")
    if dtype in ("string", "large_string"):
        ok = isinstance(value, str)
    elif dtype == "bool":
        ok = isinstance(value, (bool, np.bool_))
    elif dtype in _INT_DTYPES:  # numbers.* so numpy scalars pass; bools are not numbers here
        ok = isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
    elif dtype in _FLOAT_DTYPES:
        ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    elif dtype in ("binary", "large_binary"):
        ok = isinstance(value, (bytes, bytearray))
    else:  # timestamps, decimals...: leave the check to pyarrow
        ok = True
    if not ok:
        raise FieldError(where, f"expected {dtype}, got {type(value).__name__} {_short(value)}")
    return len(value) if isinstance(value, (str, bytes, bytearray)) else 8


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _embed_image(value: Any, where: str) -> dict[str, Any]:
    """An image item as {"bytes", "path"} with the bytes embedded and only a base name kept.

    Local paths are reduced to their file name: absolute paths would leak the build machine's
    layout into the published data and make shards differ between machines.
    """
    import PIL.Image

    name: str | None = None
    if isinstance(value, PIL.Image.Image):
        filename = getattr(value, "filename", "") or ""
        if filename and os.path.isfile(filename):
            # Same rule as datasets' Image.encode_example: an image opened from a file is that file.
            data = Path(filename).read_bytes()
            name = Path(filename).name
        else:
            data = image_to_bytes(value)
    elif isinstance(value, (str, os.PathLike)):
        path = Path(value)
        if not path.is_file():
            raise FieldError(where, f"image file not found: {str(path)!r}")
        data, name = path.read_bytes(), path.name
    elif isinstance(value, Mapping):
        unknown = set(value) - {"bytes", "path"}
        if unknown:
            raise FieldError(where, f"image dict has unknown keys {sorted(unknown)}; expected 'bytes' and/or 'path'")
        data, path = value.get("bytes"), value.get("path")
        if data is None:
            if not path:
                raise FieldError(where, "image dict has neither 'bytes' nor 'path'")
            if not Path(path).is_file():
                raise FieldError(where, f"image file not found: {str(path)!r}")
            data = Path(path).read_bytes()
        elif not isinstance(data, (bytes, bytearray)):
            raise FieldError(where, f"image 'bytes' must be bytes, got {type(data).__name__}")
        name = Path(path).name if path else None
    else:
        raise FieldError(
            where, f"expected an image (bytes/path dict, file path or PIL image), got {type(value).__name__}"
        )
    try:  # verify() checks headers and checksums without decoding the pixels
        with PIL.Image.open(io.BytesIO(data)) as img:
            img.verify()
    except Exception as exc:
        raise FieldError(where, f"not a readable image ({type(exc).__name__}: {exc})") from None
    try:  # no EXIF, XMP, text chunks, ICC or comments in a published image (docs/deid.md, Images)
        data = strip_metadata(bytes(data))
    except ValueError as exc:
        raise FieldError(where, f"not a readable image ({exc})") from None
    if name and data.startswith(b"\x89PNG") and Path(name).suffix.lower() != ".png":
        name = Path(name).stem + ".png"  # re-encoded as PNG (TIFF, WebP, rotated JPEG, ...)
    return {"bytes": data, "path": name}


def conform(value: Any, feature: Any, where: str) -> tuple[Any, int, int]:
    """(value ready for encode_example, approximate byte size, images embedded)."""
    if isinstance(feature, Mapping):
        if not isinstance(value, Mapping):
            raise FieldError(where or "<row>", f"expected a dict, got {type(value).__name__}")
        missing = [k for k in feature if k not in value]
        if missing:
            raise FieldError(join_path(where, missing[0]), "is missing")
        unknown = sorted(k for k in value if k not in feature)
        if unknown:
            raise FieldError(join_path(where, unknown[0]), f"is not in the features (expected {list(feature)})")
        out, size, images = {}, 0, 0
        for key, sub in feature.items():
            out[key], s, n = conform(value[key], sub, join_path(where, key))
            size, images = size + s, images + n
        return out, size, images
    if isinstance(feature, (List, LargeList)):
        if not isinstance(value, (list, tuple)):
            raise FieldError(where, f"expected a list, got {type(value).__name__} {_short(value)}")
        length = getattr(feature, "length", -1)
        if length not in (-1, None) and len(value) != length:
            raise FieldError(where, f"expected {length} items, got {len(value)}")
        out, size, images = [], 0, 0
        for i, item in enumerate(value):
            conformed, s, n = conform(item, feature.feature, f"{where}[{i}]")
            out.append(conformed)
            size, images = size + s, images + n
        return out, size, images
    if isinstance(feature, Image):
        embedded = _embed_image(value, where)
        return embedded, len(embedded["bytes"]), 1
    if isinstance(feature, Value):
        return value, _check_value(value, feature, where), 0
    if isinstance(feature, ClassLabel):
        if isinstance(value, str) and value in feature.names:
            return value, 8, 0
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < feature.num_classes:
            return value, 8, 0
        raise FieldError(where, f"expected a label in {feature.names}, got {_short(value)}")
    return value, 8, 0  # other feature types: encode_example / pyarrow check them


def join_path(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def describe_feature(feature: Any) -> str:
    """A short readable type for schema tables: `string`, `list[image]`, `struct{a, b}`."""
    if isinstance(feature, Mapping):
        return "struct{" + ", ".join(feature) + "}"
    if isinstance(feature, (List, LargeList)):
        return f"list[{describe_feature(feature.feature)}]"
    if isinstance(feature, Image):
        return "image"
    if isinstance(feature, Value):
        return feature.dtype
    if isinstance(feature, ClassLabel):
        return "class_label"
    return type(feature).__name__
