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
    """actionlint, with ShellCheck on every `run:` step."""
    done = run(tool("actionlint"), "-no-color", "-shellcheck", tool("shellcheck"), path)
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


def _touched(tmp_path: Path, *changed: str) -> dict[str, str]:
    """Run test.yml's change detection in a small repository where ``changed`` files changed."""
    (step,) = [s for s in _load("test.yml")["jobs"]["changes"]["steps"] if s.get("id") == "touched"]
    repo = tmp_path / "repo"
    for path in ("products/web-user-analytics/a.py", "products/operational-metrics/a.py", "shared/core/a.py"):
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text("0\n")
    git = ("git", "-c", "user.name=ci", "-c", "user.email=ci@example.com")
    assert run(*git, "init", "-q", cwd=repo).returncode == 0
    run(*git, "add", ".", cwd=repo)
    run(*git, "commit", "-qm", "base", cwd=repo)
    base = run("git", "rev-parse", "HEAD", cwd=repo).stdout.strip()
    for path in changed:
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text("1\n")
    run(*git, "add", ".", cwd=repo)
    run(*git, "commit", "-qm", "change", cwd=repo)
    output = tmp_path / "output"
    env = {"PATH": "/usr/bin:/bin", "BASE": base, "GITHUB_OUTPUT": str(output)}
    done = run("bash", "-e", "-o", "pipefail", "-c", step["run"], cwd=repo, env=env)
    assert done.returncode == 0, done.stderr
    return dict(line.split("=", 1) for line in output.read_text().splitlines())


def test_only_the_touched_products_are_tested(tmp_path: Path) -> None:
    touched = _touched(tmp_path, "products/web-user-analytics/b.py", "documentation/X.md")
    assert touched == {"shared": "false", "products": '["web-user-analytics"]'}


def test_a_shared_change_tests_everything(tmp_path: Path) -> None:
    touched = _touched(tmp_path, "shared/core/a.py")
    assert touched == {"shared": "true", "products": '["operational-metrics","web-user-analytics"]'}


def test_a_documentation_change_tests_nothing(tmp_path: Path) -> None:
    assert _touched(tmp_path, "documentation/X.md") == {"shared": "false", "products": "[]"}
