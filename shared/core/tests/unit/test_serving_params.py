from datetime import date

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from lakehouse_core.serving.params import DateRange, Page, Pagination, PaginationQuery, date_range_dependency

pytestmark = pytest.mark.unit

TODAY = date(2024, 3, 10)


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    dates_dependency = date_range_dependency(default_days=7, max_days=31, today=lambda: TODAY)

    @app.get("/range")
    def read_range(dates: DateRange = Depends(dates_dependency)) -> dict[str, object]:  # noqa: B008
        return {"start": dates.start, "end": dates.end, "days": dates.days}

    @app.get("/items", response_model=Page[int])
    def items(page: PaginationQuery) -> Page[int]:
        return Page.of(list(range(10)), page)

    return TestClient(app)


def test_date_range_defaults_end_today_and_start_default_days_before(client: TestClient) -> None:
    assert client.get("/range").json() == {"start": "2024-03-04", "end": "2024-03-10", "days": 7}
    assert client.get("/range", params={"end": "2024-01-31"}).json()["start"] == "2024-01-25"
    assert client.get("/range", params={"start": "2024-03-01"}).json() == {
        "start": "2024-03-01",
        "end": "2024-03-10",
        "days": 10,
    }


def test_a_default_start_before_year_one_is_the_first_date_not_a_crash(client: TestClient) -> None:
    answer = client.get("/range", params={"end": "0001-01-03"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"start": "0001-01-01", "end": "0001-01-03", "days": 3}


def test_one_day_range_is_allowed(client: TestClient) -> None:
    assert client.get("/range", params={"start": "2024-02-29", "end": "2024-02-29"}).json()["days"] == 1


def test_end_before_start_is_a_400_naming_both(client: TestClient) -> None:
    response = client.get("/range", params={"start": "2024-03-05", "end": "2024-03-01"})
    assert response.status_code == 400
    assert response.json() == {
        "detail": "end (2024-03-01) is before start (2024-03-05); end must be on or after start"
    }


def test_range_longer_than_the_limit_is_a_400(client: TestClient) -> None:
    assert client.get("/range", params={"start": "2024-01-01", "end": "2024-01-31"}).status_code == 200
    response = client.get("/range", params={"start": "2024-01-01", "end": "2024-02-01"})
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "start (2024-01-01) to end (2024-02-01) spans 32 days; at most 31 days per request"
    )


def test_a_date_that_is_not_iso_is_a_422_naming_the_parameter(client: TestClient) -> None:
    response = client.get("/range", params={"start": "yesterday"})
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["query", "start"]]


def test_pagination_pages_and_next_offset(client: TestClient) -> None:
    assert client.get("/items").json() == {
        "items": list(range(10)),
        "total": 10,
        "limit": 50,
        "offset": 0,
        "next_offset": None,
    }
    assert client.get("/items", params={"limit": 4, "offset": 4}).json() == {
        "items": [4, 5, 6, 7],
        "total": 10,
        "limit": 4,
        "offset": 4,
        "next_offset": 8,
    }
    assert client.get("/items", params={"limit": 4, "offset": 8}).json()["next_offset"] is None
    assert client.get("/items", params={"limit": 5, "offset": 5}).json()["next_offset"] is None
    assert client.get("/items", params={"offset": 10}).json()["items"] == []


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"offset": -1}, "offset"),
        ({"limit": "x"}, "limit"),
    ],
)
def test_pagination_bounds_are_422_naming_the_parameter(
    client: TestClient, params: dict[str, object], parameter: str
) -> None:
    response = client.get("/items", params=params)
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["query", parameter]]


def test_page_size_limit_1000_is_allowed(client: TestClient) -> None:
    assert client.get("/items", params={"limit": 1000}).json()["limit"] == 1000


def test_page_of_an_empty_result() -> None:
    assert Page.of([], Pagination(limit=5, offset=0)).model_dump() == {
        "items": [],
        "total": 0,
        "limit": 5,
        "offset": 0,
        "next_offset": None,
    }
