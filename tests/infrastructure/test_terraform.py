"""infrastructure/terraform, offline: every file parses and is formatted (hclfmt, HashiCorp's HCL
formatter), every variable used or set is declared. What needs the providers (`terraform
validate`, plans) is not checked here: they cannot be downloaded at test time."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import INFRASTRUCTURE, REPO, run, tool

pytestmark = pytest.mark.unit

TERRAFORM = INFRASTRUCTURE / "terraform"
FILES = sorted([*TERRAFORM.rglob("*.tf"), *TERRAFORM.rglob("*.tfvars")])


def _hclfmt(path: Path) -> tuple[int, str]:
    done = run(tool("hclfmt"), "-check", "-require-no-change", path)
    return done.returncode, done.stderr


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_parses_and_is_formatted(path: Path) -> None:
    code, errors = _hclfmt(path)
    assert code == 0, errors or f"{path} is not formatted: run hclfmt -w {path}"


def test_broken_or_unformatted_files_are_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.tf"
    broken.write_text('resource "aws_s3_bucket" "lake" {\n  bucket =\n}\n')
    code, errors = _hclfmt(broken)
    assert code != 0
    assert "Invalid expression" in errors
    unformatted = tmp_path / "unformatted.tf"
    unformatted.write_text('variable "x" {\ntype=string\n}\n')
    assert _hclfmt(unformatted)[0] != 0


def test_variables_used_and_set_are_declared() -> None:
    sources = "\n".join(p.read_text() for p in TERRAFORM.glob("*.tf"))
    declared = set(re.findall(r'(?m)^variable "(\w+)"', sources))
    used = set(re.findall(r"\bvar\.(\w+)", sources))
    assert used <= declared, used - declared
    for tfvars in TERRAFORM.glob("environments/*.tfvars"):
        assigned = set(re.findall(r"(?m)^(\w+)\s*=", tfvars.read_text()))
        assert assigned <= declared, (tfvars.name, assigned - declared)
        assert f'environment = "{tfvars.stem}"' in tfvars.read_text()


def test_every_environment_has_variables() -> None:
    overlays = {p.name for p in (INFRASTRUCTURE / "k8s" / "overlays").iterdir()}
    assert {p.stem for p in TERRAFORM.glob("environments/*.tfvars")} == overlays
