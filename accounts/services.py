"""Writes to customer accounts. Every input is checked before anything is written."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.choices import ACCOUNT_TRANSITIONS, AccountStatus, Language, Provider, TaxStatus
from accounts.exceptions import (
    AccountClosed,
    AccountExists,
    AccountNotFound,
    InvalidAccountField,
    PspCustomerTaken,
    TaxStatusMismatch,
    field_error,
)
from accounts.models import Account, Contact, PspCustomer
from accounts.tax import SELLER_COUNTRY, default_tax_status
from accounts.vat import is_eu, normalise_country, normalise_vat_id
from common.exceptions import InvalidTransition
from common.money import UnknownCurrency, is_known_currency
from staff.exceptions import ReasonRequired

__all__ = [
    "account_clean",
    "account_close",
    "account_create",
    "account_resolve",
    "account_restore",
    "account_suspend",
    "account_update",
    "contact_add",
    "psp_customer_set",
]

_TEXT_FIELDS = {
    "legal_name": 200,
    "street": 200,
    "postcode": 20,
    "city": 100,
    "region": 100,
    "external_id": 100,
}
MODEL_FIELDS = frozenset(
    {"billing_email", "country", "language", "currency", "vat_id", "tax_status", *_TEXT_FIELDS}
)
REQUIRED = ("legal_name", "billing_email", "country", "currency")


# --------------------------------------------------------------------------- resolving


def account_resolve(ref: str | int) -> Account:
    """Our id (42 or "42") or the product's id as "ext:<external id>"."""
    if isinstance(ref, str) and ref.startswith("ext:"):
        account = Account.objects.filter(external_id=ref[4:]).first()
    elif isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        account = Account.objects.filter(pk=int(ref)).first()
    else:
        account = None
    if account is None:
        raise AccountNotFound(f"No account {ref!r}. Use our id or 'ext:<external id>'.")
    return account


# --------------------------------------------------------------------------- validation


