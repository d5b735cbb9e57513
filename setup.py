"""Build hook: the kit's versioned folders become package data of the wheel.

The repository keeps builders/, dataset_cards/, model_card/, space_app/, evaluate_metric/ and
training/ at its top (they are reviewed and versioned there); the wheel carries them as
spinemed/_kit/<folder>/, where spinemed.paths.checkout_path finds them in an installed kit.
Every file under these folders is copied (a new sample source or prompt needs no listing here),
except caches and build leftovers.  An editable install reads them from the checkout instead.
The sdist carries the folders through MANIFEST.in, so a wheel built from it is the same.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

KIT_FOLDERS = ("builders", "dataset_cards", "model_card", "space_app", "evaluate_metric", "training")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".DS_Store", "*.egg-info")


class build_py_with_kit(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout's folders (spinemed.paths)
        root = Path(__file__).resolve().parent
        kit = Path(self.build_lib) / "spinemed" / "_kit"
        if kit.exists():
            shutil.rmtree(kit)
        kit.mkdir(parents=True)
        (kit / "__init__.py").write_text('"""The kit\'s versioned files, installed as package data (see setup.py)."""\n',
                                         encoding="utf-8")
        for name in KIT_FOLDERS:
            src = root / name
            if not src.is_dir():
                raise SystemExit(f"setup.py: kit folder {src} is missing; the wheel would be incomplete")
            shutil.copytree(src, kit / name, ignore=_IGNORE)


setup(cmdclass={"build_py": build_py_with_kit})
