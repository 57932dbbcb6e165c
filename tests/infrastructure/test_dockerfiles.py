"""Every Dockerfile passes hadolint and the images' entry point ShellCheck, and the shared images
keep their promises: one product image built with a PRODUCT argument, multi-stage, running as a
non-root user, with a health check."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import INFRASTRUCTURE, REPO, run, tool

pytestmark = pytest.mark.unit

DOCKER = INFRASTRUCTURE / "docker"
DOCKERFILES = sorted(
    p
    for p in (*REPO.glob("products/*/*Dockerfile*"), *INFRASTRUCTURE.rglob("*Dockerfile*"))
    if p.is_file() and not p.name.endswith(".dockerignore")
)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(REPO)))
def test_hadolint_passes(dockerfile: Path) -> None:
    done = run(tool("hadolint"), "--no-color", dockerfile)
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_refuses_a_careless_dockerfile(tmp_path: Path) -> None:
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y curl\n")
    done = run(tool("hadolint"), "--no-color", careless)
    assert done.returncode != 0
    assert "DL3007" in done.stdout, done.stdout


def test_entrypoint_passes_shellcheck() -> None:
    done = run(tool("shellcheck"), DOCKER / "entrypoint.sh")
    assert done.returncode == 0, done.stdout


def test_shellcheck_refuses_a_careless_script(tmp_path: Path) -> None:
    careless = tmp_path / "careless.sh"
    careless.write_text("#!/bin/bash\nrm -rf $1/*\n")
    assert run(tool("shellcheck"), careless).returncode != 0


def test_products_share_one_image_definition() -> None:
    assert DOCKERFILES == [DOCKER / "Dockerfile", DOCKER / "base.Dockerfile"]


def _stages(dockerfile: Path) -> list[str]:
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    return re.split(r"(?m)^FROM ", text)[1:]


def test_product_image_is_multi_stage_non_root_with_a_health_check() -> None:
    stages = _stages(DOCKER / "Dockerfile")
    assert len(stages) >= 2, "a build stage and a runtime stage"
    runtime = stages[-1]
    assert "ARG PRODUCT" in runtime
    users = re.findall(r"(?m)^USER (\S+)", runtime)
    assert users, "the runtime stage sets its user"
    assert users[-1].split(":")[0] not in {"0", "root"}
    assert re.search(r"(?m)^HEALTHCHECK .*/health", runtime), "HEALTHCHECK on /health"
    assert "COPY --from=build" in runtime


def test_build_contexts_leave_out_environments_and_data() -> None:
    product = (DOCKER / "Dockerfile.dockerignore").read_text().splitlines()
    assert {".git", ".venv", ".lakehouse", "data_lake"} <= set(product)
    # infrastructure/ is left out but for the entry point, which the image copies
    assert product.index("!infrastructure/docker/entrypoint.sh") > product.index("infrastructure")
    base = (DOCKER / "base.Dockerfile.dockerignore").read_text().splitlines()
    assert base[-2:] == ["*", "!infrastructure/jvm/pom.xml"], "the base image needs only the POM"


def test_base_image_carries_java_17_and_the_pom_jars() -> None:
    text = (DOCKER / "base.Dockerfile").read_text()
    assert "openjdk-17-jre-headless" in text
    assert "COPY infrastructure/jvm/pom.xml" in text
    assert "dependency:copy-dependencies" in text
    assert re.search(r"FROM python:3\.11", text)
