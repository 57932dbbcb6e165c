from __future__ import annotations

import pytest

from tests.monitoring.promql import exported_names, metric_names

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        (
            'histogram_quantile(0.99, sum by (job, le) (rate(a_bucket{x="b c"}[5m]))) > 1 '
            "and on (job) b_gauge == 1 unless ignoring (le) c_total offset 5m",
            {"a_bucket", "b_gauge", "c_total"},
        ),
        (
            'sum by (product) (rate(a_total{x="b c"}[5m])) > 4 * 3600 and on (product) b_gauge == 1',
            {"a_total", "b_gauge"},
        ),
    ],
)
def test_metric_names_of_an_expression(expression: str, names: set[str]) -> None:
    assert metric_names(expression) == names


def test_exported_names_include_the_samples_of_families_without_any() -> None:
    exposition = (
        "# HELP x_total X.\n# TYPE x_total counter\n"
        "# HELP h H.\n# TYPE h histogram\n"
        'h_bucket{le="+Inf"} 1.0\nh_count 1.0\nh_sum 0.5\n'
        "# HELP g G.\n# TYPE g gauge\ng 3.0\n"
    )

    assert {"x_total", "h_bucket", "h_count", "h_sum", "g"} <= exported_names(exposition)
    assert "g_total" not in exported_names(exposition)
