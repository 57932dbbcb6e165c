"""Install cohorts: devices that installed on a day, and how many came back on day 1, 7 and 30."""

from __future__ import annotations

from lakehouse_core.delta_reader import DeltaReader
from lakehouse_core.serving.arrow import SortOrder, between, ratio, to_models, where
from lakehouse_core.serving.params import DateRange
from lakehouse_core.serving.tables import ServedTable
from mobile_user_analytics.contracts import InstallCohort
from mobile_user_analytics.serving.params import ALL, Platform
from mobile_user_analytics.serving.queries.platforms import across_platforms

_COUNTS = ["installs", "retained_d1", "retained_d7", "retained_d30"]
_ORDER: SortOrder = [("install_date", "ascending")]


def install_cohorts(table: ServedTable, dates: DateRange, *, platform: Platform) -> list[InstallCohort]:
    """Cohorts that installed in ``dates``, by install date. ``ios``/``android``: the gold rows;
    ``all``: installs and returns summed over platforms, retention recomputed from the sums."""

    def compute(reader: DeltaReader) -> list[InstallCohort]:
        window = between("install_date", dates.start, dates.end)
        if platform != ALL:
            return to_models(reader.read(filter=where(window, {"platform": platform})), InstallCohort, _ORDER)
        return [
            InstallCohort(
                **row,
                platform=ALL,
                retention_d1=ratio(row["retained_d1"], row["installs"]),
                retention_d7=ratio(row["retained_d7"], row["installs"]),
                retention_d30=ratio(row["retained_d30"], row["installs"]),
            )
            for row in across_platforms(reader.read(filter=window), ["install_date"], _COUNTS, _ORDER)
        ]

    return table.query(("installs", dates, platform), compute)
