"""The Letta venv's lock file: complete, exact, in step with the requirements and the install.

A stale lock fails here, loudly: a requirement the lock does not satisfy, a line that is not an
exact pin, or an installed venv that differs from the lock.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from letta_actors.localstack.letta_install import (
    LETTA_REQUIREMENTS,
    LOCK_FILE,
    _marker_text,
    find_uv,
    is_installed,
    normalise,
    read_lock,
)
from letta_actors.localstack.paths import StackPaths


def test_every_requirement_is_pinned_by_the_lock() -> None:
    pins = read_lock()
    for text in LETTA_REQUIREMENTS:
        requirement = Requirement(text)
        name = normalise(requirement.name)
        assert name in pins, f"{text}: not in {LOCK_FILE.name}; regenerate it"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{text}: the lock pins {pins[name]}; regenerate it"
        )


def test_a_line_that_is_not_an_exact_pin_is_refused(tmp_path: Path) -> None:
    lock = tmp_path / "lock.txt"
    lock.write_text("# comment\nanyio==4.6.0\nhttpx>=0.27\n")
    with pytest.raises(ValueError, match=r"lock.txt:3: not an exact pin: 'httpx>=0.27'"):
        read_lock(lock)


def test_names_are_compared_as_pep_503_does() -> None:
    assert normalise("Foo_Bar.baz") == "foo-bar-baz"


def test_a_changed_lock_makes_the_install_outdated(tmp_path: Path) -> None:
    paths = StackPaths(tmp_path)
    lock = tmp_path / "lock.txt"
    lock.write_text("anyio==4.6.0\n")
    paths.venv_python.parent.mkdir(parents=True)
    paths.venv_python.touch()
    paths.install_marker.write_text(_marker_text(lock))
    assert is_installed(paths, lock)
    lock.write_text("anyio==4.7.0\n")
    assert not is_installed(paths, lock)


@pytest.mark.letta
def test_the_installed_venv_is_exactly_the_lock() -> None:
    """scripts/check installs the venv before pytest; here it must match the lock line by line."""
    paths = StackPaths.default()
    assert is_installed(paths), "the Letta venv is missing or outdated: run scripts/check"
    uv = find_uv()
    assert uv is not None, "uv is part of the project's `local` extra"
    frozen = subprocess.run(
        [uv, "pip", "freeze", "--python", str(paths.venv_python)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installed = {
        normalise(name): version
        for name, _, version in (line.partition("==") for line in frozen.splitlines() if line)
    }
    assert installed == read_lock()
