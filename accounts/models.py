"""Billed customer accounts: the organisation, its contacts, and its ids elsewhere."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Upper
from simple_history.models import HistoricalRecords

from accounts.choices import AccountStatus, Language, Provider, TaxStatus


class Account(models.Model):
    legal_name = models.CharField(max_length=200)
    billing_email = models.EmailField()
    street = models.CharField(max_length=200, blank=True)
    postcode = models.CharField(max_length=20, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.EN)
    currency = models.CharField(max_length=3, help_text="ISO 4217, the currency invoices are in")
    vat_id = models.CharField(max_length=20, blank=True, help_text="normalised, e.g. DE136695976")
    tax_status = models.CharField(max_length=20, choices=TaxStatus.choices)
    status = models.CharField(
        max_length=20, choices=AccountStatus.choices, default=AccountStatus.ACTIVE, db_index=True
    )
    external_id = models.CharField(
        max_length=100, null=True, blank=True, help_text="our product's organisation id"
    )
    status_reason = models.CharField(
        max_length=300, blank=True, help_text="why the status last changed"
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["legal_name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["external_id"], name="uniq_account_external_id"),
            models.CheckConstraint(
                condition=models.Q(currency__regex=r"^[A-Z]{3}$"), name="account_currency_iso"
            ),
            models.CheckConstraint(
                condition=models.Q(country__regex=r"^[A-Z]{2}$"), name="account_country_iso"
            ),
        ]
        indexes = [
            models.Index(Upper("legal_name"), name="account_legal_name_upper"),
            models.Index(fields=["billing_email"]),
            models.Index(fields=["vat_id"]),
            models.Index(fields=["country", "status"]),
            models.Index(fields=["tax_status"]),
            models.Index(fields=["language"]),
            # The admin lists accounts by name.
            models.Index(fields=["legal_name", "id"], name="account_legal_name_id"),
            # Searches by part or start of the name use the trigram index
            # ``account_legal_name_trgm`` on UPPER(legal_name), created in SQL by migration 0003
            # (an operator class on an expression needs django.contrib.postgres installed).
        ]

    def __str__(self) -> str:
        return self.legal_name


class Contact(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200)
    email = models.EmailField()
    phone = models.CharField(max_length=40, blank=True)
    role = models.CharField(max_length=60, blank=True, help_text="e.g. billing, technical")
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["email"])]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class PspCustomer(models.Model):
    """The account's customer id at a payment service provider."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="psp_customers")
    provider = models.CharField(max_length=20, choices=Provider.choices)
    psp_customer_id = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "psp_customer_id"], name="uniq_psp_customer_id"
            ),
            models.UniqueConstraint(fields=["account", "provider"], name="uniq_account_provider"),
        ]
        # Staff search by the id alone, without knowing the provider.
        indexes = [models.Index(fields=["psp_customer_id"])]

    def __str__(self) -> str:
        return f"{self.provider}:{self.psp_customer_id}"
