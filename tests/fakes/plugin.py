"""pytest fixtures that start the fake PSP servers.

Each test gets a fresh server on a free port (state never leaks between tests) and a ready
gateway config pointing at it as ``fake.config``. Import the fixtures into a conftest::

    from tests.fakes.plugin import fake_braintree, fake_stripe  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from payments.gateways.base import BraintreeConfig, StripeConfig
from tests.fakes.braintree_server import FakeBraintree
from tests.fakes.stripe_server import FakeStripe


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    fake = FakeStripe().start()
    fake.config = StripeConfig(
        secret_key=fake.api_key,
        webhook_secret=fake.webhook_secret,
        api_base=fake.base_url,
        timeout_s=10,
    )
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def fake_braintree() -> Iterator[FakeBraintree]:
    fake = FakeBraintree().start()
    fake.config = BraintreeConfig(
        environment=fake.host_port,
        merchant_id=fake.merchant_id,
        public_key=fake.public_key,
        private_key=fake.private_key,
        timeout_s=10,
        merchant_account_ids={currency: acct for acct, currency in fake.merchant_accounts.items()},
    )
    try:
        yield fake
    finally:
        fake.stop()
