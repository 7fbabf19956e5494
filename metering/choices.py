from django.db import models


class Aggregation(models.TextChoices):
    SUM = "SUM", "Sum of the value property"
    COUNT = "COUNT", "Number of events"
    MAX = "MAX", "Largest value in the period"
    UNIQUE_COUNT = "UNIQUE_COUNT", "Number of distinct values of a property"
    LATEST = "LATEST", "Value of the last event in the period"


# Aggregations whose quantity is read from the meter's value property.
VALUE_AGGREGATIONS = {Aggregation.SUM, Aggregation.MAX, Aggregation.LATEST}


class EventStatus(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    DUPLICATE = "duplicate", "Duplicate (already received)"
    REJECTED = "rejected", "Rejected"


class RejectCode(models.TextChoices):
    """Why one event of a batch was refused. Stable: API clients branch on these."""

    INVALID_EVENT = "invalid_event", "The event is malformed (missing id, meter or timestamp)"
    EVENT_TOO_LARGE = "event_too_large", "The event is larger than allowed"
    UNKNOWN_ACCOUNT = "unknown_account", "No account with this id or external id"
    UNKNOWN_METER = "unknown_meter", "No meter with this code"
    MISSING_QUANTITY = "missing_quantity", "The meter's value property is missing"
    INVALID_QUANTITY = "invalid_quantity", "The quantity is not a non-negative number"
    TIMESTAMP_IN_FUTURE = "timestamp_in_future", "The timestamp is in the future"
    TIMESTAMP_BEFORE_ACCOUNT = (
        "timestamp_before_account",
        "The timestamp is before the account existed",
    )


class VoidStatus(models.TextChoices):
    VOIDED = "voided", "Voided"
    NOT_FOUND = "not_found", "No such event"
    ALREADY_VOIDED = "already_voided", "Already voided"
