"""Weekly retention cohorts."""

from __future__ import annotations

from lakehouse_core.delta_reader import DeltaReader
from lakehouse_core.serving.arrow import between
from lakehouse_core.serving.tables import ServedTable
from web_user_analytics.contracts import RetentionCohort
from web_user_analytics.serving.params import WeekRange


def cohorts(table: ServedTable, weeks: WeekRange) -> list[RetentionCohort]:
    """Cohorts first seen from ``from_week`` to ``to_week``, by cohort week then week offset."""

    def compute(reader: DeltaReader) -> list[RetentionCohort]:
        rows = reader.read(filter=between("cohort_week", weeks.from_week, weeks.to_week))
        ordered = rows.sort_by([("cohort_week", "ascending"), ("week_offset", "ascending")])
        return [RetentionCohort.model_validate(row) for row in ordered.to_pylist()]

    return table.query(("retention", weeks), compute)
