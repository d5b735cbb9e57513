"""Images as OpenAI `image_url` parts (base64 data URLs), the form every compatible server takes.

Encoded PNG/JPEG bytes are passed through unless they must be shrunk, so the request body (and
with it the cache key) depends only on the image content, with one exception: metadata is
removed first (`strip_image_metadata`, i.e. `spinemed.deid.images.strip_metadata`: PNG text,
EXIF, ICC and time chunks, JPEG EXIF/XMP/ICC/comment segments, losslessly), because it can carry
identifiers (a patient's name in a DICOM-derived comment) that must not leave the machine.
Bytes without metadata are left as they are.
"""

from __future__ import annotations

import base64
import binascii
import io
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

__all__ = ["image_to_data_url", "strip_image_metadata", "text_and_images_content"]

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"


def _sniff(data: bytes) -> str | None:
    if data.startswith(_PNG_MAGIC):
        return "png"
    if data.startswith(_JPEG_MAGIC):
        return "jpeg"
    return None


def strip_image_metadata(data: bytes) -> bytes:
    """`spinemed.deid.images.strip_metadata` (lossless for PNG/JPEG, EXIF orientation applied),
    returning `data` itself when there was nothing to remove, so clean images keep their bytes
    and cache keys."""
    from spinemed.deid.images import strip_metadata  # late: the deid package loads its word lists

    stripped = strip_metadata(data)
    return data if stripped == data else stripped


def _encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "jpeg":
        if img.mode not in ("RGB", "L"):
            img = img.convert("RGB")
        img.save(buf, format="JPEG", quality=90)
    else:
        try:
            img.save(buf, format="PNG")
        except (OSError, ValueError):
            # Modes PNG cannot store (float "F", CMYK, ...) go through 8-bit RGB.
            buf = io.BytesIO()
            img.convert("RGB").save(buf, format="PNG")
    return buf.getvalue()


def _shrink(img: Image.Image, max_side: int | None) -> Image.Image | None:
    """A resized copy when the longest side exceeds max_side, else None."""
    if max_side is None or max(img.size) <= max_side:
        return None
    out = img.copy()
    out.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return out


def _to_bytes(image: Any, what: str) -> bytes | Image.Image:
    if isinstance(image, Image.Image):
        return image
    if isinstance(image, (bytes, bytearray, memoryview)):
        return bytes(image)
    if isinstance(image, dict):  # a `datasets.Image` cell read with decode=False
        if image.get("bytes"):
            return bytes(image["bytes"])
        if image.get("path"):
            return _to_bytes(Path(image["path"]), what)
        raise ValueError(f"{what}: dict image has neither 'bytes' nor 'path'")
    if isinstance(image, str) and image.startswith("data:"):
        header, _, payload = image.partition(",")
        if ";base64" not in header:
            raise ValueError(f"{what}: data URL is not base64-encoded")
        try:
            return base64.b64decode(payload, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"{what}: data URL has invalid base64 ({exc})") from exc
    if isinstance(image, str) and image.startswith(("http://", "https://")):
        raise ValueError(f"{what}: remote URL {image!r} is not fetched; download it or pass its bytes")
    if isinstance(image, (str, Path)):
        path = Path(image)
        try:
            return path.read_bytes()
        except OSError as exc:
            raise ValueError(f"{what}: cannot read image file {path} ({exc.strerror or exc})") from exc
    raise TypeError(f"{what}: expected bytes, PIL.Image, path or data URL, got {type(image).__name__}")


def image_to_data_url(image: bytes | Image.Image | str | Path, max_side: int | None = None,
                      strip_metadata: bool = True) -> str:
    """`data:image/png|jpeg;base64,...` for encoded bytes, a PIL image, a file path or a data URL.

    PNG and JPEG bytes are kept as they are unless the longest side exceeds `max_side`, in
    which case they are downscaled (aspect kept) and re-encoded in the same format.  Other
    encodings (WebP, GIF, BMP, TIFF, ...) and PIL images are encoded as PNG, or as JPEG when
    the PIL image came from a JPEG.  `max_side` caps vision-token cost on the server.
    Also accepted: a `datasets.Image` cell read with decode=False ({"bytes", "path"}).
    With `strip_metadata` (the default) the encoded bytes go through `strip_image_metadata`.
    """
    return _data_url(image, max_side, "image", strip_metadata)


def _data_url(image: Any, max_side: int | None, what: str, strip_metadata: bool = True) -> str:
    if max_side is not None and max_side < 1:
        raise ValueError(f"{what}: max_side must be >= 1, got {max_side}")
    data = _to_bytes(image, what)
    if isinstance(data, Image.Image):
        fmt = "jpeg" if (data.format or "").upper() == "JPEG" else "png"
        encoded = _encode(_shrink(data, max_side) or data, fmt)
    else:
        fmt = _sniff(data)
        if fmt is not None and max_side is None:
            encoded = data  # fast path: no decode at all
        else:
            try:
                img = Image.open(io.BytesIO(data))
                img.load()
            except (UnidentifiedImageError, OSError) as exc:
                raise ValueError(f"{what}: {len(data)} bytes are not a readable image ({exc})") from exc
            smaller = _shrink(img, max_side)
            if fmt is not None and smaller is None:
                encoded = data
            else:
                fmt = fmt or "png"
                encoded = _encode(smaller or img, fmt)
    if strip_metadata:
        encoded = strip_image_metadata(encoded)
        fmt = _sniff(encoded) or fmt
    return f"data:image/{fmt};base64,{base64.b64encode(encoded).decode('ascii')}"


def text_and_images_content(text: str, images: list, max_side: int | None = None,
                            strip_metadata: bool = True) -> list[dict]:
    """OpenAI multi-part content: the images (as data URLs) first, then the text.

    Images come first because Qwen-VL, GLM-V and most open VLMs are trained with the image
    before the question.  An empty `text` adds no text part.  Image metadata is removed
    unless `strip_metadata=False`.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    parts: list[dict] = [
        {"type": "image_url", "image_url": {"url": _data_url(img, max_side, f"images[{i}]", strip_metadata)}}
        for i, img in enumerate(images)
    ]
    if text:
        parts.append({"type": "text", "text": text})
    return parts
