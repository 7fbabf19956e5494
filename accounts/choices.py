from django.db import models


class TaxStatus(models.TextChoices):
    DOMESTIC = "DOMESTIC", "Domestic (German VAT)"
    EU_REVERSE_CHARGE = "EU_REVERSE_CHARGE", "EU business, reverse charge"
    OUTSIDE_EU = "OUTSIDE_EU", "Outside the EU, not taxable here"
    EXEMPT = "EXEMPT", "Tax exempt"


class AccountStatus(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    SUSPENDED = "SUSPENDED", "Suspended"
    CLOSED = "CLOSED", "Closed"


ACCOUNT_TRANSITIONS: dict[str, set[str]] = {
    AccountStatus.ACTIVE: {AccountStatus.SUSPENDED, AccountStatus.CLOSED},
    AccountStatus.SUSPENDED: {AccountStatus.ACTIVE, AccountStatus.CLOSED},
    AccountStatus.CLOSED: set(),
}


class Language(models.TextChoices):
    DE = "de", "Deutsch"
    EN = "en", "English"


class Provider(models.TextChoices):
    STRIPE = "stripe", "Stripe"
    BRAINTREE = "braintree", "Braintree"
    ADYEN = "adyen", "Adyen"
    PAYPAL = "paypal", "PayPal"
    MARKETPLACE = "marketplace", "Marketplace"
