"""Every product package must be covered by the import-linter contracts in pyproject.toml:
independent of every other product, and never imported by shared code."""

import tomllib
from pathlib import Path

import pytest

from lakehouse_core.settings import find_project_root

pytestmark = pytest.mark.unit

SHARED_PACKAGES = {"lakehouse_core", "lakehouse_events", "lakehouse_platform", "lakehouse_testing"}


def product_packages(root: Path) -> set[str]:
    return {p.parent.name for p in root.glob("products/*/src/*/__init__.py")}


def contracts(root: Path) -> tuple[set[str], list[dict[str, object]]]:
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["importlinter"]
    return set(config["root_packages"]), config["contracts"]


def test_shared_packages_are_linted() -> None:
    roots, _ = contracts(find_project_root())
    assert roots >= SHARED_PACKAGES


def test_every_product_is_independent_and_never_imported_by_shared_code() -> None:
    root = find_project_root()
    products = product_packages(root)
    roots, declared = contracts(root)
    assert products <= roots, f"not linted: {sorted(products - roots)}"
    if len(products) > 1:
        independent = [set(c["modules"]) for c in declared if c["type"] == "independence"]  # type: ignore[arg-type]
        assert any(products <= group for group in independent), "products not independent"
    for package in SHARED_PACKAGES:
        forbidden = set().union(
            *(
                set(c["forbidden_modules"])  # type: ignore[arg-type]
                for c in declared
                if c["type"] == "forbidden" and package in c["source_modules"]  # type: ignore[operator]
            )
        )
        assert products <= forbidden, f"{package} may import {sorted(products - forbidden)}"
