"""The JVM pins (infrastructure/jvm/pom.xml) must match the Python ones, or Spark loads jars
built for another version."""

import xml.etree.ElementTree as ET
from importlib.metadata import version

import pytest

from lakehouse_core.settings import find_project_root

pytestmark = pytest.mark.unit

NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def pom_property(name: str) -> str:
    pom = ET.parse(find_project_root() / "infrastructure" / "jvm" / "pom.xml")
    node = pom.getroot().find(f"m:properties/m:{name}", NS)
    assert node is not None, f"{name} missing from the POM"
    assert node.text, f"{name} is empty in the POM"
    return node.text


def test_spark_jars_match_pyspark() -> None:
    assert pom_property("spark.version") == version("pyspark")
    assert version("pyspark").startswith(pom_property("spark.minor.version") + ".")


def test_delta_jars_match_delta_spark() -> None:
    assert pom_property("delta.version") == version("delta-spark")


def test_s3a_connector_matches_pyspark_hadoop_client() -> None:
    from pathlib import Path

    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    clients = sorted(p.name for p in jars.glob("hadoop-client-api-*.jar"))
    assert clients == [f"hadoop-client-api-{pom_property('hadoop.version')}.jar"]
