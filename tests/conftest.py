"""Test-wide settings: no network, and Hugging Face caches in a fresh temporary folder; the
sample corpus built once per test session.

The settings are made at import time, before any test module imports datasets /
huggingface_hub / evaluate, because those libraries read their cache locations once, when
imported."""

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_EVALUATE_OFFLINE"] = "1"
_home = tempfile.mkdtemp(prefix="spinemed-hf-home-")
os.environ["HF_HOME"] = _home
os.environ["HF_DATASETS_CACHE"] = os.path.join(_home, "datasets")
os.environ["HF_EVALUATE_CACHE"] = os.path.join(_home, "evaluate")
os.environ["HF_MODULES_CACHE"] = os.path.join(_home, "modules")
# The sample scans are OCR'd once per test session, not once per sample build (spinemed.ocr's cache).
os.environ.setdefault("SPINEMED_OCR_CACHE", os.path.join(_home, "ocr"))


@functools.cache
def build_sample_corpus() -> Path:
    """The shipped sample sources built with the default builder (offline backend) into
    <tmp>/spinemed-450k, once per test process; the folder is removed at exit.  Shared by every
    test that reads the default build: one that modifies it must copy it first."""
    from spinemed.corpus.pipeline import BuildConfig, run_build  # after the settings above

    root = Path(tempfile.mkdtemp(prefix="spinemed-sample-corpus-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    out = root / "spinemed-450k"
    run_build(BuildConfig(out=out), progress=None)
    return out


@pytest.fixture(scope="session")
def sample_corpus() -> Path:
    """The default build of the shipped samples (read-only: copy it before changing anything)."""
    return build_sample_corpus()
