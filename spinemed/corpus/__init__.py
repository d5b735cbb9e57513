"""Pipeline stages: sources -> pcm -> deid -> dedup -> classify -> generate -> validate."""
