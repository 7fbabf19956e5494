"""Give the staff roles payments' permissions. The staff migration that creates the roles runs
before this app's permissions exist (Django creates them after all migrations), so create them
here first and apply the roles again (roles_apply is safe to repeat)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def apply_roles(apps, schema_editor):
    from staff.roles import roles_apply

    app_config = apps.get_app_config("payments")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    roles_apply(apps, with_default_limits=False)


class Migration(migrations.Migration):
    dependencies = [("payments", "0001_initial"), ("staff", "0002_apply_roles")]

    operations = [migrations.RunPython(apply_roles, migrations.RunPython.noop)]
