import io
from datetime import UTC, datetime

import pytest
import time_machine

from metering import demo
from metering.models import Meter, UsageEvent


@pytest.mark.django_db
@time_machine.travel(datetime(2026, 10, 1, tzinfo=UTC), tick=False)
def test_demo_is_idempotent(make_account):
    make_account(external_id="org_demo", created_at=datetime(2026, 8, 1, tzinfo=UTC))
    make_account(created_at=datetime(2026, 9, 15, 12, 30, tzinfo=UTC))
    first = io.StringIO()
    demo.seed(out=first)
    assert " 0 refused" in first.getvalue()
    count = UsageEvent.objects.count()
    assert set(Meter.objects.values_list("code", flat=True)) >= {
        "cluster_hours",
        "storage_gb_hours",
        "egress_gb",
        "api_calls",
    }
    # September hourly from each account's first full hour (15 Sep 13:00); nothing future
    assert UsageEvent.objects.filter(meter__code="cluster_hours").count() == 720 + 371
    assert not UsageEvent.objects.filter(ts__gte=datetime(2026, 10, 1, tzinfo=UTC)).exists()
    out = io.StringIO()
    demo.seed(out=out)
    assert UsageEvent.objects.count() == count
    assert " 0 new" in out.getvalue()
