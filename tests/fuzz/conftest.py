"""Hypothesis profiles for the fuzz tests.

`default`: few examples with a deadline, so the whole folder stays well under a minute on two
cores.  `thorough` (`HYPOTHESIS_PROFILE=thorough pytest tests/fuzz`): 2000 examples a test and
no deadline, for a deliberate hunt (minutes).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    max_examples=60,
    deadline=2000,  # ms per example: a parser that takes longer on a small input is a finding
    derandomize=True,  # the same examples every run: a CI failure reproduces locally
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    print_blob=True,
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

