"""Each product, installed from its wheel outside the repository, finds and loads its configuration.

The workspace's wheels are built once and installed without dependencies into one fresh virtual
environment in a temporary folder; third-party packages come from the project's environment (a
``.pth`` line adds its site-packages, whose editable entries of our packages are not read), so
nothing is downloaded and the project's own packages come only from the wheels. A process whose
working directory is outside the repository then loads each product's configuration: product.yaml
and the environment overlays must come from inside the installed package.
"""

from __future__ import annotations

import json
import os
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO, run

pytestmark = pytest.mark.integration

UV = Path(sys.executable).with_name("uv")
PRODUCTS = sorted(p.parent.parent.name for p in REPO.glob("products/*/config/product.yaml"))
#: Each product's configuration loader, in ``<package>.config``.
LOADERS = {
    "compliance-auditing": "load_compliance_config",
    "mobile-user-analytics": "load_mobile_config",
    "operational-metrics": "load_ops_config",
    "user-segmentation": "load_segmentation_config",
    "web-user-analytics": "load_web_config",
}

PROBE = """
import importlib, json, os, sys
from pathlib import Path
from lakehouse_core.config import config_files, current_environment, product_config_dir
out = {}
for product, loader in json.loads(sys.argv[1]).items():
    package = product.replace("-", "_")
    module = importlib.import_module(package + ".config")
    config = getattr(module, loader)()
    located = product_config_dir(package, env_prefix=module.ENV_PREFIX, source_dir=Path("/nowhere"))
    out[product] = {"module": module.__file__, "name": config.name, "port": config.serving.port,
                    "files": [str(f) for f in config_files(located, current_environment())]}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(wheel folder, python of the fresh environment holding every workspace wheel)."""
    wheels = tmp_path_factory.mktemp("wheels")
    built = run(UV, "build", "--wheel", "--all-packages", "--quiet", "--out-dir", wheels, timeout=300)
    assert built.returncode == 0, built.stderr
    root = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False).create(root)
    python = root / "bin" / "python"
    ours = run(
        UV, "pip", "install", "--quiet", "--no-deps", "--python", python, *sorted(wheels.glob("*.whl"))
    )
    assert ours.returncode == 0, ours.stderr
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    (Path(site) / "project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return wheels, python


def _probe(python: Path, environment: str, **variables: str) -> dict[str, dict[str, object]]:
    elsewhere = python.parent.parent / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    prefixes = ("LAKEHOUSE_", "WEB_", "MOBILE_", "OPS_", "SEGMENTS_", "COMPLIANCE_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env |= {"LAKEHOUSE_ENVIRONMENT": environment, **variables}
    done = run(python, "-c", PROBE, json.dumps(LOADERS), cwd=elsewhere, env=env)
    assert done.returncode == 0, done.stderr
    loaded: dict[str, dict[str, object]] = json.loads(done.stdout)
    return loaded


def test_every_product_is_probed() -> None:
    assert sorted(LOADERS) == PRODUCTS


@pytest.mark.parametrize("product", PRODUCTS)
def test_wheel_carries_the_configuration_folder(installed: tuple[Path, Path], product: str) -> None:
    wheels, _ = installed
    package = product.replace("-", "_")
    (wheel,) = wheels.glob(f"{package}-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    source = REPO / "products" / product / "config"
    expected = {f"{package}/product_config/{p.relative_to(source)}" for p in source.rglob("*.yaml")}
    assert f"{package}/product_config/product.yaml" in expected
    assert expected <= names


def test_installed_products_load_their_configuration_outside_the_repository(
    installed: tuple[Path, Path],
) -> None:
    _, python = installed
    venv_root = python.parent.parent
    loaded = {environment: _probe(python, environment) for environment in ("dev", "prod")}
    for environment, products in loaded.items():
        assert sorted(products) == PRODUCTS
        for product, found in products.items():
            assert found["name"] == product
            assert Path(str(found["module"])).is_relative_to(venv_root), "imported from the repository"
            files = [Path(f) for f in found["files"]]  # type: ignore[attr-defined]
            assert all(f.is_relative_to(venv_root) for f in files), files
            overlay = REPO / "products" / product / "config" / "environments" / f"{environment}.yaml"
            assert len(files) == (2 if overlay.is_file() else 1), files
    # web's prod overlay moves its API to 8080: the shipped overlay is read
    assert loaded["prod"]["web-user-analytics"]["port"] == 8080 != loaded["dev"]["web-user-analytics"]["port"]


def test_a_mounted_configuration_folder_wins(installed: tuple[Path, Path], tmp_path: Path) -> None:
    """What a Kubernetes ConfigMap mounted at <PREFIX>CONFIG_DIR does."""
    _, python = installed
    mounted = tmp_path / "mounted"
    (mounted / "environments").mkdir(parents=True)
    (mounted / "product.yaml").write_text(
        (REPO / "products/web-user-analytics/config/product.yaml").read_text()
    )
    (mounted / "environments" / "dev.yaml").write_text("serving: {port: 9999}\n")
    found = _probe(python, "dev", WEB_CONFIG_DIR=str(mounted))["web-user-analytics"]
    assert found["port"] == 9999
    assert found["files"] == [str(mounted / "product.yaml"), str(mounted / "environments" / "dev.yaml")]
