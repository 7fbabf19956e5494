"""Celery tasks: ids and dates in, one service call each."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.utils import timezone


@shared_task(name="invoices.billing_run", acks_late=True)
def billing_run_task(as_of: str | None = None) -> dict:
    from invoices.services import billing_run

    day = dt.date.fromisoformat(as_of) if as_of else timezone.localdate()
    result = billing_run(as_of=day)
    if result.created:
        render_pending_pdfs.delay()
    return {"run": result.run_id, "created": result.created, "errors": len(result.errors)}


@shared_task(name="invoices.render_pending_pdfs", acks_late=True)
def render_pending_pdfs(limit: int = 500) -> int:
    """Render the PDFs of finalized documents that have none yet; requeue while any are left."""
    from invoices.services import invoices_render_pending

    done = invoices_render_pending(limit=limit)
    if done == limit:
        render_pending_pdfs.delay(limit)
    return done
