"""``--format csv`` of ``estimate`` and ``compare``: the JSON's scalar fields under dotted names, cell by cell
equal to the same command's ``--format json``; lists of records left out; quoting that survives commas."""

import csv
import io
import json

import pytest
from click.testing import CliRunner

from roofline.cli import main
from roofline.render.csv_table import csv_text, flatten

ESTIMATE = ("estimate", "--chip", "H20", "--model", "8B", "--mode", "inference")
COMPARE = ("compare", "--chips", "H20,H100", "--model", "8B")


def run(*args) -> str:
    r = CliRunner().invoke(main, list(args))
    assert r.exit_code == 0, r.output
    return r.stdout


def parse(text: str) -> tuple[list[str], list[list[str]]]:
    header, *rows = list(csv.reader(io.StringIO(text)))
    return header, rows


def leaves(d: dict, path: tuple = ()) -> dict[str, object]:
    """The JSON's scalar leaves and lists of scalars by dotted name (the test's own walk, not ``flatten``)."""
    out = {}
    for key, value in d.items():
        here = (*path, str(key))
        if isinstance(value, dict):
            out.update(leaves(value, here))
        elif not isinstance(value, list) or not any(isinstance(v, (dict, list)) for v in value):
            out[".".join(here)] = value
    return out


def matches(text: str, value) -> bool:
    """Does the cell ``text`` say ``value`` (a JSON scalar or list of scalars)?"""
    if isinstance(value, list):
        return json.loads(text) == value if value else text == ""
    if value is None:
        return text == ""
    if isinstance(value, bool):
        return text == ("true" if value else "false")
    if isinstance(value, (int, float)):
        return type(value)(text) == value
    return text == value


def assert_row_is_json(header: list[str], row: list[str], expected: dict) -> None:
    assert len(row) == len(header)
    cells = dict(zip(header, row))
    for name, value in expected.items():
        assert matches(cells[name], value), (name, cells[name], value)
    for name in set(header) - set(expected):  # a column of another row only
        assert cells[name] == "", name


def test_flatten_nested_example():
    d = {"a": 1, "b": {"c": None, "d": {"e": True, "f": False}}, "g": [1.5, 2, "x"], "h": [{"op": "gemm"}],
         "i": 0.1, "j": [], "k": "memory, then compute", "l": 1e16}
    assert flatten(d) == {"a": "1", "b.c": "", "b.d.e": "true", "b.d.f": "false", "g": '[1.5, 2, "x"]', "i": "0.1",
                          "j": "", "k": "memory, then compute", "l": "1e+16"}
    assert list(flatten(d)) == ["a", "b.c", "b.d.e", "b.d.f", "g", "i", "j", "k", "l"]
    assert flatten({"x": {"y": 2}}, prefix="p.") == {"p.x.y": "2"}


def test_csv_text_header_is_the_union_and_quotes_survive():
    reason = 'decode is memory-bound, "HBM" 1.19x,\nprefill 0.17x'
    text = csv_text([{"chip": "H20", "reason": reason}, {"chip": "H100", "note": "a;b"}])
    assert text.endswith("\n") and "\r" not in text
    header, rows = parse(text)
    assert header == ["chip", "reason", "note"]
    assert rows == [["H20", reason, ""], ["H100", "", "a;b"]]


def test_estimate_csv_is_one_row_equal_to_the_json():
    text = run(*ESTIMATE, "--format", "csv")
    d = json.loads(run(*ESTIMATE, "--format", "json"))
    assert text.endswith("\n") and len(text.splitlines()) == 2
    header, rows = parse(text)
    assert len(rows) == 1
    expected = leaves(d)
    assert header == list(expected)  # every scalar field, in the JSON's order, nothing else
    assert_row_is_json(header, rows[0], expected)
    for name in ("inference.tpot_s", "inference.fits", "chip.name", "verdict.reason"):
        assert name in header
    assert not any(n.startswith(("inference.prefill_ops", "inference.decode_ops", "inference.batch_table"))
                   for n in header)
    assert d["inference"]["prefill_ops"]  # left out of the CSV, present in the JSON


@pytest.fixture(scope="module")
def compared():
    return run(*COMPARE, "--format", "csv"), json.loads(run(*COMPARE, "--format", "json"))


def test_compare_csv_has_a_row_per_chip_equal_to_the_json(compared):
    text, d = compared
    header, rows = parse(text)
    assert len(text.splitlines()) == 3 and len(rows) == 2
    assert header[:2] == ["model", "reference_chip"]
    assert [dict(zip(header, r))["chip"] for r in rows] == ["H20", "H100-SXM"]
    common = leaves({k: v for k, v in d.items() if k != "chips"})
    for row, chip in zip(rows, d["chips"]):
        assert_row_is_json(header, row, {**common, **leaves(chip)})
    assert not any(n.startswith("nvlink_scaling") for n in header)


def test_compare_csv_quotes_reasons_with_commas(compared):
    text, d = compared
    header, rows = parse(text)
    reasons = [dict(zip(header, r))["verdict.reason"] for r in rows]
    assert reasons == [c["verdict"]["reason"] for c in d["chips"]]
    assert all("," in r for r in reasons) and all(f'"{r}"' in text for r in reasons)
