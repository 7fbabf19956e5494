from django.db import migrations


def apply_roles(apps, schema_editor):
    from staff.roles import roles_apply

    roles_apply(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("staff", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(apply_roles, migrations.RunPython.noop)]
