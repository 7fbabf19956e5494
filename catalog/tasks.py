from celery import shared_task

from catalog.services import subscriptions_advance


@shared_task(name="catalog.advance_subscriptions", acks_late=True)
def advance_subscriptions() -> dict[str, int]:
    """Trials that ended become active; subscriptions past their scheduled end end."""
    return subscriptions_advance()
