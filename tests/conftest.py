"""Hypothesis profiles: CI runs a fixed, derandomised set of examples (every run tests the
same inputs, so the suite cannot flake); `python3 -m simulations.soak` runs the same
property and stateful tests randomised for as long as asked."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "soak",
    derandomize=False,
    deadline=None,
    database=None,
    print_blob=True,
    max_examples=int(os.environ.get("QROC_SOAK_EXAMPLES", "500")),
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("QROC_HYPOTHESIS_PROFILE", "ci"))
