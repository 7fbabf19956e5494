import pytest


@pytest.mark.django_db
def test_healthz_reports_database_and_broker(client):
    response = client.get("/healthz")
    body = response.json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True
    assert response.status_code == 200


@pytest.mark.django_db
def test_unknown_api_path_is_a_problem_document(client):
    response = client.get("/api/v1/does-not-exist")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"
