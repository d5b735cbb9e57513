"""The kit's one default Hub organisation, used by every repo id it writes or suggests.

Cards, recipes, the README and the commands' defaults name repos as ``<org>/SpineBench``,
``<org>/SpineMed-450k``, ``<org>/SpineGPT-7B``: the organisation is ``$SPINEMED_HUB_ORG`` when set,
else "spinemed".  Files that cannot call Python (builder.yaml, training recipes) write
``${SPINEMED_HUB_ORG}/NAME``, which `expand_org` turns into the same id when they are read.
"""

from __future__ import annotations

import os
import re

__all__ = ["DEFAULT_ORG", "ORG_ENV", "ORG_PLACEHOLDER", "default_org", "default_repo", "expand_org"]

ORG_ENV = "SPINEMED_HUB_ORG"
ORG_PLACEHOLDER = "${SPINEMED_HUB_ORG}"
_ORG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def default_org() -> str:
    """``$SPINEMED_HUB_ORG`` (checked to be an organisation name), else "spinemed"."""
    org = os.environ.get(ORG_ENV, "").strip() or "spinemed"
    if not _ORG.match(org) or org.endswith((".git", "-", ".")):
        raise ValueError(f"${ORG_ENV}={org!r} is not a Hub organisation name (letters, digits, '-', '_', '.')")
    return org


# Read once, when the kit is imported: the defaults of the commands' options.
DEFAULT_ORG = default_org()


def default_repo(name: str) -> str:
    """``<default org>/<name>``, e.g. default_repo("SpineBench") -> "spinemed/SpineBench"."""
    return f"{DEFAULT_ORG}/{name}"


def expand_org(text: str) -> str:
    """`text` with every ``${SPINEMED_HUB_ORG}`` replaced by the default organisation."""
    return text.replace(ORG_PLACEHOLDER, DEFAULT_ORG) if isinstance(text, str) else text
