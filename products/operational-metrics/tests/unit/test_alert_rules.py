"""The platform's alert rules on this product's gauges pass ``promtool check rules`` and their
firing and resolving cases pass ``promtool test rules``. promtool comes from Debian's
``prometheus`` package, which ``make setup`` installs; without it these tests fail, they do not
skip."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse_testing.promql import promtool

pytestmark = pytest.mark.unit

ALERTS = Path(__file__).resolve().parents[4] / "infrastructure" / "monitoring" / "alerts"
RULES = ALERTS / "operational-metrics.rules.yml"


def test_the_alert_rules_pass_promtool_check() -> None:
    checked = promtool("check", "rules", str(RULES))

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 6 rules found" in checked.stdout


def test_the_alert_rules_fire_and_resolve_in_promtool_unit_tests() -> None:
    tested = promtool("test", "rules", str(ALERTS / "tests" / "operational-metrics.test.yml"))

    assert tested.returncode == 0, tested.stdout + tested.stderr
