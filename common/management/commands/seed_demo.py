"""Load deterministic demo data. Each app contributes through ``<app>/demo.py: seed(*, out)``.

Apps are seeded in INSTALLED_APPS order (lowest layer first). Every seeder is idempotent:
running the command twice adds nothing twice.
"""

import importlib

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction


class Command(BaseCommand):
    help = "Load the demo data (idempotent)."

    def handle(self, *args, **options):
        for config in apps.get_app_configs():
            try:
                module = importlib.import_module(f"{config.name}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"{config.name}.demo":
                    raise
                continue
            with transaction.atomic():
                module.seed(out=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
