"""The OpenAPI description: generated without warnings, every endpoint with its payloads."""

from __future__ import annotations

import pytest
from drf_spectacular.checks import schema_check
from drf_spectacular.drainage import GENERATOR_STATS

PROBLEM = "application/problem+json"


@pytest.fixture
def schema(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def _ref(content: dict) -> str:
    schema = content["schema"]
    return schema.get("$ref", "").rsplit("/", 1)[-1]


def test_the_deploy_check_finds_nothing():
    GENERATOR_STATS.reset()
    assert schema_check(None) == []


def test_every_endpoint_is_described(schema):
    paths = schema["paths"]
    expected = {
        "/api/v1/accounts": {"post"},
        "/api/v1/accounts/{ref}": {"get", "patch"},
        "/api/v1/accounts/{ref}/usage": {"get"},
        "/api/v1/meters": {"get", "post"},
        "/api/v1/usage-events": {"post"},
        "/api/v1/usage-events/void": {"post"},
        "/api/v1/payments/{id}": {"get"},
        "/api/v1/payments/{id}/refunds": {"post"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))
    assert schema["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
    }


def test_payloads_name_real_serializers(schema):
    paths = schema["paths"]
    refund = paths["/api/v1/payments/{id}/refunds"]["post"]
    assert _ref(refund["requestBody"]["content"]["application/json"]) == "RefundCreate"
    assert _ref(refund["responses"]["201"]["content"]["application/json"]) == "Refund"
    assert _ref(refund["responses"]["202"]["content"]["application/json"]) == "Refund"
    assert sorted(p["name"] for p in refund["parameters"]) == ["Idempotency-Key", "id"]

    ingest = paths["/api/v1/usage-events"]["post"]
    assert _ref(ingest["requestBody"]["content"]["application/json"]) == "UsageEventBatch"
    result = schema["components"]["schemas"]["UsageEventBatchResult"]["properties"]
    assert {"results", "accepted", "duplicate", "rejected"} <= set(result)

    account = paths["/api/v1/accounts/{ref}"]
    assert _ref(account["get"]["responses"]["200"]["content"]["application/json"]) == "Account"
    patch_body = account["patch"]["requestBody"]["content"]["application/json"]
    assert _ref(patch_body) == "PatchedAccountWrite"

    meters = paths["/api/v1/meters"]["get"]["responses"]["200"]["content"]["application/json"]
    assert _ref(meters) == "MeterPage"


def test_errors_are_problem_documents(schema):
    problem = schema["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            if method not in ("get", "post", "patch", "put", "delete"):
                continue
            for status in ("401", "403"):
                content = operation["responses"][status]["content"]
                assert _ref(content[PROBLEM]) == "Problem", (path, method, status)
