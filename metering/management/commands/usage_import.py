"""``manage.py usage_import FILE [--dry-run]``: bulk load usage events from CSV or NDJSON.

CSV: a header with ``account,id,meter,timestamp`` and either a ``properties`` column holding a
JSON object or any other columns, each taken as a property. NDJSON: one API event per line.
"""

import time

from django.core.management.base import BaseCommand, CommandError

from common.exceptions import PaydeskError
from metering.importer import usage_import


class Command(BaseCommand):
    help = "Load usage events from a CSV or NDJSON file (by extension), exactly once per id."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument(
            "--dry-run", action="store_true", help="validate and count, then store nothing"
        )
        parser.add_argument(
            "--max-report", type=int, default=1000, help="rejected lines to list (default 1000)"
        )

    def handle(self, *args, file, dry_run, max_report, **options):
        started = time.monotonic()
        try:
            report = usage_import(path=file, dry_run=dry_run)
        except (PaydeskError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        for line, code, detail in report.rejected[:max_report]:
            self.stdout.write(f"line {line}: rejected {code}: {detail}")
        if report.rejected_count > max_report:
            self.stdout.write(f"... and {report.rejected_count - max_report} more rejected lines")
        seconds = time.monotonic() - started
        summary = (
            f"{report.lines} lines: {report.accepted} accepted, {report.duplicate} duplicate, "
            f"{report.rejected_count} rejected in {seconds:.1f} s"
        )
        if dry_run:
            summary += " (dry run: nothing stored)"
        self.stdout.write(self.style.SUCCESS(summary) if not report.rejected else summary)
