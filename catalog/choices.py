from django.db import models


class BillingPeriod(models.TextChoices):
    MONTHLY = "MONTHLY", "Monthly"
    YEARLY = "YEARLY", "Yearly"


class ChargeModel(models.TextChoices):
    FLAT = "FLAT", "Flat fee"
    PER_UNIT = "PER_UNIT", "Per unit"
    GRADUATED = "GRADUATED", "Graduated tiers"
    VOLUME = "VOLUME", "Volume tiers"
    PACKAGE = "PACKAGE", "Package (per block of N units)"


TIERED_MODELS = frozenset({ChargeModel.GRADUATED, ChargeModel.VOLUME})
# Usage is only known once the period is over, so these are billed in arrears.
USAGE_MODELS = frozenset(
    {ChargeModel.PER_UNIT, ChargeModel.GRADUATED, ChargeModel.VOLUME, ChargeModel.PACKAGE}
)


class Timing(models.TextChoices):
    IN_ADVANCE = "IN_ADVANCE", "In advance (at period start)"
    IN_ARREARS = "IN_ARREARS", "In arrears (at period end)"


class SubscriptionStatus(models.TextChoices):
    TRIALING = "TRIALING", "In trial"
    ACTIVE = "ACTIVE", "Active"
    PAST_DUE = "PAST_DUE", "Past due"
    # Canceled at period end: still running (and billed for usage) until ``ended_at``.
    CANCELED = "CANCELED", "Canceled, runs until period end"
    ENDED = "ENDED", "Ended"


SUBSCRIPTION_TRANSITIONS: dict[str, set[str]] = {
    SubscriptionStatus.TRIALING: {
        SubscriptionStatus.ACTIVE,
        SubscriptionStatus.CANCELED,
        SubscriptionStatus.ENDED,
    },
    SubscriptionStatus.ACTIVE: {
        SubscriptionStatus.PAST_DUE,
        SubscriptionStatus.CANCELED,
        SubscriptionStatus.ENDED,
    },
    SubscriptionStatus.PAST_DUE: {
        SubscriptionStatus.ACTIVE,
        SubscriptionStatus.CANCELED,
        SubscriptionStatus.ENDED,
    },
    SubscriptionStatus.CANCELED: {SubscriptionStatus.ENDED},
    SubscriptionStatus.ENDED: set(),
}

# A plan can be changed only while the subscription runs without a scheduled end.
PLAN_CHANGEABLE = frozenset(
    {SubscriptionStatus.TRIALING, SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE}
)
