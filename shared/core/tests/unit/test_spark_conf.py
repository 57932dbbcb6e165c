import pytest

from lakehouse_core.settings import LakehouseSettings
from lakehouse_core.spark import DRIVER_JAVA_OPTIONS, LOCAL_GC, spark_conf

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


def test_a_local_driver_runs_the_throughput_collector_beside_the_options_it_is_given() -> None:
    local = spark_conf(
        LakehouseSettings(spark_master="local[2]"), extra={DRIVER_JAVA_OPTIONS: "-Dderby.system.home=/w"}
    )
    cluster = spark_conf(LakehouseSettings(spark_master="spark://master:7077"))
    assert local[DRIVER_JAVA_OPTIONS].split() == [LOCAL_GC, "-Dderby.system.home=/w"]
    assert DRIVER_JAVA_OPTIONS not in cluster
