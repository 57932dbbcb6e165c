"""The CI workflows in infrastructure/ci-cd pass actionlint (workflow syntax, expressions, job
dependencies, action inputs), test what the README says to test, and build every image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import INFRASTRUCTURE, REPO, run, tool

pytestmark = pytest.mark.unit

CI_CD = INFRASTRUCTURE / "ci-cd"
WORKFLOWS = sorted(CI_CD.glob("*.yml"))
PRODUCTS = sorted(p.parent.parent.name for p in REPO.glob("products/*/config/product.yaml"))


def _actionlint(path: Path) -> tuple[int, str]:
    done = run(tool("actionlint"), "-no-color", path)
    return done.returncode, done.stdout + done.stderr


def _load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CI_CD / name).read_text())
    return loaded


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_actionlint_passes(workflow: Path) -> None:
    code, output = _actionlint(workflow)
    assert code == 0, output


def test_actionlint_refuses_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    text = (CI_CD / "test.yml").read_text().replace("needs: changes\n", "needs: change\n", 1)
    broken.write_text(text)
    code, output = _actionlint(broken)
    assert code != 0
    assert "change" in output


def test_products_are_tested_with_the_readme_command() -> None:
    readme = (REPO / "README.md").read_text()
    assert "make -C products/web-user-analytics test" in readme
    steps = _load("test.yml")["jobs"]["product"]["steps"]
    assert {"run": 'make -C "products/${{ matrix.product }}" test'} in steps


def test_every_image_is_built() -> None:
    matrix = _load("images.yml")["jobs"]["image"]["strategy"]["matrix"]["name"]
    assert sorted(matrix) == sorted([*PRODUCTS, "platform"])
