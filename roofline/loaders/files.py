"""Where the shipped data lives, the name registries of its profiles, and reading TOML files and their
figures with errors a user can act on."""

from __future__ import annotations

import functools
import math
import re
import tomllib
from pathlib import Path

from roofline.errors import RooflineError, unknown_name
from roofline.quantity import MAX_COUNT, show


@functools.cache
def profiles_dir() -> Path:
    """The ``profiles`` folder: inside the installed package, or at the top of a source checkout."""
    here = Path(__file__).resolve().parent.parent  # the roofline package
    for candidate in (here / "profiles", here.parent / "profiles"):
        if (candidate / "chips").is_dir():
            return candidate
    raise RooflineError(f"profiles: no profiles folder next to {here}; reinstall roofline (pip install .)")


def is_path(path: Path, kind: str = "any") -> bool:
    """Whether ``path`` names an existing file system entry (``kind`` "dir": a folder); a name the
    system cannot even look up (too long, a NUL byte) is simply not one, never an ``OSError``."""
    try:
        return Path(path).is_dir() if kind == "dir" else Path(path).exists()
    except (OSError, ValueError):
        return False


def read_toml(path: Path, what: str) -> dict:
    """Parse a TOML file; a missing, unreadable or malformed file becomes one line naming it."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise RooflineError(f"{what}: file {str(path)!r} does not exist; check the path") from None
    except OSError as exc:
        raise RooflineError(f"{what}: cannot read {str(path)!r} ({exc.strerror}); check the path and "
                            f"permissions") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise RooflineError(f"{what}: {str(path)!r} is not UTF-8 text; save it as a TOML text file") from None
    except tomllib.TOMLDecodeError as exc:
        raise RooflineError(f"{what}: {str(path)!r} is not valid TOML ({exc}); fix the syntax") from None


def figure(table: dict, key: str, where: str, *, required: bool = True, integer: bool = False,
           zero_ok: bool = False):
    """Read one numeric figure that is either a bare number or ``{value = ..., source = ...}``.

    Returns ``(value, source)``; ``(None, "")`` when absent and not required. The value must be a finite,
    positive number (an integer where ``integer``; zero too where ``zero_ok``); booleans and strings are
    rejected.
    """
    field = f"{where}.{key}" if where else key
    if not isinstance(table, dict):
        raise RooflineError(f"{where or key}={show(table)} must be a table; write [{where or key}] with "
                            f"{key} = {{ value = ..., source = \"...\" }}")
    if key not in table:
        if required:
            raise RooflineError(f"{field} is missing; add it (a positive number, SI units)")
        return None, ""
    entry = table[key]
    source = ""
    if isinstance(entry, dict):
        if "value" not in entry:
            raise RooflineError(f"{field} has no 'value'; write {key} = {{ value = ..., source = \"...\" }}")
        source = str(entry.get("source", ""))
        entry = entry["value"]
    if zero_ok and entry == 0 and not isinstance(entry, bool):
        return entry, source
    return positive_number(field, entry, integer=integer), source


def positive_number(field: str, value, *, integer: bool = False):
    """Check that ``value`` is a finite positive number (an int if ``integer``, at most ``MAX_COUNT``) and
    return it. Integers too large for a float are refused like infinities, never raised as ``OverflowError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RooflineError(f"{field}={show(value)} must be a positive number; write it without quotes or units (SI)")
    too_big = integer and (value > MAX_COUNT) and (isinstance(value, int) or math.isfinite(value))
    if too_big:
        raise RooflineError(f"{field}={show(value)} exceeds {MAX_COUNT:,} (2**53), far beyond any real "
                            f"model or machine; fix the value")
    number = float(value) if abs(value) < 1e308 else math.inf
    if not math.isfinite(number) or number <= 0:
        raise RooflineError(f"{field}={show(value)} must be a finite positive number; fix the value")
    if integer:
        if not number.is_integer():
            raise RooflineError(f"{field}={value!r} must be a whole number; fix the value")
        return int(value)
    return number


def text(table: dict, key: str, where: str, default: str | None = None) -> str:
    """Read a string field; missing -> ``default`` (or an error when there is no default)."""
    field = f"{where}.{key}" if where else key
    if key not in table:
        if default is None:
            raise RooflineError(f"{field} is missing; add it as a quoted string")
        return default
    value = table[key]
    if not isinstance(value, str) or not value.strip():
        raise RooflineError(f"{field}={value!r} must be a non-empty string; quote it")
    return value.strip()


def string_list(table: dict, key: str, where: str) -> tuple[str, ...]:
    """Read an optional list of strings."""
    value = table.get(key, [])
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v.strip() for v in value):
        field = f"{where}.{key}" if where else key
        raise RooflineError(f"{field}={value!r} must be a list of names; write [\"a\", \"b\"]")
    return tuple(v.strip() for v in value)


_TABLE_HEADER = re.compile(r"^\[\[?[A-Za-z0-9_.\"' -]+\]\]?\s*(#.*)?$")


def top_level_aliases(path: Path, what: str) -> list:
    """The top-level ``aliases`` list of a profile, read without parsing the whole file: the key's lines
    (before the first table header, where TOML keeps top-level keys) are parsed alone; a file where that
    does not work is parsed whole. A profile is checked in full when it is loaded."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        lines = None
    for i, line in enumerate(lines or ()):
        stripped = line.lstrip()
        if _TABLE_HEADER.match(stripped):
            return []  # the first table: no top-level aliases
        if stripped.startswith("aliases") and stripped[7:].lstrip().startswith("="):
            for j in range(i + 1, min(i + 50, len(lines)) + 1):
                try:
                    value = tomllib.loads("\n".join(lines[i:j])).get("aliases", [])
                except tomllib.TOMLDecodeError:
                    continue
                return value if isinstance(value, list) else []
            break
    return read_toml(path, what).get("aliases", [])


class Registry:
    """Name -> file index over one profiles subfolder, with case-insensitive names and aliases."""

    def __init__(self, subdir: str, what: str, listing_command: str):
        self.subdir, self.what, self.listing_command = subdir, what, listing_command

    @functools.cached_property
    def _index(self) -> tuple[dict[str, Path], dict[str, str]]:
        by_key: dict[str, Path] = {}
        spelled: dict[str, str] = {}
        for path in sorted((profiles_dir() / self.subdir).glob("*.toml")):
            for n in [path.stem, *top_level_aliases(path, self.what)]:
                by_key.setdefault(n.lower(), path)
                spelled.setdefault(n.lower(), n)
        return by_key, spelled

    def names(self) -> list[str]:
        """Canonical profile names (file stems), sorted."""
        return sorted({p.stem for p in self._index[0].values()}, key=str.lower)

    def all_keys(self) -> list[str]:
        """Every accepted spelling: names and aliases as written in the files."""
        return list(self._index[1].values())

    def find(self, name: str) -> Path | None:
        return self._index[0].get(name.strip().lower())

    def resolve(self, name: str, field: str) -> Path:
        path = self.find(name)
        if path is None:
            raise self.unknown(name, field)
        return path

    def unknown(self, name: str, field: str) -> RooflineError:
        """The error for a name that is neither a profile nor an alias, listing the closest ones."""
        return unknown_name(field, name, self.all_keys(), self.listing_command)
