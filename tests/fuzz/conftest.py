"""Hypothesis profiles: `default` is bounded for `make test`; `nightly` runs long.

    HYPOTHESIS_PROFILE=nightly .venv/bin/pytest tests/fuzz -p no:cacheprovider
"""

import os

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("default", max_examples=int(os.environ.get("PARLEY_FUZZ_EXAMPLES", "8")), database=None,
                          **_COMMON)
settings.register_profile("nightly", max_examples=3000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
