"""The API in-process: status codes, error bodies, and nothing internal in any answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from trust.demo.environment import seed_users
from trust.errors import ConfigurationError, QueryFailed
from trust.server.app import create_app
from trust.service import Trust


@pytest.fixture
def offline(trust_home: Path) -> Trust:
    """A trust with users but no departments: enough for everything but queries."""
    t = Trust.open(trust_home)
    seed_users(t)
    return t


@pytest.fixture
def api(offline: Trust) -> TestClient:
    client = TestClient(create_app(offline, workers=2), raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {offline.access.issue_token('ana').secret}"
    return client


def _no_internals(text: str) -> None:
    for leak in ("Traceback", 'File "', ".py", "state.db", "credentials", "secret", "12345"):
        assert leak not in text, leak


def test_an_internal_error_says_only_that_it_was_logged(api: TestClient, offline: Trust, monkeypatch, trust_home):
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("row value 12345 from /srv/trust/state.db")

    monkeypatch.setattr(offline.queries, "outputs", boom)
    r = api.get("/v1/outputs")
    assert r.status_code == 500
    body = r.json()
    assert body["error"] == "internal_error" and body["reference"] in body["message"]
    _no_internals(r.text)


def test_a_configuration_error_is_not_shown_to_analysts(api: TestClient, offline: Trust, monkeypatch):
    def misconfigured(*args: object, **kwargs: object) -> None:
        raise ConfigurationError("Credential 'hmrc' secret=12345 is not held by this trust. Add it to /etc/trust.toml")

    monkeypatch.setattr(offline.catalog, "for_user", misconfigured)
    r = api.get("/v1/catalog")
    assert r.status_code == 500 and r.json()["error"] == "internal_error"
    _no_internals(r.text)


def test_a_safe_engine_failure_keeps_its_message(api: TestClient, offline: Trust, monkeypatch):
    monkeypatch.setattr(
        offline.queries,
        "outputs",
        lambda *a, **k: (_ for _ in ()).throw(QueryFailed("The query needed more memory than the trust allows.")),
    )
    r = api.get("/v1/outputs")
    assert r.status_code == 500
    assert r.json() == {
        "error": "query_failed",
        "type": "QueryFailed",
        "message": "The query needed more memory than the trust allows.",
    }


def test_malformed_requests_are_400_without_echoing_them(api: TestClient):
    r = api.post("/v1/queries", json={"sequel": "SELECT 'secret'"})
    assert r.status_code == 400 and r.json()["error"] == "bad_request"
    assert "secret" not in r.text and "sql" in r.json()["message"]
    r = api.post("/v1/queries", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400


def test_bodies_over_the_limit_are_refused(api: TestClient):
    r = api.post("/v1/queries", content=b"x" * 1_100_000, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "too_large"


def test_unknown_paths_are_404_once_authenticated_and_401_before(api: TestClient):
    assert api.get("/v1/nothing-here").status_code == 404
    assert api.delete("/v1/outputs").status_code == 405
    anonymous = TestClient(api.app, raise_server_exceptions=False)
    assert anonymous.get("/v1/nothing-here").status_code == 401
    assert anonymous.get("/v1/openapi.json").status_code == 401
    assert api.get("/v1/openapi.json").status_code == 200
    assert anonymous.get("/docs").status_code == 401


def test_unknown_project_outputs_and_names(api: TestClient):
    r = api.get("/v1/outputs", params={"project": "demo-employment-suport"})
    assert r.status_code == 404 and "Did you mean 'demo-employment-support'" in r.json()["message"]
    r = api.get("/v1/outputs/out-doesnotexist")
    assert r.status_code == 404 and r.json()["error"] == "unknown_name"
    r = api.get("/v1/queries/q-doesnotexist")
    assert r.status_code == 404


def test_me_and_health(api: TestClient):
    with api:  # runs the lifespan (no departments here: every dataset is unavailable, the server answers)
        me = api.get("/v1/me").json()
        assert me["user"] == "ana" and "demo-employment-support" in [p["id"] for p in me["projects"]]
        health = api.get("/v1/health").json()
        assert health["status"] == "degraded" and health["queries"] == {"queued": 0, "running": 0}
        by_id = {d["id"]: d for d in health["datasets"]}
        assert by_id["dwp.uc_claims"]["status"] == "unavailable" and by_id["dwp.uc_claims"]["department"] == "DWP"
        assert "not configured" in by_id["dwp.uc_claims"]["reason"]  # the reason, not the operators' detail
        assert "DWP_DATA_URL" not in json.dumps(health)
