import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from lakehouse_core.serving.auth import API_KEY_HEADER, install_api_keys, require_role

pytestmark = pytest.mark.unit


def make_client(keys: dict[str, list[str]] | None) -> TestClient:
    app = FastAPI()
    if keys is not None:
        install_api_keys(app, keys)

    @app.get("/aggregate", dependencies=[Depends(require_role("analyst", open_when_no_keys=True))])
    def aggregate() -> str:
        return "aggregate"

    @app.get("/personal", dependencies=[Depends(require_role("user_reader"))])
    def personal() -> str:
        return "personal"

    return TestClient(app)


KEYS = {"k-analyst": ["analyst"], "k-both": ["analyst", "user_reader"]}


def test_a_key_with_the_role_passes() -> None:
    client = make_client(KEYS)
    assert client.get("/aggregate", headers={API_KEY_HEADER: "k-analyst"}).json() == "aggregate"
    assert client.get("/personal", headers={API_KEY_HEADER: "k-both"}).json() == "personal"


@pytest.mark.parametrize("headers", [{}, {API_KEY_HEADER: ""}])
def test_missing_key_is_401(headers: dict[str, str]) -> None:
    response = make_client(KEYS).get("/aggregate", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"detail": "missing X-API-Key header"}
    assert response.headers["WWW-Authenticate"] == API_KEY_HEADER


def test_unknown_key_is_401() -> None:
    response = make_client(KEYS).get("/aggregate", headers={API_KEY_HEADER: "k-analys"})
    assert response.status_code == 401
    assert response.json() == {"detail": "unknown API key"}


def test_key_without_the_role_is_403() -> None:
    response = make_client(KEYS).get("/personal", headers={API_KEY_HEADER: "k-analyst"})
    assert response.status_code == 403
    assert response.json() == {"detail": "this API key does not have role 'user_reader'"}


def test_without_keys_aggregates_are_open_and_personal_data_is_refused() -> None:
    client = make_client({})
    assert client.get("/aggregate").json() == "aggregate"
    assert client.get("/aggregate", headers={API_KEY_HEADER: "anything"}).status_code == 200
    response = client.get("/personal", headers={API_KEY_HEADER: "anything"})
    assert response.status_code == 403
    assert response.json() == {
        "detail": "this endpoint requires role 'user_reader' and no API keys are configured; "
        "configure a key with role 'user_reader' to use it"
    }


def test_guarding_without_installed_keys_fails_loudly() -> None:
    client = TestClient(make_client(None).app, raise_server_exceptions=True)
    with pytest.raises(RuntimeError, match="install_api_keys was never called"):
        client.get("/aggregate")


def test_a_route_for_several_roles_admits_a_key_with_any_of_them() -> None:
    app = FastAPI()
    install_api_keys(app, {"officer": ["privacy_officer"], "auditor": ["auditor"], "analyst": ["analyst"]})

    @app.get("/audit", dependencies=[Depends(require_role("auditor", "privacy_officer"))])
    def audit() -> dict[str, bool]:
        return {"ok": True}

    client = TestClient(app)
    assert client.get("/audit", headers={API_KEY_HEADER: "officer"}).status_code == 200
    assert client.get("/audit", headers={API_KEY_HEADER: "auditor"}).status_code == 200
    refused = client.get("/audit", headers={API_KEY_HEADER: "analyst"})
    assert refused.status_code == 403
    assert refused.json() == {
        "detail": "this API key does not have any of the roles 'auditor' or 'privacy_officer'"
    }
