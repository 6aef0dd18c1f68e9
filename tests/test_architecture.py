"""The layering is a contract: every package is in it, and docs/architecture.md shows it.

``lint-imports`` (run by scripts/check) checks the imports against the contracts in
pyproject.toml; these tests keep the contracts and the doc from falling behind the package.
"""

from __future__ import annotations

import pkgutil
import re
import tomllib
from pathlib import Path

import letta_actors

ROOT = Path(__file__).resolve().parents[1]


def _packages() -> set[str]:
    """Every module directly under letta_actors (packages and top-level modules, public)."""
    return {
        f"letta_actors.{info.name}"
        for info in pkgutil.iter_modules(letta_actors.__path__)
        if not info.name.startswith("_")
    }


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    assert isinstance(contracts, list)
    return contracts


def _layers() -> list[list[str]]:
    (layers,) = [c["layers"] for c in _contracts() if c["type"] == "layers"]
    assert isinstance(layers, list)
    return [re.split(r"\s*[|:]\s*", layer) for layer in layers]


def test_every_package_is_in_a_layer() -> None:
    in_layers = {name for layer in _layers() for name in layer}
    assert _packages() - in_layers == set(), "add the new package to [tool.importlinter] layers"
    assert in_layers - _packages() == set(), "a layer names a package that does not exist"


def test_private_modules_are_checked_everywhere() -> None:
    assert any(c["type"] == "private_modules" for c in _contracts())


def test_architecture_doc_names_every_package_and_draws_the_layers() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text()
    for package in sorted(_packages()):
        short = package.removeprefix("letta_actors.")
        assert re.search(rf"\b{re.escape(short)}\b", doc), f"docs/architecture.md: {short}"
    (diagram,) = re.findall(r"```mermaid\n(.*?)```", doc, flags=re.S)[:1]
    for layer in _layers():
        for package in layer:
            short = package.removeprefix("letta_actors.")
            assert re.search(rf"\b{re.escape(short)}\b", diagram), f"diagram lacks {short}"
