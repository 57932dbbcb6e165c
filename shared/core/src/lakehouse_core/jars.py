"""The JVM artefacts that ``make setup`` lays out with Maven (see infrastructure/jvm/pom.xml)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from lakehouse_core.errors import MissingArtefactsError

JarSet = Literal["spark", "kafka", "connect"]


def jar_paths(jars_dir: Path, jar_set: JarSet) -> list[Path]:
    """Absolute paths of every jar of one set, sorted; raises when the set is not installed."""
    folder = jars_dir / jar_set
    jars = sorted(p.resolve() for p in folder.glob("*.jar"))
    if not jars:
        raise MissingArtefactsError(
            f"no {jar_set} jars under {folder}; run `make setup` to fetch them with Maven"
        )
    return jars
