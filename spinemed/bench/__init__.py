"""SpineBench: sampling, clinician verification, decontamination."""
