from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _apply_roles(sender, **kwargs) -> None:
    # Permissions of apps that migrate after staff exist only now: re-apply (harmless).
    from staff.roles import roles_apply

    roles_apply(with_default_limits=False)


class StaffConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "staff"
    verbose_name = "Staff and approvals"

    def ready(self) -> None:
        post_migrate.connect(_apply_roles, sender=self, dispatch_uid="staff.apply_roles")
