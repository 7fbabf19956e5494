from tests.fakes.plugin import fake_braintree, fake_stripe  # noqa: F401
