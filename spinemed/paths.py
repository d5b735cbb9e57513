"""Where the kit's versioned files live: builders/, dataset_cards/, model_card/, space_app/,
evaluate_metric/, training/.

In a checkout (or an editable install) they are the repository's top-level folders, reviewed and
versioned with it.  A built wheel carries them as package data, ``spinemed/_kit/<folder>/``
(copied by setup.py's build hook), read through `importlib.resources`.  Every module finds them
through `checkout_path`, the one place that knows which of the two it is.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

__all__ = ["CHECKOUT_ROOT", "KIT_FOLDERS", "KIT_ROOT", "checkout_path", "in_checkout"]

# The folders setup.py copies into the wheel (its KIT_FOLDERS; tests/package checks they agree).
KIT_FOLDERS = ("builders", "dataset_cards", "model_card", "space_app", "evaluate_metric", "training")

# spinemed/paths.py -> the folder holding the `spinemed` package: the repository root of a
# source checkout (or an editable install); site-packages in an installed wheel.
CHECKOUT_ROOT = Path(__file__).resolve().parents[1]


def in_checkout() -> bool:
    """True when the package runs from a source checkout (its builders/ sit next to spinemed/)."""
    return (CHECKOUT_ROOT / "builders").is_dir() and (CHECKOUT_ROOT / "pyproject.toml").is_file()


def _kit_root() -> Path:
    if in_checkout():
        return CHECKOUT_ROOT
    try:
        kit = resources.files("spinemed._kit")
    except ModuleNotFoundError:
        # Neither a checkout nor a complete wheel (e.g. a wheel built without setup.py's hook):
        # keep the checkout layout, so the first missing file names where it was looked for.
        return CHECKOUT_ROOT
    # A wheel installs as plain files, so the resource folder is a real directory; a zipped
    # install would need importlib.resources.as_file per file, which no command here supports.
    return Path(str(kit))


# The folder that holds builders/, dataset_cards/, ... (the checkout or spinemed/_kit).
KIT_ROOT = _kit_root()


def checkout_path(*parts: str | os.PathLike, env: str | None = None) -> Path:
    """KIT_ROOT / parts, or the folder named by environment variable `env` when it is set."""
    if env and os.environ.get(env):
        return Path(os.environ[env])
    return KIT_ROOT.joinpath(*parts)
