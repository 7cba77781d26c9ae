import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="session")
def validate_json() -> str:
    """``roofline validate --format json`` run once per test session (about 20 s): the tests that only read
    its output share it; test_determinism compares it with a second run."""
    from click.testing import CliRunner

    from roofline.cli import main

    r = CliRunner().invoke(main, ["validate", "--format", "json"])
    assert r.exit_code == 0, r.output
    return r.stdout
