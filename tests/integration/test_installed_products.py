"""A product installed from its wheel, outside the repository, finds its configuration.

Each product's wheel is built, installed with the shared distributions' wheels into a fresh
virtual environment in a temporary folder, and its configuration is loaded there by a process
whose working directory is outside the repository. Third-party dependencies come from the
project's environment (a ``.pth`` entry), so nothing is downloaded; the project's own packages
come only from the wheels.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).with_name("uv")
SHARED = {
    "shared/core": "lakehouse_core",
    "shared/platform": "lakehouse_platform",
    "shared/events": "lakehouse_events",
}
PRODUCTS = {
    "web-user-analytics": ("web_user_analytics", "load_web_config", "WEB_"),
    "mobile-user-analytics": ("mobile_user_analytics", "load_mobile_config", "MOBILE_"),
}

PROBE = """
import importlib, json, sys
package, loader = sys.argv[1], sys.argv[2]
module = importlib.import_module(package + ".config")
config = getattr(module, loader)()
print(json.dumps({"module": module.__file__, "name": config.name,
                  "topics": sorted(t.name for t in config.topics.values()),
                  "port": config.serving.port}))
"""


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheels")
    for member in (*SHARED, *(f"products/{p}" for p in PRODUCTS)):
        subprocess.run(
            [str(UV), "build", "--wheel", "--quiet", "--out-dir", str(out), str(REPO / member)],
            check=True,
            timeout=300,
        )
    return out


def _fresh_environment(root: Path, wheels: Path, product: str) -> Path:
    venv.EnvBuilder(with_pip=False).create(root)
    python = root / "bin" / "python"
    names = [f"{name}-" for name in (*SHARED.values(), PRODUCTS[product][0])]
    chosen = [str(w) for w in sorted(wheels.glob("*.whl")) if any(w.name.startswith(n) for n in names)]
    assert len(chosen) == len(names), chosen
    subprocess.run(
        [str(UV), "pip", "install", "--quiet", "--no-deps", "--python", str(python), *chosen],
        check=True,
        timeout=300,
    )
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def _probe(python: Path, package: str, loader: str, cwd: Path, env: dict[str, str]) -> dict[str, object]:
    done = subprocess.run(
        [str(python), "-c", PROBE, package, loader],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("product", sorted(PRODUCTS))
def test_installed_wheel_loads_its_configuration(product: str, wheels: Path, tmp_path: Path) -> None:
    package, loader, prefix = PRODUCTS[product]
    python = _fresh_environment(tmp_path / "venv", wheels, product)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith((prefix, "LAKEHOUSE_"))}

    loaded = _probe(python, package, loader, elsewhere, env)

    assert Path(str(loaded["module"])).is_relative_to(tmp_path / "venv"), "imported from the repository"
    assert loaded["name"] == product
    assert loaded["topics"], "the shipped product.yaml declares the product's topics"

    mounted = tmp_path / "mounted"
    (mounted / "environments").mkdir(parents=True)
    shipped = Path(str(loaded["module"])).with_name("product_config") / "product.yaml"
    (mounted / "product.yaml").write_text(shipped.read_text())
    (mounted / "environments" / "dev.yaml").write_text("serving: {port: 9999}\n")
    overridden = _probe(python, package, loader, elsewhere, {**env, f"{prefix}CONFIG_DIR": str(mounted)})
    assert overridden["port"] == 9999 != loaded["port"]
