"""Test-wide settings: no network, and Hugging Face caches in a fresh temporary folder.

Set at import time, before any test module imports datasets / huggingface_hub / evaluate,
because those libraries read their cache locations once, when imported."""

import os
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_EVALUATE_OFFLINE"] = "1"
_home = tempfile.mkdtemp(prefix="spinemed-hf-home-")
os.environ["HF_HOME"] = _home
os.environ["HF_DATASETS_CACHE"] = os.path.join(_home, "datasets")
os.environ["HF_EVALUATE_CACHE"] = os.path.join(_home, "evaluate")
os.environ["HF_MODULES_CACHE"] = os.path.join(_home, "modules")
