import dataclasses

import pytest
from django.utils import timezone

from tests.fakes.plugin import fake_braintree, fake_stripe  # noqa: F401


@pytest.fixture(autouse=True)
def _eager_celery():
    """Tasks run in the calling thread; nothing reaches the shared broker."""
    from billing_site.celery import app

    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = old


@pytest.fixture(autouse=True)
def _no_drain_flag():
    """The drain debounce flag lives in the shared cache; start every test without it."""
    from django.core.cache import cache

    from payments.webhooks.processing import DRAIN_FLAG

    try:
        cache.delete(DRAIN_FLAG)
    except Exception:
        pass


@pytest.fixture(autouse=True)
def _roles(request):
    """Transactional tests flush the tables, role permissions included: put them back."""
    if "django_db_setup" not in request.fixturenames and not request.node.get_closest_marker(
        "django_db"
    ):
        return
    request.getfixturevalue("django_db_setup")
    from django.db import connection

    from staff.roles import roles_apply

    if connection.settings_dict:
        request.getfixturevalue("_django_db_helper")
        roles_apply()


@pytest.fixture
def stripe_psp(settings, fake_stripe):  # noqa: F811
    settings.STRIPE_SECRET_KEY = fake_stripe.api_key
    settings.STRIPE_WEBHOOK_SECRET = fake_stripe.webhook_secret
    settings.STRIPE_API_BASE = fake_stripe.base_url
    settings.STRIPE_TIMEOUT_S = 5
    return fake_stripe


@pytest.fixture
def stripe_psp_short_timeout(stripe_psp, settings):
    settings.STRIPE_TIMEOUT_S = 0.5
    return stripe_psp


@pytest.fixture
def braintree_psp(settings, fake_braintree):  # noqa: F811
    cfg = fake_braintree.config
    settings.BRAINTREE_ENVIRONMENT = cfg.environment
    settings.BRAINTREE_MERCHANT_ID = cfg.merchant_id
    settings.BRAINTREE_PUBLIC_KEY = cfg.public_key
    settings.BRAINTREE_PRIVATE_KEY = cfg.private_key
    settings.BRAINTREE_MERCHANT_ACCOUNTS = dict(cfg.merchant_account_ids)
    settings.BRAINTREE_TIMEOUT_S = 5
    return fake_braintree


@pytest.fixture
def account(db):
    from accounts.models import Account

    return Account.objects.create(
        legal_name="Acme GmbH",
        billing_email="billing@acme.example",
        country="DE",
        currency="EUR",
        tax_status="DOMESTIC",
        created_at=timezone.now(),
    )


@pytest.fixture
def paid_payment(account, stripe_psp):
    """A 100.00 EUR card payment that succeeded at the fake Stripe."""
    from payments.services import payment_charge

    def make(amount_minor: int = 100_00, currency: str = "EUR"):
        return payment_charge(
            account=account,
            amount_minor=amount_minor,
            currency=currency,
            provider="stripe",
            payment_method_id="pm_card_visa",
        )

    return make


def short_timeout(config):
    return dataclasses.replace(config, timeout_s=0.5)
