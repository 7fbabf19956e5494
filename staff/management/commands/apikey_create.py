from django.core.management.base import BaseCommand, CommandError

from common.exceptions import PaydeskError
from staff.services import apikey_create


class Command(BaseCommand):
    help = (
        "Create an API key for a machine client. The key is printed once, alone on the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--scope", action="append", dest="scopes", required=True)

    def handle(self, *args, name, scopes, **options):
        try:
            key, raw = apikey_create(name=name, scopes=scopes)
        except PaydeskError as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(
            f"Created API key '{key.name}' ({key.prefix}) with scopes {', '.join(key.scopes)}."
        )
        self.stderr.write("Store it now: it cannot be shown again.")
        self.stdout.write(raw)
