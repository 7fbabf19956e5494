from django.core.management.base import BaseCommand

from staff.roles import roles_apply


class Command(BaseCommand):
    help = "Create the staff role groups and set their declared permissions (safe to re-run)."

    def handle(self, *args, **options):
        for role, count in roles_apply().items():
            self.stdout.write(f"{role}: {count} permissions")
