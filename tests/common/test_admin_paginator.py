"""The shared fast changelist: no full count, a constant number of queries, keyset paging."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Account
from common.admin import CURSOR_VAR, FastAdminMixin, FastPaginator
from metering.models import Meter, UsageEvent

T0 = datetime(2026, 9, 1, tzinfo=UTC)
EVENTS_URL = "/admin/metering/usageevent/"
ACCOUNTS_URL = "/admin/accounts/account/"


@pytest.fixture
def meter(db):
    return Meter.objects.create(
        code="cluster_hours", name="Cluster hours", unit="h", aggregation="SUM",
        value_property="hours",
    )  # fmt: skip


def make_accounts(n: int, start: int = 0) -> list[Account]:
    return Account.objects.bulk_create(
        [
            Account(
                legal_name=f"Kunde {i:04d} GmbH",
                billing_email=f"k{i}@example.com",
                country="DE",
                currency="EUR",
                tax_status="DOMESTIC",
                external_id=f"org_{i}",
                created_at=T0,
            )
            for i in range(start, start + n)
        ]
    )


def make_events(account: Account, meter: Meter, n: int) -> list[int]:
    UsageEvent.objects.bulk_create(
        [
            UsageEvent(
                account=account, meter=meter, event_id=f"e{i}", ts=T0 + timedelta(minutes=i),
                quantity=Decimal(1), received_at=T0,
            )
            for i in range(n)
        ]
    )  # fmt: skip
    return list(UsageEvent.objects.order_by("-id").values_list("pk", flat=True))


def _queries(client, url, params=None):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return response, [q["sql"] for q in captured]


def _bare_counts(sqls: list[str]) -> list[str]:
    """COUNT(*) statements that are not bounded by an inner LIMIT."""
    return [s for s in sqls if re.search(r"COUNT\(", s, re.I) and " LIMIT " not in s.upper()]


def _fast_changelists() -> list[str]:
    return [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model, model_admin in admin.site._registry.items()
        if isinstance(model_admin, FastAdminMixin)
    ]


def test_the_big_lists_use_the_shared_changelist():
    urls = _fast_changelists()
    for name in (
        "invoices/invoice", "metering/usageevent", "payments/payment", "payments/refund",
        "payments/webhookdelivery", "ledger/journalentry", "ledger/journalline",
        "accounts/account",
    ):  # fmt: skip
        assert f"/admin/{name}/" in urls


@pytest.mark.parametrize("url", _fast_changelists())
def test_every_fast_changelist_renders_without_a_full_count(admin_client, meter, url):
    account = make_accounts(1)[0]
    make_events(account, meter, 3)
    response, sqls = _queries(admin_client, url)
    assert _bare_counts(sqls) == [], sqls
    response, sqls = _queries(admin_client, url, {"q": "Kunde"})
    assert _bare_counts(sqls) == [], sqls


def test_queries_per_page_do_not_grow_with_rows(admin_client, meter, monkeypatch):
    account = make_accounts(1)[0]
    make_events(account, meter, 3)
    _, few = _queries(admin_client, EVENTS_URL)
    ids = make_events(make_accounts(1, start=1)[0], meter, 180)
    response, many = _queries(admin_client, EVENTS_URL)
    assert len(response.context["cl"].result_list) == 50
    assert len(many) == len(few)

    # Past the count cap (here lowered to 40 rows), as on a big table: the first page reads the
    # estimate, a deep page and a filtered page count up to the cap; one query each.
    monkeypatch.setattr(FastPaginator, "count_cap", 40)
    Meter.objects.create(code="egress", name="Egress", unit="GB", aggregation="COUNT")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE metering_usageevent")
    _, first = _queries(admin_client, EVENTS_URL)
    _, deep = _queries(admin_client, EVENTS_URL, {CURSOR_VAR: ids[100]})
    _, filtered = _queries(admin_client, EVENTS_URL, {"meter__id__exact": meter.pk})
    assert len(first) == len(deep) == len(filtered)
    assert _bare_counts(few + many + first + deep + filtered) == []

    make_accounts(3, start=10)
    _, accounts_few = _queries(admin_client, ACCOUNTS_URL)
    make_accounts(150, start=100)
    response, accounts_many = _queries(admin_client, ACCOUNTS_URL)
    assert len(response.context["cl"].result_list) == 100
    assert len(accounts_many) == len(accounts_few)


def test_next_links_walk_every_row_once_newest_first(admin_client, meter):
    account = make_accounts(1)[0]
    ids = make_events(account, meter, 130)
    seen, params, pages = [], {}, 0
    while True:
        response = admin_client.get(EVENTS_URL, params)
        cl = response.context["cl"]
        seen += [event.pk for event in cl.result_list]
        pages += 1
        if not cl.next_page_url:
            break
        assert CURSOR_VAR in cl.next_page_url and "p=" not in cl.next_page_url
        assert f'href="{cl.next_page_url}"'.replace("&", "&amp;") in response.content.decode()
        params = dict(pair.split("=") for pair in cl.next_page_url.lstrip("?").split("&"))
    assert seen == ids
    assert pages == 3
    # A later page links back to the first; filters and searches start from the top again.
    assert cl.first_page_url == "?"
    assert CURSOR_VAR not in cl.get_query_string({"meter__id__exact": meter.pk})


def test_next_link_keeps_the_filters(admin_client, meter):
    other = Meter.objects.create(code="egress", name="Egress", unit="GB", aggregation="COUNT")
    account = make_accounts(1)[0]
    make_events(account, meter, 60)
    UsageEvent.objects.bulk_create(
        [
            UsageEvent(
                account=account, meter=other, event_id=f"x{i}", ts=T0, quantity=Decimal(1),
                received_at=T0,
            )
            for i in range(60)
        ]
    )  # fmt: skip
    first = admin_client.get(EVENTS_URL, {"meter__id__exact": meter.pk}).context["cl"]
    assert f"meter__id__exact={meter.pk}" in first.next_page_url
    params = dict(pair.split("=") for pair in first.next_page_url.lstrip("?").split("&"))
    second = admin_client.get(EVENTS_URL, params).context["cl"]
    assert {e.meter_id for e in second.result_list} == {meter.pk}
    assert len(first.result_list) + len(second.result_list) == 60
    assert not second.next_page_url


def test_counts_are_estimated_or_capped(admin_client, meter, monkeypatch):
    monkeypatch.setattr(FastPaginator, "count_cap", 60)
    # With a single meter Django hides (and ignores) the meter filter.
    Meter.objects.create(code="egress", name="Egress", unit="GB", aggregation="COUNT")
    account = make_accounts(1)[0]
    make_events(account, meter, 120)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE metering_usageevent")
    response, sqls = _queries(admin_client, EVENTS_URL)
    assert not [s for s in sqls if "COUNT(" in s.upper()]  # the planner's estimate only
    assert "about 120 usage events" in response.content.decode()
    response, sqls = _queries(admin_client, EVENTS_URL, {"meter__id__exact": meter.pk})
    assert "60+ usage events" in response.content.decode()
    assert _bare_counts(sqls) == []
    response = admin_client.get(EVENTS_URL, {"q": f"{account.pk} e7"})
    assert "1 usage event" in response.content.decode()


def test_sorted_by_a_column_pages_by_number(admin_client, meter):
    account = make_accounts(1)[0]
    make_events(account, meter, 120)
    ordered = list(UsageEvent.objects.order_by("ts", "-pk").values_list("pk", flat=True))
    column = UsageEventAdminColumn.ts
    cl = admin_client.get(EVENTS_URL, {"o": column}).context["cl"]
    assert cl.next_page_url == f"?o={column}&p=2" and not cl.previous_page_url
    cl = admin_client.get(EVENTS_URL, {"o": column, "p": 2}).context["cl"]
    assert [e.pk for e in cl.result_list] == ordered[50:100]
    assert cl.previous_page_url == f"?o={column}&p=1"


class UsageEventAdminColumn:
    ts = str(admin.site._registry[UsageEvent].list_display.index("ts") + 1)
