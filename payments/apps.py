from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "payments"

    def ready(self) -> None:
        from payments.approvals import execute_refund_approval
        from payments.webhooks.handlers import register_builtin
        from staff.approvals import register_executor

        register_executor("refund", execute_refund_approval)
        register_builtin()
