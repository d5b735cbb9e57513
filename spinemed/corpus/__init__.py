"""The corpus build as a chain of steps (step.py): sources -> deidentify -> pcm -> dedup -> classify ->
generate -> validate, composed by pipeline.py."""
