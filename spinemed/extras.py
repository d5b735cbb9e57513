"""The optional dependencies (pyproject's extras) and the one-line hint when one is missing.

The core install runs the demo, the offline baselines, `spinemed eval` against endpoints, scoring
and the metric; local models, training, the Space and the OCR check need an extra.  Every lazy
import of an optional dependency goes through `needs_extra`, so a missing one ends in
``spinemed train needs the train extra: pip install 'spinemed[train]'`` instead of a traceback
(the CLI prints `MissingExtra`'s message as its one error line).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["EXTRA_MODULES", "MissingExtra", "extra_for_module", "needs_extra"]

# Top-level modules each extra provides (the extras themselves are in pyproject.toml).
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "local": ("torch", "torchvision", "transformers", "tokenizers", "safetensors"),
    "train": ("trl", "accelerate", "deepspeed", "peft"),
    "space": ("gradio", "gradio_client", "pandas", "confusable_homoglyphs"),
    "ocr": ("rapidocr_onnxruntime", "onnxruntime", "cv2"),
}


# Extras that install others (pyproject: train = ["spinemed[local]", ...]).
_INCLUDES = {"train": ("local",)}


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message names the extra that installs it."""

    def __init__(self, what: str, extra: str, module: str | None = None):
        self.what, self.extra, self.module = what, extra, module
        missing = f" ({module} is not installed)" if module else ""
        super().__init__(f"{what} needs the {extra} extra: pip install 'spinemed[{extra}]'{missing}", name=module)


def extra_for_module(module: str | None) -> str | None:
    """The extra whose install provides top-level `module` (e.g. "trl" -> "train"), else None."""
    top = (module or "").split(".")[0]
    for extra, modules in EXTRA_MODULES.items():
        if top in modules:
            return extra
    return None


@contextmanager
def needs_extra(extra: str, what: str) -> Iterator[None]:
    """Wrap the imports of an optional dependency: a missing module raises `MissingExtra`.

    `what` names the feature ("spinemed train", "local models").  A missing module of another
    extra names that one unless `extra` installs it too (train installs local), and a module of
    no extra (a genuinely broken install) keeps its own error.
    """
    if extra not in EXTRA_MODULES:
        raise ValueError(f"unknown extra {extra!r}; extras: {', '.join(EXTRA_MODULES)}")
    try:
        yield
    except MissingExtra:
        raise
    except ModuleNotFoundError as exc:
        owner = extra_for_module(exc.name)
        if owner is None:
            raise
        named = extra if owner == extra or owner in _INCLUDES.get(extra, ()) else owner
        raise MissingExtra(what, named, exc.name) from None
