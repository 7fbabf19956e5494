import io

import pytest

from payments.models import Payment, Refund


@pytest.mark.django_db
def test_demo_seed_is_idempotent(account):
    from payments.demo import seed

    seed(out=io.StringIO())
    counts = (Payment.objects.count(), Refund.objects.count())
    seed(out=io.StringIO())
    assert (Payment.objects.count(), Refund.objects.count()) == counts
    statuses = set(Payment.objects.values_list("status", flat=True))
    assert {"SUCCEEDED", "FAILED"} <= statuses
    assert Payment.objects.filter(provider="bank", method="bank_transfer").count() == 1
    assert (
        Payment.objects.filter(decline_code="expired_card").exists()
        or Payment.objects.filter(status="FAILED").exclude(decline_code="").exists()
    )
    assert Refund.objects.get().status == "SUCCEEDED"
