"""The profile registries find names and aliases without parsing every profile: the light alias scan reads
what a full TOML parse reads."""

import pytest

from roofline.loaders.files import profiles_dir, read_toml, top_level_aliases


@pytest.mark.parametrize("subdir", ["chips", "models"])
def test_the_alias_scan_reads_what_the_full_parse_reads(subdir):
    paths = sorted((profiles_dir() / subdir).glob("*.toml"))
    assert paths
    for path in paths:
        assert top_level_aliases(path, subdir) == read_toml(path, subdir).get("aliases", []), path


@pytest.mark.parametrize("text, expected", [
    ('name = "x"\naliases = ["a", "b"]\n[t]\nv = 1\n', ["a", "b"]),
    ('aliases = [\n  "a",  # the first\n  "b",\n]\n', ["a", "b"]),
    ('grid = [\n[1, 2]\n]\naliases = ["a"]\n', ["a"]),  # an array line is not a table header
    ('name = "x"\n[t]\naliases = ["not", "top-level"]\n', []),
    ('[t]\nv = 1\n', []),
    ('aliases = "one"\n', []),
])
def test_the_alias_scan_on_written_files(tmp_path, text, expected):
    path = tmp_path / "p.toml"
    path.write_text(text)
    assert top_level_aliases(path, "chip") == expected
    full = read_toml(path, "chip").get("aliases", [])
    assert full == expected or not isinstance(full, list)
