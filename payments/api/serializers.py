from rest_framework import serializers

from payments.choices import RefundReason
from payments.models import Payment, Refund


class RefundCreateSerializer(serializers.Serializer):
    amount_minor = serializers.IntegerField(min_value=1)
    reason = serializers.ChoiceField(choices=RefundReason.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="")
    with_credit_note = serializers.BooleanField(required=False, default=False)


class RefundSerializer(serializers.ModelSerializer):
    payment_id = serializers.IntegerField(read_only=True)
    approval_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Refund
        fields = [
            "id",
            "payment_id",
            "amount_minor",
            "currency",
            "reason",
            "note",
            "status",
            "origin",
            "psp_refund_id",
            "approval_id",
            "credit_note_requested",
            "credit_note_ref",
            "failure_reason",
            "created_at",
        ]


class PaymentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Payment
        fields = [
            "id",
            "account_id",
            "invoice_id",
            "provider",
            "psp_payment_id",
            "amount_minor",
            "currency",
            "amount_refunded_minor",
            "fee_minor",
            "status",
            "decline_code",
            "failure_message",
            "method",
            "reference",
            "created_at",
        ]