def _text(name: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise field_error(InvalidAccountField, name, f"{name} must be text.")
    value = value.strip()
    if len(value) > _TEXT_FIELDS[name]:
        raise field_error(
            InvalidAccountField, name, f"{name} is longer than {_TEXT_FIELDS[name]} characters."
        )
    return value


def _currency(value: Any) -> str:
    code = value.strip().upper() if isinstance(value, str) else value
    if not is_known_currency(code):
        raise field_error(
            UnknownCurrency,
            "currency",
            f"{value!r} is not a known ISO 4217 currency code (e.g. 'EUR').",
        )
    return code


def _email(value: Any, field: str = "billing_email") -> str:
    email = value.strip() if isinstance(value, str) else ""
    try:
        validate_email(email)
    except DjangoValidationError:
        raise field_error(
            InvalidAccountField, field, f"{value!r} is not an email address."
        ) from None
    return email


def _check_tax_status(status: str, country: str, vat_id: str) -> None:
    if status not in TaxStatus.values:
        raise field_error(
            TaxStatusMismatch,
            "tax_status",
            f"{status!r} is not a tax status. Use one of {', '.join(TaxStatus.values)}.",
        )
    problem = None
    if status == TaxStatus.EU_REVERSE_CHARGE and not (
        is_eu(country) and country != SELLER_COUNTRY and vat_id
    ):
        problem = "Reverse charge needs a business in another EU country with a valid VAT id."
    elif status == TaxStatus.OUTSIDE_EU and is_eu(country):
        problem = f"{country} is in the EU."
    elif status == TaxStatus.DOMESTIC and not is_eu(country):
        problem = f"{country} is outside the EU; German VAT does not apply."
    if problem:
        raise field_error(TaxStatusMismatch, "tax_status", problem)


def account_clean(*, fields: dict[str, Any], instance: Account | None = None) -> dict[str, Any]:
    """Check and normalise account fields, as they would be after applying ``fields``.

    Returns only the model fields to write. Raises a domain error naming the field; nothing
    is written. Used by the services, the API and the admin form alike.
    """
    unknown = sorted(set(fields) - MODEL_FIELDS)
    if unknown:
        raise field_error(
            InvalidAccountField, unknown[0], f"Unknown account field(s): {', '.join(unknown)}."
        )
    if instance is None:
        missing = [f for f in REQUIRED if not fields.get(f)]
        if missing:
            raise InvalidAccountField(
                f"Missing required field(s): {', '.join(missing)}.",
                errors=[
                    {"field": f, "message": "This field is required.", "code": "required"}
                    for f in missing
                ],
            )
    out: dict[str, Any] = {}
    for name in _TEXT_FIELDS:
        if name in fields:
            out[name] = _text(name, fields[name])
    if "legal_name" in out and not out["legal_name"]:
        raise field_error(InvalidAccountField, "legal_name", "The legal name cannot be empty.")
    if "external_id" in out:
        out["external_id"] = out["external_id"] or None
    if "billing_email" in fields:
        out["billing_email"] = _email(fields["billing_email"])
    if "currency" in fields:
        out["currency"] = _currency(fields["currency"])
    if "language" in fields:
        language = str(fields["language"] or "").strip().lower()
        if language not in Language.values:
            raise field_error(
                InvalidAccountField,
                "language",
                f"{fields['language']!r} is not a language we bill in "
                f"({', '.join(Language.values)}).",
            )
        out["language"] = language

    country = normalise_country(fields["country"]) if "country" in fields else instance.country
    if "country" in fields:
        out["country"] = country
    vat_raw = fields["vat_id"] if "vat_id" in fields else (instance.vat_id if instance else "")
    vat_id = normalise_vat_id(vat_raw, country) if vat_raw else ""
    if "vat_id" in fields or "country" in fields:
        out["vat_id"] = vat_id

    if fields.get("tax_status"):
        _check_tax_status(fields["tax_status"], country, vat_id)
        out["tax_status"] = fields["tax_status"]
    elif instance is None:
        out["tax_status"] = default_tax_status(country, vat_id)
    elif ("country" in out or "vat_id" in out) and instance.tax_status != TaxStatus.EXEMPT:
        # The place of supply moved: follow it unless someone decided on an exemption.
        out["tax_status"] = default_tax_status(country, vat_id)
    elif "country" in out or "vat_id" in out:
        _check_tax_status(instance.tax_status, country, vat_id)
    return out


def _clean_psp_customers(value: Any) -> dict[str, str | None]:
    if value in (None, {}):
        return {}
    if not isinstance(value, dict):
        raise field_error(
            InvalidAccountField, "psp_customers", "psp_customers must map provider to id."
        )
    out: dict[str, str | None] = {}
    for provider, psp_id in value.items():
        if provider not in Provider.values:
            raise field_error(
                InvalidAccountField,
                f"psp_customers.{provider}",
                f"Unknown provider {provider!r}. Known: {', '.join(Provider.values)}.",
            )
        if psp_id is not None and (not isinstance(psp_id, str) or not psp_id.strip()):
            raise field_error(
                InvalidAccountField, f"psp_customers.{provider}", "Give the PSP's customer id."
            )
        out[provider] = psp_id.strip() if psp_id else None
    return out


def _clean_contacts(value: Any) -> list[dict[str, str]]:
    if not value:
        return []
    if not isinstance(value, list):
        raise field_error(InvalidAccountField, "contacts", "contacts must be a list.")
    out = []
    for index, contact in enumerate(value):
        where = f"contacts[{index}]"
        if not isinstance(contact, dict) or not str(contact.get("name") or "").strip():
            raise field_error(InvalidAccountField, f"{where}.name", "A contact needs a name.")
        out.append(
            {
                "name": contact["name"].strip()[:200],
                "email": _email(contact.get("email"), f"{where}.email"),
                "phone": str(contact.get("phone") or "").strip()[:40],
                "role": str(contact.get("role") or "").strip()[:60],
            }
        )
    return out


def _check_psp_free(psp: dict[str, str | None], account_id: int | None) -> None:
    for provider, psp_id in psp.items():
        if psp_id is None:
            continue
        owner = (
            PspCustomer.objects.filter(provider=provider, psp_customer_id=psp_id)
            .exclude(account_id=account_id)
            .values_list("account_id", flat=True)
            .first()
        )
        if owner is not None:
            raise PspCustomerTaken(
                f"{provider} customer {psp_id} belongs to account {owner}.",
                errors=[
                    {
                        "field": f"psp_customers.{provider}",
                        "message": "Belongs to another account.",
                        "code": PspCustomerTaken.code,
                    }
                ],
            )


# --------------------------------------------------------------------------- writes


def _stamp(obj, actor) -> None:
    # Always set: simple-history would otherwise take the request's user, which for an API
    # call is the API key's principal, not a User row.
    obj._history_user = actor if isinstance(actor, get_user_model()) else None


def _apply_psp(account: Account, psp: dict[str, str | None], actor) -> None:
    for provider, psp_id in psp.items():
        psp_customer_set(account=account, provider=provider, psp_customer_id=psp_id, actor=actor)


def account_create(*, actor=None, now: dt.datetime | None = None, **fields) -> Account:
    """Create an account with its PSP customer ids and contacts, or raise and write nothing.

    ``fields``: the Account fields plus ``psp_customers={"stripe": "cus_..."}`` and
    ``contacts=[{"name", "email", "phone", "role"}]``. ``tax_status`` defaults from country
    and VAT id (see ``accounts.tax``).
    """
    psp = _clean_psp_customers(fields.pop("psp_customers", None))
    contacts = _clean_contacts(fields.pop("contacts", None))
    data = account_clean(fields=fields)
    external_id = data.get("external_id")
    if external_id and Account.objects.filter(external_id=external_id).exists():
        raise _exists(external_id)
    _check_psp_free(psp, None)
    try:
        with transaction.atomic():
            account = Account(created_at=now or timezone.now(), **data)
            _stamp(account, actor)
            account.save()
            for contact in contacts:
                contact_add(account=account, actor=actor, **contact)
            _apply_psp(account, psp, actor)
    except IntegrityError as exc:
        # A concurrent request created the same external or PSP id between check and insert.
        if external_id and Account.objects.filter(external_id=external_id).exists():
            raise _exists(external_id) from None
        raise PspCustomerTaken("A PSP customer id was taken concurrently.") from exc
    return account


def _exists(external_id: str) -> AccountExists:
    existing = Account.objects.filter(external_id=external_id).values_list("pk", flat=True).first()
    return AccountExists(
        f"An account with external id {external_id!r} exists already (id {existing}).",
        account_id=existing,
        external_id=external_id,
    )


def account_update(*, account: Account, actor=None, **fields) -> Account:
    """Change the given fields (and ``psp_customers``; an id of None removes it)."""
    if "contacts" in fields:
        raise field_error(
            InvalidAccountField, "contacts", "Contacts are added one by one (contact_add)."
        )
    if "status" in fields:
        raise field_error(
            InvalidAccountField, "status", "Suspend, restore or close the account instead."
        )
    psp = _clean_psp_customers(fields.pop("psp_customers", None))
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=account.pk)
        if account.status == AccountStatus.CLOSED:
            raise AccountClosed(f"Account {account.pk} is closed; it cannot be changed.")
        data = account_clean(fields=fields, instance=account)
        new_ext = data.get("external_id")
        if (
            new_ext
            and new_ext != account.external_id
            and Account.objects.filter(external_id=new_ext).exists()
        ):
            raise _exists(new_ext)
        _check_psp_free(psp, account.pk)
        changed = [name for name, value in data.items() if getattr(account, name) != value]
        if changed:
            for name in changed:
                setattr(account, name, data[name])
            _stamp(account, actor)
            account.save()
        _apply_psp(account, psp, actor)
    return account


