import datetime as dt
from decimal import Decimal

import pytest

from accounts.choices import TaxStatus
from accounts.models import Account
from catalog.choices import BillingPeriod, ChargeModel, Timing
from catalog.rating import Tier
from catalog.services import plan_create, price_create, product_create

D = Decimal
UTC = dt.UTC


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.fixture
def make_account(db):
    counter = iter(range(1, 10_000))

    def make(currency: str = "EUR", **extra) -> Account:
        n = next(counter)
        fields = {
            "legal_name": f"Customer {n} GmbH",
            "billing_email": f"billing{n}@customer.example",
            "country": "DE",
            "currency": currency,
            "tax_status": TaxStatus.DOMESTIC,
            "external_id": f"org_test_{n}",
            "created_at": at(2025, 1, 1),
        }
        fields.update(extra)
        return Account.objects.create(**fields)

    return make


@pytest.fixture
def product(db):
    return product_create(code="clusters", name="Managed clusters")


@pytest.fixture
def make_plan(product):
    """A plan with a flat in-advance fee and a graduated usage price in arrears."""

    def make(
        code: str,
        *,
        currency: str = "EUR",
        fee: str = "49",
        period: str = BillingPeriod.MONTHLY,
        trial_days: int = 0,
    ):
        plan = plan_create(
            code=code,
            name=code.title(),
            product=product,
            billing_period=period,
            currency=currency,
            trial_days=trial_days,
        )
        price_create(
            plan=plan,
            code="base",
            description=f"{code} fee",
            charge_model=ChargeModel.FLAT,
            timing=Timing.IN_ADVANCE,
            unit_amount=D(fee),
        )
        price_create(
            plan=plan,
            code="cluster_hours",
            description="Cluster hours",
            charge_model=ChargeModel.GRADUATED,
            timing=Timing.IN_ARREARS,
            tiers=[Tier(D(100), D("0.12")), Tier(None, D("0.10"))],
        )
        return plan

    return make
