from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


def _apply_roles(sender, app_config=None, **kwargs) -> None:
    # Permissions exist only once every app has migrated: apply after the last one (harmless).
    with_models = [c for c in apps.get_app_configs() if c.models_module is not None]
    if app_config is not None and app_config is not with_models[-1]:
        return
    from staff.roles import roles_apply

    roles_apply(with_default_limits=False)


class StaffConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "staff"
    verbose_name = "Staff and approvals"

    def ready(self) -> None:
        post_migrate.connect(_apply_roles, dispatch_uid="staff.apply_roles")
