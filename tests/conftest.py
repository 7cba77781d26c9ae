import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="session")
def shipped_validation():
    """``roofline validate`` on the shipped data, run once per test session (about 20 s): ``(the click
    result, the Validation the command rendered)``. The command prints text; its JSON is
    ``as_json(validation.to_dict())``, exactly what ``--format json`` prints. Every test that reads the
    shipped report shares this run: they sit in tests/test_validate.py, and ``--dist loadfile`` gives a
    file to one xdist worker."""
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
        r = CliRunner().invoke(main, ["validate"])
    finally:
        api.validate = real
    assert r.exit_code == 0, r.output
    assert len(seen) == 1
    return r, seen[0]


@pytest.fixture(scope="session")
def validate_json(shipped_validation) -> str:
    """What ``roofline validate --format json`` prints for the shared run."""
    from roofline.cli.group import as_json

    return as_json(shipped_validation[1].to_dict()) + "\n"
