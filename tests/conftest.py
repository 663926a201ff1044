"""Hypothesis profiles: a fast deterministic ``ci`` default and a ``thorough`` one.

Select with ``pytest --hypothesis-profile thorough`` (or HYPOTHESIS_PROFILE=thorough).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# filter_too_much: theorems with assumptions (Slater, policies differing in one
# state, ...) filter generated instances the same way `boundlab check` does.
_SUPPRESSED = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile(
    "ci", max_examples=25, derandomize=True, deadline=None, print_blob=True,
    suppress_health_check=_SUPPRESSED,
)
settings.register_profile(
    "thorough", max_examples=1000, deadline=None, print_blob=True,
    suppress_health_check=_SUPPRESSED,
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