def contact_add(
    *, account: Account, name: str, email: str, phone: str = "", role: str = "", actor=None
) -> Contact:
    contact = Contact(account=account, name=name, email=email, phone=phone, role=role)
    _stamp(contact, actor)
    contact.save()
    return contact


def psp_customer_set(
    *, account: Account, provider: str, psp_customer_id: str | None, actor=None
) -> PspCustomer | None:
    """Set (or with None, remove) the account's customer id at ``provider``."""
    current = PspCustomer.objects.filter(account=account, provider=provider).first()
    if psp_customer_id is None:
        if current is not None:
            _stamp(current, actor)
            current.delete()
        return None
    if current is None:
        current = PspCustomer(account=account, provider=provider)
    elif current.psp_customer_id == psp_customer_id:
        return current
    current.psp_customer_id = psp_customer_id
    _stamp(current, actor)
    current.save()
    return current


# --------------------------------------------------------------------------- status


def _transition(
    *, account: Account, to: str, reason: str, actor, now: dt.datetime | None
) -> Account:
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired("Say why the account's status changes.")
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=account.pk)
        if to not in ACCOUNT_TRANSITIONS[account.status]:
            raise InvalidTransition(
                f"Account {account.pk} is {account.get_status_display().lower()}; "
                f"it cannot become {AccountStatus(to).label.lower()}.",
                status=account.status,
            )
        account.status = to
        account.status_reason = reason[:300]
        account.status_changed_at = now or timezone.now()
        _stamp(account, actor)
        account._change_reason = reason
        account.save()
    return account


def account_suspend(*, account: Account, reason: str, actor=None, now=None) -> Account:
    return _transition(
        account=account, to=AccountStatus.SUSPENDED, reason=reason, actor=actor, now=now
    )


def account_restore(*, account: Account, reason: str, actor=None, now=None) -> Account:
    return _transition(
        account=account, to=AccountStatus.ACTIVE, reason=reason, actor=actor, now=now
    )


def account_close(*, account: Account, reason: str, actor=None, now=None) -> Account:
    return _transition(
        account=account, to=AccountStatus.CLOSED, reason=reason, actor=actor, now=now
    )
