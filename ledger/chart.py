"""The chart of accounts, SKR03-style numbers (the DATEV standard chart most German firms use).

kind                 code        SKR03 meaning                              type
-------------------  ----------  -----------------------------------------  ---------
bank                 1200        Bank                                       asset
payouts_in_transit   1360        Geldtransit                                asset
psp_clearing         1361-1369   Geldtransit, one sub-account per PSP:      asset
                                 stripe 1361, braintree 1362, adyen 1363,
                                 paypal 1364, marketplace 1365; another
                                 provider gets the next free of 1366-1369
receivables          1400        Forderungen aus Lieferungen und Leistungen asset
customer_credit      1710        Erhaltene Anzahlungen (customer credit is  liability
                                 money we owe the customer until used)
vat_payable          1776        Umsatzsteuer 19 %                          liability
bad_debt             2400        Forderungsverluste                         expense
psp_fees             4970        Nebenkosten des Geldverkehrs               expense
chargebacks          4971        Nebenkosten des Geldverkehrs: chargebacks  expense
revenue              8400        Erlöse, product "general"; every other     revenue
                     8401-8499   product gets the next free number on its
                                 first posting (the row remembers it)
refunds              8700        Erlösschmälerungen                         revenue

Tax treatment (domestic 19 %, EU reverse charge, outside the EU) is carried by each line's
``tax_code``, not by separate revenue accounts, so one product has one revenue account.

Accounts are rows created on demand by ``code()``: a fresh database, or one a test emptied,
needs no separate seeding step. ``ensure_chart()`` creates the fixed rows up front (a data
migration runs it) so the admin shows the whole chart from day one.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from ledger.choices import AccountType
from ledger.exceptions import UnknownChartKind

# kind -> (code, name, type)
FIXED: dict[str, tuple[str, str, str]] = {
    "bank": ("1200", "Bank", AccountType.ASSET),
    "payouts_in_transit": ("1360", "Geldtransit (payouts in transit)", AccountType.ASSET),
    "receivables": ("1400", "Forderungen aus L+L (receivables)", AccountType.ASSET),
    "customer_credit": ("1710", "Erhaltene Anzahlungen (customer credit)", AccountType.LIABILITY),
    "vat_payable": ("1776", "Umsatzsteuer 19 % (VAT payable)", AccountType.LIABILITY),
    "bad_debt": ("2400", "Forderungsverluste (bad debt)", AccountType.EXPENSE),
    "psp_fees": ("4970", "Nebenkosten des Geldverkehrs (PSP fees)", AccountType.EXPENSE),
    "chargebacks": ("4971", "Rückbelastungen (chargebacks)", AccountType.EXPENSE),
    "refunds": ("8700", "Erlösschmälerungen (refunds)", AccountType.REVENUE),
}

PSP_CLEARING_CODES: dict[str, str] = {
    "stripe": "1361",
    "braintree": "1362",
    "adyen": "1363",
    "paypal": "1364",
    "marketplace": "1365",
}
PSP_CLEARING_SPARE = range(1366, 1370)

DEFAULT_PRODUCT = "general"
REVENUE_DEFAULT_CODE = "8400"
REVENUE_SPARE = range(8401, 8500)

KINDS = frozenset(FIXED) | {"psp_clearing", "revenue"}


def _account_model():
    from ledger.models import LedgerAccount

    return LedgerAccount


def code(kind: str, *, provider: str | None = None, product: str | None = None) -> str:
    """The account code for ``kind``; creates the account row on first use."""
    if kind in FIXED:
        if provider or product:
            raise UnknownChartKind(f"'{kind}' is one account; it takes no provider or product.")
        number, name, type_ = FIXED[kind]
        return _ensure(kind=kind, key="", number=number, name=name, type_=type_)
    if kind == "psp_clearing":
        if not provider:
            raise UnknownChartKind("psp_clearing needs the provider, e.g. provider='stripe'.")
        key = provider.strip().lower()
        return _ensure(
            kind=kind,
            key=key,
            number=PSP_CLEARING_CODES.get(key),
            spare=PSP_CLEARING_SPARE,
            name=f"Geldtransit {key} (PSP clearing)",
            type_=AccountType.ASSET,
        )
    if kind == "revenue":
        key = (product or DEFAULT_PRODUCT).strip()
        return _ensure(
            kind=kind,
            key=key,
            number=REVENUE_DEFAULT_CODE if key == DEFAULT_PRODUCT else None,
            spare=REVENUE_SPARE,
            name=f"Erlöse {key} (revenue)",
            type_=AccountType.REVENUE,
        )
    raise UnknownChartKind(
        f"The chart has no kind '{kind}'. Known kinds: {', '.join(sorted(KINDS))}.", kind=kind
    )


def _ensure(
    *, kind: str, key: str, number: str | None, name: str, type_: str, spare: range = range(0)
) -> str:
    LedgerAccount = _account_model()
    for _attempt in range(5):
        existing = (
            LedgerAccount.objects.filter(kind=kind, key=key).values_list("code", flat=True).first()
        )
        if existing:
            return existing
        candidate = number or _next_free(LedgerAccount, spare)
        if candidate is None:
            raise UnknownChartKind(
                f"No free account number left for {kind} '{key}' ({spare.start}-{spare.stop - 1}).",
                kind=kind,
            )
        try:
            # A savepoint: a concurrent creator of the same row must not break our transaction.
            with transaction.atomic():
                account = LedgerAccount(code=candidate, kind=kind, key=key, name=name, type=type_)
                # Created by the system, not by whoever's request happens to post; and an API
                # key's principal is no User row for the history to point at.
                account._history_user = None
                account.save()
            return candidate
        except IntegrityError:
            continue  # someone else took the kind/key or the number: look again
    raise UnknownChartKind(f"Could not allocate an account for {kind} '{key}'; try again.")


def _next_free(model, spare: range) -> str | None:
    used = set(
        model.objects.filter(code__gte=str(spare.start), code__lte=str(spare.stop - 1)).values_list(
            "code", flat=True
        )
    )
    return next((str(n) for n in spare if str(n) not in used), None)


def ensure_chart() -> list[str]:
    """Create the fixed accounts, the known PSP clearing accounts and the default revenue."""
    codes = [code(kind) for kind in FIXED]
    codes += [code("psp_clearing", provider=p) for p in PSP_CLEARING_CODES]
    codes.append(code("revenue"))
    return codes
