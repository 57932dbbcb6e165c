import pytest

from lakehouse_core.settings import LakehouseSettings
from lakehouse_core.spark import spark_conf

pytestmark = pytest.mark.unit

CODEGEN_KEYS = ("spark.sql.codegen.wholeStage", "spark.sql.codegen.factoryMode")


def test_code_generation_is_spark_s_default_unless_turned_off() -> None:
    on = spark_conf(LakehouseSettings(spark_codegen=True))
    off = spark_conf(LakehouseSettings(spark_codegen=False))
    assert not any(key in on for key in CODEGEN_KEYS)
    assert [off[key] for key in CODEGEN_KEYS] == ["false", "NO_CODEGEN"]


def test_the_test_session_and_the_processes_it_starts_run_without_code_generation() -> None:
    assert LakehouseSettings().spark_codegen is False


def test_explicit_configuration_wins() -> None:
    conf = spark_conf(LakehouseSettings(spark_codegen=False), extra={"spark.sql.codegen.wholeStage": "true"})
    assert conf["spark.sql.codegen.wholeStage"] == "true"
