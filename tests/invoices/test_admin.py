"""The invoice records screens: list, search, totals, and actions that go through services."""

import pytest

from invoices.models import Invoice
from invoices.services import invoice_finalize
from tests.invoices.conftest import NOW


@pytest.fixture
def invoices(account, make_draft):
    done = [
        invoice_finalize(
            invoice=make_draft(account, ("Seat", "1", str(10 * n))), now=NOW, pdf_mode="deferred"
        )
        for n in (1, 2, 3)
    ]
    return done, make_draft(account, ("Draft seat", "1", "5"))


@pytest.fixture
def admin_client(client, finance_admin, settings):
    settings.ROOT_URLCONF = "tests.invoices.urls"
    client.force_login(finance_admin)
    return client


def test_changelist_search_and_totals(admin_client, invoices):
    finalized, _ = invoices
    response = admin_client.get("/admin/invoices/invoice/")
    assert response.status_code == 200
    assert finalized[0].number in response.content.decode()
    response = admin_client.get("/admin/invoices/invoice/", {"q": finalized[1].number.lower()})
    body = response.content.decode()
    assert finalized[1].number in body and finalized[0].number not in body
    response = admin_client.get("/admin/invoices/invoice/", {"status__exact": "OPEN"})
    assert "invoice_totals" not in response.context  # a status alone may be millions of rows
    month = {"issue_date__year": "2026", "issue_date__month": "3", "status__exact": "OPEN"}
    response = admin_client.get("/admin/invoices/invoice/", month)
    totals = response.context["invoice_totals"]
    assert totals == [
        {"currency": "EUR", "net": "60,00\xa0€", "tax": "11,40\xa0€", "gross": "71,40\xa0€"}
    ]


def test_date_hierarchy_lists_the_years_and_months_with_invoices(admin_client, invoices):
    response = admin_client.get("/admin/invoices/invoice/", {"issue_date__year": "2026"})
    assert response.status_code == 200
    assert "?issue_date__month=3&amp;issue_date__year=2026" in response.content.decode()


def test_search_by_account_name_and_external_id(admin_client, invoices, account):
    for q in (account.legal_name[:6], f"ext:{account.external_id}", str(account.pk)):
        response = admin_client.get("/admin/invoices/invoice/", {"q": q})
        assert invoices[0][0].number in response.content.decode(), q


def test_finalize_and_void_actions_call_the_services(admin_client, invoices):
    finalized, draft = invoices
    response = admin_client.post(
        "/admin/invoices/invoice/", {"action": "finalize_selected", "_selected_action": [draft.pk]}
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == "OPEN" and draft.number
    # void asks for the reason first, then voids
    response = admin_client.post(
        "/admin/invoices/invoice/",
        {"action": "void_selected", "_selected_action": [finalized[0].pk]},
    )
    assert response.status_code == 200 and b"reason" in response.content
    assert Invoice.objects.get(pk=finalized[0].pk).status == "OPEN"
    admin_client.post(
        "/admin/invoices/invoice/",
        {
            "action": "void_selected",
            "_selected_action": [finalized[0].pk],
            "apply": "1",
            "reason": "Wrong customer",
        },
    )
    voided = Invoice.objects.get(pk=finalized[0].pk)
    assert (voided.status, voided.void_reason) == ("VOID", "Wrong customer")


def test_detail_page_shows_lines_read_only(admin_client, invoices):
    invoice = invoices[0][0]
    response = admin_client.get(f"/admin/invoices/invoice/{invoice.pk}/change/")
    assert response.status_code == 200
    assert b"Seat" in response.content and b"/pdf" in response.content
