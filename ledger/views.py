"""Staff screens for accountants: trial balance and the journal export."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.http import StreamingHttpResponse
from django.shortcuts import render

from common.money import Money
from ledger.export import journal_csv
from ledger.forms import AsOfForm, PeriodForm
from ledger.selectors import trial_balance


def _amount(minor: int, currency: str) -> str:
    return str(Money(minor, currency).to_decimal())


@login_required
@permission_required("ledger.export_journal", raise_exception=True)
def journal_export(request):
    """Without dates: the form. With valid dates: the CSV, streamed."""
    if not request.GET:
        return render(request, "ledger/export.html", {"form": PeriodForm()})
    form = PeriodForm(request.GET)
    if not form.is_valid():
        return render(request, "ledger/export.html", {"form": form}, status=400)
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    response = StreamingHttpResponse(
        journal_csv(start=start, end=end), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="journal_{start.isoformat()}_{end.isoformat()}.csv"'
    )
    return response


@login_required
@permission_required("ledger.view_journalentry", raise_exception=True)
def trial_balance_page(request):
    form = AsOfForm(request.GET or None)
    as_of = form.cleaned_data["as_of"] if form.is_valid() else None
    balance = trial_balance(as_of=as_of)
    rows = [
        {
            "row": row,
            "debit": _amount(row.debit_minor, row.currency),
            "credit": _amount(row.credit_minor, row.currency),
            "balance": _amount(abs(row.balance_minor), row.currency),
            "side": "debit" if row.balance_minor > 0 else "credit" if row.balance_minor else "",
        }
        for row in balance.rows
    ]
    totals = [
        {
            "currency": t.currency,
            "debit": _amount(t.debit_minor, t.currency),
            "credit": _amount(t.credit_minor, t.currency),
            "balanced": t.difference_minor == 0,
        }
        for t in balance.totals.values()
    ]
    return render(
        request,
        "ledger/trial_balance.html",
        {
            "form": form,
            "as_of": as_of,
            "rows": rows,
            "totals": totals,
            "balanced": balance.is_balanced,
            "export_form": PeriodForm(),
        },
        status=200 if form.is_valid() or not request.GET else 400,
    )
