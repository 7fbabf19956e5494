from datetime import UTC, datetime

import pytest

from accounts.models import Account
from metering.models import Meter

T0 = datetime(2026, 9, 1, tzinfo=UTC)


@pytest.fixture
def make_account(db):
    counter = iter(range(1, 10_000))

    def make(external_id: str | None = None, created_at: datetime = T0, **extra) -> Account:
        n = next(counter)
        return Account.objects.create(
            legal_name=extra.pop("legal_name", f"Customer {n} GmbH"),
            billing_email=f"billing{n}@customer.example",
            country="DE",
            currency="EUR",
            tax_status="DOMESTIC",
            external_id=external_id,
            created_at=created_at,
            **extra,
        )

    return make


@pytest.fixture
def make_meter(db):
    def make(code: str = "cluster_hours", aggregation: str = "SUM", **extra) -> Meter:
        defaults = {
            "name": code.replace("_", " ").capitalize(),
            "unit": "hours",
            "value_property": "hours" if aggregation in ("SUM", "MAX", "LATEST") else "",
        }
        defaults.update(extra)
        return Meter.objects.create(code=code, aggregation=aggregation, **defaults)

    return make


@pytest.fixture
def usage_client(api_client, api_key_factory):
    _, raw = api_key_factory("usage:write", "usage:read", "meters:read", "meters:write")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return api_client


def event(n, *, account, meter="cluster_hours", ts="2026-10-05T10:00:00Z", **properties):
    if not properties:
        properties = {"hours": "1.5"}
    return {
        "id": f"evt-{n}",
        "account": account,
        "meter": meter,
        "timestamp": ts,
        "properties": properties,
    }
