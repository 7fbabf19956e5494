from rest_framework import serializers

from metering.choices import Aggregation, EventStatus, RejectCode, VoidStatus
from metering.models import Meter


class MeterSerializer(serializers.ModelSerializer):
    price = serializers.SerializerMethodField()

    class Meta:
        model = Meter
        fields = [
            "code",
            "name",
            "unit",
            "aggregation",
            "value_property",
            "unique_property",
            "filters",
            "price",
            "created_at",
        ]

    def get_price(self, meter) -> str | None:
        price = getattr(meter, "price", None)
        return getattr(price, "code", None)


class MeterCreateSerializer(serializers.Serializer):
    code = serializers.SlugField(max_length=64)
    name = serializers.CharField(max_length=200)
    unit = serializers.CharField(max_length=40)
    aggregation = serializers.ChoiceField(choices=Aggregation.choices)
    value_property = serializers.CharField(max_length=100, required=False, allow_blank=True)
    unique_property = serializers.CharField(max_length=100, required=False, allow_blank=True)
    filters = serializers.DictField(required=False)
    price = serializers.CharField(
        max_length=100, required=False, allow_null=True, help_text="catalog price code"
    )


class VoidSerializer(serializers.Serializer):
    events = serializers.ListField(child=serializers.DictField(), allow_empty=False)
    reason = serializers.CharField(max_length=1000)


# -- shapes for the API description only (the views validate raw batches in the services) ---


class UsageEventInSerializer(serializers.Serializer):
    id = serializers.CharField(
        max_length=200, help_text="the sender's event id, unique per account"
    )
    account = serializers.CharField(help_text="our account id (number), or ext:<external id>")
    meter = serializers.CharField(help_text="the meter code, e.g. api_calls")
    timestamp = serializers.DateTimeField(help_text="ISO 8601 with a UTC offset")
    properties = serializers.DictField(
        required=False, help_text="the meter's value property and any filter properties"
    )


class UsageEventBatchSerializer(serializers.Serializer):
    events = UsageEventInSerializer(many=True, max_length=1000)


class UsageEventResultSerializer(serializers.Serializer):
    id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=EventStatus.choices)
    code = serializers.ChoiceField(choices=RejectCode.choices, allow_null=True)
    detail = serializers.CharField(required=False)


class UsageEventBatchResultSerializer(serializers.Serializer):
    results = UsageEventResultSerializer(many=True, help_text="one per event, in request order")
    accepted = serializers.IntegerField()
    duplicate = serializers.IntegerField()
    rejected = serializers.IntegerField()


class VoidEventRefSerializer(serializers.Serializer):
    account = serializers.CharField(help_text="our account id (number), or ext:<external id>")
    id = serializers.CharField(help_text="the sender's event id")


class VoidRequestSerializer(serializers.Serializer):
    events = VoidEventRefSerializer(many=True, max_length=1000)
    reason = serializers.CharField(max_length=1000)


class VoidResultItemSerializer(serializers.Serializer):
    id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=VoidStatus.choices)


class VoidResultSerializer(serializers.Serializer):
    results = VoidResultItemSerializer(many=True, help_text="one per event, in request order")
    voided = serializers.IntegerField()
    not_found = serializers.IntegerField()
    already_voided = serializers.IntegerField()


class MeterPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = MeterSerializer(many=True)


class MoneySerializer(serializers.Serializer):
    amount_minor = serializers.IntegerField(help_text="in the currency's minor unit")
    currency = serializers.CharField(min_length=3, max_length=3)


class PeriodSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField(help_text="exclusive")


class DailyUsageSerializer(serializers.Serializer):
    date = serializers.DateField()
    quantity = serializers.DecimalField(max_digits=30, decimal_places=12, coerce_to_string=True)


class MeterUsageSerializer(serializers.Serializer):
    meter = serializers.CharField(help_text="the meter code")
    name = serializers.CharField()
    unit = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=30, decimal_places=12, coerce_to_string=True)
    event_count = serializers.IntegerField()
    estimated = MoneySerializer(allow_null=True, help_text="the charge so far, if priced")
    daily = DailyUsageSerializer(many=True)


class UsagePreviewSerializer(serializers.Serializer):
    account = serializers.IntegerField()
    period = PeriodSerializer()
    meters = MeterUsageSerializer(many=True)
