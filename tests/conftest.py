import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="session")
def shipped_validation():
    """``roofline validate --format json`` on the shipped data, run once per test session (about 20 s):
    ``(stdout, the Validation the command rendered)``. Every test that reads the shipped report shares this
    one run (they sit in one file: ``--dist loadfile`` gives a file to one xdist worker)."""
    from click.testing import CliRunner

    from roofline import api
    from roofline.cli import main

    seen = []
    real = api.validate

    def recording(*args, **kwargs):
        seen.append(real(*args, **kwargs))
        return seen[-1]

    api.validate = recording
    try:
        r = CliRunner().invoke(main, ["validate", "--format", "json"])
    finally:
        api.validate = real
    assert r.exit_code == 0, r.output
    assert len(seen) == 1
    return r.stdout, seen[0]


@pytest.fixture(scope="session")
def validate_json(shipped_validation) -> str:
    """The shared run's JSON text."""
    return shipped_validation[0]
