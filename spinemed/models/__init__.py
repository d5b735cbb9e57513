"""The model layer: one spec grammar (:mod:`.spec`), one loader for transformers VLMs and
OpenAI-compatible clients (:mod:`.loader`), the tiny offline test model (:mod:`.tiny`)."""

from spinemed.models.spec import KINDS, ModelError, ModelSpec, ModelSpecError, parse_model_spec

__all__ = ["KINDS", "ModelError", "ModelSpec", "ModelSpecError", "parse_model_spec"]
