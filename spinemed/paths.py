"""Where the kit's versioned files live: builders/, dataset_cards/, model_card/, space_app/.

These are files of the checkout, not package data (prompts, builder YAMLs and card templates
are reviewed and versioned with the repository).  Every module finds them through
`checkout_path`, so there is one place to change when they become installable.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CHECKOUT_ROOT", "checkout_path"]

# spinemed/paths.py -> the repository root of a source checkout (or an editable install).
CHECKOUT_ROOT = Path(__file__).resolve().parents[1]


def checkout_path(*parts: str | os.PathLike, env: str | None = None) -> Path:
    """CHECKOUT_ROOT / parts, or the folder named by environment variable `env` when it is set."""
    if env and os.environ.get(env):
        return Path(os.environ[env])
    return CHECKOUT_ROOT.joinpath(*parts)
