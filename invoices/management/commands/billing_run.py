import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone


class Command(BaseCommand):
    help = "Invoice every subscription period due by --as-of (default today). Safe to rerun."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="YYYY-MM-DD")
        parser.add_argument(
            "--no-pdf", action="store_true", help="leave the PDFs to the render task"
        )

    def handle(self, *args, as_of=None, no_pdf=False, **options):
        from invoices.services import billing_run, invoices_render_pending

        try:
            day = dt.date.fromisoformat(as_of) if as_of else timezone.localdate()
        except ValueError:
            raise CommandError(f"--as-of must be YYYY-MM-DD, not {as_of!r}") from None
        result = billing_run(as_of=day)
        self.stdout.write(
            f"billing run #{result.run_id} as of {day}: {result.created} created, "
            f"{result.skipped} already billed, {result.empty} with nothing to bill, "
            f"{len(result.errors)} errors"
        )
        for error in result.errors[:20]:
            self.stdout.write(f"  {error['billing_key']}: {error['code']}: {error['detail']}")
        if not no_pdf:
            rendered = 0
            while batch := invoices_render_pending(limit=200):
                rendered += batch
            self.stdout.write(f"{rendered} PDFs rendered")
        if result.errors:
            raise CommandError(f"{len(result.errors)} subscriptions could not be billed")
