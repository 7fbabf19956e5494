"""What happens when a refund approval is granted: the refund is marked APPROVED and sent once
the approval's transaction has committed (by a worker; the sync task catches a lost enqueue)."""

from __future__ import annotations

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def _send(refund_id: int) -> None:
    from payments.tasks import refund_execute

    try:
        refund_execute.apply_async(args=[refund_id])
    except Exception:  # noqa: BLE001 - the sync task sends APPROVED refunds it finds
        logger.exception("could not enqueue refund %s", refund_id)


def execute_refund_approval(approval) -> None:
    from payments.refunds import refund_approved

    refund = refund_approved(approval=approval)
    if refund is not None:
        transaction.on_commit(lambda: _send(refund.pk))
