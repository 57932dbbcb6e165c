from datetime import date

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from web_user_analytics.serving.params import WeekRangeQuery

pytestmark = pytest.mark.unit


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()

    @app.get("/weeks")
    def read_weeks(weeks: WeekRangeQuery) -> dict[str, date]:
        return {"from_week": weeks.from_week, "to_week": weeks.to_week}

    return TestClient(app)


def test_a_default_first_cohort_before_year_one_is_the_first_monday_not_a_crash(client: TestClient) -> None:
    answer = client.get("/weeks", params={"to_week": "0001-01-15"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"from_week": "0001-01-01", "to_week": "0001-01-15"}


def test_a_week_that_is_not_a_monday_is_a_400_naming_the_monday(client: TestClient) -> None:
    answer = client.get("/weeks", params={"from_week": "2024-01-03"})
    assert answer.status_code == 400
    assert "2024-01-01" in answer.json()["detail"]
