"""Every command prints exactly what it printed when the recordings were made (see tests/cli_golden.py)."""


import pytest

from cli_golden import CASES, RECORD, SHARED, record, recorded, run


@pytest.mark.parametrize("name", sorted(set(CASES) - SHARED))
def test_output_is_unchanged(name, tmp_path):
    texts = run(name, str(tmp_path))
    if RECORD:
        record(name, texts)
        return
    expected = recorded(name)
    assert sorted(texts) == sorted(expected)
    for key in expected:
        assert texts[key] == expected[key], f"{name}: {key} differs from tests/golden/cli/{name}/{key}"


def test_every_command_is_covered():
    commands = {args[0] for args in CASES.values()}
    assert commands == {"estimate", "plan", "sweep", "validate", "chips", "models", "compare", "plot"}
    assert len(CASES) >= 30
