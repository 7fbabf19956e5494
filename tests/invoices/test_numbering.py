"""Eight processes finalize 200 drafts of one series at once: numbers 1..200, no gap, no twin."""

import multiprocessing

import pytest
from django.db import connection

from invoices.models import Invoice
from tests.invoices._numbering_worker import finalize_worker
from tests.invoices.conftest import account_make, draft_with

PROCESSES = 8
DRAFTS = 200


@pytest.mark.django_db(transaction=True)
def test_eight_processes_number_two_hundred_invoices_without_gap_or_duplicate():
    account = account_make()
    ids = [draft_with(account, ("Seat", "1", "9.99")).pk for _ in range(DRAFTS)]
    # Interleave the ids so every process races the others for the whole run.
    shares = [ids[i::PROCESSES] for i in range(PROCESSES)]
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    out = ctx.Queue()
    db_name = connection.settings_dict["NAME"]
    connection.close()  # the children open their own connections
    workers = [
        ctx.Process(target=finalize_worker, args=(db_name, share, start, out)) for share in shares
    ]
    for w in workers:
        w.start()
    start.set()
    results = [out.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    numbers = sorted(n for r in results for n in r)
    year = Invoice.objects.values_list("issue_date", flat=True).first().year
    assert numbers == [f"RE-{year}-{i:06d}" for i in range(1, DRAFTS + 1)]
    stored = sorted(Invoice.objects.values_list("sequence", flat=True))
    assert stored == list(range(1, DRAFTS + 1))
    assert len(set(Invoice.objects.values_list("number", flat=True))) == DRAFTS
